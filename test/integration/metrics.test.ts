import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Plugin } from 'graphql-yoga';
import { getOperationAST } from 'graphql';
import { callCounts, startHarness, type Harness } from '../helpers/harness.ts';
import { startGatewayProcess, stopProcess } from '../helpers/gateway-process.ts';
import { createTestIssuer, TEST_AUTH } from '../helpers/test-issuer.ts';
import { signedHmacDelivery, WAREHOUSE_WEBHOOK, warehouseSource } from '../helpers/warehouse.ts';
import { EXAMPLE_QUERY } from '../../schema/example-query.ts';
import { CACHE_LAYERS, CACHE_OUTCOMES, createMetrics, MAX_OPERATION_NAMES } from '../../gateway/metrics/metrics.ts';
import { createMemoryStore } from '../../gateway/cache/store.ts';
import { createUpstreamQuota } from '../../gateway/plugins/limits/upstream-quota.ts';
import { SETTLE, RELEASE } from '../../gateway/plugins/limits/concurrency-limit.ts';
import { createGateway } from '../../gateway/create-gateway.ts';
import { createAuth } from '../../gateway/auth/index.ts';
import { hashApiKey } from '../../gateway/auth/api-keys.ts';
import { createLogger } from '../../gateway/logger.ts';
import { DEFAULTS } from '../../gateway/config.ts';
import { DEFAULT_LIMITS } from '../../gateway/plugins/limits/limits.ts';

/**
 * Prometheus metrics through the public surface: `/metrics` on the main port answers developers
 * only, METRICS_PORT answers anyone who reaches it, and the figures agree with the backends' own
 * counters (/_stats).
 */

/** Every sample of a metric whose labels include `labels`, from the exposition text. */
function samples(text: string, name: string, labels: Record<string, string> = {}): number[] {
  const found: number[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const given = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => given[key] === value)) found.push(Number(match[3]));
  }
  return found;
}
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
/** How much a metric's samples (those with `labels`) grew from one scrape to the next. */
const growth = (before: string, after: string) => (name: string, labels: Record<string, string> = {}) => sum(samples(after, name, labels)) - sum(samples(before, name, labels));

let h: Harness;
let developer: Record<string, string>;
const scrape = async () => {
  const response = await h.fetch('/metrics', { headers: developer });
  expect(response.status).toBe(200);
  return response.text();
};

beforeAll(async () => {
  h = await startHarness({ mode: 'production' });
  developer = { authorization: `Bearer ${await h.issuer.token({ sub: 'dev', scopes: ['junction:developer'] })}` };
});
afterAll(() => h.close());
beforeEach(() => h.resetStats());

describe('/metrics on the main port', () => {
  it('is refused to anonymous callers, users without the developer scope and bad credentials', async () => {
    const anonymous = await h.fetch('/metrics');
    expect(anonymous.status).toBe(403);
    expect((await anonymous.json()).errors[0].extensions.code).toBe('METRICS_FORBIDDEN');
    const user = await h.fetch('/metrics', { headers: { authorization: `Bearer ${await h.issuer.token({ sub: 'alice' })}` } });
    expect(user.status).toBe(403);
    expect((await user.json()).errors[0].extensions.code).toBe('METRICS_FORBIDDEN');
    const forged = await h.fetch('/metrics', { headers: { authorization: 'Bearer not-a-token' } });
    expect(forged.status).toBe(401);
    expect((await forged.json()).errors[0].extensions.code).toBe('INVALID_TOKEN');
  });

  it('answers a developer with the Prometheus text format', async () => {
    const response = await h.fetch('/metrics', { headers: developer });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    for (const name of ['junction_requests_total', 'junction_request_duration_seconds', 'junction_upstream_calls_total', 'junction_upstream_call_duration_seconds', 'junction_upstream_batch_size', 'junction_breaker_state', 'junction_requests_in_flight', 'junction_subscriptions', 'junction_webhooks_received_total',
      'junction_requests_refused_total', 'junction_rate_limited_total', 'junction_load_shed_total', 'junction_cache_lookups_total', 'junction_deliveries_total',
      'junction_deliveries_pending', 'junction_deliveries_suspended', 'junction_poll_reads_total', 'junction_poll_standby_total', 'junction_poll_failures_total',
      'junction_poll_events_total', 'process_cpu_seconds_total']) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'));
    }
    // Every source's breaker starts closed.
    expect(samples(text, 'junction_breaker_state').sort()).toEqual([0, 0, 0]);
  });
});

describe('what is counted', () => {
  it('the Dashboard query: one request, ok, and the backends\' own call counts per source', async () => {
    const before = await scrape();
    const { body } = await h.query(EXAMPLE_QUERY);
    expect(body.errors).toBeUndefined();
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => sum(samples(after, name, labels)) - sum(samples(before, name, labels));
    expect(delta('junction_requests_total', { operation: 'Dashboard', outcome: 'ok' })).toBe(1);
    expect(delta('junction_requests_total', { operation: 'Dashboard', outcome: 'error' })).toBe(0);
    expect(delta('junction_request_duration_seconds_count', { operation: 'Dashboard' })).toBe(1);
    const stats = await h.stats();
    for (const [source, snapshot] of Object.entries(stats)) {
      expect(snapshot.total).toBeGreaterThan(0);
      expect(delta('junction_upstream_calls_total', { source, outcome: 'ok' })).toBe(snapshot.total);
      expect(delta('junction_upstream_call_duration_seconds_count', { source })).toBe(snapshot.total);
      // Batch calls: as many observations as the backend saw batches, of the same total size.
      const batches = Object.values(snapshot.batchSizes).flat();
      expect(delta('junction_upstream_batch_size_count', { source })).toBe(batches.length);
      expect(delta('junction_upstream_batch_size_sum', { source })).toBe(sum(batches));
      for (const [operation, count] of Object.entries(snapshot.operations)) {
        expect(delta('junction_upstream_calls_total', { source, operation, outcome: 'ok' })).toBe(count);
      }
    }
  });

  it('a backend failing: the request is an error, the call an error of its source and operation', async () => {
    await h.fault('payments', 'listPayments', 10);
    const before = await scrape();
    const { body } = await h.query('query Failing { payments(first: 1) { edges { node { id } } } }');
    expect(body.errors?.[0]?.extensions?.code).toBe('SOURCE_ERROR');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => sum(samples(after, name, labels)) - sum(samples(before, name, labels));
    expect(delta('junction_requests_total', { operation: 'Failing', outcome: 'error' })).toBe(1);
    expect(delta('junction_upstream_calls_total', { source: 'payments', operation: 'listPayments', outcome: 'error' })).toBe(1);
    await h.clearFaults();
  });

  it('a request refused for its credentials is counted as refused, under the name it gave', async () => {
    const before = await scrape();
    const response = await h.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-token' },
      body: JSON.stringify({ query: 'query Refused { __typename }', operationName: 'Refused' }),
    });
    expect(response.status).toBe(401);
    const after = await scrape();
    const refused = (text: string) => samples(text, 'junction_requests_total', { operation: 'Refused', outcome: 'refused' });
    expect(refused(before)).toEqual([]);
    expect(refused(after)).toEqual([1]);
    expect(growth(before, after)('junction_requests_refused_total', { reason: 'INVALID_TOKEN' })).toBe(1);
  });

  it('a field over its @rateLimit: a field rate limit, the request answered with an error, not refused', async () => {
    const sender = { authorization: `Bearer ${await h.issuer.token({ sub: 'sender', scopes: ['messages:send'] })}` };
    const before = await scrape();
    // sendMessage allows 10 calls a minute per caller (schema/messaging.ts).
    const SEND = 'mutation SendOne { sendMessage(input: { phone: "+4930111222333", body: "hi" }) { id } }';
    for (let i = 0; i < 10; i++) expect((await h.query(SEND, {}, sender)).body.errors).toBeUndefined();
    const over = await h.query(SEND, {}, sender);
    expect(over.status).toBe(200);
    expect(over.body.errors![0]!.extensions!.code).toBe('RATE_LIMITED');
    const delta = growth(before, await scrape());
    expect(delta('junction_rate_limited_total', { limit: 'field' })).toBe(1);
    expect(delta('junction_rate_limited_total', { limit: 'caller' })).toBe(0);
    expect(delta('junction_requests_total', { operation: 'SendOne', outcome: 'error' })).toBe(1);
    expect(delta('junction_requests_refused_total')).toBe(0);
  });

  it('a refusal made before any GraphQL handling (CSRF) is counted under its code too; refusals by reason add up to refused requests', async () => {
    const before = await scrape();
    const response = await h.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ __typename }"}' });
    expect(response.status).toBe(400);
    const after = await scrape();
    const delta = growth(before, after);
    expect(delta('junction_requests_refused_total', { reason: 'CSRF_REFUSED' })).toBe(1);
    expect(delta('junction_requests_total', { outcome: 'refused' })).toBe(1);
    expect(sum(samples(after, 'junction_requests_refused_total'))).toBe(sum(samples(after, 'junction_requests_total', { outcome: 'refused' })));
  });

  it(`labels at most ${MAX_OPERATION_NAMES} operation names; later ones are counted as other`, async () => {
    for (let i = 0; i < MAX_OPERATION_NAMES + 5; i += 1) {
      const { status } = await h.query(`query Name${i} { __typename }`);
      expect(status).toBe(200);
    }
    const text = await scrape();
    const names = new Set([...text.matchAll(/^junction_requests_total\{operation="([^"]*)"/gm)].map((m) => m[1]));
    expect(names.size).toBe(MAX_OPERATION_NAMES + 1);
    expect(names.has('other')).toBe(true);
    expect(sum(samples(text, 'junction_requests_total', { operation: 'other', outcome: 'ok' }))).toBeGreaterThanOrEqual(5);
  });

  it('webhook deliveries by path and outcome', async () => {
    const response = await h.fetch('/webhooks/payments', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"evt_1"}' });
    expect(response.status).toBe(401);
    const text = await scrape();
    expect(sum(samples(text, 'junction_webhooks_received_total', { path: '/webhooks/payments' }))).toBe(1);
    expect(samples(text, 'junction_webhooks_received_total', { path: '/webhooks/payments', outcome: 'refused_missing' })).toEqual([1]);
  });
});

describe('cache look-ups by layer', () => {
  let c: Harness;
  let developerOfC: Record<string, string>;
  /** The store's clock: what freshness is measured against. */
  let clock = Date.now();
  beforeAll(async () => {
    c = await startHarness({ mode: 'production', cacheStore: createMemoryStore({ now: () => clock }) });
    developerOfC = { authorization: `Bearer ${await c.issuer.token({ sub: 'dev', scopes: ['junction:developer'] })}` };
  });
  afterAll(() => c.close());
  const scrapeC = async () => (await c.fetch('/metrics', { headers: developerOfC })).text();

  it('shows every layer and outcome from the start, at 0', async () => {
    const text = await scrapeC();
    for (const layer of CACHE_LAYERS) {
      for (const outcome of CACHE_OUTCOMES) expect(samples(text, 'junction_cache_lookups_total', { layer, outcome })).toEqual([0]);
    }
  });

  it('the same read twice: a response miss that called the backend once, then a hit that called nothing; another read of that customer is an entity hit', async () => {
    const customer = c.seed.customers[0]!.id;
    await c.resetStats();
    const first = await scrapeC();
    const answer = await c.query('query One($c: ID!) { customer(id: $c) { id name email } }', { c: customer });
    expect(answer.body.data!.customer.id).toBe(customer);
    const second = await scrapeC();
    expect(callCounts(await c.stats())).toEqual({ payments: 1, maps: 0, messaging: 0 });
    expect(growth(first, second)('junction_cache_lookups_total', { layer: 'response', outcome: 'miss' })).toBe(1);
    expect(growth(first, second)('junction_cache_lookups_total', { layer: 'response', outcome: 'hit' })).toBe(0);
    expect(growth(first, second)('junction_cache_lookups_total', { layer: 'entity', outcome: 'miss' })).toBe(1);

    await c.resetStats();
    expect((await c.query('query One($c: ID!) { customer(id: $c) { id name email } }', { c: customer })).body).toEqual(answer.body);
    const third = await scrapeC();
    expect(callCounts(await c.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
    expect(growth(second, third)('junction_cache_lookups_total', { layer: 'response', outcome: 'hit' })).toBe(1);
    expect(growth(second, third)('junction_cache_lookups_total', { layer: 'response', outcome: 'miss' })).toBe(0);
    expect(growth(second, third)('junction_cache_lookups_total', { layer: 'entity' })).toBe(0);

    // Another document over the same customer: the response cache has no answer for it, the entity cache has the customer.
    expect((await c.query('query Two($c: ID!) { customer(id: $c) { name } }', { c: customer })).body.data!.customer.name).toBe(answer.body.data!.customer.name);
    const fourth = await scrapeC();
    expect(callCounts(await c.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
    expect(growth(third, fourth)('junction_cache_lookups_total', { layer: 'response', outcome: 'miss' })).toBe(1);
    expect(growth(third, fourth)('junction_cache_lookups_total', { layer: 'entity', outcome: 'hit' })).toBe(1);
    expect(growth(third, fourth)('junction_cache_lookups_total', { layer: 'entity', outcome: 'miss' })).toBe(0);
  });

  it('a request that skips the cache (If-None-Match) is a bypass; a mutation is no look-up', async () => {
    const before = await scrapeC();
    const response = await c.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'if-none-match': '"x"', authorization: `Bearer ${await c.issuer.token({ sub: 'bypass' })}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(200);
    await c.query('mutation($i: CreatePaymentInput!) { createPayment(input: $i) { id } }', { i: { customerId: c.seed.customers[1]!.id, merchantId: c.seed.merchants[0]!.id, amount: 100, currency: 'eur' } });
    const delta = growth(before, await scrapeC());
    expect(delta('junction_cache_lookups_total', { layer: 'response', outcome: 'bypass' })).toBe(1);
    expect(delta('junction_cache_lookups_total', { layer: 'response' })).toBe(1);
  });

  it('an expired entity served because its backend failed is stale, not a miss', async () => {
    const merchant = c.seed.merchants[1]!.id;
    const MERCHANT = 'query($m: ID!) { merchant(id: $m) { id name } }';
    const fresh = await c.query(MERCHANT, { m: merchant });
    expect(fresh.body.data!.merchant.id).toBe(merchant);
    // Past its freshness (300 s), within its stale window; the backend failing every try.
    clock += 301_000;
    await c.fault('payments', 'listMerchants', 10);
    const before = await scrapeC();
    const stale = await c.query('query($m: ID!) { merchant(id: $m) { name } }', { m: merchant });
    expect(stale.body.data!.merchant.name).toBe(fresh.body.data!.merchant.name);
    expect(stale.body.extensions?.stale).toBe(true);
    const delta = growth(before, await scrapeC());
    expect(delta('junction_cache_lookups_total', { layer: 'entity', outcome: 'stale' })).toBe(1);
    expect(delta('junction_cache_lookups_total', { layer: 'entity', outcome: 'miss' })).toBe(0);
    expect(delta('junction_cache_lookups_total', { layer: 'entity', outcome: 'hit' })).toBe(0);
    await c.clearFaults();
  });
});

describe('refusals: rate limits and load shedding', () => {
  let r: Harness;
  let developerOfR: Record<string, string>;
  /** Requests named Hold wait here before they run, so that they stay in flight. */
  let held: (() => void)[] = [];
  const hold: Plugin = {
    onExecute: async ({ args }) => {
      if (getOperationAST(args.document, args.operationName)?.name?.value === 'Hold') await new Promise<void>((resolve) => held.push(resolve));
    },
  };
  beforeAll(async () => {
    r = await startHarness({
      mode: 'production',
      limits: { RATE_ANONYMOUS_PER_MIN: 3, MAX_IN_FLIGHT: 21 },
      plugins: [hold],
      // messaging's sends: 2 a second, a queue of 1 (as limits.test.ts).
      env: () => ({ MESSAGING_MAX_SENDS_PER_SEC: '2' }),
      sourceQuotas: (source, spec) => (spec ? createUpstreamQuota({ source, ...spec, maxQueue: 1 }) : undefined),
    });
    developerOfR = { authorization: `Bearer ${await r.issuer.token({ sub: 'dev', scopes: ['junction:developer'] })}` };
  });
  afterAll(() => r.close());
  const scrapeR = async () => (await r.fetch('/metrics', { headers: developerOfR })).text();

  it('a caller over its endpoint budget: refused with RATE_LIMITED, as a caller\'s rate limit', async () => {
    const before = await scrapeR();
    const from = () => r.query('query Cheap { __typename }', {}, { authorization: '', 'x-test-remote-address': '198.51.100.7' });
    for (let i = 0; i < 3; i++) expect((await from()).status).toBe(200);
    const refused = await from();
    expect(refused.status).toBe(429);
    expect(refused.body.errors![0]!.extensions!.code).toBe('RATE_LIMITED');
    const delta = growth(before, await scrapeR());
    expect(delta('junction_requests_refused_total', { reason: 'RATE_LIMITED' })).toBe(1);
    expect(delta('junction_rate_limited_total', { limit: 'caller' })).toBe(1);
    // Refused before its document ran: under the name the client gave (none here).
    expect(delta('junction_requests_total', { operation: 'anonymous', outcome: 'refused' })).toBe(1);
    expect(delta('junction_requests_total', { operation: 'Cheap', outcome: 'ok' })).toBe(3);
  });

  it('calls held back by a source\'s quota: counted as source_quota, the requests answered (not refused)', async () => {
    const before = await scrapeR();
    const SEND = 'mutation Send { sendMessage(input: { phone: "+4930111222333", body: "hi" }) { id } }';
    const answers = await Promise.all(Array.from({ length: 5 }, () => r.query(SEND)));
    const throttled = answers.filter((a) => a.body.errors?.[0]?.extensions?.code === 'SOURCE_RATE_LIMITED');
    expect(throttled).toHaveLength(2);
    const delta = growth(before, await scrapeR());
    expect(delta('junction_rate_limited_total', { limit: 'source_quota' })).toBe(2);
    expect(delta('junction_requests_total', { operation: 'Send', outcome: 'error' })).toBe(2);
    expect(delta('junction_requests_refused_total')).toBe(0);
  });

  it('shed requests: at MAX_IN_FLIGHT (in_flight), and at the lower limit of a saturated CPU (cpu_saturated), both OVERLOADED', async () => {
    const before = await scrapeR();
    const waiting = Array.from({ length: 20 }, () => r.query('query Hold { __typename }'));
    await vi.waitFor(() => expect(held).toHaveLength(20));
    // As failures.test.ts: a saturated loop finishing 3 requests per 100 ms takes 15 at a time.
    for (let i = 0; i < SETTLE; i++) r.gateway.shedding.observe({ utilization: 0.98, finished: 3, windowMs: 100 });
    expect(r.gateway.shedding.state()).toEqual({ inFlight: 20, limit: 15 });
    const saturated = await r.query('query Shed { __typename }');
    expect(saturated.status).toBe(503);
    expect(saturated.body.errors![0]!.extensions!.code).toBe('OVERLOADED');
    for (let i = 0; i < RELEASE; i++) r.gateway.shedding.observe({ utilization: 0.2, finished: 0, windowMs: 100 });
    expect(r.gateway.shedding.state().limit).toBe(21);
    const last = r.query('query Hold { __typename }');
    await vi.waitFor(() => expect(held).toHaveLength(21));
    const full = await r.query('query Shed { __typename }');
    expect(full.status).toBe(503);
    for (const release of held) release();
    held = [];
    expect((await Promise.all([...waiting, last])).every((a) => a.status === 200)).toBe(true);

    const after = await scrapeR();
    const delta = growth(before, after);
    expect(delta('junction_load_shed_total', { cause: 'cpu_saturated' })).toBe(1);
    expect(delta('junction_load_shed_total', { cause: 'in_flight' })).toBe(1);
    expect(delta('junction_requests_refused_total', { reason: 'OVERLOADED' })).toBe(2);
    expect(delta('junction_requests_total', { operation: 'Hold', outcome: 'ok' })).toBe(21);
    // Every refusal of this gateway, by reason, adds up to its refused requests.
    expect(sum(samples(after, 'junction_requests_refused_total'))).toBe(sum(samples(after, 'junction_requests_total', { outcome: 'refused' })));
  });
});

describe('outbound deliveries', () => {
  it('counts each outcome, every registration together, and keeps the count when a registration is deleted', async () => {
    const hits: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        hits.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
    const secret = `s3cr3t-${randomBytes(8).toString('hex')}`;
    const key = `jk_billing_${randomBytes(8).toString('hex')}`;
    const logger = createLogger('silent');
    const issuer = await createTestIssuer();
    const gateway = await createGateway({
      auth: await createAuth({ ...TEST_AUTH, keys: { kind: 'file', jwks: issuer.jwks }, apiKeys: [{ service: 'billing', sha256: hashApiKey(key), scopes: ['shipments:read'] }] }, logger),
      logger,
      watchEventLoop: false,
      meshConfig: warehouseSource(),
      env: { WAREHOUSE_SECRET: secret },
      config: { mode: 'production', limits: DEFAULT_LIMITS, upstream: { timeoutMs: DEFAULTS.upstreamTimeoutMs, maxResponseBytes: DEFAULTS.upstreamMaxResponseBytes } },
      deliveries: { allowedHosts: [host], syncIntervalMs: 3_600_000 },
    });
    const fetchGateway = (path: string, init: RequestInit) => Promise.resolve(gateway.yoga.fetch(new Request(`http://junction.test${path}`, init), { req: { socket: { remoteAddress: '192.0.2.10' } } }));
    try {
      const created = await fetchGateway('/deliveries', {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ url: `http://${host}/hooks`, query: 'subscription { shipmentUpdated(customerId: "cus_1") { id status } }' }),
      });
      expect(created.status).toBe(201);
      const { id } = await created.json() as { id: string };
      const before = (await gateway.metrics()).body;
      expect(samples(before, 'junction_deliveries_total', { outcome: 'delivered' })).toEqual([0]);
      for (const event of ['evt_a', 'evt_b']) {
        const body = JSON.stringify({ id: event, type: 'shipment.updated', shipment: { id: `shp_${event}`, customerId: 'cus_1', status: 'packed' } });
        expect((await fetchGateway(WAREHOUSE_WEBHOOK, signedHmacDelivery(secret, body))).status).toBe(200);
      }
      await vi.waitFor(() => expect(gateway.deliveryStats()[id]?.delivered).toBe(2));
      expect(hits).toHaveLength(2);
      const after = (await gateway.metrics()).body;
      expect(samples(after, 'junction_deliveries_total', { outcome: 'delivered' })).toEqual([2]);
      expect(sum(samples(after, 'junction_deliveries_total'))).toBe(2);
      expect(samples(after, 'junction_deliveries_pending')).toEqual([0]);
      expect(samples(after, 'junction_deliveries_suspended')).toEqual([0]);
      // No label names a registration: its id is in /deliveries, not in the exposition.
      expect(after).not.toContain(id);

      expect((await fetchGateway(`/deliveries/${id}`, { method: 'DELETE', headers: { 'x-api-key': key } })).status).toBe(204);
      expect(gateway.deliveryStats()[id]).toBeUndefined();
      expect(samples((await gateway.metrics()).body, 'junction_deliveries_total', { outcome: 'delivered' })).toEqual([2]);
    } finally {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('polls', () => {
  it('each topic\'s rounds as the poller counts them, read when Prometheus scrapes', async () => {
    const stats = { polls: 3, events: 2, failed: 1, standby: 4, skipped: 0 };
    const metrics = createMetrics({
      breakers: () => ({}), inFlight: () => 0, subscriptions: () => ({}), webhookStats: () => ({}), deliveryStats: () => ({}),
      pollStats: () => ({ parcels: stats }), principalOf: () => Promise.reject(new Error('not asked')),
    });
    const first = (await metrics.render()).body;
    expect(samples(first, 'junction_poll_reads_total', { topic: 'parcels' })).toEqual([3]);
    expect(samples(first, 'junction_poll_events_total', { topic: 'parcels' })).toEqual([2]);
    expect(samples(first, 'junction_poll_failures_total', { topic: 'parcels' })).toEqual([1]);
    expect(samples(first, 'junction_poll_standby_total', { topic: 'parcels' })).toEqual([4]);
    stats.polls += 2;
    expect(samples((await metrics.render()).body, 'junction_poll_reads_total', { topic: 'parcels' })).toEqual([5]);
  });
});

describe('METRICS_PORT (the real entry point)', () => {
  const running: ChildProcess[] = [];
  afterAll(async () => {
    await Promise.all(running.map((child) => stopProcess(child)));
  });

  it('serves /metrics to anyone on its own port, and nothing else there; the main port still refuses anonymous callers, in development too', async () => {
    const { url, output } = await startGatewayProcess({ NODE_ENV: 'development', METRICS_PORT: '0', SHUTDOWN_DELAY_MS: '0' }, running);
    const metricsUrl = /metrics\s+(http:\/\/\S+\/metrics)/.exec(output())![1]!;
    expect(new URL(metricsUrl).port).not.toBe(new URL(url).port);
    const scraped = await fetch(metricsUrl);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^# TYPE junction_requests_total counter$/m);
    expect((await fetch(metricsUrl.replace('/metrics', '/graphql'))).status).toBe(404);
    const main = await fetch(`${url}/metrics`);
    expect(main.status).toBe(403);
  });

  it('METRICS=off: nothing is served on /metrics, no metrics port opens, and the gateway answers as before', async () => {
    const { url, output } = await startGatewayProcess({ NODE_ENV: 'development', METRICS: 'off', METRICS_PORT: '0', SHUTDOWN_DELAY_MS: '0' }, running);
    expect(output()).toMatch(/metrics\s+off \(METRICS=off\)/);
    const scraped = await fetch(`${url}/metrics`);
    expect(scraped.status).toBe(404);
    expect(await scraped.text()).not.toContain('junction_requests_total');
    const answer = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(answer.status).toBe(200);
  });
});
