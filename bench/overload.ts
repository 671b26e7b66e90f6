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
 *
 * The open loop runs twice. First over WARM_CONNECTIONS opened before it starts, as a balancer's
 * keep-alive pool is: the rule is judged on this round. Then, after a rest, over a new pool that
 * opens connections as it needs them, during the overload: a saturated Node process accepts one
 * new connection per turn of its event loop (libuv 1.45+ accepts once per readiness event, not in
 * a loop), so each new connection's first request waits for as many turns as there are
 * connections ahead of it. That round is reported, not judged: it measures Node's accept queue.
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
  accepted: OpenLoopSummary;
  refused: OpenLoopSummary;
  /** Anything else: connection errors, other statuses, 200s with GraphQL errors. */
  failed: number;
  /** Accepted p99 over the baseline p99. */
  p99Ratio: number;
  /** The open loop second by second. */
  seconds: OverloadSecond[];
  /** Connections opened before the judged round, and by the load tool during it. */
  connections: { warm: number; openedDuring: number };
  /** The same open loop over connections opened as needed during it (reported, not judged). */
  cold: { accepted: OpenLoopSummary; refused: OpenLoopSummary; failed: number; connectionsOpened: number; p99Ratio: number; seconds: OverloadSecond[] };
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

export interface OpenLoopSummary {
  count: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

/** Connections the judged round opens before it starts: more than it ever has requests in flight. */
const WARM_CONNECTIONS = 512;

/** One second of the open loop, by when its requests were due. */
export interface OverloadSecond {
  second: number;
  sent: number;
  taken: number;
  takenP50Ms: number;
  takenP99Ms: number;
  refused: number;
  refusedP99Ms: number;
  failed: number;
}

interface OpenLoopRun {
  sent: number;
  /** How late the load tool sent each request (its own event loop busy), ms. */
  lateness: number[];
  elapsedMs: number;
  /** Connections the load tool opened while the loop ran. */
  connectionsOpened: number;
  /** Each request: the second it was due in, its latency, and what came back. */
  outcomes: Outcome[];
}

interface Outcome {
  second: number;
  latencyMs: number;
  kind: 'taken' | 'refused' | 'failed';
}

/** The latencies of one kind of outcome, ascending. */
const latenciesOf = (outcomes: readonly Outcome[], kind: Outcome['kind']): number[] =>
  outcomes.filter((o) => o.kind === kind).map((o) => o.latencyMs).sort((a, b) => a - b);

/** The open loop second by second: where in the round the latency was. */
function perSecond(run: OpenLoopRun): OverloadSecond[] {
  const seconds: OverloadSecond[] = [];
  const last = Math.max(0, ...run.outcomes.map((o) => o.second));
  for (let second = 0; second <= last; second++) {
    const these = run.outcomes.filter((o) => o.second === second);
    const taken = latenciesOf(these, 'taken');
    const refused = latenciesOf(these, 'refused');
    seconds.push({
      second, sent: these.length, taken: taken.length, takenP50Ms: percentile(taken, 50), takenP99Ms: percentile(taken, 99),
      refused: refused.length, refusedP99Ms: percentile(refused, 99), failed: these.length - taken.length - refused.length,
    });
  }
  return seconds;
}

/** A pool of connections enough that none is ever waited for: those in use are the requests in flight. */
function loadPool(target: Target): { pool: Pool; opened: () => number } {
  let opened = 0;
  const pool = new Pool(new URL(target.url).origin, { connections: 1024, pipelining: 1 });
  pool.on('connect', () => void opened++);
  return { pool, opened: () => opened };
}

/** Opens `count` connections of the pool, while the target is idle (a cheap GET on each). */
async function openConnections(target: Target, pool: Pool, count: number): Promise<void> {
  const health = new URL('/healthz', target.url).pathname;
  await Promise.all(Array.from({ length: count }, () => pool.request({ path: health, method: 'GET' }).then((r) => r.body.text())));
}

/** `rate` requests a second at even intervals for `durationS`, over `pool`; waits for every answer. */
async function openLoop(target: Target, { pool, opened }: ReturnType<typeof loadPool>, rate: number, durationS: number): Promise<OpenLoopRun> {
  const url = new URL(target.url);
  const openedBefore = opened();
  const bodies = target.bodies ?? [target.body ?? ''];
  const headers = { ...target.headers, 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  const run: OpenLoopRun = { sent: 0, lateness: [], elapsedMs: 0, connectionsOpened: 0, outcomes: [] };
  const pending = new Set<Promise<void>>();
  let started = 0;
  const send = (dueAt: number, body: string) => {
    run.lateness.push(performance.now() - dueAt);
    const second = Math.floor((dueAt - started) / 1000);
    const done = pool.request({ path: url.pathname, method: 'POST', headers, body })
      .then(async (response) => {
        const text = await response.body.text();
        const kind = response.statusCode === 200 && !text.includes('"errors":[') ? 'taken'
          : response.statusCode === 503 && text.includes('"OVERLOADED"') ? 'refused' : 'failed';
        run.outcomes.push({ second, latencyMs: performance.now() - dueAt, kind });
      }, () => void run.outcomes.push({ second, latencyMs: performance.now() - dueAt, kind: 'failed' }))
      .finally(() => pending.delete(done));
    pending.add(done);
  };
  started = performance.now();
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
  run.connectionsOpened = opened() - openedBefore;
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
  const warm = loadPool(target);
  await openConnections(target, warm.pool, WARM_CONNECTIONS);
  const warmOpened = warm.opened();
  const [open, openCpu] = await withCpu(pids, () => openLoop(target, warm, offeredRps, settings.durationS));
  await warm.pool.close();
  await sleep(2000);
  const fresh = loadPool(target);
  const coldRun = await openLoop(target, fresh, offeredRps, settings.durationS);
  await fresh.pool.close();
  const summary = (run: OpenLoopRun, kind: Outcome['kind']): OpenLoopSummary => {
    const s = latenciesOf(run.outcomes, kind);
    return { count: s.length, rps: s.length / (run.elapsedMs / 1000), p50Ms: percentile(s, 50), p99Ms: percentile(s, 99) };
  };
  const failedIn = (run: OpenLoopRun) => run.outcomes.filter((o) => o.kind === 'failed').length;
  const accepted = summary(open, 'taken');
  const refused = summary(open, 'refused');
  const failed = failedIn(open);
  const p99Ratio = accepted.p99Ms / saturation.p99Ms;
  const coldAccepted = summary(coldRun, 'taken');
  const cold = {
    accepted: coldAccepted, refused: summary(coldRun, 'refused'), failed: failedIn(coldRun), connectionsOpened: coldRun.connectionsOpened,
    p99Ratio: coldAccepted.p99Ms / saturation.p99Ms, seconds: perSecond(coldRun),
  };
  const passed = p99Ratio <= 2 && (refused.count === 0 || refused.p99Ms <= FAST_REFUSAL * saturation.p99Ms) && failed === 0;
  const verdict = `${passed ? 'passed' : 'NOT PASSED'}: offered ${fmt(offeredRps, 0)} req/s (${settings.factor}x the ${fmt(saturation.rps, 0)} req/s at saturation); `
    + `${fmt(accepted.rps, 0)} req/s taken with p99 ${fmt(accepted.p99Ms, 0)} ms (${fmt(p99Ratio, 2)}x the ${fmt(saturation.p99Ms, 0)} ms baseline), `
    + `${fmt(refused.rps, 0)} req/s refused with p99 ${fmt(refused.p99Ms, 1)} ms, ${failed} failed`;
  return {
    settings: { ...settings, connections: target.connections }, saturation, openCpu, loadToolLateP99Ms: percentile([...open.lateness].sort((a, b) => a - b), 99), offeredRps, sent: open.sent, accepted, refused,
    failed, p99Ratio, seconds: perSecond(open), connections: { warm: warmOpened, openedDuring: open.connectionsOpened }, cold, rule: RULE, passed, verdict,
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
  const series = grid(['second', 'sent', 'taken', 'taken p50 ms', 'taken p99 ms', 'refused', 'refused p99 ms', 'failed', 'new connections: taken p99 ms', 'refused p99 ms'],
    o.seconds.map((s, i) => {
      const c = o.cold.seconds[i];
      return [String(s.second + 1), String(s.sent), String(s.taken), fmt(s.takenP50Ms, 0), fmt(s.takenP99Ms, 0), String(s.refused), fmt(s.refusedP99Ms, 0), String(s.failed),
        c ? fmt(c.takenP99Ms, 0) : '-', c ? fmt(c.refusedP99Ms, 0) : '-'];
    }), 1);
  const c = o.cold;
  return `${o.settings.durationS} s a round. The open loop ran over ${o.connections.warm} connections opened before it (a balancer's keep-alive pool), `
    + `and opened ${o.connections.openedDuring} more; the load tool sent its requests with a p99 of ${fmt(o.loadToolLateP99Ms, 1)} ms after they were due.\n\n${table}\n\n`
    + `By the second its requests were due in; the last two columns are the same open loop run again over a new pool that opened its ${c.connectionsOpened} connections during the overload `
    + `(not judged: taken ${fmt(c.accepted.rps, 0)} req/s with p99 ${fmt(c.accepted.p99Ms, 0)} ms, ${fmt(c.p99Ratio, 2)}x the baseline; refused ${fmt(c.refused.rps, 0)} req/s with p99 ${fmt(c.refused.p99Ms, 0)} ms; ${c.failed} failed). `
    + 'A saturated event loop accepts one new connection per turn, so a request on a new connection waits for the turns of the connections ahead of it:\n\n'
    + `${series}\n\nRule: ${o.rule}.\n\nVerdict: ${o.verdict}.`;
}
