import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor, TraceIdRatioBasedSampler,
  type ReadableSpan, type Sampler,
} from '@opentelemetry/sdk-trace-base';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { startRecordingServer, type Seen } from '../helpers/recording-server.ts';
import { SOURCE_NAMES, type SourceName } from '../../sources/demo/index.ts';
import { EXAMPLE_QUERY } from '../../schema/example-query.ts';
import { createMemoryStore } from '../../gateway/cache/store.ts';
import { callUpstream } from '../../gateway/upstream/upstream-fetch.ts';
import { createTracing } from '../../gateway/tracing/tracing.ts';
import { ATTR, PHASE_SPANS } from '../../gateway/tracing/names.ts';

/**
 * OpenTelemetry traces through the public surface: the spans a gateway made, received in process
 * (an in-memory exporter), their tree, and what the demo backends received (a recording proxy in
 * front of each), against the backends' own counts (/_stats).
 */

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

/** A tracer provider of the test's own (never registered globally), its spans kept in memory. */
function inMemoryTracing(sampler: Sampler) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ sampler, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, provider };
}

/** Each demo backend behind a proxy that keeps every request's headers, so a test sees what reached it. */
async function recordingProxies(backends: Record<SourceName, { url: string }>, seen: Seen[]) {
  const proxies = await Promise.all(SOURCE_NAMES.map(async (name) => {
    const target = backends[name].url;
    const proxy = await startRecordingServer((request, res) => {
      seen.push(request);
      const headers = Object.fromEntries(Object.entries(request.headers).filter(([key]) => !['host', 'content-length', 'connection'].includes(key)) as [string, string][]);
      fetch(`${target}${request.url}`, { method: request.method, headers, ...(request.body === '' ? {} : { body: request.body }) })
        .then(async (answer) => {
          res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
          res.end(await answer.text());
        })
        .catch(() => res.writeHead(502).end());
    });
    return [name, proxy] as const;
  }));
  return {
    urls: Object.fromEntries(proxies.map(([name, proxy]) => [name, proxy.url])) as Record<SourceName, string>,
    close: () => Promise.all(proxies.map(([, proxy]) => proxy.close())),
  };
}

const hex = (span: ReadableSpan) => span.spanContext();
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const operationCalls = (seen: Seen[]) => seen.filter((request) => request.url !== '/' && !request.url.startsWith('/_'));

/**
 * A gateway over the demo backends, each behind a recording proxy, traced with `sampler` into
 * memory; set up for the describe block that calls it, with spans, requests seen and backend
 * counts reset before each of its tests.
 */
function tracedGateway(sampler: Sampler) {
  const traced = { h: undefined as unknown as Harness, exporter: undefined as unknown as InMemorySpanExporter, seen: [] as Seen[] };
  let proxies: Awaited<ReturnType<typeof recordingProxies>>;
  beforeAll(async () => {
    const tracing = inMemoryTracing(sampler);
    traced.exporter = tracing.exporter;
    traced.h = await startHarness({
      tracerProvider: tracing.provider,
      sourceUrls: async (backends) => {
        proxies = await recordingProxies(backends, traced.seen);
        return proxies.urls;
      },
    });
  });
  afterAll(async () => {
    await traced.h.close();
    await proxies.close();
  });
  beforeEach(async () => {
    await traced.h.resetStats();
    traced.exporter.reset();
    traced.seen.length = 0;
  });
  return traced;
}

describe('tracing on, every request sampled', () => {
  const traced = tracedGateway(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
  const { seen } = traced;
  let h: Harness;
  let exporter: InMemorySpanExporter;
  beforeAll(() => {
    ({ h, exporter } = traced);
  });

  it('the Dashboard query: one request span, its phases, and a client span per backend call under execute, as the backends counted them', async () => {
    const { body } = await h.query(EXAMPLE_QUERY);
    expect(body.errors).toBeUndefined();
    const spans = exporter.getFinishedSpans();
    const roots = spans.filter((span) => span.parentSpanContext === undefined);
    expect(roots).toHaveLength(1);
    const root = roots[0]!;
    expect(root.name).toBe('POST /graphql');
    expect(root.kind).toBe(SpanKind.SERVER);
    expect(root.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(root.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/graphql',
      'http.response.status_code': 200,
      'graphql.operation.name': 'Dashboard',
      'graphql.operation.type': 'query',
      [ATTR.documentHash]: createHash('sha256').update(EXAMPLE_QUERY).digest('hex'),
    });
    expect(root.attributes[ATTR.requestId]).toMatch(/\S/);
    // Every span is of the request's trace.
    expect(new Set(spans.map((span) => hex(span).traceId))).toEqual(new Set([hex(root).traceId]));

    const children = spans.filter((span) => parentOf(span) === hex(root).spanId);
    expect(children.map((span) => span.name).sort()).toEqual([PHASE_SPANS.context, PHASE_SPANS.execute, PHASE_SPANS.parse, PHASE_SPANS.validate].sort());
    const execute = children.find((span) => span.name === PHASE_SPANS.execute)!;
    expect(execute.attributes).toMatchObject({ 'graphql.operation.name': 'Dashboard', 'graphql.operation.type': 'query' });

    const calls = spans.filter((span) => span.kind === SpanKind.CLIENT);
    expect(spans).toHaveLength(1 + 4 + calls.length);
    for (const call of calls) {
      expect(parentOf(call)).toBe(hex(execute).spanId);
      expect(call.attributes['http.response.status_code']).toBe(200);
      expect(call.attributes['server.address']).toBe('127.0.0.1');
      expect(call.attributes[ATTR.coalesced]).toBeUndefined();
      expect(call.name).toBe(`${call.attributes[ATTR.source]} ${call.attributes[ATTR.operation]}`);
    }
    const stats = await h.stats();
    for (const source of SOURCE_NAMES) {
      const mine = calls.filter((call) => call.attributes[ATTR.source] === source);
      expect(stats[source].total).toBeGreaterThan(0);
      expect(mine).toHaveLength(stats[source].total);
      const byOperation: Record<string, number> = {};
      for (const call of mine) byOperation[String(call.attributes[ATTR.operation])] = (byOperation[String(call.attributes[ATTR.operation])] ?? 0) + 1;
      expect(byOperation).toEqual(stats[source].operations);
      for (const [operation, sizes] of Object.entries(stats[source].batchSizes)) {
        const traced = mine.filter((call) => call.attributes[ATTR.operation] === operation).map((call) => call.attributes[ATTR.batchSize]);
        expect(traced.sort()).toEqual([...sizes].sort());
      }
    }

    // Each backend request carried the trace context of its own client span, sampled.
    const received = operationCalls(seen);
    expect(received).toHaveLength(calls.length);
    const carried = received.map((request) => TRACEPARENT.exec(String(request.headers.traceparent)));
    for (const match of carried) {
      expect(match).not.toBeNull();
      expect(match![1]).toBe(hex(root).traceId);
      expect(match![3]).toBe('01');
    }
    expect(carried.map((match) => match![2]).sort()).toEqual(calls.map((call) => hex(call).spanId).sort());
  });

  it('records no token, no credential, no variable value and no document text', async () => {
    const customer = h.seed.customers[0]!;
    const token = await h.issuer.token({ sub: 'alice' });
    await h.query('query Secretive($c: ID!) { customer(id: $c) { name } }', { c: customer.id }, { authorization: `Bearer ${token}` });
    const recorded = JSON.stringify(exporter.getFinishedSpans().map((span) => [span.name, span.attributes, span.events, span.status]));
    expect(exporter.getFinishedSpans().length).toBeGreaterThan(4);
    for (const secret of [token, customer.id, 'Secretive($c', h.credentials.payments.secretKey, h.credentials.maps.apiKey, h.credentials.messaging.authToken]) {
      expect(recorded).not.toContain(secret);
    }
  });

  it('continues the caller\'s trace: the request span is a child of its traceparent, and the backends get the same trace', async () => {
    const { body } = await h.query('query Payment($p: ID!) { payment(id: $p) { id } }', { p: h.seed.payments[0]!.id }, {
      authorization: `Bearer ${await h.issuer.token()}`,
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
    });
    expect(body.errors).toBeUndefined();
    const spans = exporter.getFinishedSpans();
    const root = spans.find((span) => span.kind === SpanKind.SERVER)!;
    expect(hex(root).traceId).toBe(CALLER_TRACE);
    expect(root.parentSpanContext).toMatchObject({ traceId: CALLER_TRACE, spanId: CALLER_SPAN, isRemote: true });
    expect(spans.every((span) => hex(span).traceId === CALLER_TRACE)).toBe(true);
    const received = operationCalls(seen);
    expect(received).toHaveLength(1);
    const call = spans.find((span) => span.kind === SpanKind.CLIENT)!;
    expect(received[0]!.headers.traceparent).toBe(`00-${CALLER_TRACE}-${hex(call).spanId}-01`);
  });

  it('a backend failing: its call span says how (status, retries with their events), the request span is an error with the catalogued code only', async () => {
    await h.fault('payments', 'listPayments', 10);
    const { body } = await h.query('query Failing { payments(first: 1) { edges { node { id } } } }');
    await h.clearFaults();
    expect(body.errors?.[0]?.extensions?.code).toBe('SOURCE_ERROR');
    const spans = exporter.getFinishedSpans();
    const root = spans.find((span) => span.kind === SpanKind.SERVER)!;
    expect(root.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(root.attributes[ATTR.errorCodes]).toEqual(['SOURCE_ERROR']);
    const call = spans.find((span) => span.kind === SpanKind.CLIENT)!;
    const stats = await h.stats();
    // The backend saw the first try and every retry.
    const retries = stats.payments.operations.listPayments! - 1;
    expect(retries).toBeGreaterThan(0);
    expect(call.attributes).toMatchObject({ [ATTR.retries]: retries, 'http.response.status_code': 500, 'error.type': '500' });
    expect(call.events.filter((event) => event.name === 'retry').map((event) => event.attributes)).toEqual(
      Array.from({ length: retries }, (_, i) => ({ [ATTR.retryAttempt]: i + 1, [ATTR.retryReason]: 'status 500' })),
    );
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    // Every try carried the same context: the one call span's.
    expect(new Set(operationCalls(seen).map((request) => request.headers.traceparent))).toEqual(new Set([`00-${hex(root).traceId}-${hex(call).spanId}-01`]));
  });
});

describe('sampling', () => {
  const traced = tracedGateway(new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0) }));
  const { seen } = traced;
  let h: Harness;
  let exporter: InMemorySpanExporter;
  beforeAll(() => {
    ({ h, exporter } = traced);
  });

  it('at ratio 0 records no span, and still carries a trace context, flagged not sampled, to the backends', async () => {
    const { body } = await h.query(EXAMPLE_QUERY);
    expect(body.errors).toBeUndefined();
    expect(exporter.getFinishedSpans()).toEqual([]);
    const received = operationCalls(seen);
    expect(received.length).toBeGreaterThan(3);
    const contexts = received.map((request) => TRACEPARENT.exec(String(request.headers.traceparent)));
    expect(contexts.every((match) => match !== null && match[3] === '00')).toBe(true);
    // One trace for the request: every call carries the request span's context.
    expect(new Set(contexts.map((match) => `${match![1]}-${match![2]}`)).size).toBe(1);
  });

  it('a caller\'s unsampled traceparent: nothing recorded, its trace id carried on, not sampled', async () => {
    await h.query('query Payment($p: ID!) { payment(id: $p) { id } }', { p: h.seed.payments[0]!.id }, {
      authorization: `Bearer ${await h.issuer.token()}`,
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00`,
    });
    expect(exporter.getFinishedSpans()).toEqual([]);
    const [call] = operationCalls(seen);
    const match = TRACEPARENT.exec(String(call!.headers.traceparent));
    expect(match?.[1]).toBe(CALLER_TRACE);
    expect(match?.[3]).toBe('00');
  });

  it('a caller\'s sampled traceparent is followed (parent-based): its request is traced whatever the ratio', async () => {
    await h.query('query Payment($p: ID!) { payment(id: $p) { id } }', { p: h.seed.payments[0]!.id }, {
      authorization: `Bearer ${await h.issuer.token()}`,
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
    });
    const spans = exporter.getFinishedSpans();
    expect(spans.filter((span) => span.kind === SpanKind.SERVER)).toHaveLength(1);
    expect(spans.filter((span) => span.kind === SpanKind.CLIENT)).toHaveLength(1);
  });
});

describe('tracing off (no tracer provider)', () => {
  let h: Harness;
  let proxies: Awaited<ReturnType<typeof recordingProxies>>;
  const seen: Seen[] = [];
  beforeAll(async () => {
    h = await startHarness({
      sourceUrls: async (backends) => {
        proxies = await recordingProxies(backends, seen);
        return proxies.urls;
      },
    });
  });
  afterAll(async () => {
    await h.close();
    await proxies.close();
  });

  it('sends no traceparent or tracestate to any backend, even when the caller sent them', async () => {
    const { body } = await h.query(EXAMPLE_QUERY, undefined, {
      authorization: `Bearer ${await h.issuer.token()}`,
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
      tracestate: 'vendor=secret',
    });
    expect(body.errors).toBeUndefined();
    const received = operationCalls(seen);
    expect(received.length).toBeGreaterThan(3);
    for (const request of received) {
      expect(request.headers.traceparent).toBeUndefined();
      expect(request.headers.tracestate).toBeUndefined();
    }
  });
});

describe('the entity cache', () => {
  let h: Harness;
  let exporter: InMemorySpanExporter;
  beforeAll(async () => {
    const tracing = inMemoryTracing(new AlwaysOnSampler());
    exporter = tracing.exporter;
    h = await startHarness({ tracerProvider: tracing.provider, cacheStore: createMemoryStore() });
  });
  afterAll(() => h.close());

  it('a hit shows as a span with junction.cache=hit and no backend call', async () => {
    const customer = h.seed.customers[1]!;
    await h.query('query First($c: ID!) { customer(id: $c) { id } }', { c: customer.id });
    await h.resetStats();
    exporter.reset();
    // Another document: the response cache misses, the customer entity is found.
    const { body } = await h.query('query Second($c: ID!) { customer(id: $c) { name } }', { c: customer.id });
    expect(body.data).toEqual({ customer: { name: customer.name } });
    expect((await h.stats()).payments.total).toBe(0);
    const spans = exporter.getFinishedSpans();
    expect(spans.filter((span) => span.kind === SpanKind.CLIENT)).toEqual([]);
    const hits = spans.filter((span) => span.attributes[ATTR.cache] !== undefined);
    expect(hits).toHaveLength(1);
    const execute = spans.find((span) => span.name === PHASE_SPANS.execute)!;
    expect(parentOf(hits[0]!)).toBe(hex(execute).spanId);
    expect(hits[0]!.attributes).toMatchObject({ [ATTR.cache]: 'hit', [ATTR.source]: 'payments', [ATTR.operation]: 'cache:customer', [ATTR.batchSize]: 1 });
  });
});

describe('single flight', () => {
  let backend: Awaited<ReturnType<typeof startRecordingServer>>;
  const seen: Seen[] = [];
  let release: () => void = () => undefined;
  beforeAll(async () => {
    backend = await startRecordingServer((request, res) => {
      seen.push(request);
      // Held until both calls are made, so that the second one joins the first in flight.
      new Promise<void>((resolve) => {
        release = resolve;
      }).then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
  });
  afterAll(() => backend.close());
  afterEach(() => {
    seen.length = 0;
  });

  it('a read that joins an identical one in flight: its own short span, linked to the call it joined, and no second request', async () => {
    const { exporter, provider } = inMemoryTracing(new AlwaysOnSampler());
    const tracer = provider.getTracer('test');
    const requestSpans = [tracer.startSpan('request one'), tracer.startSpan('request two')];
    let current = requestSpans[0];
    const tracing = createTracing({ tracerProvider: provider, mode: 'production', requestIdOf: () => undefined, currentSpan: () => current });
    const client = { url: backend.url, inFlight: new Map(), tracing: tracing.upstream };
    const first = callUpstream({ source: 'things', operation: 'getThing', url: `${backend.url}/things/1`, init: { method: 'GET' } }, client);
    current = requestSpans[1];
    const second = callUpstream({ source: 'things', operation: 'getThing', url: `${backend.url}/things/1`, init: { method: 'GET' } }, client);
    await expect.poll(() => seen.length).toBe(1);
    release();
    await Promise.all([first, second]);
    expect(seen).toHaveLength(1);
    const [leader, joined] = [exporter.getFinishedSpans().find((span) => span.kind === SpanKind.CLIENT)!, exporter.getFinishedSpans().find((span) => span.attributes[ATTR.coalesced] === true)!];
    expect(parentOf(leader)).toBe(requestSpans[0]!.spanContext().spanId);
    expect(parentOf(joined)).toBe(requestSpans[1]!.spanContext().spanId);
    expect(joined.links.map((link) => link.context.spanId)).toEqual([hex(leader).spanId]);
    expect(seen[0]!.headers.traceparent).toBe(`00-${hex(leader).traceId}-${hex(leader).spanId}-01`);
  });
});
