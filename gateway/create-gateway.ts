import { createPubSub, createYoga, type Plugin, type PubSub, type PubSubEventTarget, type YogaServerInstance } from 'graphql-yoga';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { buildGatewaySchema } from './composition/index.ts';
import { DEFAULT_MESH_CONFIG } from './composition/source-schemas.ts';
import { readMeshConfig, SourceConfigError } from './composition/byo/mesh-config.ts';
import type { SourceReport } from './composition/byo/report.ts';
import type { MeshConfig } from './composition/byo/mesh-config.ts';
import { scopesOf } from '../schema/authorization.ts';
import { exampleQueryFor } from './example-query.ts';
import { createWebhookReceiver, webhookEndpointOf, type WebhookEndpoint, type WebhookEvent } from './webhooks/receiver.ts';
import { createMemoryWebhookStore, type WebhookStore } from './webhooks/store.ts';
import { createPoller, type PollScheduler, type PollStats } from './webhooks/poller.ts';
import { preparePolls } from './webhooks/poll-reads.ts';
import { createMemoryPollStore, type PollStore } from './webhooks/poll-store.ts';
import { ANONYMOUS } from '../schema/principal.ts';
import type { ContractContext } from '../schema/contract.ts';
import { lazyRecords } from './engine/lazy-record.ts';
import { loaderSet } from './engine/loaders.ts';
import { useRequestId } from './plugins/request-id/use-request-id.ts';
import { createHealth, type HealthCheck } from './plugins/health/use-health.ts';
import { useCsrfPrevention } from './plugins/security/use-csrf-prevention.ts';
import { useProductionSurface } from './plugins/security/use-production-surface.ts';
import { useCorsPolicy } from './plugins/security/use-cors-policy.ts';
import { createMaskError, useErrorCatalogue } from './plugins/errors/use-error-catalogue.ts';
import { DEBUG_HEADER, useUpstreamDebug } from './plugins/upstream-debug/use-upstream-debug.ts';
import { useJit } from './plugins/jit/use-jit.ts';
import { principalPerRequest, useDevIssuerJwks, useIdentity } from './plugins/identity/use-identity.ts';
import { useJunctionResponseCache } from './cache/response-cache.ts';
import { DEFAULT_LIMITS, isTrustedCaller } from './plugins/limits/limits.ts';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { junctionError, type ErrorCode } from './errors.ts';
import { useRequestReader } from './plugins/limits/use-request-reader.ts';
import { createLoadShedding, type LoadShedding } from './plugins/limits/use-load-shedding.ts';
import { useShapeLimits } from './plugins/limits/use-shape-limits.ts';
import { useCostLimit } from './plugins/limits/use-cost-limit.ts';
import { useRateLimits } from './plugins/limits/use-rate-limits.ts';
import { createRateLimitEngine, type RateLimitEngine } from './plugins/limits/rate-limits.ts';
import { createUpstreamQuota } from './plugins/limits/upstream-quota.ts';
import type { SourceQuota } from './engine/runtime.ts';
import { createEntityCache } from './upstream/entity-cache.ts';
import type { CacheStore } from './upstream/cache.ts';
import type { BreakerState, ResilienceOptions } from './upstream/resilience.ts';
import { useRequestScope, type RequestScope } from './plugins/deadline/use-request-scope.ts';
import type { Auth } from './auth/index.ts';
import type { UpstreamCallRecord } from './upstream/upstream-fetch.ts';
import { importModule } from './composition/modules.ts';
import { createSubscriptions } from './plugins/realtime/subscriptions.ts';
import type { EventTargetLike } from './plugins/realtime/event-stream.ts';
import { useSubscriptionResults } from './plugins/realtime/use-subscription-results.ts';
import { useServerSentEvents } from './plugins/realtime/use-server-sent-events.ts';
import { useSseSingleConnection } from './plugins/realtime/use-sse-single-connection.ts';
import { createOutboundDeliveries, type DeliveryStats, type OutboundOptions } from './webhooks/outbound.ts';
import type { Principal } from '../schema/principal.ts';
import { createMetrics, noMetrics } from './metrics/metrics.ts';
import { createDriftMonitor } from './drift/monitor.ts';
import type { DriftLevel } from './drift/diff.ts';
import type { TracerProvider } from '@opentelemetry/api';
import { createStatusWindow } from './plugins/status/window.ts';
import { useStatus } from './plugins/status/use-status.ts';

export interface GatewayOptions {
  config: Pick<Config, 'mode' | 'upstream'> & Partial<Pick<Config, 'limits' | 'trustedProxies' | 'persistedDocuments' | 'corsOrigins' | 'readyCacheMs' | 'metrics'>> & {
    /** Breaker and retry settings of every source (tests shorten them). */
    resilience?: Partial<Omit<ResilienceOptions, 'source'>>;
  };
  logger: Logger;
  /** Fetch used for upstream calls. Default: undici over each source's own pool. */
  fetch?: typeof globalThis.fetch;
  /** More readiness checks, e.g. Redis (non-critical). */
  healthChecks?: readonly HealthCheck[];
  /** The file that lists the sources. Default `.meshrc.yaml`. */
  meshConfig?: string;
  /** That file, already read (it is then not read again). */
  sourcesFile?: MeshConfig;
  /** Where `{env.NAME}` references in the sources file are read from. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Who is calling (auth/index.ts builds it from the configuration). */
  auth: Auth;
  /**
   * Where cached entities and responses live (gateway/cache/store.ts: Redis, or memory for one
   * instance); absent: nothing is cached.
   */
  cacheStore?: CacheStore;
  /** Counting for rate limits (Redis-backed when there is a Redis). Default: in memory. */
  rateLimits?: RateLimitEngine;
  /** Providers' rate limits kept on our side, from each entry's `quota` (default: counted in this instance's memory). */
  sourceQuotas?: (source: string, spec?: SourceQuota) => ((operation: string) => Promise<void>) | undefined;
  /**
   * More plugins (yoga's and envelop's kind), after Junction's own and before the error catalogue,
   * which must see every error: the sources file's `additionalEnvelopPlugins` arrive here too.
   */
  plugins?: readonly Plugin[];
  /** Where webhook deliveries are deduplicated and kept (Redis when main.ts has one). Default: this process's memory. */
  webhookStore?: WebhookStore;
  /** Where events are published for subscribers (across instances: Redis's event target). Default: this process's. */
  eventTarget?: JunctionEventTarget;
  /** Which instance polls each topic, and what it last saw (Redis when main.ts has one). Default: this process's memory. */
  pollStore?: PollStore;
  /** When polls run. Default: real timers; tests run rounds by hand. */
  pollScheduler?: PollScheduler;
  /** When contract drift is checked (entries' `drift:`, gateway/drift/monitor.ts). Default: real timers; tests run checks by hand. */
  driftScheduler?: PollScheduler;
  /**
   * Services' outbound webhooks (gateway/webhooks/outbound.ts): where registrations live (Redis
   * when main.ts has one), the hosts posted to beside public addresses (DELIVERY_ALLOWED_HOSTS),
   * and time and name resolution for tests. Default: in memory, public https addresses only.
   */
  deliveries?: OutboundOptions;
  /**
   * Sample the event loop to take fewer requests while the CPU is saturated (default true). Tests
   * turn it off so that a busy test machine never sheds their requests, and feed samples by hand.
   */
  watchEventLoop?: boolean;
  /**
   * OpenTelemetry traces (gateway/tracing/): spans of every request, phase and backend call, and
   * the W3C trace context sent to backends. main.ts makes one from the OTEL_* variables
   * (tracing/setup.ts); absent: no tracing at all, and no `traceparent` goes to any backend.
   */
  tracerProvider?: TracerProvider;
}

export interface Gateway {
  /** Starts shutdown: readiness answers 503 from now on. */
  drain(): void;
  /**
   * Ends every open subscription with a last message saying why: SHUTTING_DOWN (once the listener is
   * closed) or GATEWAY_RELOADED (once a reload has put another build in this one's place).
   */
  endSubscriptions(why?: 'SHUTTING_DOWN' | 'GATEWAY_RELOADED'): void;
  /**
   * Stops the gateway's own timers (the event-loop sampler, the polls), waits for a poll under way
   * and gives up this instance's poll leases; after the server has closed.
   */
  close(): Promise<void>;
  /** Requests in flight and how many the instance takes now (gateway/plugins/limits/use-load-shedding.ts). */
  shedding: Pick<LoadShedding, 'state' | 'observe'>;
  /** Each source's circuit breaker. */
  breakers(): Record<string, BreakerState>;
  yoga: YogaServerInstance<Record<string, unknown>, ContractContext>;
  schema: GraphQLSchema;
  /** One per source served as it is (not under the contract): operations exposed and what was lost. */
  reports: SourceReport[];
  /** Where webhook events are published: `webhook:<pubsubTopic>`. */
  pubsub: JunctionPubSub;
  /** Webhook deliveries by endpoint path and outcome, since start. */
  webhookStats(): Record<string, Record<string, number>>;
  /** Each polled topic's rounds since start (gateway/webhooks/poller.ts). */
  pollStats(): Record<string, PollStats>;
  /** Outbound deliveries by registration and outcome, since start; `pending`: waiting on this instance now; `suspended`: why it is not run. */
  deliveryStats(): Record<string, DeliveryStats>;
  /** Subscriptions open on this instance, by topic. */
  subscriptions(): Record<string, number>;
  /** Changes from each `drift:` source's served spec to its newer one, by level, as of its last check (gateway/drift/). */
  driftCounts(): Record<string, Record<DriftLevel, number>>;
  /** Who a request is (verified), as every plugin sees it; refuses credentials that do not verify. */
  principalOf(request: Request): Promise<unknown>;
  /** The Prometheus exposition of this gateway's metrics (gateway/metrics/metrics.ts), for METRICS_PORT. */
  metrics(): Promise<{ contentType: string; body: string }>;
}

/** Topics carry events of the webhooks declared in the sources file. */
export type JunctionPubSub = PubSub<Record<string, [WebhookEvent]>>;
export type JunctionEventTarget = PubSubEventTarget<Record<string, [WebhookEvent]>>;

/** Each declared webhook of the sources file, ready for the receiver. */
export function webhookEndpointsOf(file: MeshConfig): WebhookEndpoint[] {
  return file.entries.flatMap((entry) => (entry.options.webhooks ?? []).map((hook) => webhookEndpointOf(entry.name, hook)));
}

/** Assembles Junction from its plugins. Opens no port and reads no environment: main.ts does. */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, logger, fetch, healthChecks = [], meshConfig, env, auth, cacheStore } = options;
  const limits = config.limits ?? DEFAULT_LIMITS;
  const persisted = config.persistedDocuments;
  const catalogued = (code: ErrorCode, message: string) => {
    const error = junctionError(code, message);
    return { message: error.message, extensions: error.extensions };
  };
  const rateLimits = options.rateLimits ?? createRateLimitEngine();
  const dev = config.mode === 'development';
  // Addresses whose x-forwarded-for is believed (rate limits, subscription budgets): one set for all.
  const trustedProxies = new Set(config.trustedProxies ?? []);
  // Each request's deadline, stale mark, (debugging) calls and span, for every backend call it
  // causes (useRequestScope): found by the GraphQL context each call carries, through its request
  // (a context made for no request, a poll's, is a key of its own).
  const scopesByRequest = new WeakMap<object, RequestScope>();
  // By the operation's own context first: the operations of one batched request share its Request.
  const scopeOf = (context?: object): RequestScope | undefined =>
    context === undefined ? undefined : scopesByRequest.get(context) ?? scopesByRequest.get((context as { request?: Request }).request ?? context);
  const recordCall = (record: UpstreamCallRecord, context?: object) => scopeOf(context)?.calls?.push(record);
  // Spans carried on the same scope; the request's id is read when a request arrives. Loaded only
  // when on: with tracing off, not one OpenTelemetry module is imported.
  const tracing = options.tracerProvider
    ? (await import('./tracing/tracing.ts')).createTracing({ tracerProvider: options.tracerProvider, mode: config.mode, requestIdOf: (request) => requestIds.get(request), currentSpan: (context) => scopeOf(context)?.span })
    : undefined;
  const deadlineMs = config.upstream.requestDeadlineMs ?? 10_000;
  let draining = false;
  const shedding = createLoadShedding({
    maxInFlight: limits.MAX_IN_FLIGHT, maxQueueMs: limits.MAX_QUEUE_MS,
    onShed: (request, cause) => metrics.onShed(request, cause),
  }, options.watchEventLoop ?? true);
  // Read only when a request arrives or Prometheus scrapes, once everything below exists.
  const metrics = config.metrics === false ? noMetrics() : createMetrics({
    breakers: () => allBreakers(),
    inFlight: () => shedding.state().inFlight,
    subscriptions: () => subscriptions.counts(),
    webhookStats: () => webhooks.stats() as Record<string, Record<string, number>>,
    principalOf: (request) => principalOf(request),
    deliveryStats: () => outbound.stats(),
    pollStats: () => poller.stats(),
    driftCounts: () => drift.driftCounts(),
  });
  /**
   * Every cache look-up's outcome, by layer (`response`, `entity`) and outcome (`hit`, `miss`,
   * `stale`, `bypass`, `error`); `count` look-ups at once (an entity batch's keys). On the hot path:
   * whatever is added here must stay as cheap as a property update.
   */
  function cacheObserved(layer: string, outcome: string, count = 1): void {
    metrics.onCache(layer, outcome, count);
    statusWindow.onCache(layer, outcome, count);
  }
  // The last minutes of every source's calls, for /status (gateway/plugins/status/window.ts).
  const statusWindow = createStatusWindow();
  const onCall = dev
    ? (record: UpstreamCallRecord, context?: object) => {
      metrics.onCall(record);
      statusWindow.onCall(record);
      recordCall(record, context);
    }
    : (record: UpstreamCallRecord) => {
      metrics.onCall(record);
      statusWindow.onCall(record);
    };
  const entityCache = cacheStore
    ? createEntityCache({
      store: cacheStore,
      onStale: (record, context) => {
        const scope = scopeOf(context);
        if (scope) scope.stale = true;
        recordCall(record, context);
        tracing?.upstream.cached(record, true, context);
      },
      ...(dev || tracing ? {
        onHit: (record: UpstreamCallRecord, context?: object) => {
          recordCall(record, context);
          tracing?.upstream.cached(record, false, context);
        },
      } : {}),
      onLookup: (outcome, count) => cacheObserved('entity', outcome, count),
    })
    : undefined;
  const sourcesFile = options.sourcesFile ?? readMeshConfig(meshConfig ?? DEFAULT_MESH_CONFIG, env ?? process.env);
  const filePlugins = sourcesFile.plugins ? await loadPlugins(sourcesFile.plugins) : [];
  const { schema, reports, runtimes, contract, operations, sources: loadedSources, context: sourcesContext } = await buildGatewaySchema({
    meshConfig,
    env,
    sourcesFile,
    timeoutMs: config.upstream.timeoutMs,
    maxResponseBytes: config.upstream.maxResponseBytes,
    ...(fetch ? { fetch } : {}),
    ...(entityCache ? { entityCache } : {}),
    // Every source's calls share the request's deadline and show in the debug extension.
    hooks: {
      deadline: (context) => scopeOf(context)?.deadline,
      // Every call is counted (metrics); in development it also shows in the debug extension.
      onCall,
      // With tracing on: a span per call, and its trace context sent with it.
      ...(tracing ? { tracing: tracing.upstream } : {}),
      ...(config.resilience ? { resilience: config.resilience } : {}),
      // An entry's `quota`: counted in Redis across instances when main.ts gives one.
      quota: countedQuota(options.sourceQuotas ?? ((source, spec) => (spec ? createUpstreamQuota({ source, ...spec }) : undefined)), () => metrics.onRateLimited('source_quota')),
    },
  });
  // A poll's operation must be a read its source has: said at start, with the file's other problems.
  const { polls, problems: pollProblems } = preparePolls(sourcesFile, loadedSources);
  if (pollProblems.length > 0) throw new SourceConfigError(sourcesFile.file, pollProblems);
  const allBreakers = () => Object.fromEntries(runtimes.map((runtime) => [runtime.name, runtime.breaker()]));
  const invalidate = cacheStore ? (tags: readonly string[]) => cacheStore.invalidateTags(tags) : async () => undefined;
  const eventTarget: JunctionEventTarget = options.eventTarget ?? new EventTarget() as JunctionEventTarget;
  const pubsub: JunctionPubSub = createPubSub({ eventTarget });
  const webhookStore = options.webhookStore ?? createMemoryWebhookStore();
  const subscriptions = createSubscriptions({
    eventTarget: eventTarget as EventTargetLike,
    store: webhookStore,
    maxPerCaller: limits.MAX_SUBSCRIPTIONS_PER_CALLER,
    maxQueued: limits.MAX_EVENTS_QUEUED,
    trustedProxies,
    logger,
  });
  const webhooks = createWebhookReceiver({
    endpoints: webhookEndpointsOf(sourcesFile),
    store: webhookStore,
    publish: (topic, event) => pubsub.publish(`webhook:${topic}`, event),
    invalidate,
    maxBodyBytes: limits.MAX_BODY_BYTES,
    logger,
  });
  const requestIds = new WeakMap<Request, string>();
  const verifiedPrincipalOf = principalPerRequest(auth.authenticate);
  // Requests the gateway makes itself on a service's behalf (its registered deliveries, run in
  // process) carry the principal verified when it registered; no client's request is one of them.
  const actingAs = new WeakMap<Request, Principal>();
  const principalOf = (request: Request): Promise<Principal> => {
    const acting = actingAs.get(request);
    return acting ? Promise.resolve(acting) : verifiedPrincipalOf(request);
  };
  const outbound = createOutboundDeliveries({
    ...options.deliveries,
    mode: config.mode,
    logger,
    maxBodyBytes: limits.MAX_BODY_BYTES,
    principalOf,
    actAs: (request, principal) => void actingAs.set(request, principal),
    // A registration made with an API key runs with no more than the service's keys grant now.
    serviceScopes: (serviceId) => auth.serviceScopes(serviceId),
    onOutcome: (outcome) => metrics.onDelivery(outcome),
    enveloped: (initial) => yoga.getEnveloped(initial),
  });

  // /healthz and /readyz; /status shows readiness's last round of probes too. A backend that is down
  // costs its own fields, not the instance: sources are non-critical.
  const health = createHealth({
    checks: [
      ...runtimes.map((runtime) => ({ name: runtime.name, critical: false, probe: () => runtime.probe(), details: () => ({ breaker: runtime.breaker() }) })),
      ...healthChecks,
    ],
    draining: () => draining,
    ...(config.readyCacheMs !== undefined ? { cacheMs: config.readyCacheMs } : {}),
  });
  // One request's view of its sources and its loaders, each made when the request first reads it.
  const bound = new Map(operations);
  const sourcesFor = lazyRecords(bound.keys(), (name, context: object) => bound.get(name)!(context));
  const loadersFor = loaderSet(contract?.loaders ?? {}, [...bound.keys()], entityCache);
  const yoga = createYoga<Record<string, unknown>, ContractContext>({
    schema,
    graphqlEndpoint: '/graphql',
    // yoga's default answers every origin with itself; useCorsPolicy allows only CORS_ORIGINS.
    cors: false,
    // Parsed and bounded by useRequestReader: browsers are refused, services get MAX_BATCH.
    batching: { limit: limits.MAX_BATCH },
    // useRequestReader bounds every body (declared, chunked or compressed); yoga's own bound would
    // pipe each body through a second stream, about a tenth of a cheap request's CPU.
    maxRequestBodySize: false,
    landingPage: false,
    graphiql: dev
      ? async () => ({
          title: 'Junction',
          defaultQuery: contract?.exampleQuery ?? exampleQueryFor(schema),
          // A newcomer's first query works: a fresh dev token with every scope the schema asks for, in the headers tab.
          ...(auth.devIssuer
            ? { headers: JSON.stringify({ authorization: `Bearer ${await auth.devIssuer.mint({ sub: 'graphiql-dev', scopes: scopesOf(schema) })}` }, null, 2) }
            : {}),
        })
      : false,
    // GraphiQL's code from the installed package, in the page itself: yoga's default page loads it
    // from a public CDN, and is blank on a machine without internet. Loaded in development only: the
    // module holds all of GraphiQL (a 9 MB page, about 50 MB of memory once imported).
    ...(dev ? { renderGraphiQL: (await import('@graphql-yoga/render-graphiql')).renderGraphiQL } : {}),
    maskedErrors: { maskError: createMaskError(config.mode), isDev: dev },
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error(args.map(String).join(' ')),
    },
    plugins: [
      // First: every later plugin and every log line can name the request.
      useRequestId(requestIds),
      // Next: a request's time is counted from here, and `/metrics` answers before any GraphQL handling.
      metrics.plugin,
      // With tracing on: the request's span opens here, so that every phase and backend call after
      // it is a child; its execute span wraps the request scope's (useRequestScope) that carries it.
      tracing !== undefined && tracing.plugin,
      // `/status`, like `/metrics`, before any GraphQL handling; for developers in production. Its
      // sources' health is /readyz's own last round of probes (shared for READY_CACHE_MS), never a
      // round per page view.
      useStatus({
        mode: config.mode, window: statusWindow, principalOf,
        breakers: allBreakers,
        readiness: () => health.readiness(),
        shedding: () => shedding.state(),
        subscriptions: () => subscriptions.counts(),
        webhookStats: () => webhooks.stats() as Record<string, Record<string, number>>,
        recentWebhooks: () => webhooks.recent(),
        deliveryStats: () => outbound.stats(),
        pollStats: () => poller.stats(),
      }),
      // Before GraphQL handling: probes are plain GETs that must answer even when the schema can't.
      health.plugin,
      // Subscriptions over SSE: each message's cursor as its `id:`, keep-alive every KEEPALIVE_MS.
      useServerSentEvents(limits.KEEPALIVE_MS),
      // Webhooks from providers: verified on their raw bytes, before any GraphQL handling (a
      // Twilio form post is no cross-site forgery, and no GraphQL request).
      webhooks.plugin,
      // Services' registered deliveries (/deliveries): a small JSON API of its own, answered
      // before any GraphQL handling, with the body limit and the caller's identity checked there.
      outbound.plugin,
      // Foreign origins get no CORS headers: only CORS_ORIGINS may read answers from a browser.
      useCorsPolicy(config.corsOrigins ?? []),
      // Refuse forged cross-site requests before any parsing or upstream work.
      useCsrfPrevention(),
      // graphql-sse's single connection mode on /graphql/stream: after CORS and CSRF, which hold for
      // it as for /graphql; before the request reader, which takes only GraphQL requests. Each of
      // its operations goes through this whole list again, as a request of its caller.
      useSseSingleConnection({
        yoga: (): Gateway['yoga'] => yoga, principalOf, requestIds, logger,
        maxPerCaller: limits.MAX_SUBSCRIPTIONS_PER_CALLER,
        keepAliveMs: limits.KEEPALIVE_MS,
        trustedProxies,
      }),
      // Every request, whatever its method and media type, read by one reader with every limit:
      // size, time to arrive, nesting, batches.
      useRequestReader({ limits, mayBatch: async (request) => isTrustedCaller(await principalOf(request)) }),
      // Once its body is in: over MAX_IN_FLIGHT, or over what a saturated CPU gets through, refuse
      // at once rather than queue.
      shedding.plugin,
      // With a persisted-documents file, browsers may only send documents from it.
      persisted !== undefined && usePersistedOperations({
        getPersistedOperation: (key) => persisted.get(key) ?? null,
        allowArbitraryOperations: async (request) => isTrustedCaller(await principalOf(request)),
        customErrors: {
          persistedQueryOnly: catalogued('PERSISTED_DOCUMENT_REQUIRED', 'Only persisted documents are accepted from this caller: send extensions.persistedQuery.sha256Hash.'),
          notFound: catalogued('PERSISTED_DOCUMENT_NOT_FOUND', 'No persisted document has this hash.'),
          keyNotFound: catalogued('PERSISTED_DOCUMENT_REQUIRED', 'Only persisted documents are accepted from this caller: send extensions.persistedQuery.sha256Hash.'),
        },
      }),
      // Tokens while parsing, then depth, aliases and directives: before anything runs.
      useShapeLimits(limits),
      // Development without auth settings: the embedded issuer's public keys, for other tools.
      auth.devIssuer !== undefined && useDevIssuerJwks(auth.devIssuer),
      // Who is calling, verified, on the context; bad credentials end the request with 401.
      useIdentity(principalOf),
      // Production hides the schema's shape, except from developers; development shows it to GraphiQL.
      !dev && useProductionSurface(principalOf),
      // The contract's view of its sources, per request: each source's operations bound to the
      // request (its caller, its deadline) and fresh loaders (batching never crosses requests).
      {
        onContextBuilding({ context, extendContext }) {
          const sources = sourcesFor(context);
          extendContext({
            sources,
            loaders: loadersFor(sources, context),
            invalidate,
            // A subscription's events, from every instance (webhook topics), listened to from the
            // moment it subscribes (an event published before its first read is not missed), after
            // those it missed when it resumes from a cursor. One subscription keeps one context for
            // all its events, and what a loader fetched for one event is not the truth for the
            // next: each event gets fresh loaders.
            subscribe: (topic: string, accept?: (event: WebhookEvent) => boolean) => subscriptions.open(context, topic, accept, () => {
              (context as { loaders?: unknown }).loaders = loadersFor(sources, context);
            }),
          } as Partial<ContractContext>);
        },
      } satisfies Plugin<ContractContext>,
      // The declared sources' in-context SDK (`context.<source>.Query.<field>`), for declared links.
      Object.keys(sourcesContext).length > 0 && { onContextBuilding: ({ extendContext }: { extendContext: (c: Record<string, unknown>) => void }) => extendContext(sourcesContext) },
      // What the operation could cost the backends, against the caller's budget, before it runs.
      useCostLimit(limits),
      // Every backend call of a request shares one deadline; answers served in part from stale
      // entries say so (and are never kept by the response cache).
      useRequestScope({
        deadlineMs,
        collectCalls: (request) => dev && request.headers.get(DEBUG_HEADER) === '1',
        byRequest: scopesByRequest,
        ...(tracing ? { spanOf: tracing.spanOf } : {}),
      }),
      // Compiled execution: graphql-js interprets every document anew, JIT runs it as compiled code.
      useJit(),
      // After the JIT, so that a miss runs the compiled document; before the debug extension, so
      // that a stored answer never holds one request's debug details.
      cacheStore !== undefined && useJunctionResponseCache({ store: cacheStore, principalOf, exposeMetadata: dev, observe: (outcome) => cacheObserved('response', outcome) }),
      // After the response cache: a caller over its budget is refused even an answer from cache.
      useRateLimits({ engine: rateLimits, limits, principalOf, trustedProxies, onRefused: (limit) => metrics.onRateLimited(limit) }),
      // Development: which backend calls a request made, on request (x-junction-debug: 1).
      dev && useUpstreamDebug((request) => scopesByRequest.get(request)?.calls, allBreakers),
      // The deployment's own: createGateway's `plugins`, then the sources file's additionalEnvelopPlugins.
      ...(options.plugins ?? []),
      ...filePlugins,
      // A subscription's messages carry their event's cursor, end when its token expires, and end
      // with a catalogued error rather than a broken stream (before the catalogue, which sees it).
      useSubscriptionResults(),
      // Last: it must see the errors every other plugin and resolver raised.
      useErrorCatalogue({ mode: config.mode, logger, requestIds }),
      // After it, observing only: a refusal is counted under the catalogued code the client sees.
      metrics.resultsPlugin,
    ],
  });
  // Polls feed their topics as webhooks do: kept in the same streams, published the same way. Started
  // last, once nothing else can fail.
  const poller = createPoller({
    polls,
    store: options.pollStore ?? createMemoryPollStore(),
    events: webhookStore,
    publish: (topic, event) => pubsub.publish(`webhook:${topic}`, event),
    invalidate,
    // As the gateway itself (no caller: the entry's own credentials), within one request's deadline.
    run: (read) => {
      const context = { principal: ANONYMOUS };
      scopesByRequest.set(context, { deadline: Date.now() + deadlineMs, stale: false, calls: undefined });
      return read(context);
    },
    deadlineMs,
    logger,
    ...(options.pollScheduler ? { scheduler: options.pollScheduler } : {}),
  });
  // The registrations kept (in Redis, from before a restart) start delivering.
  await outbound.start();
  // Entries' `drift:` specs compared with those served, after start and on their schedule: logged
  // and counted, never in the way of start-up (gateway/drift/monitor.ts says why).
  const drift = createDriftMonitor({
    sourcesFile, sources: loadedSources, logger,
    ...(contract ? { contract } : {}),
    ...(options.driftScheduler ? { scheduler: options.driftScheduler } : {}),
  });
  return {
    yoga, schema, reports, pubsub, principalOf,
    subscriptions: subscriptions.counts,
    driftCounts: drift.driftCounts,
    endSubscriptions: subscriptions.endAll,
    webhookStats: webhooks.stats as () => Record<string, Record<string, number>>,
    pollStats: poller.stats,
    deliveryStats: outbound.stats,
    drain: () => {
      draining = true;
    },
    close: async () => {
      shedding.stop();
      drift.close();
      await poller.close();
      await outbound.close();
    },
    shedding,
    breakers: allBreakers as () => Record<string, BreakerState>,
    metrics: metrics.render,
  };
}

/** A source's quota that tells `refused` each time it holds a call back (metrics). */
function countedQuota(quotas: NonNullable<GatewayOptions['sourceQuotas']>, refused: () => void): NonNullable<GatewayOptions['sourceQuotas']> {
  return (source, spec) => {
    const quota = quotas(source, spec);
    if (!quota) return undefined;
    return (operation) => quota(operation).catch((error: unknown) => {
      refused();
      throw error;
    });
  };
}

/** Plugins from the sources file's `additionalEnvelopPlugins` module: its default export, a list or a function returning one. */
async function loadPlugins(path: string): Promise<Plugin[]> {
  const module = await importModule(path) as { default?: unknown; plugins?: unknown };
  const exported = module.default ?? module.plugins;
  const plugins = typeof exported === 'function' ? await (exported as () => unknown)() : exported;
  if (!Array.isArray(plugins)) throw new PluginsInvalid(`additionalEnvelopPlugins (${path}) must export a list of plugins (or a function returning one) as its default`);
  return plugins as Plugin[];
}

export class PluginsInvalid extends Error {
  readonly code = 'SOURCES_FILE_INVALID';
  override readonly name = 'PluginsInvalid';
}
