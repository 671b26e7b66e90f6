import { Writable } from 'node:stream';
import { createLogger } from '../../gateway/logger.ts';
import { createGateway, type Gateway, type GatewayOptions } from '../../gateway/create-gateway.ts';
import { DEFAULTS } from '../../gateway/config.ts';
import { SOURCE_NAMES, startDemoBackends, type SourceName } from '../../sources/demo/index.ts';
import { createSeed, type Seed } from '../../sources/demo/seed.ts';
import type { DemoBackend } from '../../sources/demo/server.ts';
import type { StatsSnapshot } from '../../sources/demo/stats.ts';
import { randomCredentials, type SourceCredentials } from '../../sources/demo/credentials.ts';
import { createAuth } from '../../gateway/auth/index.ts';
import type { CacheStore } from '../../gateway/upstream/cache.ts';
import { DEFAULT_LIMITS, type Limits } from '../../gateway/plugins/limits/limits.ts';
import type { RateLimitEngine } from '../../gateway/plugins/limits/rate-limits.ts';
import type { AuthConfig } from '../../gateway/config.ts';
import { createTestIssuer, TEST_AUTH, type TestIssuer } from './test-issuer.ts';

export interface GraphQLResponse<TData = Record<string, any>> {
  status: number;
  headers: Headers;
  body: { data?: TData | null; errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[]; extensions?: Record<string, any> };
}

export interface Harness {
  gateway: Gateway;
  backends: Record<SourceName, DemoBackend>;
  seed: Seed;
  /** Every log line the gateway wrote, parsed. */
  logs: Record<string, any>[];
  /** Signs tokens the gateway accepts (and, with overrides, tokens it must refuse). */
  issuer: TestIssuer;
  /** What the backends accept and the gateway sends. */
  credentials: SourceCredentials;
  /**
   * POSTs a GraphQL request through the gateway's public HTTP surface (in process), as a user
   * holding every demo scope unless `headers` names `authorization` or `x-api-key` itself
   * (an empty value sends no such header: an anonymous request).
   */
  query<TData = Record<string, any>>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse<TData>>;
  /** A raw request to the gateway, e.g. `fetch('/readyz')`. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Each backend's counters, as served by its `/_stats`. */
  stats(): Promise<Record<SourceName, StatsSnapshot>>;
  resetStats(): Promise<void>;
  /**
   * Arms a fault on a backend over HTTP (`POST /_faults`): it fails (`failure`, the default), or
   * refuses the request as the caller's error (`rejection`).
   */
  fault(source: SourceName, operation: string, count?: number, kind?: 'failure' | 'rejection'): Promise<void>;
  /** Clears every armed fault on every backend (`DELETE /_faults`). */
  clearFaults(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  mode?: 'development' | 'production';
  upstream?: Partial<GatewayOptions['config']['upstream']>;
  /** Point a source somewhere other than its demo backend (e.g. a closed port): its `<NAME>_URL`. */
  sourceUrls?: Partial<Record<SourceName, string>> | ((backends: Record<SourceName, DemoBackend>) => Promise<Partial<Record<SourceName, string>>>);
  /** Per-source call timeouts (`<NAME>_TIMEOUT_MS`, read by .meshrc.yaml). */
  sourceTimeouts?: Partial<Record<SourceName, number>>;
  /** Breaker and retry settings of every source (gateway config). */
  resilience?: GatewayOptions['config']['resilience'];
  /** A sources file other than .meshrc.yaml (user sources). */
  meshConfig?: string;
  /** More values for `{env.NAME}` in the sources file, given the demo backends' URLs. */
  env?: (backends: Record<SourceName, DemoBackend>, credentials: SourceCredentials) => Record<string, string | undefined>;
  /** Auth settings over the test issuer's (e.g. a remote JWKS URL, API keys). */
  auth?: (issuer: TestIssuer) => Partial<AuthConfig>;
  /** Clock for token checks, in ms. */
  now?: () => number;
  /**
   * The cache store (entities and responses). Default none, so that call counts are the
   * backends' own: tests of the cache pass one (createMemoryStore, or createRedisStore on a real Redis).
   */
  cacheStore?: CacheStore;
  /** Limits over the defaults (gateway/plugins/limits/limits.ts). */
  limits?: Partial<Limits>;
  trustedProxies?: string[];
  /** Rate limit counting; default in memory. */
  rateLimits?: RateLimitEngine;
  /** Providers' rate limits kept on the gateway's side (`quota` of each entry), counted where this says. */
  sourceQuotas?: GatewayOptions['sourceQuotas'];
  /** Documents browsers may send, by SHA-256. */
  persistedDocuments?: ReadonlyMap<string, string>;
  /** Browser origins allowed cross-origin (CORS_ORIGINS). Default none. */
  corsOrigins?: string[];
  /** More plugins, after Junction's own (createGateway's `plugins`). */
  plugins?: GatewayOptions['plugins'];
  /** Where webhook deliveries are kept (default: in memory) and events published (default: in process). */
  webhookStore?: GatewayOptions['webhookStore'];
  eventTarget?: GatewayOptions['eventTarget'];
  /** Which instance polls, and what it saw (default: in memory). */
  pollStore?: GatewayOptions['pollStore'];
  /**
   * When polls run. Default: never, so that no test's call counts include a poll's; a test of
   * polling passes a scheduler it runs by hand.
   */
  pollScheduler?: GatewayOptions['pollScheduler'];
  /** OpenTelemetry traces (createGateway's `tracerProvider`); default none: tracing off. */
  tracerProvider?: GatewayOptions['tracerProvider'];
}

/** Real demo backends on free ports, and a gateway over them, driven through `yoga.fetch`. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const seed = createSeed();
  const credentials = randomCredentials();
  const issuer = await createTestIssuer();
  const backends = (await startDemoBackends({ seed, credentials })) as Record<SourceName, DemoBackend>;
  const logs: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const overrides = typeof options.sourceUrls === 'function' ? await options.sourceUrls(backends) : options.sourceUrls;
  // The demo sources are entries of .meshrc.yaml like any other: they are pointed at these backends,
  // with these credentials, through the variables the file reads.
  const env: Record<string, string | undefined> = {
    PAYMENTS_URL: overrides?.payments ?? backends.payments.url,
    MAPS_URL: overrides?.maps ?? backends.maps.url,
    MESSAGING_URL: overrides?.messaging ?? backends.messaging.url,
    PAYMENTS_SECRET_KEY: credentials.payments.secretKey,
    PAYMENTS_WEBHOOK_SECRET: credentials.payments.webhookSecret,
    MAPS_USERNAME: credentials.maps.username,
    MAPS_API_KEY: credentials.maps.apiKey,
    MESSAGING_ACCOUNT_SID: credentials.messaging.accountSid,
    MESSAGING_AUTH_TOKEN: credentials.messaging.authToken,
    // Twilio signs its status callbacks with the account's auth token.
    MESSAGING_WEBHOOK_SECRET: credentials.messaging.authToken,
    ...Object.fromEntries(Object.entries(options.sourceTimeouts ?? {}).map(([name, ms]) => [`${name.toUpperCase()}_TIMEOUT_MS`, String(ms)])),
    ...options.env?.(backends, credentials),
  };
  let gateway: Gateway;
  const logger = createLogger('info', sink);
  try {
    const authConfig: AuthConfig = { ...TEST_AUTH, keys: { kind: 'file', jwks: issuer.jwks }, ...options.auth?.(issuer) };
    const auth = await createAuth(authConfig, logger, options.now ? { now: options.now } : {});
    gateway = await createGateway({
      auth,
      // A busy test machine must not shed the tests' requests; tests feed samples by hand.
      watchEventLoop: false,
      ...(options.cacheStore ? { cacheStore: options.cacheStore } : {}),
      ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
      ...(options.sourceQuotas ? { sourceQuotas: options.sourceQuotas } : {}),
      ...(options.plugins ? { plugins: options.plugins } : {}),
      ...(options.webhookStore ? { webhookStore: options.webhookStore } : {}),
      ...(options.eventTarget ? { eventTarget: options.eventTarget } : {}),
      ...(options.pollStore ? { pollStore: options.pollStore } : {}),
      pollScheduler: options.pollScheduler ?? { schedule: () => () => undefined },
      ...(options.tracerProvider ? { tracerProvider: options.tracerProvider } : {}),
      config: {
        limits: { ...DEFAULT_LIMITS, ...options.limits },
        trustedProxies: options.trustedProxies ?? [],
        ...(options.resilience ? { resilience: options.resilience } : {}),
        ...(options.persistedDocuments ? { persistedDocuments: options.persistedDocuments } : {}),
        ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
        mode: options.mode ?? 'production',
        upstream: {
          timeoutMs: options.upstream?.timeoutMs ?? DEFAULTS.upstreamTimeoutMs,
          maxResponseBytes: options.upstream?.maxResponseBytes ?? DEFAULTS.upstreamMaxResponseBytes,
          ...(options.upstream?.requestDeadlineMs !== undefined ? { requestDeadlineMs: options.upstream.requestDeadlineMs } : {}),
        },
      },
      logger,
      env,
      ...(options.meshConfig ? { meshConfig: options.meshConfig } : {}),
    });
  } catch (err) {
    // A gateway that cannot start must not leave the backends listening.
    await Promise.allSettled(Object.values(backends).map((b) => b.close()));
    throw err;
  }

  // As over real HTTP, the connection has a peer address: `x-test-remote-address` sets it (the
  // header itself is taken off), else every request comes from 192.0.2.10.
  const fetchGateway = (path: string, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const remoteAddress = headers.get('x-test-remote-address') ?? '192.0.2.10';
    headers.delete('x-test-remote-address');
    return Promise.resolve(gateway.yoga.fetch(new Request(`http://junction.test${path}`, { ...init, headers }), { req: { socket: { remoteAddress } } }));
  };

  const fullAccess = await issuer.token();
  return {
    gateway,
    backends,
    seed,
    logs,
    issuer,
    credentials,
    async query(query, variables, headers = {}) {
      const identity = 'authorization' in headers || 'x-api-key' in headers ? {} : { authorization: `Bearer ${fullAccess}` };
      const sent = Object.fromEntries(Object.entries({ ...identity, ...headers }).filter(([, v]) => v !== ''));
      const response = await fetchGateway('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...sent },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, headers: response.headers, body: await response.json() };
    },
    fetch: fetchGateway,
    async stats() {
      const entries = await Promise.all(
        SOURCE_NAMES.map(async (name) => [name, await (await fetch(`${backends[name].url}/_stats`)).json()] as const),
      );
      return Object.fromEntries(entries) as Record<SourceName, StatsSnapshot>;
    },
    async resetStats() {
      await Promise.all(SOURCE_NAMES.map((name) => fetch(`${backends[name].url}/_stats/reset`, { method: 'POST' }).then((r) => r.arrayBuffer())));
    },
    async fault(source, operation, count = 1, kind = 'failure') {
      const response = await fetch(`${backends[source].url}/_faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ operation, count, kind }),
      });
      if (!response.ok) throw new Error(`arming ${source}.${operation} failed: ${response.status}`);
    },
    async clearFaults() {
      await Promise.all(SOURCE_NAMES.map((name) => fetch(`${backends[name].url}/_faults`, { method: 'DELETE' }).then((r) => r.arrayBuffer())));
    },
    async close() {
      await gateway.close();
      await Promise.allSettled(Object.values(backends).map((b) => b.close()));
    },
  };
}

/** Upstream calls per backend, from a stats snapshot: `{ payments: 2, maps: 1, messaging: 0 }`. */
export function callCounts(stats: Record<SourceName, StatsSnapshot>): Record<SourceName, number> {
  return Object.fromEntries(SOURCE_NAMES.map((n) => [n, stats[n].total])) as Record<SourceName, number>;
}
