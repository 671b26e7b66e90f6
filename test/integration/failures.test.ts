import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { callCounts, startHarness, type Harness, type HarnessOptions } from '../helpers/harness.ts';
import type { SourceName } from '../../sources/demo/index.ts';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { RELEASE, SETTLE } from '../../gateway/plugins/limits/concurrency-limit.ts';

/**
 * hardening.md's Upstreams rows: the payments backend behind a TCP fault proxy, the other two
 * direct. Payments has a 300 ms timeout here; a failing source must cost only its own fields.
 */
const TIMEOUT_MS = 300;

interface Proxied {
  h: Harness;
  proxy: FaultProxy;
  /** Stops the gateway, its backends and the proxy. */
  close(): Promise<void>;
}

/** A gateway whose `source` is reached through a fault proxy (the others directly). */
async function behindProxy(source: SourceName, options: HarnessOptions = {}): Promise<Proxied> {
  let proxy!: FaultProxy;
  const h = await startHarness({
    ...options,
    sourceUrls: async (backends) => {
      proxy = await startFaultProxy(backends[source].url);
      return { [source]: proxy.url };
    },
  });
  return { h, proxy, close: () => Promise.all([h.close(), proxy.close()]).then(() => undefined) };
}
const MIXED = 'query($m: ID!, $a: String!) { merchant(id: $m) { id name } geocode(address: $a) { id } }';

describe('when the payments backend misbehaves', () => {
  let h: Harness;
  let proxy: FaultProxy;
  let setup: Proxied;
  beforeAll(async () => {
    ({ h, proxy } = setup = await behindProxy('payments', {
      sourceTimeouts: { payments: TIMEOUT_MS },
      // A high threshold here: these cases are about one request each, the breaker has its own test.
      resilience: { failureThreshold: 1000 },
    }));
  });
  afterAll(() => setup.close());
  beforeEach(async () => {
    proxy.mode = 'pass';
    await h.resetStats();
  });

  const ask = async () => {
    const started = performance.now();
    const answer = await h.query(MIXED, { m: h.seed.merchants[0]!.id, a: h.seed.places[0]!.formattedAddress });
    return { ...answer, elapsedMs: performance.now() - started };
  };
  const expectPartial = (answer: Awaited<ReturnType<typeof ask>>, code: string) => {
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual({ merchant: null, geocode: [{ id: h.seed.places[0]!.id }] });
    expect(answer.body.errors).toHaveLength(1);
    expect(answer.body.errors![0]).toMatchObject({ path: ['merchant'], extensions: { code, source: 'payments' } });
  };

  const cases: [string, FaultProxy['mode'], string, number][] = [
    ['refuses connections', 'reset', 'SOURCE_UNAVAILABLE', TIMEOUT_MS + 100],
    ['hangs', 'hang', 'SOURCE_TIMEOUT', TIMEOUT_MS + 100],
    ['drips one byte a second', 'drip', 'SOURCE_TIMEOUT', TIMEOUT_MS + 100],
    ['answers 503', { status: 503, body: '{"error":{"type":"api_error","message":"down"}}', headers: { 'content-type': 'application/json' } }, 'SOURCE_ERROR', TIMEOUT_MS + 100],
    ['answers invalid JSON', { status: 200, body: '{"object": "merchant", ', headers: { 'content-type': 'application/json' } }, 'SOURCE_BAD_RESPONSE', 100],
    ['answers an HTML error page', { status: 502, body: '<html><body><h1>502 Bad Gateway</h1></body></html>', headers: { 'content-type': 'text/html' } }, 'SOURCE_ERROR', TIMEOUT_MS + 100],
  ];
  for (const [what, mode, code, withinMs] of cases) {
    it(`${what}: a 200 with maps' data and ${code} for payments' field, within ${withinMs} ms`, async () => {
      proxy.mode = mode;
      const answer = await ask();
      expectPartial(answer, code);
      expect(answer.elapsedMs).toBeLessThan(withinMs);
    });
  }

  it('answers an oversized body: SOURCE_BAD_RESPONSE, read no further than the cap', async () => {
    proxy.mode = { status: 200, body: `{"object":"merchant","name":"${'x'.repeat(6 * 1024 * 1024)}"}`, headers: { 'content-type': 'application/json' } };
    expectPartial(await ask(), 'SOURCE_BAD_RESPONSE');
  });

  it('retries a read after a fast failure: one reset costs nothing', async () => {
    // Exactly one connection reset, then the backend again. (Switching back after 20 ms of real time
    // failed now and then: with full jitter both retries may come within those 20 ms.)
    proxy.mode = 'reset-once';
    const connections = proxy.connections;
    const answer = await ask();
    expect(answer.body.errors).toBeUndefined();
    expect(proxy.connections - connections).toBe(2);
  });
  // Last: the payments client then holds off for the Retry-After it was given.
  it('answers 429 with Retry-After: SOURCE_RATE_LIMITED with retryAfter, and no call before then', async () => {
    proxy.mode = { status: 429, body: '{"error":{"type":"rate_limit_error"}}', headers: { 'content-type': 'application/json', 'retry-after': '7' } };
    const answer = await ask();
    expectPartial(answer, 'SOURCE_RATE_LIMITED');
    expect(answer.body.errors![0]!.extensions!.retryAfter).toBe(7);
    proxy.mode = 'pass';
    const connections = proxy.connections;
    expectPartial(await ask(), 'SOURCE_RATE_LIMITED');
    expect(proxy.connections).toBe(connections);
  });

});

describe('the request deadline over the contract\'s loaders', () => {
  let setup: Proxied;
  beforeAll(async () => {
    // payments' own timeout is 5 s; the request's deadline is 300 ms.
    setup = await behindProxy('payments', { sourceTimeouts: { payments: 5_000 }, upstream: { requestDeadlineMs: 300 }, resilience: { failureThreshold: 1000 } });
  });
  afterAll(() => setup.close());

  it('cuts a call a DataLoader batches a tick after its resolver ran: SOURCE_TIMEOUT at the deadline, not the source\'s 5 s', async () => {
    const { h, proxy } = setup;
    proxy.mode = 'hang';
    const started = performance.now();
    const answer = await h.query(MIXED, { m: h.seed.merchants[0]!.id, a: h.seed.places[0]!.formattedAddress });
    const elapsedMs = performance.now() - started;
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual({ merchant: null, geocode: [{ id: h.seed.places[0]!.id }] });
    expect(answer.body.errors![0]).toMatchObject({ path: ['merchant'], extensions: { code: 'SOURCE_TIMEOUT', source: 'payments' } });
    // The deadline's 300 ms, not the source's 5 s (the rest is headroom for a busy machine).
    expect(elapsedMs).toBeGreaterThanOrEqual(250);
    expect(elapsedMs).toBeLessThan(2_000);
  });
});

describe('a mutation whose backend fails after committing', () => {
  let h: Harness;
  let proxy: FaultProxy;
  let setup: Proxied;
  beforeAll(async () => {
    ({ h, proxy } = setup = await behindProxy('payments'));
  });
  afterAll(() => setup.close());

  it('reaches the backend exactly once: a write without an idempotency key is never retried', async () => {
    const input = { customerId: h.seed.customers[0]!.id, merchantId: h.seed.merchants[0]!.id, amount: 999, currency: 'eur' };
    proxy.mode = 'commit-then-502';
    // A read first: the pooled connections the mode change dropped are retried away by it.
    await h.query('{ merchant(id: "m") { id } }');
    await h.resetStats();
    const failed = await h.query('mutation($i: CreatePaymentInput!) { createPayment(input: $i) { id } }', { i: input });
    expect(failed.body.data).toEqual({ createPayment: null });
    expect(failed.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_ERROR', source: 'payments' });
    // The backend did the work once, and was not asked again.
    expect((await h.stats()).payments.operations).toEqual({ createPayment: 1 });
  });
});

describe('the circuit breaker', () => {
  let h: Harness;
  let proxy: FaultProxy;
  let setup: Proxied;
  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    ({ h, proxy } = setup = await behindProxy('payments', {
      resilience: { failureThreshold: 3, halfOpenAfterMs: 5_000, maxRetries: 0 },
    }));
  });
  afterEach(async () => {
    vi.useRealTimers();
    await setup.close();
  });

  it('opens after repeated failures, fails fast while open, probes, and closes when the source recovers', async () => {
    const Q = 'query($m: ID!) { merchant(id: $m) { id } }';
    const m = { m: h.seed.merchants[1]!.id };
    proxy.mode = { status: 503, body: 'busy', headers: { 'content-type': 'text/plain' } };
    for (let i = 0; i < 3; i++) await h.query(Q, m);
    expect(h.gateway.breakers().payments).toBe('open');
    const before = proxy.connections;
    const fast = await h.query(Q, m);
    expect(fast.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_UNAVAILABLE', source: 'payments', upstreamCode: 'circuit_open' });
    expect(proxy.connections).toBe(before); // not sent
    const ready = await (await h.fetch('/readyz')).json();
    expect(ready.sources.payments.breaker).toBe('open');

    proxy.mode = 'pass';
    vi.setSystemTime(Date.now() + 5_001);
    const probe = await h.query(Q, m);
    expect(probe.body.errors).toBeUndefined();
    expect(h.gateway.breakers().payments).toBe('closed');
    expect(callCounts(await h.stats()).payments).toBeGreaterThan(0);
  });
});

describe('when the maps backend sends a hostile reply', () => {
  let h: Harness;
  let proxy: FaultProxy;
  let setup: Proxied;
  beforeAll(async () => {
    ({ h, proxy } = setup = await behindProxy('maps'));
  });
  afterAll(() => setup.close());

  const GEO = 'query($p: ID!, $m: ID!) { place(id: $p) { id } merchant(id: $m) { id } }';
  const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    + '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
    + '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GeocodeResponse xmlns="http://junction.dev/maps/v1"><place><id>&lol9;</id></place></GeocodeResponse></soap:Body></soap:Envelope>';

  for (const [what, body] of [['an XML entity bomb', laughs], ['a 50 MB body', `<x>${'a'.repeat(50 * 1024 * 1024)}</x>`]] as const) {
    it(`${what}: a field error within 100 ms, the other source answering`, async () => {
      proxy.mode = { status: 200, body, headers: { 'content-type': 'text/xml; charset=utf-8' } };
      // Once untimed: connections settle after the mode change and the canned body is encoded.
      await h.query(GEO, { p: h.seed.places[1]!.id, m: h.seed.merchants[0]!.id });
      const started = performance.now();
      const { status, body: answer } = await h.query(GEO, { p: h.seed.places[0]!.id, m: h.seed.merchants[0]!.id });
      expect(performance.now() - started).toBeLessThan(100);
      expect(status).toBe(200);
      expect(answer.data).toEqual({ place: null, merchant: { id: h.seed.merchants[0]!.id } });
      expect(answer.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_BAD_RESPONSE', source: 'maps' });
    });
  }
});

describe('starting with a source down', () => {
  it('starts, serves the healthy sources, reports itself degraded, and picks the source up when it returns', async () => {
    const setup = await behindProxy('payments');
    const { h, proxy } = setup;
    proxy.mode = 'reset'; // down from the start: the gateway calls no backend while it starts
    try {
      const down = await h.query(MIXED, { m: h.seed.merchants[0]!.id, a: h.seed.places[0]!.formattedAddress });
      expect(down.body.data).toEqual({ merchant: null, geocode: [{ id: h.seed.places[0]!.id }] });
      const ready = await h.fetch('/readyz');
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'degraded', sources: { payments: { status: 'down' }, maps: { status: 'up' } } });
      proxy.mode = 'pass';
      vi.useFakeTimers({ toFake: ['Date'] });
      // One round of probes answers readiness for READY_CACHE_MS (1 s): a second later, a new round.
      expect((await (await h.fetch('/readyz')).json()).status).toBe('degraded');
      vi.setSystemTime(Date.now() + 1_001);
      expect((await (await h.fetch('/readyz')).json()).status).toBe('ready'); // probes see the backend itself
      // The failures opened payments' breaker: the first call after its 5 s goes through and closes it.
      vi.setSystemTime(Date.now() + 5_001);
      const back = await h.query(MIXED, { m: h.seed.merchants[0]!.id, a: h.seed.places[0]!.formattedAddress });
      expect(back.body.errors).toBeUndefined();
      expect(back.body.data!.merchant).toEqual({ id: h.seed.merchants[0]!.id, name: h.seed.merchants[0]!.name });
      expect(h.gateway.breakers().payments).toBe('closed');
    } finally {
      vi.useRealTimers();
      await setup.close();
    }
  });
});

describe('load shedding', () => {
  it('over MAX_IN_FLIGHT, refuses at once with 503 OVERLOADED instead of queueing; refused or short-cut requests free their place', async () => {
    const setup = await behindProxy('payments', { limits: { MAX_IN_FLIGHT: 2 }, sourceTimeouts: { payments: TIMEOUT_MS } });
    const { h, proxy } = setup;
    try {
      proxy.mode = 'hang';
      const timed = (p: Promise<Awaited<ReturnType<Harness['query']>>>) => {
        const started = performance.now();
        return p.then((answer) => ({ ...answer, elapsedMs: performance.now() - started }));
      };
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => timed(h.query('query($m: ID!) { merchant(id: $m) { id } }', { m: `mer_${i}` }))));
      const shed = answers.filter((a) => a.status === 503);
      expect(shed).toHaveLength(4);
      expect(shed.every((a) => a.body.errors![0]!.extensions!.code === 'OVERLOADED' && a.headers.get('retry-after') === '1' && a.elapsedMs < 50)).toBe(true);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
      // Requests ended early by other plugins (here: CSRF refusals) give their place back too.
      for (let i = 0; i < 5; i++) {
        const refused = await h.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ __typename }"}' });
        expect(refused.status).toBe(400);
      }
      proxy.mode = 'pass';
      expect((await h.query('{ merchant(id: "m") { id } }')).status).toBe(200);
      expect((await h.query('{ merchant(id: "m") { id } }')).status).toBe(200);
    } finally {
      await setup.close();
    }
  });

  it('takes fewer requests at a time while the CPU is saturated, never because a backend is slow, and takes more again', async () => {
    const setup = await behindProxy('payments', { sourceTimeouts: { payments: 2_000 } });
    const { h, proxy } = setup;
    try {
      proxy.mode = 'hang';
      const merchant = (i: number) => h.query('query($m: ID!) { merchant(id: $m) { id } }', { m: `mer_${i}` });
      // 20 requests waiting on a hanging backend, the event loop mostly idle: all taken.
      const waiting = Array.from({ length: 20 }, (_, i) => merchant(i));
      await vi.waitFor(() => expect(h.gateway.shedding.state().inFlight).toBe(20));
      for (let i = 0; i < 10; i++) h.gateway.shedding.observe({ utilization: 0.3, finished: 0, windowMs: 100 });
      expect(h.gateway.shedding.state().limit).toBe(512);
      // A saturated loop finishing 3 requests per 100 ms (30.6 a second of busy time): 15 in
      // MAX_QUEUE_MS (500 ms), once SETTLE windows have measured the rate.
      for (let i = 0; i < SETTLE; i++) h.gateway.shedding.observe({ utilization: 0.98, finished: 3, windowMs: 100 });
      expect(h.gateway.shedding.state()).toEqual({ inFlight: 20, limit: 15 });
      const started = performance.now();
      const refused = await merchant(99);
      expect(refused.status).toBe(503);
      expect(refused.body.errors![0]!.extensions!.code).toBe('OVERLOADED');
      expect(performance.now() - started).toBeLessThan(50);
      // The CPU no longer saturated: after RELEASE windows in a row (not one), the cap again, and
      // requests are taken.
      for (let i = 0; i < RELEASE - 1; i++) h.gateway.shedding.observe({ utilization: 0.2, finished: 0, windowMs: 100 });
      expect(h.gateway.shedding.state().limit).toBe(15);
      h.gateway.shedding.observe({ utilization: 0.2, finished: 0, windowMs: 100 });
      expect(h.gateway.shedding.state().limit).toBe(512);
      proxy.mode = 'pass';
      expect((await merchant(100)).status).toBe(200);
      await Promise.all(waiting);
    } finally {
      await setup.close();
    }
  });
});
