/**
 * Medians over rounds, ratios, issue 5's targets, and the three outputs: the table on stdout,
 * bench/results/latest.json and BENCHMARKS.md. Issue 7's cached scenario: cached-report.ts; issue
 * 9's soak: soak.ts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CacheSummary } from './cached-report.ts';
import type { RoundResult } from './load.ts';
import { median, type Machine } from './measures.ts';
import type { Scenario, SystemName } from './scenarios.ts';
import type { Soak } from './soak.ts';
import type { Overload } from './overload.ts';
import type { Realtime } from './realtime.ts';
import type { Check } from './systems.ts';

export interface RoundRecord extends RoundResult {
  scenario: Scenario['name'];
  system: SystemName;
  round: number;
  connections: number;
}

/**
 * One scenario and system over all its rounds: the rounds' medians of the figures below, except
 * `peakRssMb` (the highest round's VmHWM) and `errors` (summed over all rounds: connection errors
 * and timeouts, non-2xx answers, and 2xx answers carrying GraphQL errors).
 */
export interface Row
  extends Pick<
    RoundResult,
    'rps' | 'p50Ms' | 'p99Ms' | 'upstreamPerRequest' | 'cpuSecondsPer1k' | 'peakRssMb' | 'sutCpuPct' | 'backendsCpuPct' | 'loaderCpuPct' | 'errors'
  > {
  scenario: Scenario['name'];
  system: SystemName;
  rounds: number;
  connections: number;
  rpsVsLimit?: number;
  rpsVsBaseline?: number;
  /** Latency scenario only: this p50 minus the limit server's. */
  addedP50Ms?: number;
}

export interface Target {
  target: string;
  measured: string;
  met: boolean;
}

export interface Report {
  machine: Machine;
  settings: { durationS: number; warmupS: number; rounds: number; pinned: string };
  elapsedS: number;
  /** RSS of each process once started and answering (before any load), MB. */
  startRssMb: Partial<Record<SystemName, number>>;
  checks: Check[];
  checksAfterLoad: Check[];
  rows: Row[];
  targets: Target[];
  cache: CacheSummary;
  /** Issue 9's soak, when it ran. */
  overload?: Overload;
  soak?: Soak;
  /** Issue 17's real-time section: from this run, or kept from the last run that measured it (its own `date`). */
  realtime?: Realtime;
  notes: string[];
  rounds: RoundRecord[];
}

export function summarize(rounds: readonly RoundRecord[]): Row[] {
  const rows: Row[] = [];
  for (const key of new Set(rounds.map((r) => `${r.scenario}/${r.system}`))) {
    const mine = rounds.filter((r) => `${r.scenario}/${r.system}` === key);
    const m = (pick: (r: RoundRecord) => number) => median(mine.map(pick));
    rows.push({
      scenario: mine[0]!.scenario, system: mine[0]!.system, rounds: mine.length, connections: mine[0]!.connections,
      rps: m((r) => r.rps), p50Ms: m((r) => r.p50Ms), p99Ms: m((r) => r.p99Ms),
      upstreamPerRequest: m((r) => r.upstreamPerRequest), cpuSecondsPer1k: m((r) => r.cpuSecondsPer1k),
      peakRssMb: Math.max(...mine.map((r) => r.peakRssMb)),
      sutCpuPct: m((r) => r.sutCpuPct), backendsCpuPct: m((r) => r.backendsCpuPct), loaderCpuPct: m((r) => r.loaderCpuPct),
      errors: mine.reduce((sum, r) => sum + r.errors + r.non2xx + r.graphqlErrors, 0),
    });
  }
  for (const row of rows) {
    const peer = (system: SystemName) => rows.find((r) => r.scenario === row.scenario && r.system === system);
    const limit = peer('limit');
    // MeshV0 has no baseline of its own: its Mesh (mesh-v0) is what Junction is compared with there.
    const baseline = peer('baseline') ?? peer('mesh-v0');
    if (limit && row.system !== 'direct') row.rpsVsLimit = row.rps / limit.rps;
    if (baseline && row.system !== 'direct') row.rpsVsBaseline = row.rps / baseline.rps;
    if (row.scenario === 'Latency' && limit) row.addedP50Ms = row.p50Ms - limit.p50Ms;
  }
  return rows;
}

/**
 * Issue 5's targets. "Dashboard, uncached" is measured on Dashboard-pages, where no two requests in
 * flight are alike: on the plain Dashboard every request is identical, and Junction's single flight
 * (identical upstream reads in flight made once, across requests) shares upstream calls between
 * them, which the limit server does not. The plain Dashboard's figures are given alongside.
 */
export function targets(rows: readonly Row[], checks: readonly Check[]): Target[] {
  const get = (scenario: string, system: SystemName) => rows.find((r) => r.scenario === scenario && r.system === system);
  const uncached = get('Dashboard-pages', 'junction') ? 'Dashboard-pages' : 'Dashboard';
  const single = (scenario: string, system: SystemName) => checks.find((c) => c.scenario === scenario && c.system === system)?.upstreamCalls;
  const out: Target[] = [];
  for (const scenario of [uncached, 'Dashboard'].filter((s, i, all) => all.indexOf(s) === i)) {
    const junction = get(scenario, 'junction');
    const limit = get(scenario, 'limit');
    const label = scenario === 'Dashboard-pages' ? 'Dashboard uncached (Dashboard-pages)' : 'Dashboard (identical requests)';
    if (junction?.rpsVsBaseline !== undefined) {
      out.push({ target: `${label}: junction req/s >= 1.3x baseline`, measured: `${fmt(junction.rpsVsBaseline, 2)}x`, met: junction.rpsVsBaseline >= 1.3 });
    }
    if (junction?.rpsVsLimit !== undefined) {
      out.push({ target: `${label}: junction req/s >= 0.5x limit`, measured: `${fmt(junction.rpsVsLimit, 2)}x`, met: junction.rpsVsLimit >= 0.5 });
    }
    if (junction && limit) {
      const [j, l] = [single(scenario, 'junction'), single(scenario, 'limit')];
      const loadedSame = Math.abs(junction.upstreamPerRequest - limit.upstreamPerRequest) <= 0.02 * limit.upstreamPerRequest;
      out.push({
        target: `${label}: same upstream calls per request as the limit`,
        measured: `one request alone: ${j} vs ${l}; under load: ${fmt(junction.upstreamPerRequest, 2)} vs ${fmt(limit.upstreamPerRequest, 2)}`,
        met: j !== undefined && j === l && loadedSame,
      });
    }
  }
  const latency = get('Latency', 'junction');
  if (latency?.addedP50Ms !== undefined) {
    out.push({ target: 'Latency (1 connection): junction p50 within 2 ms of the limit', measured: `+${fmt(latency.addedP50Ms, 2)} ms`, met: latency.addedP50Ms <= 2 });
  }
  // Issue 18: metrics on and traces sampled at 1% cost under 5% of the CPU per request.
  for (const scenario of ['Overhead-Payment', 'Overhead-Dashboard-pages']) {
    const [bare, observed] = [get(scenario, 'junction-bare'), get(scenario, 'junction-observed')];
    if (!bare || !observed) continue;
    const added = observed.cpuSecondsPer1k / bare.cpuSecondsPer1k - 1;
    out.push({
      target: `${scenario}: metrics on and traces at 1% add < 5% CPU per request`,
      measured: `${added >= 0 ? '+' : ''}${fmt(added * 100, 1)}% (${fmt(observed.cpuSecondsPer1k, 3)} vs ${fmt(bare.cpuSecondsPer1k, 3)} CPU s/1k; req/s ${fmt(observed.rps, 0)} vs ${fmt(bare.rps, 0)})`,
      met: added < 0.05,
    });
  }
  const rss = Math.max(...rows.filter((r) => r.system === 'junction').map((r) => r.peakRssMb));
  if (Number.isFinite(rss)) out.push({ target: 'junction peak RSS under load < 250 MB', measured: `${fmt(rss, 0)} MB`, met: rss < 250 });
  return out;
}

/** What the figures themselves say about the run, written out so nobody misreads a ratio. */
export function observations(rows: readonly Row[]): string[] {
  const get = (scenario: string, system: SystemName) => rows.find((r) => r.scenario === scenario && r.system === system);
  const notes: string[] = [];
  const shared = ['Dashboard', 'Payment', 'Geocode']
    .map((scenario) => [scenario, get(scenario, 'junction'), get(scenario, 'limit')] as const)
    .filter(([, j, l]) => j && l && j.upstreamPerRequest < 0.9 * l.upstreamPerRequest);
  if (shared.length > 0) {
    notes.push(`Identical requests: Junction made fewer upstream calls per request than the limit (${shared.map(([s, j]) => `${s} ${fmt(j!.upstreamPerRequest, 2)}`).join(', ')}): `
      + 'its single flight makes identical upstream reads in flight once, across requests. Those rows compare a gateway that shares calls with servers that do not; Dashboard-pages is the uncached comparison.');
  }
  const meshShared = ['Dashboard', 'Payment', 'Geocode'].map((s) => [s, get(s, 'baseline')] as const)
    .filter(([s, b]) => b && b.upstreamPerRequest < 0.98 * (get(s, 'limit')?.upstreamPerRequest ?? 0));
  if (meshShared.length > 0) {
    notes.push(`The baseline also made fewer calls than the limit on identical requests (${meshShared.map(([s, b]) => `${s} ${fmt(b!.upstreamPerRequest, 2)}`).join(', ')}): `
      + 'the GraphQL source\'s executor (@graphql-tools/executor-http, under Mesh\'s graphql handler) makes identical queries in flight once, '
      + 'so messagesForCustomers is shared between requests (per operation and round: upstreamOperations in latest.json).');
  }
  for (const limit of rows.filter((r) => r.system === 'limit' && r.connections > 1)) {
    if (limit.sutCpuPct < 80) {
      notes.push(`${limit.scenario}: the limit server used ${fmt(limit.sutCpuPct, 0)}% of its core, while CPU 1 ran the backends at ${fmt(limit.backendsCpuPct, 0)}% `
        + `(one Node process serves all three) and the load tool at ${fmt(limit.loaderCpuPct, 0)}%: the other side, not the limit server, set its ceiling, `
        + 'so "x limit" there is a ratio to what the backends and the load tool could take.');
    }
  }
  return notes;
}

export function fmt(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The figures both tables (uncached and cached) give for a row, in this order. */
export const FIGURES = ['req/s', 'p50 ms', 'p99 ms', 'upstream calls/req', 'CPU s/1k req', 'peak RSS MB'];

export function figures(r: Row): string[] {
  return [fmt(r.rps, 0), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.upstreamPerRequest, 2), fmt(r.cpuSecondsPer1k, 2), fmt(r.peakRssMb, 0)];
}

const HEADER = ['scenario', 'system', ...FIGURES, 'x limit', 'x baseline', 'p50 - limit p50', 'SUT CPU %', 'backends CPU %', 'load tool CPU %', 'errors'];

export function table(rows: readonly Row[]): string {
  const lines = rows.map((r) => [
    r.scenario, r.system, ...figures(r), r.rpsVsLimit === undefined ? '' : `${fmt(r.rpsVsLimit, 2)}x`,
    r.rpsVsBaseline === undefined ? '' : `${fmt(r.rpsVsBaseline, 2)}x`, r.addedP50Ms === undefined ? '' : `${r.addedP50Ms >= 0 ? '+' : ''}${fmt(r.addedP50Ms, 2)}`,
    fmt(r.sutCpuPct, 0), fmt(r.backendsCpuPct, 0), fmt(r.loaderCpuPct, 0), String(r.errors),
  ]);
  return grid(HEADER, lines, 2);
}

/** A Markdown table, aligned for reading as text too; columns from `numericFrom` on are right-aligned. */
export function grid(header: readonly string[], lines: readonly string[][], numericFrom: number): string {
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => cells[i]!.length)));
  const numeric = (i: number) => i >= numericFrom;
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...lines.map(line)].join('\n');
}

export function targetList(list: readonly Target[]): string {
  return list.map((t) => `- ${t.met ? '**met**' : '**not met**'}: ${t.target} (measured ${t.measured})`).join('\n');
}

export function writeJson(path: string, report: Report): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

/** What the last run wrote to `path`, if it can be read: a run that measures part of the benchmark keeps the rest. */
export function previousReport(path: string): Partial<Report> | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Partial<Report>;
  } catch {
    return undefined;
  }
}
