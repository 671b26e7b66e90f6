/**
 * The real-time section of `npm run bench` (issue 17): two Junctions (compiled, production, as
 * `junction` runs) sharing a Redis of the bench's own, SSE subscribers to `paymentUpdated` split
 * between them, and Stripe-signed webhook deliveries to instance A, first at a fixed rate, then in
 * rounds as fast as A takes them. Measured: how long an event takes from the moment its delivery
 * is sent to each subscriber's receipt of it (p50, p99), deliveries taken per second at full speed,
 * and the memory each subscriber costs an instance. Checked: every subscriber received every
 * acknowledged event exactly once, and nothing else; a run where one did not fails loudly.
 *
 * Env: REALTIME_SUBSCRIBERS (1000, half on each instance), REALTIME_RATE (deliveries/s, 10),
 * REALTIME_SECONDS (10), REALTIME_BURST (deliveries per full-speed round, 100), REALTIME_ROUNDS (5),
 * REALTIME_CONCURRENCY (deliveries in flight at full speed, 8), REALTIME_PINNING (`split`: A on the
 * systems-under-test CPU, B with everything else on the other, as two instances each with a core of
 * its own; `shared`: both on the systems-under-test CPU); BENCH_JUNCTION_NODE_FLAGS as for the
 * scenarios' Junctions.
 */
import { createHmac } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { Pool } from 'undici';
import { DEMO_CREDENTIALS, DEMO_HEADERS } from '../sources/demo/credentials.ts';
import { cpuTicks, CLK_TCK, median, percentile, rssMb, sleep } from './measures.ts';
import { freePort, waitForOutput, type Proc, type ProcessSet } from './processes.ts';
import { fmt, grid } from './report.ts';
import { benchIdentity, shippedNodeFlags, type Cpus } from './systems.ts';

const SETTINGS = {
  subscribers: Number(process.env.REALTIME_SUBSCRIBERS ?? 1_000),
  // What two instances fan out to 1,000 subscribers here without falling behind: each event is
  // executed, serialized and written once per subscriber (about 0.1 ms of CPU each on this machine).
  rate: Number(process.env.REALTIME_RATE ?? 10),
  seconds: Number(process.env.REALTIME_SECONDS ?? 10),
  // A subscriber may have at most 100 events waiting (MAX_EVENTS_QUEUED) before its subscription is
  // ended: a full-speed round longer than that would end the slowest by design, not by fault.
  burst: Number(process.env.REALTIME_BURST ?? 100),
  rounds: Number(process.env.REALTIME_ROUNDS ?? 5),
  concurrency: Number(process.env.REALTIME_CONCURRENCY ?? 8),
  /** `split`: A on the systems-under-test CPU, B on the other; `shared`: both on the systems-under-test CPU. */
  pinning: process.env.REALTIME_PINNING === 'shared' ? 'shared' as const : 'split' as const,
};

/** Longest wait, after the last delivery of a phase, for every subscriber to have every event. */
const DRAIN_TIMEOUT_MS = 60_000;
const GRAPHQL_LINE = /GraphQL\s+(http:\/\/\S+\/graphql)/;
const SUBSCRIPTION = 'subscription { paymentUpdated { id amount } }';

export interface LatencySummary {
  /** Receipts measured: subscribers x events. */
  receipts: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface RealtimePhase {
  what: string;
  deliveries: number;
  accepted: number;
  /** Deliveries answered other than 200 (none is expected). */
  refused: number;
  /** Accepted deliveries per second, from the first sent to the last acknowledged. */
  acceptedPerS: number;
  /** From the first delivery sent to the last receipt by the last subscriber. */
  drainedMs: number;
  latency: LatencySummary;
  byInstance: { a: LatencySummary; b: LatencySummary };
  /** Percent of one core each Junction used during the phase, and this process (the subscribers and the sender). */
  cpuPct: { a: number; b: number; loadTool: number };
}

export interface Realtime {
  date: string;
  /** The machine's 1-minute load average as the section ended: anything above the bench's own share means other work ran too. */
  loadAverage: number;
  settings: typeof SETTINGS;
  pinning: string;
  subscribers: { a: number; b: number };
  /** RSS of each instance with no subscriber (after a warm-up), with its subscribers, and the difference per subscriber. */
  memory: { a: InstanceMemory; b: InstanceMemory };
  fixed: RealtimePhase;
  /** Full-speed rounds, each after every subscriber had the previous one's events. */
  max: { rounds: RealtimePhase[]; acceptedPerS: number; latency: LatencySummary };
  /** Each subscriber received every acknowledged event exactly once, and nothing else. */
  exactlyOnce: boolean;
  problems: string[];
}

export interface InstanceMemory {
  beforeMb: number;
  afterMb: number;
  perSubscriberKb: number;
}

/** One SSE subscriber: how many times it received each event, when, and whether its stream broke. */
interface Subscriber {
  instance: 'a' | 'b';
  counts: Uint16Array;
  /** Receipt time (performance.now()) of each event's first copy. */
  receivedAt: Float64Array;
  errors: string[];
  ended: boolean;
  close(): void;
}

/** Sequence numbers of all events the run may send: one payment per event, `amount` = its number. */
function capacity(): number {
  return SETTINGS.rate * SETTINGS.seconds + SETTINGS.burst * SETTINGS.rounds + 64;
}

function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/** Whether Redis answers PING on 127.0.0.1:port. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(String(data).startsWith('+PONG')));
  });
}

/** Opens one SSE subscription on `url` and counts what arrives, by event number. */
function subscribe(url: URL, instance: 'a' | 'b', authorization: string, size: number): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query: SUBSCRIPTION });
    const subscriber: Subscriber = {
      instance, counts: new Uint16Array(size), receivedAt: new Float64Array(size), errors: [], ended: false,
      close: () => req.destroy(),
    };
    // A connection of its own (agent: false), as each browser or service holding a stream has.
    const req = request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization, 'content-length': Buffer.byteLength(body) },
    }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        reject(new Error(`subscribing on ${instance} answered HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      let buffer = '';
      let opened = false;
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!opened) {
            // The first bytes (a comment) come once the subscription listens.
            opened = true;
            resolve(subscriber);
          }
          if (block.startsWith(':')) continue;
          if (block.includes('event: complete')) {
            subscriber.ended = true;
            continue;
          }
          const amount = /"amount":(\d+)/.exec(block);
          if (block.includes('"errors"') || !amount) {
            subscriber.errors.push(block.slice(0, 300));
            continue;
          }
          const n = Number(amount[1]);
          if (subscriber.counts[n]!++ === 0) subscriber.receivedAt[n] = at;
        }
      });
      res.on('end', () => {
        subscriber.ended = true;
      });
    });
    req.on('error', (err) => {
      subscriber.ended = true;
      reject(err);
    });
    req.end(body);
  });
}

/** A signed Stripe event about payment `pay_rt_<n>`, whose `amount` is n. */
function delivery(n: number): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    id: `evt_rt_${n}_${process.pid}`, object: 'event', type: 'payment.succeeded',
    data: { object: { id: `pay_rt_${n}`, object: 'payment', status: 'succeeded', amount: n, currency: 'eur', customer: 'cus_rt', merchant: 'mer_rt', amount_refunded: 0, created: 0 } },
  });
  const t = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', DEMO_CREDENTIALS.payments.webhookSecret).update(`${t}.${body}`).digest('hex');
  return { body, headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${signature}` } };
}

interface Sent {
  n: number;
  sentAt: number;
  ackedAt: number;
  status: number;
}

async function send(pool: Pool, n: number, sentAt: number[]): Promise<Sent> {
  const { body, headers } = delivery(n);
  sentAt[n] = performance.now();
  try {
    const answer = await pool.request({ path: '/webhooks/payments', method: 'POST', headers, body });
    const text = await answer.body.text();
    const status = answer.statusCode === 200 && text.includes('duplicate') ? 299 : answer.statusCode;
    return { n, sentAt: sentAt[n]!, ackedAt: performance.now(), status };
  } catch {
    return { n, sentAt: sentAt[n]!, ackedAt: performance.now(), status: 0 };
  }
}

function summarizeLatency(values: number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  return { receipts: sorted.length, p50Ms: percentile(sorted as unknown as number[], 50), p99Ms: percentile(sorted as unknown as number[], 99), maxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN };
}

/** Waits until every subscriber has each of `events` (or DRAIN_TIMEOUT_MS passed); resolves with when the last one arrived. */
async function drained(subscribers: readonly Subscriber[], events: readonly number[]): Promise<number> {
  const until = performance.now() + DRAIN_TIMEOUT_MS;
  const complete = () => subscribers.every((s) => s.ended || events.every((n) => s.counts[n]! > 0));
  while (!complete() && performance.now() < until) await sleep(20);
  let last = 0;
  for (const s of subscribers) for (const n of events) if (s.counts[n]! > 0) last = Math.max(last, s.receivedAt[n]!);
  return last;
}

/** Each receipt's latency (from its delivery's send to its arrival), of these events, by instance. */
function latenciesOf(subscribers: readonly Subscriber[], events: readonly number[], sentAt: readonly number[]): { a: number[]; b: number[] } {
  const latencies = { a: [] as number[], b: [] as number[] };
  for (const s of subscribers) for (const n of events) if (s.counts[n]! > 0) latencies[s.instance].push(s.receivedAt[n]! - sentAt[n]!);
  return latencies;
}

/** The phase's figures, from the deliveries it sent and what the subscribers received of them. */
function phase(what: string, sent: readonly Sent[], subscribers: readonly Subscriber[], sentAt: readonly number[], lastReceipt: number, cpu: RealtimePhase['cpuPct']): RealtimePhase {
  const accepted = sent.filter((s) => s.status === 200);
  const latencies = latenciesOf(subscribers, accepted.map((s) => s.n), sentAt);
  const first = Math.min(...sent.map((s) => s.sentAt));
  const lastAck = Math.max(...accepted.map((s) => s.ackedAt));
  return {
    what, deliveries: sent.length, accepted: accepted.length, refused: sent.length - accepted.length,
    acceptedPerS: accepted.length / ((lastAck - first) / 1000),
    drainedMs: lastReceipt - first,
    latency: summarizeLatency([...latencies.a, ...latencies.b]),
    byInstance: { a: summarizeLatency(latencies.a), b: summarizeLatency(latencies.b) },
    cpuPct: cpu,
  };
}

/** CPU use of the two Junctions and this process between two readings, percent of one core. */
function cpuMeter(a: Proc, b: Proc): () => RealtimePhase['cpuPct'] {
  const start = { a: cpuTicks(a.pid), b: cpuTicks(b.pid), self: process.cpuUsage(), at: performance.now() };
  return () => {
    const seconds = (performance.now() - start.at) / 1000;
    const self = process.cpuUsage(start.self);
    return {
      a: ((cpuTicks(a.pid) - start.a) / CLK_TCK / seconds) * 100,
      b: ((cpuTicks(b.pid) - start.b) / CLK_TCK / seconds) * 100,
      loadTool: ((self.user + self.system) / 1e6 / seconds) * 100,
    };
  };
}

export interface RealtimeOptions {
  /** The demo backends' URLs, when the caller runs them already; else they are started here. */
  urls?: { payments: string; maps: string; messaging: string };
  log: (line: string) => void;
}

export async function runRealtime(set: ProcessSet, cpus: Cpus, options: RealtimeOptions): Promise<Realtime> {
  const { log } = options;
  const problems: string[] = [];
  const node = process.execPath;
  // A Redis of the bench's own: its pub/sub channels and streams are not shared with tests running
  // on the machine's, and it starts empty.
  const redisPort = await freePort();
  set.start('redis', 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { cpu: cpus.side });
  for (let i = 0; i < 100 && !(await pong(redisPort)); i++) await sleep(50);
  if (!(await pong(redisPort))) throw new Error(`redis-server did not answer on port ${redisPort}`);
  let urls = options.urls;
  if (!urls) {
    const backends = set.start('rt-backends', node, ['--import', 'tsx', 'sources/demo/main.ts'], {
      env: { ...baseEnv(), PAYMENTS_PORT: '0', MAPS_PORT: '0', MESSAGING_PORT: '0' }, cpu: cpus.side,
    });
    await waitForOutput(backends, /MESSAGING_URL=(\S+)/, 30_000);
    const url = (name: string) => /=(\S+)/.exec(backends.output.find((l) => l.includes(`${name}=`))!.split(`${name}`)[1]!)![1]!;
    urls = { payments: url('PAYMENTS_URL'), maps: url('MAPS_URL'), messaging: url('MESSAGING_URL') };
  }
  const identity = await benchIdentity();
  const authorization = `Bearer ${identity.token}`;
  const { payments, maps, messaging } = DEMO_CREDENTIALS;
  const env = {
    ...baseEnv(), ...identity.env, NODE_ENV: 'production', PORT: '0', LOG_LEVEL: 'warn', CACHE: 'off',
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    PAYMENTS_URL: urls.payments, MAPS_URL: urls.maps, MESSAGING_URL: urls.messaging,
    PAYMENTS_SECRET_KEY: payments.secretKey, PAYMENTS_WEBHOOK_SECRET: payments.webhookSecret, MAPS_USERNAME: maps.username, MAPS_API_KEY: maps.apiKey,
    MESSAGING_ACCOUNT_SID: messaging.accountSid, MESSAGING_AUTH_TOKEN: messaging.authToken, MESSAGING_WEBHOOK_SECRET: messaging.authToken,
    MESSAGING_AUTHORIZATION: DEMO_HEADERS.messaging.authorization,
    // One bench caller holds every subscription: its budgets are lifted, as the scenarios lift its rate.
    RATE_USER_PER_MIN: '1000000000', MAX_SUBSCRIPTIONS_PER_CALLER: String(SETTINGS.subscribers),
  };
  // Both instances on the systems-under-test CPU, as `junction` is in the scenarios; Redis, the
  // backends and this process (subscribers and sender) on the other. BENCH_JUNCTION_NODE_FLAGS
  // applies to these Junctions too (a CPU profile, say).
  const flags = [...shippedNodeFlags(), ...(process.env.BENCH_JUNCTION_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)];
  const a = set.start('rt-junction-a', node, [...flags, 'dist/gateway/main.js'], { env, cpu: cpus.sut });
  const b = set.start('rt-junction-b', node, [...flags, 'dist/gateway/main.js'], { env, cpu: SETTINGS.pinning === 'shared' ? cpus.sut : cpus.side });
  const [urlA, urlB] = (await Promise.all([a, b].map((p) => waitForOutput(p, GRAPHQL_LINE, 60_000)))).map((m) => new URL(m[1]!)) as [URL, URL];
  const pool = new Pool(urlA.origin, { connections: SETTINGS.concurrency });
  const size = capacity();
  const sentAt: number[] = new Array(size).fill(Number.NaN);
  let next = 1;
  try {
    // Warm-up: a subscriber on each instance and a few events, so that both have compiled their
    // paths before anything is measured; then none is left subscribed.
    const warm = await Promise.all([subscribe(urlA, 'a', authorization, size), subscribe(urlB, 'b', authorization, size)]);
    const warmEvents: number[] = [];
    for (let i = 0; i < 20; i++) {
      warmEvents.push(next);
      await send(pool, next++, sentAt);
    }
    await drained(warm, warmEvents);
    for (const s of warm) s.close();
    await sleep(1_000);
    const before = { a: rssMb(a.pid), b: rssMb(b.pid) };

    const subscribers: Subscriber[] = [];
    const perInstance = { a: Math.ceil(SETTINGS.subscribers / 2), b: Math.floor(SETTINGS.subscribers / 2) };
    // In groups, so that neither instance gets a thousand connections in one turn of its loop.
    for (let i = 0; i < SETTINGS.subscribers; i += 50) {
      const group = Array.from({ length: Math.min(50, SETTINGS.subscribers - i) }, (_, j) => (i + j) % 2 === 0 ? 'a' as const : 'b' as const);
      subscribers.push(...await Promise.all(group.map((which) => subscribe(which === 'a' ? urlA : urlB, which, authorization, size))));
    }
    await sleep(1_000);
    const after = { a: rssMb(a.pid), b: rssMb(b.pid) };
    const memory = {
      a: { beforeMb: before.a, afterMb: after.a, perSubscriberKb: ((after.a - before.a) * 1024) / perInstance.a },
      b: { beforeMb: before.b, afterMb: after.b, perSubscriberKb: ((after.b - before.b) * 1024) / perInstance.b },
    };
    log(`  ${SETTINGS.subscribers} subscribers open (${perInstance.a} on A, ${perInstance.b} on B); RSS A ${fmt(before.a, 0)} -> ${fmt(after.a, 0)} MB, B ${fmt(before.b, 0)} -> ${fmt(after.b, 0)} MB`);

    // Fixed rate: deliveries leave at even intervals whatever comes back (an open loop).
    const fixedCount = SETTINGS.rate * SETTINGS.seconds;
    const fixedEvents = Array.from({ length: fixedCount }, (_, i) => next + i);
    next += fixedCount;
    let meter = cpuMeter(a, b);
    const start = performance.now();
    const inFlight: Promise<Sent>[] = [];
    for (const [i, n] of fixedEvents.entries()) {
      const due = start + (i * 1000) / SETTINGS.rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      inFlight.push(send(pool, n, sentAt));
    }
    const fixedSent = await Promise.all(inFlight);
    const fixedLast = await drained(subscribers, fixedSent.filter((s) => s.status === 200).map((s) => s.n));
    const fixed = phase(`${SETTINGS.rate}/s for ${SETTINGS.seconds} s`, fixedSent, subscribers, sentAt, fixedLast, meter());
    log(`  fixed ${fixed.what}: ${fixed.accepted}/${fixed.deliveries} accepted; latency p50 ${fmt(fixed.latency.p50Ms, 1)} ms, p99 ${fmt(fixed.latency.p99Ms, 1)} ms over ${fixed.latency.receipts} receipts; CPU A ${fmt(fixed.cpuPct.a, 0)}%, B ${fmt(fixed.cpuPct.b, 0)}%, load tool ${fmt(fixed.cpuPct.loadTool, 0)}%`);

    // Full speed, in rounds no longer than a subscriber may fall behind.
    const rounds: RealtimePhase[] = [];
    const roundsSent: Sent[] = [];
    for (let round = 1; round <= SETTINGS.rounds; round++) {
      const queue = Array.from({ length: SETTINGS.burst }, (_, i) => next + i);
      next += SETTINGS.burst;
      meter = cpuMeter(a, b);
      const sent: Sent[] = [];
      await Promise.all(Array.from({ length: SETTINGS.concurrency }, async () => {
        for (let n = queue.shift(); n !== undefined; n = queue.shift()) sent.push(await send(pool, n, sentAt));
      }));
      const last = await drained(subscribers, sent.filter((s) => s.status === 200).map((s) => s.n));
      const result = phase(`round ${round}`, sent, subscribers, sentAt, last, meter());
      rounds.push(result);
      roundsSent.push(...sent);
      log(`  full speed, round ${round}: ${fmt(result.acceptedPerS, 0)} deliveries/s accepted (${result.accepted}/${result.deliveries}); all ${SETTINGS.subscribers} subscribers had them ${fmt(result.drainedMs, 0)} ms after the first was sent; latency p50 ${fmt(result.latency.p50Ms, 1)} ms, p99 ${fmt(result.latency.p99Ms, 1)} ms`);
    }
    for (const s of subscribers) s.close();

    // Exactly once: every acknowledged event once at each subscriber, nothing else, no stream broken.
    const all = [...fixedSent, ...roundsSent];
    const acknowledged = new Uint8Array(size);
    for (const { n, status } of all) if (status === 200) acknowledged[n] = 1;
    let missing = 0;
    let duplicated = 0;
    let unexpected = 0;
    for (const s of subscribers) {
      for (const { n } of all) {
        const count = s.counts[n]!;
        if (acknowledged[n] === 1 && count === 0) missing++;
        else if (acknowledged[n] === 1 && count > 1) duplicated++;
        else if (acknowledged[n] === 0 && count > 0) unexpected++;
      }
    }
    const broken = subscribers.filter((s) => s.ended || s.errors.length > 0);
    if (missing > 0) problems.push(`${missing} receipts missing (subscriber x acknowledged event)`);
    if (duplicated > 0) problems.push(`${duplicated} events received more than once by a subscriber`);
    if (unexpected > 0) problems.push(`${unexpected} receipts of events whose delivery was not acknowledged`);
    if (broken.length > 0) problems.push(`${broken.length} subscriber streams ended or carried errors, e.g. ${broken.find((s) => s.errors.length > 0)?.errors[0] ?? 'ended'}`);
    const refused = all.filter((s) => s.status !== 200);
    if (refused.length > 0) problems.push(`${refused.length} deliveries not accepted (statuses ${[...new Set(refused.map((s) => s.status))].join(', ')}; 299 = answered as a duplicate)`);
    const maxLatency = latenciesOf(subscribers, roundsSent.filter((s) => s.status === 200).map((s) => s.n), sentAt);
    return {
      date: new Date().toISOString(), loadAverage: loadavg()[0]!, settings: SETTINGS,
      pinning: cpus.sut === undefined ? 'none'
        : SETTINGS.pinning === 'shared' ? `both Junctions on CPU ${cpus.sut}; Redis, backends, subscribers and sender on CPU ${cpus.side}`
        : `A on CPU ${cpus.sut}; B, Redis, backends, subscribers and sender on CPU ${cpus.side}`,
      subscribers: perInstance, memory, fixed,
      max: { rounds, acceptedPerS: median(rounds.map((r) => r.acceptedPerS)), latency: summarizeLatency([...maxLatency.a, ...maxLatency.b]) },
      exactlyOnce: missing === 0 && duplicated === 0 && unexpected === 0 && broken.length === 0,
      problems,
    };
  } finally {
    await pool.close();
  }
}

const PHASE_HEADER = ['phase', 'deliveries', 'accepted', 'accepted/s', 'p50 ms', 'p99 ms', 'max ms', 'all had them after ms', 'CPU A %', 'CPU B %', 'load tool CPU %'];

function phaseLine(p: RealtimePhase): string[] {
  return [p.what, String(p.deliveries), String(p.accepted), fmt(p.acceptedPerS, 0), fmt(p.latency.p50Ms, 1), fmt(p.latency.p99Ms, 1), fmt(p.latency.maxMs, 1), fmt(p.drainedMs, 0), fmt(p.cpuPct.a, 0), fmt(p.cpuPct.b, 0), fmt(p.cpuPct.loadTool, 0)];
}

/** The section's tables and verdict, as BENCHMARKS.md and stdout show them. */
export function realtimeText(r: Realtime): string {
  const { a, b } = r.memory;
  const memory = grid(['instance', 'subscribers', 'RSS before MB', 'RSS after MB', 'KB per subscriber'], [
    ['A (takes the deliveries)', String(r.subscribers.a), fmt(a.beforeMb, 0), fmt(a.afterMb, 0), fmt(a.perSubscriberKb, 1)],
    ['B', String(r.subscribers.b), fmt(b.beforeMb, 0), fmt(b.afterMb, 0), fmt(b.perSubscriberKb, 1)],
  ], 1);
  const byInstance = (p: RealtimePhase) => `A p50 ${fmt(p.byInstance.a.p50Ms, 1)} / p99 ${fmt(p.byInstance.a.p99Ms, 1)} ms, B p50 ${fmt(p.byInstance.b.p50Ms, 1)} / p99 ${fmt(p.byInstance.b.p99Ms, 1)} ms`;
  return [
    grid(PHASE_HEADER, [phaseLine(r.fixed), ...r.max.rounds.map(phaseLine)], 1),
    '',
    `- At ${r.fixed.what}: webhook to subscriber p50 ${fmt(r.fixed.latency.p50Ms, 1)} ms, p99 ${fmt(r.fixed.latency.p99Ms, 1)} ms over ${r.fixed.latency.receipts.toLocaleString('en-US')} receipts (${byInstance(r.fixed)}).`,
    `- At full speed (rounds of ${r.settings.burst}, ${r.settings.concurrency} in flight): ${fmt(r.max.acceptedPerS, 0)} deliveries/s accepted (median of ${r.max.rounds.length} rounds) with ${r.settings.subscribers.toLocaleString('en-US')} subscribers; p50 ${fmt(r.max.latency.p50Ms, 1)} ms, p99 ${fmt(r.max.latency.p99Ms, 1)} ms over all rounds' receipts.`,
    `- Every subscriber received every acknowledged event exactly once: ${r.exactlyOnce ? '**yes**' : '**NO**'}.${r.problems.length > 0 ? ` ${r.problems.join('; ')}.` : ''}`,
    '',
    memory,
  ].join('\n');
}
