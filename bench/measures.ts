/**
 * What the benchmark reads besides the load tool: a process's CPU time and peak RSS from /proc,
 * the demo backends' upstream call counters (`/_stats`), the machine, and small statistics.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (`getconf CLK_TCK`). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in clock ticks (all its threads). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, hence the last ')'): state is field 3,
  // utime field 14 and stime field 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Peak resident set size (VmHWM) in MB. */
export function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Current resident set size (VmRSS) in MB. */
export function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Resets VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`), so each round has its own peak. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Waits until a process has used at most `maxTicks` of CPU in a `windowMs` window (it finished work a
 * load tool abandoned), or `timeoutMs` passed. Returns the milliseconds waited. */
export async function waitIdle(pid: number, { windowMs = 200, maxTicks = 1, timeoutMs = 15_000 } = {}): Promise<number> {
  const start = Date.now();
  let last = cpuTicks(pid);
  while (Date.now() - start < timeoutMs) {
    await sleep(windowMs);
    const now = cpuTicks(pid);
    if (now - last <= maxTicks) break;
    last = now;
  }
  return Date.now() - start;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface UpstreamSnapshot {
  total: number;
  operations: Record<string, number>;
}

/** The three backends' counters, summed (GET <url>/_stats). */
export async function upstreamCalls(urls: readonly string[]): Promise<UpstreamSnapshot> {
  const snapshots = await Promise.all(urls.map(async (url) => {
    const response = await fetch(`${url}/_stats`);
    return (await response.json()) as UpstreamSnapshot;
  }));
  const operations: Record<string, number> = {};
  for (const s of snapshots) for (const [op, n] of Object.entries(s.operations)) operations[op] = (operations[op] ?? 0) + n;
  return { total: snapshots.reduce((sum, s) => sum + s.total, 0), operations };
}

export async function resetUpstream(urls: readonly string[]): Promise<void> {
  await Promise.all(urls.map(async (url) => (await fetch(`${url}/_stats/reset`, { method: 'POST' })).arrayBuffer()));
}

export interface Machine {
  nproc: number;
  cpuModel: string;
  node: string;
  date: string;
  clkTck: number;
  taskset: boolean;
}

export function machine(taskset: boolean): Machine {
  let nproc = cpus().length;
  try {
    // --all: this process is pinned to one CPU, and plain nproc counts only the CPUs it may use.
    nproc = Number(execFileSync('nproc', ['--all'], { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    // os.cpus() then
  }
  const model = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  return { nproc, cpuModel: model, node: process.version, date: new Date().toISOString(), clkTck: CLK_TCK, taskset };
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
