/**
 * The benchmark's child processes: each started in its own process group (so one signal reaches
 * it and anything it started), optionally pinned to one CPU with taskset, with its output kept
 * so a failure can say what the process printed. Every process started is remembered and
 * stopped by `stopAll`, which the runner calls in a `finally`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last lines the process wrote (stdout and stderr). */
  output: string[];
  exited: Promise<number | null>;
  hasExited: () => boolean;
  /** Stopped with SIGKILL straight away (for servers that ignore SIGTERM). */
  hardStop: boolean;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** CPU to pin to (ignored without taskset). */
  cpu?: number;
  cwd?: string;
  hardStop?: boolean;
}

const KEEP_LINES = 200;

/** True when `taskset` (util-linux) can be run here. */
export function hasTaskset(): boolean {
  return spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Pins every thread of this process (the load generator) to one CPU. Threads made later inherit it. */
export function pinSelf(cpu: number): boolean {
  return spawnSync('taskset', ['-a', '-pc', String(cpu), String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/** A port free right now on 127.0.0.1 (for servers that cannot take port 0, such as `mesh start`). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject).listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export class ProcessSet {
  private readonly started: Proc[] = [];
  constructor(private readonly taskset: boolean) {}

  start(name: string, command: string, args: string[], options: StartOptions = {}): Proc {
    const [file, argv] = this.taskset && options.cpu !== undefined
      ? ['taskset', ['-c', String(options.cpu), command, ...args]] // taskset execs: same pid as the command
      : [command, args];
    const child = spawn(file, argv, {
      cwd: options.cwd, env: options.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
    const output: string[] = [];
    let exited = false;
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') output.push(line);
      if (output.length > KEEP_LINES) output.splice(0, output.length - KEEP_LINES);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const proc: Proc = {
      name, pid: child.pid, child, output,
      exited: new Promise((resolve) => child.once('exit', (code) => { exited = true; resolve(code); })),
      hasExited: () => exited,
      hardStop: options.hardStop ?? false,
    };
    this.started.push(proc);
    return proc;
  }

  /**
   * Stops every process still running, newest first: SIGTERM to the group, SIGKILL after `graceMs`.
   * Each is forgotten once stopped, so that a set used again (the replayed mode after the end-to-end one)
   * never signals a group id the system may have handed to another process since.
   */
  async stopAll(graceMs = 3000): Promise<void> {
    for (const proc of [...this.started].reverse()) {
      await stop(proc, proc.hardStop ? 0 : graceMs);
      const at = this.started.indexOf(proc); // another stopAll (an interrupt's) may have forgotten it already
      if (at >= 0) this.started.splice(at, 1);
    }
  }
}

function signalGroup(proc: Proc, signal: NodeJS.Signals): void {
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // the group is gone already
  }
}

/** SIGTERM (or straight SIGKILL with graceMs 0) to the process group, SIGKILL if it outlives graceMs. */
export async function stop(proc: Proc, graceMs = 3000): Promise<void> {
  if (proc.hasExited()) return signalGroup(proc, 'SIGKILL'); // its children, if any
  signalGroup(proc, graceMs === 0 ? 'SIGKILL' : 'SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, graceMs, 'timeout').unref());
  if ((await Promise.race([proc.exited, timer])) === 'timeout') signalGroup(proc, 'SIGKILL');
  await Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
}

/** Resolves with the first match of `pattern` in the output; rejects if the process exits or time runs out. */
export function waitForOutput(proc: Proc, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      cleanup();
      reject(new Error(`${proc.name} ${why}. Its last output:\n  ${proc.output.slice(-25).join('\n  ')}`));
    };
    const check = () => {
      for (const line of proc.output) {
        const match = line.match(pattern);
        if (match) {
          cleanup();
          resolve(match);
          return;
        }
      }
    };
    const onExit = (code: number | null) => fail(`exited (code ${code}) before printing ${pattern}`);
    const timer = setTimeout(() => fail(`printed no ${pattern} within ${timeoutMs} ms`), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      proc.child.stdout?.off('data', onData);
      proc.child.stderr?.off('data', onData);
      proc.child.off('exit', onExit);
    };
    const onData = () => setImmediate(check); // after `keep` has split the chunk into lines
    proc.child.stdout?.on('data', onData);
    proc.child.stderr?.on('data', onData);
    proc.child.once('exit', onExit);
    check();
    if (proc.hasExited()) fail('has exited');
  });
}

/** Runs a command to completion (output kept), rejecting with its output on a non-zero exit. */
export async function runToEnd(set: ProcessSet, name: string, command: string, args: string[], options: StartOptions = {}): Promise<string[]> {
  const proc = set.start(name, command, args, options);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${name} failed (exit ${code}):\n  ${proc.output.slice(-30).join('\n  ')}`);
  return proc.output;
}
