import { createServer } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { closeServer, listen } from '../../sources/demo/server.ts';

/** A URL where nothing listens: a port that was free a moment ago. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await closeServer(server);
  return url;
}

describe('when a backend fails', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());
  afterEach(() => h.clearFaults());

  const customer = () => h.seed.customers[0]!;
  const merchant = () => h.seed.merchants[0]!;

  it('a REST 500 nulls the payments fields with SOURCE_ERROR; maps still answers, on a 200', async () => {
    await h.fault('payments', 'listCustomers', 3); // the first call and both retries
    const place = h.seed.places[0]!;
    const { status, body } = await h.query('query($c: ID!, $p: ID!) { customer(id: $c) { id } place(id: $p) { id } }', { c: customer().id, p: place.id });
    expect(status).toBe(200);
    expect(body.data).toEqual({ customer: null, place: { id: place.id } });
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]).toMatchObject({
      message: 'The payments service failed to answer listCustomers.',
      path: ['customer'],
      extensions: { code: 'SOURCE_ERROR', source: 'payments', upstreamCode: 'injected_fault' },
    });
  });

  it('a SOAP Fault becomes SOURCE_ERROR from maps; the merchant still answers', async () => {
    await h.fault('maps', 'GetPlaces', 3);
    const { status, body } = await h.query('query($m: ID!) { merchant(id: $m) { name place { id } } }', { m: merchant().id });
    expect(status).toBe(200);
    expect(body.data).toEqual({ merchant: { name: merchant().name, place: null } });
    expect(body.errors![0]).toMatchObject({ path: ['merchant', 'place'], extensions: { code: 'SOURCE_ERROR', source: 'maps', upstreamCode: 'Server' } });
  });

  it('a GraphQL error from messaging becomes SOURCE_ERROR; the customer still answers', async () => {
    await h.fault('messaging', 'messagesForCustomers');
    const { status, body } = await h.query('query($c: ID!) { customer(id: $c) { name messages { id } } }', { c: customer().id });
    expect(status).toBe(200);
    // messages is nullable (a field that needs its own scope must be), so only it is lost.
    expect(body.data).toEqual({ customer: { name: customer().name, messages: null } });
    expect(body.errors![0]).toMatchObject({ path: ['customer', 'messages'], extensions: { code: 'SOURCE_ERROR', source: 'messaging', upstreamCode: 'INJECTED_FAULT' } });
  });

  it('never mirrors a backend status, and never sends a stack trace in production', async () => {
    await h.fault('payments', 'listPayments', 3);
    const { status, body } = await h.query('{ payments { edges { cursor } } }');
    expect(status).toBe(200);
    expect(body.errors![0]!.extensions).toEqual({ code: 'SOURCE_ERROR', source: 'payments', upstreamCode: 'injected_fault' });
    expect(JSON.stringify(body)).not.toMatch(/stack|at .*\.ts:\d+/);
    // The failure is in the gateway's log with the request id, for whoever runs it.
    expect(h.logs.some((l) => l.source === 'payments' && l.operation === 'listPayments' && typeof l.requestId === 'string')).toBe(true);
  });
});

describe('when a backend is down', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sourceUrls: { maps: await closedPortUrl() } });
  });
  afterAll(() => h.close());

  it('answers SOURCE_UNAVAILABLE for its fields and serves the rest', async () => {
    const merchant = h.seed.merchants[0]!;
    const { status, body } = await h.query('query($m: ID!) { merchant(id: $m) { name place { id } } }', { m: merchant.id });
    expect(status).toBe(200);
    expect(body.data).toEqual({ merchant: { name: merchant.name, place: null } });
    expect(body.errors![0]!.extensions).toEqual({ code: 'SOURCE_UNAVAILABLE', source: 'maps' });
  });

  it('reports itself degraded on /readyz, naming the source that is down, and stays in rotation', async () => {
    const response = await h.fetch('/readyz');
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.status).toBe('degraded');
    expect(body.sources.maps.status).toBe('down');
    // Earlier requests in this file failed against it: its breaker may already be open.
    expect(['closed', 'open']).toContain(body.sources.maps.breaker);
    expect(body.sources.payments.status).toBe('up');
    expect(body.sources.messaging.status).toBe('up');
  });
});

describe('health', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('GET /healthz answers 200 while the process is up', async () => {
    const response = await h.fetch('/healthz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 with every source up, without counting as an upstream operation', async () => {
    await h.resetStats();
    const response = await h.fetch('/readyz');
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.status).toBe('ready');
    expect(Object.keys(body.sources).sort()).toEqual(['maps', 'messaging', 'payments']);
    for (const source of Object.values<any>(body.sources)) expect(source.status).toBe('up');
    const stats = await h.stats();
    expect(stats.payments.total + stats.maps.total + stats.messaging.total).toBe(0);
  });

  it('echoes a caller\'s request id, and makes one up otherwise', async () => {
    const given = await h.fetch('/healthz', { headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    const made = await h.fetch('/healthz', { headers: { 'x-request-id': 'bad id with spaces\n' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
