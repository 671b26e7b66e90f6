import { getOperationAST, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { errorResponse, junctionError } from '../errors.ts';
import { DEVELOPER_SCOPE } from '../plugins/limits/limits.ts';
import type { BreakerState } from '../upstream/resilience.ts';
import type { UpstreamCallRecord } from '../upstream/upstream-fetch.ts';
import type { Principal } from '../../schema/principal.ts';

/**
 * Prometheus metrics of one gateway, in a registry of its own (never prom-client's global one: a
 * process may hold several gateways, as the tests do, and each must count only its own work).
 *
 * The hot path is kept cheap: a request costs a few map look-ups and one counter and one
 * histogram update, a backend call the same; label sets are resolved once and their children
 * kept, nothing is done per field, and the gauges (breakers, requests in flight, subscriptions,
 * webhooks) are read from the gateway's own counts only when Prometheus scrapes.
 */

/** Distinct operation names labelled before further ones are counted as `other`: keeps a client from growing the series without bound. */
export const MAX_OPERATION_NAMES = 100;

/** What a breaker state is as a number, for a gauge: closed 0, half-open 1, open 2, isolated 3. */
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2, isolated: 3 };

/** Request latencies, in seconds: from a cached answer (a millisecond) to the request deadline (10 s). */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Keys per batch call: batches are bounded by the sources' batch sizes, rarely over a few hundred. */
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500];

/** A GraphQL Name (the spec's), short enough to be a label value. */
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

export interface MetricsSources {
  breakers(): Record<string, BreakerState>;
  inFlight(): number;
  subscriptions(): Record<string, number>;
  webhookStats(): Record<string, Record<string, number>>;
  /** Who a request is (verified): `/metrics` on the main port answers developers only. */
  principalOf(request: Request): Promise<Principal>;
}

export interface GatewayMetrics {
  /** Told about every backend call (the engine's `onCall` hook). */
  onCall(record: UpstreamCallRecord): void;
  /** Counts GraphQL requests, and answers `/metrics` on the main port to developers. */
  plugin: Plugin;
  /** The exposition text, as served on `/metrics`. */
  render(): Promise<{ contentType: string; body: string }>;
}

type Outcome = 'ok' | 'error' | 'refused';

interface RequestState {
  started: number;
  name: string | undefined;
  /** Set once a GraphQL result was made: absent, the answer was no GraphQL result (GraphiQL's page). */
  outcome: Exclude<Outcome, 'refused'> | undefined;
}

/**
 * The process's own metrics (CPU, memory, event-loop lag, GC), one registry per process: prom-client
 * starts an event-loop monitor and a GC observer for each registry it collects them in, and never
 * stops them, so one per gateway would pile up wherever many gateways are made (the tests).
 */
let processRegistry: Registry | undefined;
const processMetrics = (): Registry => {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
};

export function createMetrics(sources: MetricsSources): GatewayMetrics {
  const registry = new Registry();

  const requests = new Counter({ name: 'junction_requests_total', help: 'GraphQL requests, by operation name and outcome (ok, error, refused).', labelNames: ['operation', 'outcome'] as const, registers: [registry] });
  const requestSeconds = new Histogram({ name: 'junction_request_duration_seconds', help: 'Time from a GraphQL request arriving to its answer starting, by operation name.', labelNames: ['operation'] as const, buckets: REQUEST_BUCKETS, registers: [registry] });
  const upstreamCalls = new Counter({ name: 'junction_upstream_calls_total', help: 'Calls made to backends, by source, operation and outcome (ok, rejected: 4xx, error: 5xx or no answer).', labelNames: ['source', 'operation', 'outcome'] as const, registers: [registry] });
  const upstreamCoalesced = new Counter({ name: 'junction_upstream_calls_coalesced_total', help: 'Reads that joined an identical call already in flight instead of calling the backend, by source.', labelNames: ['source'] as const, registers: [registry] });
  const upstreamSeconds = new Histogram({ name: 'junction_upstream_call_duration_seconds', help: 'Time of one backend call (its retries included), by source.', labelNames: ['source'] as const, buckets: REQUEST_BUCKETS, registers: [registry] });
  const batchSize = new Histogram({ name: 'junction_upstream_batch_size', help: 'Keys asked for in one batch call, by source.', labelNames: ['source'] as const, buckets: BATCH_BUCKETS, registers: [registry] });
  new Gauge({
    name: 'junction_breaker_state', help: 'Each source\'s circuit breaker: 0 closed, 1 half-open, 2 open, 3 isolated.', labelNames: ['source'] as const, registers: [registry],
    collect() {
      for (const [source, state] of Object.entries(sources.breakers())) this.set({ source }, BREAKER_VALUE[state]);
    },
  });
  new Gauge({
    name: 'junction_requests_in_flight', help: 'Requests being handled by this instance now.', registers: [registry],
    collect() {
      this.set(sources.inFlight());
    },
  });
  new Gauge({
    name: 'junction_subscriptions', help: 'Subscriptions open on this instance, by topic.', labelNames: ['topic'] as const, registers: [registry],
    collect() {
      // Reset first: a topic whose last subscription ended leaves the exposition.
      this.reset();
      for (const [topic, count] of Object.entries(sources.subscriptions())) this.set({ topic }, count);
    },
  });
  new Counter({
    name: 'junction_webhooks_received_total', help: 'Webhook deliveries received, by endpoint path and outcome.', labelNames: ['path', 'outcome'] as const, registers: [registry],
    collect() {
      // The receiver keeps the counts since start; the counter shows them as they are now.
      this.reset();
      for (const [path, outcomes] of Object.entries(sources.webhookStats())) {
        for (const [outcome, count] of Object.entries(outcomes)) this.inc({ path, outcome }, count);
      }
    },
  });

  // Each label set's children, resolved once: the hot path then does no label hashing.
  const byOperation = new Map<string, { outcomes: Record<Outcome, Counter.Internal>; seconds: Histogram.Internal<'operation'> }>();
  const operationMetrics = (name: string | undefined) => {
    let operation = name ?? 'anonymous';
    let found = byOperation.get(operation);
    if (found) return found;
    if (byOperation.size >= MAX_OPERATION_NAMES) {
      operation = 'other';
      found = byOperation.get(operation);
      if (found) return found;
    }
    found = {
      outcomes: {
        ok: requests.labels(operation, 'ok'),
        error: requests.labels(operation, 'error'),
        refused: requests.labels(operation, 'refused'),
      },
      seconds: requestSeconds.labels(operation),
    };
    byOperation.set(operation, found);
    return found;
  };
  const bySourceOperation = new Map<string, { ok: Counter.Internal; rejected: Counter.Internal; error: Counter.Internal; seconds: Histogram.Internal<'source'>; batch: Histogram.Internal<'source'>; coalesced: Counter.Internal }>();
  const upstreamMetrics = (source: string, operation: string) => {
    // Sources and their operations come from the configuration: a bounded set.
    const key = `${source}\u0000${operation}`;
    let found = bySourceOperation.get(key);
    if (!found) {
      found = {
        ok: upstreamCalls.labels(source, operation, 'ok'),
        rejected: upstreamCalls.labels(source, operation, 'rejected'),
        error: upstreamCalls.labels(source, operation, 'error'),
        seconds: upstreamSeconds.labels(source),
        batch: batchSize.labels(source),
        coalesced: upstreamCoalesced.labels(source),
      };
      bySourceOperation.set(key, found);
    }
    return found;
  };

  const states = new WeakMap<Request, RequestState>();
  const render = async () => ({ contentType: registry.contentType, body: `${await registry.metrics()}\n${await processMetrics().metrics()}` });
  type MetricsRequest = Parameters<NonNullable<Plugin['onRequest']>>[0];
  const serve = async ({ request, endResponse, fetchAPI }: MetricsRequest): Promise<void> => {
    // Production must never show its internals to anyone who asks: on the main port only a
    // developer's verified credentials are let through (METRICS_PORT serves scrapers without them).
    // Loopback callers are not trusted: behind a proxy on the same host every caller is one.
    let principal: Principal;
    try {
      principal = await sources.principalOf(request);
    } catch (err) {
      if (!(err instanceof GraphQLError)) throw err;
      endResponse(errorResponse(fetchAPI, err, 401));
      return;
    }
    if (!principal.scopes.has(DEVELOPER_SCOPE)) {
      endResponse(errorResponse(fetchAPI, junctionError('METRICS_FORBIDDEN', 'Metrics are shown to developers (junction:developer) only, or on METRICS_PORT.'), 403));
      return;
    }
    const { contentType, body } = await render();
    endResponse(new fetchAPI.Response(body, { status: 200, headers: { 'content-type': contentType, 'cache-control': 'no-store' } }));
  };
  const plugin: Plugin = {
    // Synchronous for every request but /metrics: an async hook puts each request of the gateway
    // through one more promise (measured: the plugin cost 30% of the CPU of a one-field query).
    onRequest(payload) {
      const { pathname } = payload.url;
      if (pathname === '/metrics') return serve(payload);
      if (pathname === '/graphql' || pathname === '/graphql/stream') states.set(payload.request, { started: performance.now(), name: undefined, outcome: undefined });
      return undefined;
    },
    onParams({ params, request }) {
      // The name the client gave, for requests refused before their document is read; a name that
      // is no GraphQL name (any string a client sends) is not a label.
      const state = states.get(request);
      if (state && state.name === undefined && typeof params.operationName === 'string') state.name = OPERATION_NAME.test(params.operationName) ? params.operationName : 'other';
    },
    onExecute({ args }) {
      // The operation that runs names the request, whether or not the client sent operationName.
      const request = (args.contextValue as { request?: Request }).request;
      const state = request && states.get(request);
      if (state) state.name = getOperationAST(args.document, args.operationName)?.name?.value ?? state.name;
    },
    onResultProcess({ request, result }) {
      const state = states.get(request);
      if (!state) return;
      // Several results: a batch; one with errors makes the request's outcome an error.
      const results = Array.isArray(result) ? result : [result];
      state.outcome = results.some((one) => 'errors' in one && (one.errors?.length ?? 0) > 0) ? 'error' : 'ok';
    },
    onResponse({ request, response }) {
      const state = states.get(request);
      if (!state) return;
      states.delete(request);
      // Refused: the request was turned away (limits, credentials, shedding, rate limits) with an
      // HTTP error status; errors with 200 are errors of the operation (a backend failing).
      const outcome: Outcome | undefined = response.status >= 400 ? 'refused' : state.outcome;
      if (outcome === undefined) return;
      const metrics = operationMetrics(state.name);
      metrics.outcomes[outcome].inc();
      metrics.seconds.observe((performance.now() - state.started) / 1000);
    },
  };

  return {
    plugin,
    render,
    onCall(record) {
      const metrics = upstreamMetrics(record.source, record.operation);
      if (record.coalesced) {
        metrics.coalesced.inc();
        return;
      }
      const status = record.status;
      (status === undefined || status >= 500 ? metrics.error : status >= 400 ? metrics.rejected : metrics.ok).inc();
      metrics.seconds.observe(record.durationMs / 1000);
      if (record.batchSize !== undefined) metrics.batch.observe(record.batchSize);
    },
  };
}
