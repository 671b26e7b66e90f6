/**
 * One measured round: a short warm-up, a wait until the system under test has finished what the
 * warm-up left in flight, then autocannon for a fixed time. Throughput and latency cover the
 * round (2xx responses). When the load stops, the requests still in flight are let finish (the
 * process goes idle again) before CPU time and upstream calls are read, and both are divided by
 * the requests sent in the round: every one of them was completed by the system, the last ones
 * after the load tool stopped listening. So nothing done for a request is left out, and nothing
 * is counted that was not done for one.
 */
import autocannon from 'autocannon';
import { CLK_TCK, cpuTicks, peakRssMb, percentile, resetPeakRss, resetUpstream, upstreamCalls, waitIdle } from './measures.ts';

export interface Target {
  url: string;
  method: 'GET' | 'POST';
  body?: string;
  /** Sent in turn, one per request, instead of `body`. */
  bodies?: string[];
  connections: number;
  /** Sent with every request (Junction's bearer token, the payments key for `direct`). */
  headers?: Record<string, string>;
}

export interface RoundOptions {
  durationS: number;
  warmupS: number;
  /** The process under test (CPU, RSS). */
  sutPid: number;
  /** The demo backends' process (its CPU use is reported too: it shares CPU 1 with the load tool). */
  backendsPid: number;
  upstreamUrls: readonly string[];
}

export interface RoundResult {
  /** 2xx responses the load tool received. */
  requests: number;
  /** Requests sent (received responses plus those in flight when the load stopped). */
  sent: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  upstreamPerRequest: number;
  /** CPU seconds of the process under test per 1000 requests (= CPU ms per request). */
  cpuSecondsPer1k: number;
  peakRssMb: number;
  sutCpuPct: number;
  backendsCpuPct: number;
  loaderCpuPct: number;
  errors: number;
  non2xx: number;
  /** 2xx answers with an `errors` list. */
  graphqlErrors: number;
  /** Answers with an `errors` list (any status), by their first error's code: what the errors were. */
  errorCodes: Record<string, number>;
  /** Wait, before the round, for the warm-up's requests to finish. */
  idleWaitMs: number;
  /** Time the system took, after the load stopped, to finish the requests still in flight. */
  drainMs: number;
  upstreamOperations: Record<string, number>;
}

interface LoadRun {
  completed: number;
  graphqlErrors: number;
  errorCodes: Record<string, number>;
  sent: number;
  latencies: number[];
  errors: number;
  non2xx: number;
  elapsedMs: number;
}

/** Bare load, no /proc or upstream reading: for callers that read the process their own way (the soak). */
export function runLoad(target: Target, durationS: number): Promise<LoadRun> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    let completed = 0;
    let graphqlErrors = 0;
    const errorCodes: Record<string, number> = {};
    let next = 0;
    const bodies = target.bodies;
    const started = performance.now();
    const instance = autocannon({
      url: target.url, method: target.method, connections: target.connections, duration: durationS, pipelining: 1, timeout: 30,
      headers: { ...target.headers, ...(target.body === undefined && !bodies ? {} : { 'content-type': 'application/json' }) },
      ...(target.body === undefined && !bodies ? {} : { body: target.body ?? bodies?.[0] }),
      requests: [{
        ...(bodies ? { setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) } : {}),
        // A GraphQL error comes in a 200: count answers that carry one, and tally every error
        // answer's first code (a refusal's too), so that a round says what its errors were.
        onResponse: (_status, body) => {
          if (!body.includes('"errors":[')) return;
          graphqlErrors++;
          const code = /"code":"([A-Z_]+)"/.exec(body)?.[1] ?? 'none';
          errorCodes[code] = (errorCodes[code] ?? 0) + 1;
        },
      }],
    }, (err, result) => {
      if (err) return reject(err);
      resolve({ completed, graphqlErrors, errorCodes, sent: result.requests.sent ?? completed, latencies, errors: result.errors, non2xx: result.non2xx, elapsedMs: performance.now() - started });
    });
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) {
        completed++;
        latencies.push(responseTime);
      }
    });
  });
}

/** Load for `seconds` without measuring (JIT, caches, connection pools). */
export async function warmUp(target: Target, seconds: number): Promise<void> {
  await runLoad(target, seconds);
}

export interface Snapshot {
  atMs: number;
  sutTicks: number;
  backendsTicks: number;
  loaderMicros: number;
}

export function snapshot(sutPid: number, backendsPid: number): Snapshot {
  const usage = process.cpuUsage();
  return { atMs: performance.now(), sutTicks: cpuTicks(sutPid), backendsTicks: cpuTicks(backendsPid), loaderMicros: usage.user + usage.system };
}

/** Percent of one core each process used between two snapshots (the load tool is this process). */
export function cpuBetween(start: Snapshot, end: Snapshot): { sutPct: number; backendsPct: number; loadToolPct: number } {
  const seconds = (end.atMs - start.atMs) / 1000;
  const pct = (ticks: number) => (ticks / CLK_TCK / seconds) * 100;
  return { sutPct: pct(end.sutTicks - start.sutTicks), backendsPct: pct(end.backendsTicks - start.backendsTicks), loadToolPct: ((end.loaderMicros - start.loaderMicros) / 1e6 / seconds) * 100 };
}

export async function measureRound(target: Target, options: RoundOptions): Promise<RoundResult> {
  const { durationS, warmupS, sutPid, backendsPid, upstreamUrls } = options;
  if (warmupS > 0) await warmUp(target, warmupS);
  const idleWaitMs = await waitIdle(sutPid);
  resetPeakRss(sutPid);
  await resetUpstream(upstreamUrls);

  const start = snapshot(sutPid, backendsPid);
  const run = await runLoad(target, durationS);
  const end = snapshot(sutPid, backendsPid);
  const drainMs = await waitIdle(sutPid);
  const drained = snapshot(sutPid, backendsPid);
  const calls = await upstreamCalls(upstreamUrls);
  const peak = peakRssMb(sutPid);

  const sorted = [...run.latencies].sort((a, b) => a - b);
  const cpu = cpuBetween(start, end);
  return {
    requests: run.completed,
    sent: run.sent,
    seconds: run.elapsedMs / 1000,
    rps: run.completed / (run.elapsedMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    upstreamPerRequest: calls.total / run.sent,
    cpuSecondsPer1k: ((drained.sutTicks - start.sutTicks) / CLK_TCK / run.sent) * 1000,
    peakRssMb: peak,
    sutCpuPct: cpu.sutPct,
    backendsCpuPct: cpu.backendsPct,
    loaderCpuPct: cpu.loadToolPct,
    errors: run.errors,
    non2xx: run.non2xx,
    graphqlErrors: run.graphqlErrors,
    errorCodes: run.errorCodes,
    idleWaitMs,
    drainMs,
    upstreamOperations: calls.operations,
  };
}
