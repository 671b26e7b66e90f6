/**
 * Junction's entry point, and the only module that reads the environment or opens a port. A
 * sources file that names an `embedded` module (the demo's) has it start its backends first, so
 * `npm start` on a fresh clone gives a working gateway with nothing else installed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { dirname, relative } from 'node:path';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { listen } from './listen.ts';
import { attachWebSocket } from './websocket.ts';
import { createLogger } from './logger.ts';
import { startupCode } from './errors.ts';
import { createGateway, type JunctionEventTarget } from './create-gateway.ts';
import { formatReport } from './composition/byo/report.ts';
import { embeddedModuleOf, readMeshConfig, type MeshConfig } from './composition/byo/mesh-config.ts';
import { createRedis, createRedisEventTarget, isCluster, redactUrl, supportsShardedPubSub } from './redis.ts';
import type { HealthCheck } from './plugins/health/use-health.ts';
import { createAuth } from './auth/index.ts';
import { createMemoryStore, createRedisStore } from './cache/store.ts';
import { createRateLimitEngine } from './plugins/limits/rate-limits.ts';
import { createMemoryWebhookStore, createRedisWebhookStore } from './webhooks/store.ts';
import { createMemoryPollStore, createRedisPollStore } from './webhooks/poll-store.ts';
import { createMemoryDeliveryStore, createRedisDeliveryStore } from './webhooks/outbound-store.ts';
import { createUpstreamQuota } from './plugins/limits/upstream-quota.ts';
import type { CacheStore } from './upstream/cache.ts';
import { importModule, renewModules } from './composition/modules.ts';
import { foldersOf, watchFolders } from './watch.ts';
import { startTracing } from './tracing/setup.ts';

/** After the listener closes, how long idle keep-alive connections may still carry one last request. */
const IDLE_GRACE_MS = 1_000;

/** At most this long spent accepting connections already queued in the kernel before the listener closes. */
const ACCEPT_PENDING_MAX_MS = 250;

/** Where start-up writes what each user source exposed and lost. */
const SOURCES_REPORT = 'reports/sources-report.json';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) failStart(err);
    throw err;
  }
  const logger = createLogger(config.logLevel);
  // Traces, when the OTEL_* variables ask for them (off by default: gateway/tracing/setup.ts).
  let tracing: Awaited<ReturnType<typeof startTracing>>;
  try {
    tracing = await startTracing(process.env, logger);
  } catch (err) {
    failStart(err);
  }

  // An `embedded` module (the demo's) starts its backends before the file is read: the variables
  // it gives (their URLs and fresh credentials) fill the file's {env.*} references.
  let sourcesFile: MeshConfig;
  let embedded: { env: Record<string, string>; close(): Promise<void>; started?: { name: string; url: string }[]; attach?(gatewayUrl: string): void } | undefined;
  try {
    const module = embeddedModuleOf(config.meshConfig);
    if (module) {
      const { start } = await importModule(module) as unknown as { start: (options: { env: Record<string, string | undefined>; mode: Config['mode'] }) => Promise<NonNullable<typeof embedded>> };
      embedded = await start({ env: config.sourceEnv, mode: config.mode });
    }
    sourcesFile = readMeshConfig(config.meshConfig, { ...config.sourceEnv, ...embedded?.env });
    if (sourcesFile.ignored.length > 0) {
      logger.info({ file: config.meshConfig, keys: sourcesFile.ignored }, 'keys of GraphQL Mesh\'s own server left to Mesh: Junction takes its settings from its environment');
    }
  } catch (err) {
    await embedded?.close();
    failStart(err);
  }

  const healthChecks: HealthCheck[] = [];
  const redis = config.redisUrl ? createRedis(config.redisUrl) : undefined;
  let redisWarnedAt = Number.NEGATIVE_INFINITY;
  let publishWarnedAt = Number.NEGATIVE_INFINITY;
  // ioredis reports connection trouble as events; without a listener they reach stderr unformatted.
  redis?.on('error', (err: Error) => {
    if (Date.now() - redisWarnedAt < 10_000) return;
    redisWarnedAt = Date.now();
    logger.warn({ err: err.message }, 'Redis connection trouble; the cache is bypassed until it answers');
  });
  if (redis && config.redisUrl) {
    try {
      await redis.connect();
      if (isCluster(redis)) logger.info({ redis: redactUrl(config.redisUrl), primaries: redis.nodes('master').length, replicas: redis.nodes('slave').length }, 'Redis Cluster connected');
      else logger.info({ redis: redactUrl(config.redisUrl) }, 'Redis connected');
      // A node of a cluster named as one server answers only its own slots (MOVED for the rest): said at once.
      if (!isCluster(redis) && /cluster_enabled:1/.test(await redis.info('cluster').catch(() => ''))) {
        logger.warn({ redis: redactUrl(config.redisUrl) }, 'REDIS_URL names one node of a Redis Cluster: name it as a cluster (redis+cluster://host:port,...) or most commands will fail');
      }
    } catch (err) {
      // Redis only ever speeds Junction up; start without it and let ioredis reconnect.
      logger.warn({ redis: redactUrl(config.redisUrl), err: (err as Error).message }, 'Redis unreachable; running without it until it answers');
    }
    healthChecks.push({ name: 'redis', critical: false, probe: async () => void (await redis.ping()) });
  } else {
    logger.info('REDIS_URL is not set: running on in-memory stores (fine for one instance; set REDIS_URL to share state between instances)');
  }

  const auth = await createAuth(config.auth, logger);
  let cacheStore: CacheStore | undefined;
  if (!config.cache) logger.info('CACHE=off: every read reaches its backend');
  else if (redis) cacheStore = createRedisStore(redis, logger);
  else cacheStore = createMemoryStore();
  const rateLimits = createRateLimitEngine(redis);
  // Webhook events reach every instance through Redis pub/sub (a connection of its own: one that
  // subscribes can do nothing else), and their ids and streams live in Redis.
  const subscriber = redis && config.redisUrl ? createRedis(config.redisUrl) : undefined;
  subscriber?.on('error', () => undefined);
  await subscriber?.connect().catch(() => undefined);
  // On a cluster, webhook ids and streams get connections of their own: an event waits there for a
  // replica to hold it (WAIT, gateway/webhooks/store.ts), which would hold up every other command.
  const streams = redis && config.redisUrl && isCluster(redis) ? createRedis(config.redisUrl) : undefined;
  streams?.on('error', () => undefined);
  await streams?.connect().catch(() => undefined);
  // On a cluster of Redis 7 or later, events travel as sharded pub/sub (SSUBSCRIBE), each through its own shard only.
  const sharded = redis ? await supportsShardedPubSub(redis) : false;
  // What every build of the gateway shares, so that a reload (below) loses none of it: where events
  // and their ids, polls' state and services' registrations live, and the event target subscribers
  // listen on. With Redis, every instance shares them too: events reach every instance through Redis
  // pub/sub, one instance polls each topic and delivers each registration.
  const stores = redis && subscriber
    ? {
      webhookStore: createRedisWebhookStore(streams ?? redis),
      // A publish that failed (or timed out) is of an event already kept in its topic's stream; only
      // subscribers listening then may have missed it. One line per 10 s, as for the connection.
      eventTarget: createRedisEventTarget(redis, subscriber, (err, topic) => {
        if (Date.now() - publishWarnedAt < 10_000) return;
        publishWarnedAt = Date.now();
        logger.warn({ topic, err: err.message }, 'webhook event not published to Redis; subscribers may not have heard it');
      }, { sharded }) as JunctionEventTarget,
      pollStore: createRedisPollStore(redis),
      deliveryStore: createRedisDeliveryStore(redis),
    }
    : {
      webhookStore: createMemoryWebhookStore(),
      eventTarget: new EventTarget() as JunctionEventTarget,
      pollStore: createMemoryPollStore(),
      deliveryStore: createMemoryDeliveryStore(),
    };
  const quotas = new Map<string, ReturnType<typeof createUpstreamQuota>>();
  const build = (file: MeshConfig, persistedDocuments: Config['persistedDocuments']) => createGateway({
    config: { ...config, persistedDocuments }, logger, healthChecks, auth, rateLimits, meshConfig: config.meshConfig, sourcesFile: file,
    ...(tracing ? { tracerProvider: tracing.tracerProvider } : {}),
    // Each entry's `quota`, shared by every instance through Redis when there is one (and kept
    // across reloads while the entry's quota is the same).
    sourceQuotas: (source, spec) => {
      if (!spec) return undefined;
      const key = `${source}\u0000${JSON.stringify(spec)}`;
      if (!quotas.has(key)) quotas.set(key, createUpstreamQuota({ source, ...spec }, redis));
      return quotas.get(key);
    },
    ...(cacheStore ? { cacheStore } : {}),
    webhookStore: stores.webhookStore,
    eventTarget: stores.eventTarget,
    pollStore: stores.pollStore,
    // Services' outbound webhooks: their registrations known to every instance through Redis.
    deliveries: { allowedHosts: config.deliveryAllowedHosts ?? [], store: stores.deliveryStore },
  });
  let gateway: Awaited<ReturnType<typeof createGateway>>;
  try {
    gateway = await build(sourcesFile, config.persistedDocuments);
  } catch (err) {
    await embedded?.close();
    throw err;
  }
  /** The gateway serving now: a reload puts another in its place between two requests. */
  const current = () => gateway;
  const report = (built: typeof gateway) => {
    if (built.reports.length === 0) return;
    // The full list of downgrades is long (Stripe has over a thousand): the terminal gets the
    // summary, the file gets every location.
    mkdirSync(dirname(SOURCES_REPORT), { recursive: true });
    writeFileSync(SOURCES_REPORT, `${JSON.stringify(built.reports, null, 2)}\n`);
    process.stdout.write(
      `\nYour sources (from ${config.meshConfig}):\n${formatReport(built.reports)}\nEvery downgrade, by location: ${SOURCES_REPORT}\n`,
    );
  };
  report(gateway);
  let listenerClosed = false;
  // Timeouts set explicitly rather than left to Node's (60 s for headers, 300 s for a request,
  // checked every 30 s): a client sending a byte at a time holds a connection for at most
  // HEADERS_TIMEOUT_MS + BODY_TIMEOUT_MS, give or take the one-second check, before Node answers 408
  // and closes it. The request reader (use-request-reader.ts) refuses a late body sooner, with a GraphQL
  // error; this is the backstop for connections that never get that far.
  const server = createServer({
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.headersTimeoutMs + config.limits.BODY_TIMEOUT_MS,
    connectionsCheckingInterval: 1_000,
    keepAliveTimeout: config.keepAliveTimeoutMs,
  }, (req, res) => {
    // Once the listener is closed, every answer closes its connection, so no client reuses one that is
    // about to go: its next request is refused (ECONNREFUSED, a clean "not taken" it can send
    // elsewhere). Not before: a client told to reconnect while the listener is still open queues in
    // the kernel's accept queue, and the listener closing resets every connection queued there (see stop).
    if (listenerClosed) res.setHeader('connection', 'close');
    void current().yoga(req, res);
  });
  // keepAliveTimeout above: idle connections stay open longer than a balancer keeps its own (see
  // KEEP_ALIVE_TIMEOUT_MS). Reused connections also matter under load: a saturated event loop
  // accepts one new connection per turn (libuv 1.45+), so a client that must open new ones waits
  // for it (BENCHMARKS.md).
  // GraphQL over WebSocket (graphql-transport-ws) on the same /graphql.
  const closeWebSockets = attachWebSocket(server, current, { maxPayloadBytes: config.limits.MAX_BODY_BYTES, keepAliveMs: config.limits.KEEPALIVE_MS, allowedOrigins: config.corsOrigins });
  const url = await listen(server, config.port, config.host);
  // METRICS_PORT: `/metrics` for Prometheus, to anyone who reaches the port (kept off the public
  // network); everything else there is 404. Unset: developers read it on the main port.
  const metricsServer = config.metricsPort === undefined || !config.metrics ? undefined : createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    current().metrics().then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body), () => res.writeHead(500).end());
  });
  const metricsUrl = metricsServer && config.metricsPort !== undefined ? await listen(metricsServer, config.metricsPort, config.host) : undefined;
  // Embedded backends that send webhooks send them to this gateway from now on.
  embedded?.attach?.(url);

  const lines = [
    '',
    `Junction (${config.mode}) is listening`,
    `  GraphQL   ${url}/graphql${config.mode === 'development' ? '   (open it in a browser for GraphiQL)' : ''}`,
    `  realtime  ${url}/graphql (SSE)   ${url.replace('http', 'ws')}/graphql (WebSocket)   ${url}/graphql/stream (SSE, one connection)`,
    `  health    ${url}/healthz   readiness ${url}/readyz`,
    ...(tracing ? [`  traces    ${tracing.exporters.join(', ')} as service ${tracing.serviceName} (OTEL_* variables)`] : []),
    `  metrics   ${!config.metrics ? 'off (METRICS=off)' : metricsUrl ? `${metricsUrl}/metrics` : `${url}/metrics   (developers only; METRICS_PORT serves Prometheus)`}`,
    ...(auth.devIssuer ? [`  tokens    dev issuer (GraphiQL has one already); another: npm run -s token -- --sub alice --scopes "<scope> ..."`] : []),
    // What the `embedded` module started in this process (the demo's backends, on a fresh clone).
    ...(embedded?.started ?? []).map(({ name, url: at }) => `  ${name.padEnd(9)} ${at}   (demo backend)`),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  // Reload: SIGHUP, or (JUNCTION_WATCH=on, as `junction dev` sets) a change to the sources file, a
  // spec, the contract or a module the file names. The new gateway is built beside the one serving,
  // from the files as they are now, and put in its place between two requests: requests in flight
  // finish on the old one, which then ends its subscriptions (GATEWAY_RELOADED: subscribe again, from
  // the cursor) and stops its polls and deliveries, which the new one takes over from the shared
  // stores. A build that fails leaves the old one serving and says why. One reload at a time; a
  // change during one starts another when it is done.
  let reloading = false;
  let reloadAgain: string | undefined;
  let stopWatching: (() => void) | undefined;
  const watchFiles = (file: MeshConfig) => {
    if (!config.watch) return;
    stopWatching?.();
    stopWatching = watchFolders(foldersOf(file), (files) => void reload(`changed: ${files.map((f) => relative(process.cwd(), f)).join(', ')}`));
  };
  const reload = async (why: string): Promise<void> => {
    if (stopping) return;
    if (reloading) {
      reloadAgain = why;
      return;
    }
    reloading = true;
    const started = performance.now();
    logger.info({ why }, 'reloading: building the new configuration beside the one serving');
    try {
      // The environment does not change under a running process, but the files it names may: the
      // persisted documents are read again (a bad file fails the reload, as it would fail a start).
      const { persistedDocuments } = loadConfig(process.env);
      // Development runs the contract's code as it is on disk now; production keeps the code it
      // started with (a code change there is a deploy: a new process).
      if (config.mode === 'development') renewModules();
      const file = readMeshConfig(config.meshConfig, { ...config.sourceEnv, ...embedded?.env });
      const next = await build(file, persistedDocuments);
      if (stopping) {
        await next.close();
        return;
      }
      const previous = gateway;
      gateway = next;
      previous.endSubscriptions('GATEWAY_RELOADED');
      await previous.close();
      report(next);
      watchFiles(file);
      logger.info({ why, ms: Math.round(performance.now() - started) }, 'reloaded: new requests are served by the new configuration');
    } catch (err) {
      const code = startupCode(err);
      logger.error({ why, ...(code ? { code } : {}), err: err instanceof Error ? err.message : String(err) }, 'reload failed: still serving the previous configuration');
    } finally {
      reloading = false;
      const again = reloadAgain;
      reloadAgain = undefined;
      if (again !== undefined) void reload(again);
    }
  };
  process.on('SIGHUP', () => void reload('SIGHUP'));
  watchFiles(sourcesFile);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    stopWatching?.();
    logger.info({ signal, drainMs: config.drainMs }, 'shutting down: readiness is 503, requests in flight finish');
    // Readiness fails first, so load balancers stop sending. Then the listener closes, and from then
    // on every answer closes its connection. Idle keep-alive connections get a grace second to be
    // used (and so closed cleanly) before they are closed: closing one at once races a client already
    // sending on it. Requests in flight finish, for at most DRAIN_MS in all.
    gateway.drain();
    // SIGTERM (an orchestrator): keep taking requests, on kept-alive connections, while balancers
    // notice the 503, so that none races the listener closing. SIGINT (a person at a terminal): no wait.
    if (signal === 'SIGTERM' && config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
    // Closing a listening socket resets every connection the kernel has completed but Node has not
    // yet accepted, and their clients may have sent a request already. libuv accepts one connection
    // per turn of the event loop, so under load such a queue builds up: take what is queued first.
    await acceptPending(server, Math.min(ACCEPT_PENDING_MAX_MS, config.drainMs));
    // net.Server's close, not http.Server's: since Node 19 the latter also closes every idle
    // keep-alive connection at once, including those a client is sending its next request on right
    // now (it gets ECONNRESET). Idle connections are closed after the grace period below instead.
    const drained = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
    listenerClosed = true;
    // Subscriptions never finish by themselves: each ends now with a last message saying why
    // (SHUTTING_DOWN, over SSE) and WebSockets close with 1001, so that clients resume on another
    // instance (the listener is closed: they cannot come back here) instead of waiting out DRAIN_MS.
    gateway.endSubscriptions();
    const socketsClosed = closeWebSockets().catch(() => undefined);
    let idle: NodeJS.Timeout | undefined;
    const grace = setTimeout(() => {
      server.closeIdleConnections();
      idle = setInterval(() => server.closeIdleConnections(), 100);
    }, Math.min(IDLE_GRACE_MS, config.drainMs));
    const timedOut = await Promise.race([drained.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), config.drainMs).unref())]);
    clearTimeout(grace);
    clearInterval(idle);
    if (timedOut) logger.warn({ drainMs: config.drainMs }, 'requests still in flight after DRAIN_MS; closing them');
    await socketsClosed;
    server.closeAllConnections();
    // Before Redis goes: this instance's poll leases are given up for another to take over at once.
    await gateway.close();
    await embedded?.close();
    metricsServer?.close();
    // The spans still queued are exported before the process goes.
    await tracing?.shutdown().catch(() => undefined);
    redis?.disconnect();
    subscriber?.disconnect();
    streams?.disconnect();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * Resolves in the first turn of the event loop that accepts no new connection (so the kernel's
 * accept queue was empty when that turn polled), or after maxMs if clients keep connecting.
 */
function acceptPending(server: Server, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    let accepted = 0;
    const onConnection = () => void (accepted += 1);
    server.on('connection', onConnection);
    const until = performance.now() + maxMs;
    let seen = -1;
    // setImmediate, not a timer: each callback runs just after a poll for I/O, which accepts one
    // queued connection if there is one; resolving here leaves no poll before the caller closes.
    const turn = () => {
      if (accepted === seen || performance.now() >= until) {
        server.off('connection', onConnection);
        resolve();
        return;
      }
      seen = accepted;
      setImmediate(turn);
    };
    setImmediate(turn);
  });
}

/** Start-up refused: `Junction failed to start [CODE]: ...` (gateway/errors.ts STARTUP_ERRORS), exit 1. */
function failStart(err: unknown): never {
  const code = startupCode(err);
  process.stderr.write(`Junction failed to start${code ? ` [${code}]` : ''}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

main().catch(failStart);
