import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { startGatewayProcess, stopProcess } from '../helpers/gateway-process.ts';
import { EXAMPLE_QUERY } from '../../schema/example-query.ts';
import { MAX_OPERATION_NAMES } from '../../gateway/metrics/metrics.ts';

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
    for (const name of ['junction_requests_total', 'junction_request_duration_seconds', 'junction_upstream_calls_total', 'junction_upstream_call_duration_seconds', 'junction_upstream_batch_size', 'junction_breaker_state', 'junction_requests_in_flight', 'junction_subscriptions', 'junction_webhooks_received_total', 'process_cpu_seconds_total']) {
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
});
