/**
 * Hardening's overload scenario: Junction offered twice the rate it can answer. A closed-loop
 * round (the load tool's connections each wait for their answer) finds the saturation rate and
 * the p99 at it, the baseline; then requests are sent at twice that rate whatever comes back (an
 * open loop, as traffic from many clients arrives), for the same time. It passes when the excess
 * is refused fast (503 OVERLOADED) and the requests taken keep their p99 within twice the
 * baseline's.
 *
 * The open loop is driven here rather than by autocannon, whose rate limit sends each second's
 * quota in a burst at the start of the second. Requests leave at even intervals, and each one's
 * latency is counted from when it was due to leave, not from when a connection was free to send
 * it, so time spent queued in the load tool counts against Junction (no coordinated omission).
 */
import { Pool } from 'undici';
import { cpuBetween, runLoad, snapshot, type Target } from './load.ts';
import { percentile, sleep } from './measures.ts';
import { fmt, grid } from './report.ts';

export interface OverloadSettings {
  /** Seconds of each of the two rounds. */
  durationS: number;
  /** Offered rate over the saturation rate. */
  factor: number;
}

/** The processes whose CPU use is read: Junction, and the backends (on the load tool's CPU). */
export interface OverloadPids {
  sut: number;
  backends: number;
}

/** Percent of one core each process used during a round. */
export interface CpuUse {
  sutPct: number;
  backendsPct: number;
  /** This process: the load tool. */
  loadToolPct: number;
}

export interface Overload {
  settings: OverloadSettings & { connections: number };
  saturation: { rps: number; p50Ms: number; p99Ms: number; errors: number; cpu: CpuUse };
  openCpu: CpuUse;
  /** p99 of how late the load tool sent requests in the open loop: large means it, not Junction, was behind. */
  loadToolLateP99Ms: number;
  offeredRps: number;
  sent: number;
  accepted: { count: number; rps: number; p50Ms: number; p99Ms: number };
  refused: { count: number; rps: number; p50Ms: number; p99Ms: number };
  /** Anything else: connection errors, other statuses, 200s with GraphQL errors. */
  failed: number;
  /** Accepted p99 over the baseline p99. */
  p99Ratio: number;
  rule: string;
  passed: boolean;
  verdict: string;
}

/** Refusals are fast when they take no longer than an answer at saturation: Node reads a request
 * (and so refuses it) only when its event loop gets to it, so a refusal waits for one turn of a
 * busy loop, but never in the queue of requests taken. */
const FAST_REFUSAL = 1;

const RULE = `passes when the accepted requests' p99 is at most 2x the p99 at saturation, the refused ones' p99 at most ${FAST_REFUSAL}x it, `
  + 'and no request fails otherwise (connection error, 5xx other than 503 OVERLOADED, GraphQL errors)';

interface OpenLoopRun {
  sent: number;
  /** How late the load tool sent each request (its own event loop busy), ms. */
  lateness: number[];
  accepted: number[];
  refused: number[];
  failed: number;
  elapsedMs: number;
}

/** `rate` requests a second at even intervals for `durationS`; waits for every answer. */
async function openLoop(target: Target, rate: number, durationS: number): Promise<OpenLoopRun> {
  const url = new URL(target.url);
  // Connections enough that none is ever waited for: those in use are the requests in flight.
  const pool = new Pool(url.origin, { connections: 1024, pipelining: 1 });
  const bodies = target.bodies ?? [target.body ?? ''];
  const headers = { ...target.headers, 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  const run: OpenLoopRun = { sent: 0, lateness: [], accepted: [], refused: [], failed: 0, elapsedMs: 0 };
  const pending = new Set<Promise<void>>();
  const send = (dueAt: number, body: string) => {
    run.lateness.push(performance.now() - dueAt);
    const done = pool.request({ path: url.pathname, method: 'POST', headers, body })
      .then(async (response) => {
        const text = await response.body.text();
        const latency = performance.now() - dueAt;
        if (response.statusCode === 200 && !text.includes('"errors":[')) run.accepted.push(latency);
        else if (response.statusCode === 503 && text.includes('"OVERLOADED"')) run.refused.push(latency);
        else run.failed++;
      }, () => void run.failed++)
      .finally(() => pending.delete(done));
    pending.add(done);
  };
  const started = performance.now();
  const intervalMs = 1000 / rate;
  const total = Math.round(rate * durationS);
  while (run.sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - started) / intervalMs) + 1);
    while (run.sent < due) {
      send(started + run.sent * intervalMs, bodies[run.sent % bodies.length]!);
      run.sent++;
    }
    await sleep(1);
  }
  await Promise.all(pending);
  run.elapsedMs = performance.now() - started;
  await pool.close();
  return run;
}

/** Runs `round` and reads how much CPU Junction, the backends and the load tool used meanwhile. */
async function withCpu<T>(pids: OverloadPids, round: () => Promise<T>): Promise<[T, CpuUse]> {
  const start = snapshot(pids.sut, pids.backends);
  const result = await round();
  return [result, cpuBetween(start, snapshot(pids.sut, pids.backends))];
}

export async function overload(target: Target, pids: OverloadPids, settings: OverloadSettings): Promise<Overload> {
  // Closed loop: the saturation rate and the baseline p99 (a warm-up first, as every round has).
  await runLoad(target, 2);
  await sleep(1000);
  const [closed, closedCpu] = await withCpu(pids, () => runLoad(target, settings.durationS));
  const sorted = [...closed.latencies].sort((a, b) => a - b);
  const saturation = {
    rps: closed.completed / (closed.elapsedMs / 1000), p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99),
    errors: closed.errors + closed.non2xx + closed.graphqlErrors, cpu: closedCpu,
  };
  await sleep(1000);
  const offeredRps = saturation.rps * settings.factor;
  const [open, openCpu] = await withCpu(pids, () => openLoop(target, offeredRps, settings.durationS));
  const seconds = open.elapsedMs / 1000;
  const summary = (latencies: number[]) => {
    const s = [...latencies].sort((a, b) => a - b);
    return { count: s.length, rps: s.length / seconds, p50Ms: percentile(s, 50), p99Ms: percentile(s, 99) };
  };
  const accepted = summary(open.accepted);
  const refused = summary(open.refused);
  const p99Ratio = accepted.p99Ms / saturation.p99Ms;
  const passed = p99Ratio <= 2 && (refused.count === 0 || refused.p99Ms <= FAST_REFUSAL * saturation.p99Ms) && open.failed === 0;
  const verdict = `${passed ? 'passed' : 'NOT PASSED'}: offered ${fmt(offeredRps, 0)} req/s (${settings.factor}x the ${fmt(saturation.rps, 0)} req/s at saturation); `
    + `${fmt(accepted.rps, 0)} req/s taken with p99 ${fmt(accepted.p99Ms, 0)} ms (${fmt(p99Ratio, 2)}x the ${fmt(saturation.p99Ms, 0)} ms baseline), `
    + `${fmt(refused.rps, 0)} req/s refused with p99 ${fmt(refused.p99Ms, 1)} ms, ${open.failed} failed`;
  return {
    settings: { ...settings, connections: target.connections }, saturation, openCpu, loadToolLateP99Ms: percentile([...open.lateness].sort((a, b) => a - b), 99), offeredRps, sent: open.sent, accepted, refused,
    failed: open.failed, p99Ratio, rule: RULE, passed, verdict,
  };
}

/** The table, the rule and the verdict: the same text on stdout and in BENCHMARKS.md. */
export function overloadText(o: Overload): string {
  const table = grid(['round', 'offered req/s', 'taken req/s', 'p50 ms', 'p99 ms', 'refused req/s', 'refused p99 ms', 'failed', 'Junction CPU %', 'backends CPU %', 'load tool CPU %'], [
    [`closed loop, ${o.settings.connections} connections`, '-', fmt(o.saturation.rps, 0), fmt(o.saturation.p50Ms, 1), fmt(o.saturation.p99Ms, 1), '-', '-', String(o.saturation.errors),
      fmt(o.saturation.cpu.sutPct, 0), fmt(o.saturation.cpu.backendsPct, 0), fmt(o.saturation.cpu.loadToolPct, 0)],
    [`open loop, ${o.settings.factor}x`, fmt(o.offeredRps, 0), fmt(o.accepted.rps, 0), fmt(o.accepted.p50Ms, 1), fmt(o.accepted.p99Ms, 1), fmt(o.refused.rps, 0), fmt(o.refused.p99Ms, 1), String(o.failed),
      fmt(o.openCpu.sutPct, 0), fmt(o.openCpu.backendsPct, 0), fmt(o.openCpu.loadToolPct, 0)],
  ], 1);
  return `${o.settings.durationS} s a round. In the open loop the load tool sent its requests with a p99 of ${fmt(o.loadToolLateP99Ms, 1)} ms after they were due.\n\n${table}\n\nRule: ${o.rule}.\n\nVerdict: ${o.verdict}.`;
}
