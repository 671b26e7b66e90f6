import { createHmac, randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { EXAMPLE_QUERY } from '../../schema/example-query.ts';
import { createStatusWindow, STATUS_BUCKET_MS, STATUS_WINDOW_MS } from '../../gateway/plugins/status/window.ts';
import { statusReport, type StatusReport } from '../../gateway/plugins/status/report.ts';
import { renderStatusPage } from '../../gateway/plugins/status/render.ts';
import { RECENT_DELIVERIES } from '../../gateway/webhooks/receiver.ts';
import { SOURCE_NAMES } from '../../sources/demo/index.ts';
import { createMemoryStore } from '../../gateway/cache/store.ts';

/**
 * The status page through the public surface: who may see it, and figures that agree with the
 * backends' own counters (/_stats); the rolling window itself on a clock of the test's own.
 */

const call = (source: string, durationMs: number, status?: number, coalesced = false) => ({ source, operation: 'getThing', durationMs, coalesced, ...(status !== undefined ? { status } : {}) });

describe('the rolling window', () => {
  it('counts calls, failures (5xx or no answer) and refusals (4xx) apart, and reads p50 and p99 from its histogram', () => {
    const now = 1_000_000;
    const window = createStatusWindow({ now: () => now });
    for (let i = 0; i < 97; i += 1) window.onCall(call('payments', 10, 200));
    window.onCall(call('payments', 2_000, 503));
    window.onCall(call('payments', 1_800)); // no answer
    window.onCall(call('payments', 5, 404));
    window.onCall(call('payments', 0, 200, true)); // joined a call in flight: no backend call
    const payments = window.sources(['payments', 'maps']).payments!;
    expect(payments).toMatchObject({ calls: 100, errors: 2, rejected: 1, coalesced: 1, errorRate: 0.02, maxMs: 2_000 });
    // Each quantile is read inside the histogram's bound that holds it: the median (10 ms) in 7-10 ms,
    // the 99th of 100 (2 s) in 1.5-2 s, never past the largest seen.
    expect(payments.p50Ms).toBeGreaterThan(7);
    expect(payments.p50Ms).toBeLessThanOrEqual(10);
    expect(payments.p99Ms).toBeGreaterThanOrEqual(1_500);
    expect(payments.p99Ms).toBeLessThanOrEqual(2_000);
    // A source with no call is listed, with nothing to say about latency.
    expect(window.sources(['payments', 'maps']).maps).toMatchObject({ calls: 0, errors: 0, errorRate: 0, p50Ms: null, p99Ms: null });
  });

  it(`forgets a call once it is ${STATUS_WINDOW_MS / 60_000} minutes old, and counts the rate over the time it has seen`, () => {
    let now = 50 * STATUS_BUCKET_MS;
    const window = createStatusWindow({ now: () => now });
    for (let i = 0; i < 30; i += 1) window.onCall(call('maps', 4, 200));
    now += 60_000;
    for (let i = 0; i < 30; i += 1) window.onCall(call('maps', 40, 500));
    // 60 calls in the 60 s since the recorder started.
    expect(window.sources().maps).toMatchObject({ calls: 60, errors: 30, ratePerSec: 1 });
    now += STATUS_WINDOW_MS - 60_000 + STATUS_BUCKET_MS;
    // The first 30 are gone, their latencies with them.
    expect(window.sources().maps).toMatchObject({ calls: 30, errors: 30, errorRate: 1, p50Ms: 40, maxMs: 40 });
    now += 60_000;
    expect(window.sources().maps).toMatchObject({ calls: 0, errors: 0, p50Ms: null, maxMs: null, ratePerSec: 0 });
    expect(window.sources().maps!.series).toHaveLength(STATUS_WINDOW_MS / STATUS_BUCKET_MS);
  });

  it('keeps a cache layer\'s hit ratio over the window', () => {
    let now = 0;
    const window = createStatusWindow({ now: () => now });
    for (const outcome of ['hit', 'hit', 'hit', 'miss', 'stale']) window.onCache('response', outcome);
    expect(window.caches()).toEqual({ response: { outcomes: { hit: 3, miss: 1, stale: 1 }, hitRatio: 0.6 } });
    now += STATUS_WINDOW_MS + STATUS_BUCKET_MS;
    expect(window.caches()).toEqual({ response: { outcomes: { hit: 0, miss: 0, stale: 0 }, hitRatio: null } });
  });

  it('takes constant memory per source: a flood of calls grows nothing', () => {
    const window = createStatusWindow({ now: () => 0 });
    // What the heap holds after a full collection: garbage (a boxed number here and there) is not kept.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    // One record, changed in place: whatever the heap gains is the window's own.
    const record = call('payments', 3, 200);
    window.onCall(record);
    const before = heap();
    for (let i = 0; i < 2_000_000; i += 1) {
      record.durationMs = i % 3000;
      window.onCall(record);
    }
    expect(window.sources().payments!.calls).toBe(2_000_001);
    // A number kept per call would be 16 MB.
    const grown = heap() - before;
    expect(grown).toBeLessThan(1024 * 1024);
  });
});

describe('/status in production', () => {
  let h: Harness;
  let developer: Record<string, string>;
  const report = async (): Promise<StatusReport> => {
    const response = await h.fetch('/status', { headers: { ...developer, accept: 'application/json' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    return response.json();
  };
  beforeAll(async () => {
    h = await startHarness({ mode: 'production' });
    developer = { authorization: `Bearer ${await h.issuer.token({ sub: 'dev', scopes: ['junction:developer'] })}` };
  });
  afterAll(() => h.close());

  it('is refused to anonymous callers and users without the developer scope (403 STATUS_FORBIDDEN), and to bad credentials (401)', async () => {
    for (const path of ['/status', '/status.json']) {
      const anonymous = await h.fetch(path);
      expect(anonymous.status).toBe(403);
      expect((await anonymous.json()).errors[0].extensions.code).toBe('STATUS_FORBIDDEN');
      const user = await h.fetch(path, { headers: { authorization: `Bearer ${await h.issuer.token({ sub: 'alice' })}`, 'x-test-remote-address': '127.0.0.1' } });
      expect(user.status).toBe(403);
      expect((await user.json()).errors[0].extensions.code).toBe('STATUS_FORBIDDEN');
      const forged = await h.fetch(path, { headers: { authorization: 'Bearer not-a-token' } });
      expect(forged.status).toBe(401);
      expect((await forged.json()).errors[0].extensions.code).toBe('INVALID_TOKEN');
    }
  });

  it('shows a developer one self-contained HTML page that no cache keeps', async () => {
    const response = await h.fetch('/status', { headers: { ...developer, accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await response.text();
    for (const name of SOURCE_NAMES) expect(html).toContain(`data-source="${name}"`);
    // No script, and nothing fetched from anywhere.
    expect(html).not.toMatch(/<script|<link|src=|@import|url\(/i);
  });

  it(`after Dashboard queries, each source's calls are the backends' own counts; latencies are shown`, async () => {
    const before = await report();
    await h.resetStats();
    for (let i = 0; i < 3; i += 1) expect((await h.query(EXAMPLE_QUERY)).body.errors).toBeUndefined();
    const after = await report();
    const stats = await h.stats();
    for (const source of SOURCE_NAMES) {
      expect(stats[source].total).toBeGreaterThan(0);
      expect(after.sources[source]!.calls - before.sources[source]!.calls, source).toBe(stats[source].total);
      expect(after.sources[source]).toMatchObject({ state: 'up', breaker: 'closed', health: 'up', errors: 0, errorRate: 0 });
      expect(after.sources[source]!.p50Ms).toBeGreaterThan(0);
      expect(after.sources[source]!.p99Ms).toBeGreaterThanOrEqual(after.sources[source]!.p50Ms!);
      expect(after.sources[source]!.ratePerSec).toBeGreaterThan(0);
    }
    expect(after.readiness).toBe('ready');
    expect(after.window).toMatchObject({ windowMs: STATUS_WINDOW_MS, bucketMs: STATUS_BUCKET_MS });
    expect(after.requests.inFlight).toBe(0);
  });

  it('counts a failing backend\'s calls as errors of its source', async () => {
    const before = (await report()).sources.payments!;
    await h.fault('payments', 'listPayments', 10);
    try {
      const { body } = await h.query('query Failing { payments(first: 1) { edges { node { id } } } }');
      expect(body.errors?.[0]?.extensions?.code).toBe('SOURCE_ERROR');
    } finally {
      await h.clearFaults();
    }
    const after = (await report()).sources.payments!;
    expect(after.errors - before.errors).toBe(1);
    // The rate is of the window's own figures: errors over calls.
    expect(after.errorRate).toBeCloseTo(after.errors / after.calls, 4);
    expect(after.errorRate).toBeGreaterThan(0);
  });

  it('lists webhook deliveries: counts by outcome and the last few, with no body', async () => {
    const id = `evt_${randomBytes(6).toString('hex')}`;
    const body = JSON.stringify({ id, object: 'event', type: 'payment.succeeded', data: { object: { id: 'pay_1' } } });
    const at = Math.floor(Date.now() / 1000);
    const signature = `t=${at},v1=${createHmac('sha256', h.credentials.payments.webhookSecret).update(`${at}.${body}`).digest('hex')}`;
    expect((await h.fetch('/webhooks/payments', { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body })).status).toBe(200);
    expect((await h.fetch('/webhooks/payments', { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(401);
    const { webhooks } = await report();
    expect(webhooks.received['/webhooks/payments']).toMatchObject({ accepted: 1, refused_missing: 1 });
    expect(webhooks.recent.slice(0, 2).map(({ path, outcome }) => ({ path, outcome }))).toEqual([
      { path: '/webhooks/payments', outcome: 'refused_missing' },
      { path: '/webhooks/payments', outcome: 'accepted' },
    ]);
    expect(JSON.stringify(webhooks)).not.toContain(id);
    // Bounded: a flood of deliveries keeps the last few only.
    for (let i = 0; i < RECENT_DELIVERIES + 5; i += 1) await h.fetch('/webhooks/payments', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await report()).webhooks.recent).toHaveLength(RECENT_DELIVERIES);
  });
});

describe('/status with a source whose breaker opens', () => {
  let h: Harness;
  let proxy!: FaultProxy;
  beforeAll(async () => {
    h = await startHarness({
      mode: 'development',
      resilience: { failureThreshold: 3, halfOpenAfterMs: 60_000, maxRetries: 0 },
      sourceUrls: async (backends) => {
        proxy = await startFaultProxy(backends.payments.url);
        return { payments: proxy.url };
      },
    });
  });
  afterAll(async () => {
    await h.close();
    await proxy.close();
  });

  it('shows it open, its error rate, and the other sources up; anyone may look in development', async () => {
    const Q = 'query($m: ID!) { merchant(id: $m) { id } }';
    proxy.mode = { status: 503, body: 'busy', headers: { 'content-type': 'text/plain' } };
    for (let i = 0; i < 4; i += 1) await h.query(Q, { m: h.seed.merchants[1]!.id });
    expect(h.gateway.breakers().payments).toBe('open');
    const response = await h.fetch('/status.json');
    expect(response.status).toBe(200);
    const { sources } = await response.json() as StatusReport;
    // Three calls failed at the backend, the fourth at once (the breaker open): four failures.
    expect(sources.payments).toMatchObject({ state: 'open', breaker: 'open', calls: 4, errors: 4, errorRate: 1 });
    expect(sources.maps).toMatchObject({ state: 'up', errors: 0 });
    const html = await (await h.fetch('/status')).text();
    expect(html).toMatch(/<section class="card open" data-source="payments">\s*<header><span class="badge open">breaker open<\/span>/);
  });
});

describe('/status with a cache store', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ mode: 'development', cacheStore: createMemoryStore() });
  });
  afterAll(() => h.close());

  it('shows each cache layer\'s hit ratio over the window', async () => {
    const customer = h.seed.customers[0]!.id;
    const one = 'query One($c: ID!) { customer(id: $c) { id name email } }';
    // A response miss (and an entity miss: the backend is called), then a response hit; then
    // another document over the same customer: a response miss, an entity hit.
    await h.query(one, { c: customer });
    await h.query(one, { c: customer });
    await h.query('query Two($c: ID!) { customer(id: $c) { name } }', { c: customer });
    const { caches } = await (await h.fetch('/status', { headers: { accept: 'application/json' } })).json() as StatusReport;
    expect(caches.response).toEqual({ outcomes: { miss: 2, hit: 1 }, hitRatio: 0.3333 });
    expect(caches.entity).toEqual({ outcomes: { miss: 1, hit: 1 }, hitRatio: 0.5 });
    const html = await (await h.fetch('/status')).text();
    expect(html).toContain('response cache: 33.3% hits');
    expect(html).toContain('entity cache: 50.0% hits');
  });
});

describe('the page', () => {
  it('escapes every name that comes from configuration or traffic', async () => {
    const hostile = '<img src=x onerror="alert(1)">&\'';
    const window = createStatusWindow({ now: () => 0 });
    window.onCall(call(hostile, 12, 200));
    const report = await statusReport({
      mode: 'development', window,
      breakers: () => ({ [hostile]: 'closed' }),
      readiness: async () => ({ status: 'ready', sources: { [hostile]: { status: 'up', latencyMs: 1 }, [`${hostile}redis`]: { status: 'down', latencyMs: 2 } } }),
      shedding: () => ({ inFlight: 0, limit: 512 }),
      subscriptions: () => ({ [hostile]: 1 }),
      webhookStats: () => ({ [hostile]: { [hostile]: 1 } }),
      recentWebhooks: () => [{ at: 0, path: hostile, outcome: 'accepted' }],
      deliveryStats: () => ({ [hostile]: { pending: 0, delivered: 1 } }),
      pollStats: () => ({ [hostile]: { polls: 1, events: 0, failed: 0, standby: 0, skipped: 0 } }),
    });
    const html = renderStatusPage(report);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('onerror="');
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;');
    // Every place it appears, escaped: the card, its data attribute, the tables, the dependency badge.
    expect(html.split('&lt;img').length - 1).toBeGreaterThanOrEqual(7);
  });
});
