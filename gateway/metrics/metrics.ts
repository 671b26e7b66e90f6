import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ERROR_CATALOGUE, junctionError } from '../errors.ts';
import { refuseUnlessDeveloper } from '../plugins/security/developer-only.ts';
import type { BreakerState } from '../upstream/resilience.ts';
import type { UpstreamCallRecord } from '../upstream/upstream-fetch.ts';
import type { DeliveryOutcome } from '../webhooks/outbound-delivery.ts';
import type { PollStats } from '../webhooks/poller.ts';
import type { Principal } from '../../schema/principal.ts';

/**
 * Prometheus metrics of one gateway, in a registry of its own (never prom-client's global one: a
 * process may hold several gateways, as the tests do, and each must count only its own work).
 *
 * The hot path is kept cheap: a request costs a few map look-ups and one counter and one
 * histogram update, a backend call the same; label sets are resolved once and their children
 * kept, nothing is done per field, and the gauges (breakers, requests in flight, subscriptions,
 * webhooks, deliveries, polls) are read from the gateway's own counts only when Prometheus scrapes.
 * Cache look-ups, the most frequent event, only add to a plain number kept per layer and outcome;
 * the counter reads those numbers when Prometheus scrapes.
 *
 * Refusals are counted twice on purpose, at two grains: `junction_requests_total{outcome="refused"}`
 * by operation, and `junction_requests_refused_total{reason}` by the catalogued code that refused
 * the request; the two count the same requests (every answer with an HTTP status of 400 or more),
 * so their sums are equal. Refusals that leave the request standing (a field over its `@rateLimit`,
 * a backend call held back by its source's quota) are in `junction_rate_limited_total` only.
 */

/** Distinct operation names labelled before further ones are counted as `other`: keeps a client from growing the series without bound. */
export const MAX_OPERATION_NAMES = 100;

/** What a breaker state is as a number, for a gauge: closed 0, half-open 1, open 2, isolated 3. */
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2, isolated: 3 };

/** Request latencies, in seconds: from a cached answer (a millisecond) to the request deadline (10 s). */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Keys per batch call: batches are bounded by the sources' batch sizes, rarely over a few hundred. */
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500];

/** Cache layers: whole answers (gateway/cache/response-cache.ts) and entities (gateway/upstream/entity-cache.ts, declared links too). */
export const CACHE_LAYERS = ['response', 'entity'] as const;
/**
 * What a look-up found: `hit`, `miss` (nothing kept, expired, or being fetched by another request),
 * `stale` (expired, served because its backend failed), `bypass` (the request skipped the cache),
 * `error` (the store failed; counted where a store can say so).
 */
export const CACHE_OUTCOMES = ['hit', 'miss', 'stale', 'bypass', 'error'] as const;
export type CacheOutcome = (typeof CACHE_OUTCOMES)[number];

/** Why the load shedder refused: requests in flight at MAX_IN_FLIGHT, or at the lower limit a saturated CPU set. */
export type ShedCause = 'in_flight' | 'cpu_saturated';
/** Kinds of rate limit: a caller's whole-endpoint budget, a field's `@rateLimit`, a source's `quota`. */
export type RateLimitKind = 'caller' | 'field' | 'source_quota';
const RATE_LIMIT_KINDS: readonly RateLimitKind[] = ['caller', 'field', 'source_quota'];
const DELIVERY_OUTCOMES = ['delivered', 'retried', 'failed', 'queue_full', 'url_refused', 'interrupted', 'replayed', 'restarted'] as const satisfies readonly DeliveryOutcome[];

/** A GraphQL Name (the spec's), short enough to be a label value. */
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

export interface MetricsSources {
  breakers(): Record<string, BreakerState>;
  inFlight(): number;
  subscriptions(): Record<string, number>;
  /** Changes to each `drift:` source's contract by level, as of its last check (gateway/drift/monitor.ts). Absent: none shown. */
  driftCounts?(): Record<string, Record<string, number>>;
  webhookStats(): Record<string, Record<string, number>>;
  /** Outbound deliveries by registration (only `pending` and `suspended` are read: outcomes are told to `onDelivery`). */
  deliveryStats(): Record<string, { pending: number; suspended?: string }>;
  /** Each polled topic's rounds since start. */
  pollStats(): Record<string, PollStats>;
  /** Who a request is (verified): `/metrics` on the main port answers developers only. */
  principalOf(request: Request): Promise<Principal>;
}

export interface GatewayMetrics {
  /** Told about every backend call (the engine's `onCall` hook). */
  onCall(record: UpstreamCallRecord): void;
  /** Told about cache look-ups: `count` of them in `layer` had `outcome`. */
  onCache(layer: string, outcome: string, count?: number): void;
  /** Told when the load shedder refuses a request, and why. */
  onShed(request: Request, cause: ShedCause): void;
  /** Told about every rate-limit refusal, by kind of limit. */
  onRateLimited(kind: RateLimitKind): void;
  /** Told about every outcome of an outbound delivery on this instance. */
  onDelivery(outcome: DeliveryOutcome): void;
  /** Counts GraphQL requests, and answers `/metrics` on the main port to developers. */
  plugin: Plugin;
  /**
   * Reads each GraphQL result as it leaves: listed after the error catalogue, so that a refusal is
   * counted under the catalogued code the client sees.
   */
  resultsPlugin: Plugin;
  /** The exposition text, as served on `/metrics`. */
  render(): Promise<{ contentType: string; body: string }>;
}

type Outcome = 'ok' | 'error' | 'refused';

interface RequestState {
  started: number;
  name: string | undefined;
  /** Set once a GraphQL result was made: absent, the answer was no GraphQL result (GraphiQL's page). */
  outcome: Exclude<Outcome, 'refused'> | undefined;
  /** The code of the result's first error, or the shedder's; what a refusal is counted under. */
  code: string | undefined;
}

/** A refusal's reason label: its code when the catalogue has it (a bounded set), else `other`. */
const reasonOf = (code: unknown): string => (typeof code === 'string' && Object.hasOwn(ERROR_CATALOGUE, code) ? code : 'other');

/** The first error code of a JSON answer made before any GraphQL handling (CSRF, an oversized body); read only for such refusals. */
async function codeOfBody(response: Response): Promise<string | undefined> {
  if (!(response.headers.get('content-type') ?? '').includes('json')) return undefined;
  try {
    const body = await response.clone().json() as { errors?: { extensions?: { code?: unknown } }[] };
    const code = body.errors?.[0]?.extensions?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
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

/**
 * METRICS=off: nothing counted and no `/metrics` (it is then an unknown path, as any other): for
 * deployments that measure otherwise, and the benchmark's comparison of the cost of metrics.
 */
export function noMetrics(): GatewayMetrics {
  const nothing = () => undefined;
  return {
    onCall: nothing, onCache: nothing, onShed: nothing, onRateLimited: nothing, onDelivery: nothing,
    plugin: {}, resultsPlugin: {},
    render: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '' }),
  };
}

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
  new Gauge({
    name: 'junction_contract_drift_changes', help: 'Changes from the spec a source is served with to its newer one (its entry\'s drift:), by level (breaking, dangerous, safe), as of the last check.', labelNames: ['source', 'level'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const [source, levels] of Object.entries(sources.driftCounts?.() ?? {})) {
        for (const [level, count] of Object.entries(levels)) this.set({ source, level }, count);
      }
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

  // Cache look-ups: a plain number per layer and outcome on the hot path, read into the counter on
  // scrape. Every known layer and outcome is shown from the start, at 0, so that ratios exist.
  const cacheCounts = new Map<string, Record<string, number>>();
  const cacheSlot = (layer: string): Record<string, number> => {
    let slot = cacheCounts.get(layer);
    if (!slot) {
      slot = Object.fromEntries(CACHE_OUTCOMES.map((outcome) => [outcome, 0]));
      cacheCounts.set(layer, slot);
    }
    return slot;
  };
  for (const layer of CACHE_LAYERS) cacheSlot(layer);
  new Counter({
    name: 'junction_cache_lookups_total', help: 'Cache look-ups, by layer (response: whole answers; entity: entities of batched reads and links) and outcome (hit, miss, stale, bypass, error); an entity batch counts each key.', labelNames: ['layer', 'outcome'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const [layer, outcomes] of cacheCounts) {
        for (const [outcome, count] of Object.entries(outcomes)) this.inc({ layer, outcome }, count);
      }
    },
  });
  const refused = new Counter({ name: 'junction_requests_refused_total', help: 'Requests refused as a whole (an HTTP status of 400 or more), by the catalogued error code that refused them; the same requests as junction_requests_total{outcome="refused"}.', labelNames: ['reason'] as const, registers: [registry] });
  const refusedByReason = new Map<string, Counter.Internal>();
  const refusedFor = (reason: string) => {
    let child = refusedByReason.get(reason);
    if (!child) refusedByReason.set(reason, (child = refused.labels(reason)));
    return child;
  };
  const shed = new Counter({ name: 'junction_load_shed_total', help: 'Requests refused by the load shedder (reason OVERLOADED), by cause: in_flight (MAX_IN_FLIGHT reached) or cpu_saturated (the lower limit a saturated CPU set).', labelNames: ['cause'] as const, registers: [registry] });
  const shedBy: Record<ShedCause, Counter.Internal> = { in_flight: shed.labels('in_flight'), cpu_saturated: shed.labels('cpu_saturated') };
  const rateLimited = new Counter({ name: 'junction_rate_limited_total', help: 'Rate-limit refusals, by limit: caller (a caller over its whole-endpoint budget: the request is refused, 429), field (a field over its @rateLimit: that field is null) and source_quota (a backend call held back by its source\'s quota: SOURCE_RATE_LIMITED).', labelNames: ['limit'] as const, registers: [registry] });
  const rateLimitedBy = Object.fromEntries(RATE_LIMIT_KINDS.map((kind) => [kind, rateLimited.labels(kind)])) as Record<RateLimitKind, Counter.Internal>;
  const deliveries = new Counter({ name: 'junction_deliveries_total', help: 'Outbound webhook deliveries on this instance, by outcome (delivered, retried, failed, queue_full, url_refused, interrupted, replayed, restarted); every registration together.', labelNames: ['outcome'] as const, registers: [registry] });
  const deliveriesBy = Object.fromEntries(DELIVERY_OUTCOMES.map((outcome) => [outcome, deliveries.labels(outcome)])) as Record<DeliveryOutcome, Counter.Internal>;
  // Shown at 0 from the start: a rate over a series that does not exist yet is no rate at all.
  for (const child of [...Object.values(shedBy), ...Object.values(rateLimitedBy), ...Object.values(deliveriesBy)]) child.inc(0);
  new Gauge({
    name: 'junction_deliveries_pending', help: 'Outbound webhook events waiting to be delivered on this instance, every registration together.', registers: [registry],
    collect() {
      let pending = 0;
      for (const stats of Object.values(sources.deliveryStats())) pending += stats.pending;
      this.set(pending);
    },
  });
  new Gauge({
    name: 'junction_deliveries_suspended', help: 'Registrations this instance holds but does not run (their service has no API key left).', registers: [registry],
    collect() {
      let suspended = 0;
      for (const stats of Object.values(sources.deliveryStats())) if (stats.suspended !== undefined) suspended += 1;
      this.set(suspended);
    },
  });
  // Polls: the poller keeps each topic's counts since start (topics are the sources file's: bounded).
  const pollCounter = (name: string, help: string, field: keyof PollStats) => new Counter({
    name, help, labelNames: ['topic'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const [topic, stats] of Object.entries(sources.pollStats())) this.inc({ topic }, stats[field]);
    },
  });
  pollCounter('junction_poll_reads_total', 'Poll rounds that read their operation (this instance held the topic\'s lease), by topic.', 'polls');
  pollCounter('junction_poll_standby_total', 'Poll rounds left to another instance, which held the topic\'s lease, by topic.', 'standby');
  pollCounter('junction_poll_failures_total', 'Poll rounds that published nothing because the read, its result or a store failed, by topic.', 'failed');
  pollCounter('junction_poll_events_total', 'Events published by polls, by topic.', 'events');

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
    const refusal = await refuseUnlessDeveloper(sources.principalOf, request, fetchAPI,
      () => junctionError('METRICS_FORBIDDEN', 'Metrics are shown to developers (junction:developer) only, or on METRICS_PORT.'));
    if (refusal) {
      endResponse(refusal);
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
      if (pathname === '/graphql' || pathname === '/graphql/stream') states.set(payload.request, { started: performance.now(), name: undefined, outcome: undefined, code: undefined });
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
    onResponse({ request, response }) {
      const state = states.get(request);
      if (!state) return undefined;
      states.delete(request);
      // Refused: the request was turned away (limits, credentials, shedding, rate limits) with an
      // HTTP error status; errors with 200 are errors of the operation (a backend failing).
      const outcome: Outcome | undefined = response.status >= 400 ? 'refused' : state.outcome;
      if (outcome === undefined) return undefined;
      const seconds = (performance.now() - state.started) / 1000;
      const metrics = operationMetrics(state.name);
      metrics.outcomes[outcome].inc();
      metrics.seconds.observe(seconds);
      if (outcome !== 'refused') return undefined;
      // A refusal made before any GraphQL handling (CSRF, a body announced too large) has no result
      // to read its code from: its answer is read instead (a few hundred bytes, refusals only).
      if (state.code === undefined && state.outcome === undefined) return codeOfBody(response).then((code) => refusedFor(reasonOf(code)).inc());
      refusedFor(reasonOf(state.code)).inc();
      return undefined;
    },
  };
  const resultsPlugin: Plugin = {
    onResultProcess({ request, result }) {
      const state = states.get(request);
      if (!state) return;
      // Several results: a batch; one with errors makes the request's outcome an error.
      const results = Array.isArray(result) ? result : [result];
      let failed = false;
      for (const one of results) {
        if (!('errors' in one) || !one.errors?.length) continue;
        failed = true;
        state.code ??= one.errors[0]?.extensions?.code as string | undefined;
      }
      state.outcome = failed ? 'error' : 'ok';
    },
  };

  return {
    plugin,
    resultsPlugin,
    render,
    onCache(layer, outcome, count = 1) {
      // Layers and outcomes are the few CACHE_LAYERS and CACHE_OUTCOMES: anything else is a
      // caller's mistake, not a new series.
      const slot = cacheCounts.get(layer);
      if (slot && Object.hasOwn(slot, outcome)) slot[outcome]! += count;
    },
    onShed(request, cause) {
      shedBy[cause].inc();
      const state = states.get(request);
      if (state) state.code = 'OVERLOADED';
    },
    onRateLimited(kind) {
      rateLimitedBy[kind].inc();
    },
    onDelivery(outcome) {
      deliveriesBy[outcome]?.inc();
    },
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
