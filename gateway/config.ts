import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JSONWebKeySet } from 'jose';
import { z } from 'zod';
import type { ApiKeyEntry } from './auth/api-keys.ts';
import { DEFAULT_LIMITS, type Limits } from './plugins/limits/limits.ts';
import { normaliseAllowedHost } from './webhooks/address-guard.ts';
import { parseRedisUrl, redactUrl } from './redis.ts';

/**
 * Everything Junction can be told, read from the environment once at start-up, validated as a
 * whole (every problem reported at once, each naming its variable and the value received),
 * then frozen. `main.ts` is the only caller with `process.env`; tests pass plain objects.
 */

export const DEFAULTS = Object.freeze({
  port: 4000,
  host: '127.0.0.1',
  upstreamTimeoutMs: 5_000,
  upstreamMaxResponseBytes: 5 * 1024 * 1024,
  /** Longest a request may wait on backends, in ms: calls are cut to what is left of it. */
  requestDeadlineMs: 10_000,
  /** Longest SIGTERM waits for requests in flight before the process exits, in ms. */
  drainMs: 10_000,
  /** After SIGTERM, how long new requests are still taken (readiness already 503), in ms. */
  shutdownDelayMs: 2_000,
  /**
   * How long an idle client connection is kept open, in ms: longer than balancers keep theirs
   * (60 s is common), so the balancer, not Junction, closes an idle connection and never sends on
   * one Junction is closing (Node's 5 s default answers that race with a reset, a 502 upstream).
   */
  keepAliveTimeoutMs: 65_000,
  /**
   * How long a client may take to send a request's headers, in ms; the whole request (headers and
   * body) gets this plus BODY_TIMEOUT_MS before Node answers 408 and closes the connection.
   */
  headersTimeoutMs: 10_000,
  /** How long `/readyz` keeps one round of backend probes, in ms: a flood of probes costs the backends one round per interval. */
  readyCacheMs: 1_000,
  logLevel: 'info',
  auth: {
    algorithms: ['RS256'] as ('RS256' | 'ES256')[],
    clockToleranceSec: 30,
    tokenTypes: ['at+jwt'],
    jwksMaxAgeSec: 600,
    jwksStaleIfErrorSec: 86_400,
    jwksCooldownSec: 30,
  },
});

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://127.0.0.1:4101' });
const port = z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(0).max(65_535);
const positiveInt = (max: number) =>
  z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(max, `must be at most ${max}`);

/** A comma- or space-separated list. */
const list = <T extends z.ZodType<string, string>>(item: T) =>
  z.string().transform((v) => v.split(/[\s,]+/).filter((x) => x !== '')).pipe(z.array(item).min(1, 'must name at least one'));

const apiKeyEntries = z.array(z.strictObject({
  service: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the hex SHA-256 of the key (npm run -s api-key)'),
  scopes: z.array(z.string().min(1)),
}));

const envSchema = z.object({
  NODE_ENV: z.string().optional(),
  PORT: port.default(DEFAULTS.port),
  HOST: z.string().min(1).default(DEFAULTS.host),
  METRICS_PORT: port.optional(),
  JUNCTION_WATCH: z.enum(['on', 'off'], { error: 'must be on or off' }).default('off'),
  UPSTREAM_TIMEOUT_MS: positiveInt(120_000).default(DEFAULTS.upstreamTimeoutMs),
  UPSTREAM_MAX_RESPONSE_BYTES: positiveInt(256 * 1024 * 1024).default(DEFAULTS.upstreamMaxResponseBytes),
  REDIS_URL: z.string().superRefine((url, ctx) => {
    try {
      parseRedisUrl(url);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CACHE: z.enum(['on', 'off'], { error: 'must be on or off' }).default('on'),
  METRICS: z.enum(['on', 'off'], { error: 'must be on or off' }).default('on'),
  PERSISTED_DOCUMENTS_FILE: z.string().optional(),
  REQUEST_DEADLINE_MS: positiveInt(300_000).default(DEFAULTS.requestDeadlineMs),
  DRAIN_MS: positiveInt(300_000).default(DEFAULTS.drainMs),
  SHUTDOWN_DELAY_MS: z.coerce.number({ error: 'must be a number' }).int().min(0).max(60_000).default(DEFAULTS.shutdownDelayMs),
  KEEP_ALIVE_TIMEOUT_MS: positiveInt(600_000).default(DEFAULTS.keepAliveTimeoutMs),
  HEADERS_TIMEOUT_MS: positiveInt(600_000).default(DEFAULTS.headersTimeoutMs),
  READY_CACHE_MS: z.coerce.number({ error: 'must be a number' }).int().min(0).max(60_000).default(DEFAULTS.readyCacheMs),
  JUNCTION_CONFIG: z.string().min(1).default('.meshrc.yaml'),
  CORS_ORIGINS: z.string().transform((v) => v.split(/[\s,]+/).filter((x) => x !== '')).pipe(z.array(z.string().refine(isOrigin, 'each must be an origin such as https://app.example.com (scheme, host and port only), or *'))).optional(),
  TRUSTED_PROXIES: z.string().transform((v) => v.split(/[\s,]+/).filter((x) => x !== '')).optional(),
  DELIVERY_ALLOWED_HOSTS: z.string().transform((v) => v.split(/[\s,]+/).filter((x) => x !== '')).pipe(z.array(z.string().refine((entry) => normaliseAllowedHost(entry) !== undefined, 'each must be a host or host:port, e.g. hooks.internal.example:8443 or [fd00::5]'))).optional(),
  ...Object.fromEntries(Object.entries(DEFAULT_LIMITS).map(([name, value]) => [name, positiveInt(1_000_000_000).default(value)])) as { [K in keyof Limits]: z.ZodDefault<ReturnType<typeof positiveInt>> },
  AUTH_JWKS_URL: url.optional(),
  AUTH_JWKS_FILE: z.string().optional(),
  AUTH_ISSUER: z.string().optional(),
  AUTH_AUDIENCE: z.string().optional(),
  AUTH_SERVICE_AUDIENCE: z.string().optional(),
  AUTH_ALGORITHMS: list(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).default([...DEFAULTS.auth.algorithms]),
  AUTH_TOKEN_TYPES: list(z.string().min(1)).default([...DEFAULTS.auth.tokenTypes]),
  AUTH_CLOCK_TOLERANCE_SEC: z.coerce.number({ error: 'must be a number' }).int().min(0).max(300).default(DEFAULTS.auth.clockToleranceSec),
  AUTH_JWKS_MAX_AGE_SEC: positiveInt(86_400).default(DEFAULTS.auth.jwksMaxAgeSec),
  AUTH_JWKS_STALE_IF_ERROR_SEC: z.coerce.number({ error: 'must be a number' }).int().min(0).max(7 * 86_400).default(DEFAULTS.auth.jwksStaleIfErrorSec),
  AUTH_JWKS_COOLDOWN_SEC: positiveInt(3_600).default(DEFAULTS.auth.jwksCooldownSec),
  AUTH_API_KEYS_FILE: z.string().optional(),
  JUNCTION_SECRETS_FILE: z.string().optional(),
});


export interface Config {
  /** development shows GraphiQL, introspection and error details; production hides them. */
  mode: 'development' | 'production';
  port: number;
  host: string;
  /**
   * Where `/metrics` is served to anyone who reaches it, on HOST (METRICS_PORT): a port kept off
   * the public network. Unset: on the main port only, to developers (gateway/metrics/metrics.ts).
   */
  metricsPort: number | undefined;
  /** Reload on a change to the configuration's files (JUNCTION_WATCH=on; `junction dev` sets it). */
  watch: boolean;
  upstream: Readonly<{ timeoutMs: number; maxResponseBytes: number; requestDeadlineMs?: number }>;
  /** SIGTERM: how long in-flight requests may take to finish. */
  drainMs: number;
  /** SIGTERM: how long new requests are still taken while balancers notice readiness is 503. */
  shutdownDelayMs: number;
  /** How long an idle client connection stays open. */
  keepAliveTimeoutMs: number;
  /** How long a client may take to send a request's headers (Node's `headersTimeout`). */
  headersTimeoutMs: number;
  /** How long one round of `/readyz` backend probes is kept and shared. */
  readyCacheMs: number;
  /** The sources file (JUNCTION_CONFIG, a GraphQL Mesh v0 `.meshrc.yaml`); its relative paths are read from its folder. */
  meshConfig: string;
  /**
   * Browser origins allowed to call Junction cross-origin (CORS_ORIGINS); empty: none, so no page
   * on another origin can read an answer. `*` allows every origin, without credentials.
   */
  corsOrigins: readonly string[];
  /** Unset: in-memory stores, and the log says so. */
  redisUrl: string | undefined;
  /** The entity and response caches (in Redis with REDIS_URL, else in memory); off: every read reaches a backend. */
  cache: boolean;
  /** Prometheus metrics counted and served (METRICS=off: neither, for deployments that measure otherwise). */
  metrics: boolean;
  /** What clients may send (gateway/plugins/limits/limits.ts). */
  limits: Limits;
  /** Proxies whose `x-forwarded-for` is believed when telling anonymous clients apart. */
  trustedProxies: readonly string[];
  /**
   * Hosts (`host` or `host:port`) services' deliveries may be posted to although they resolve to
   * private or other refused addresses, or over http in production (DELIVERY_ALLOWED_HOSTS).
   * Unset: none, public https addresses only.
   */
  deliveryAllowedHosts: readonly string[] | undefined;
  /** Documents browsers may send, by SHA-256 (PERSISTED_DOCUMENTS_FILE); undefined: any document. */
  persistedDocuments: ReadonlyMap<string, string> | undefined;
  auth: AuthConfig;
  /**
   * What the sources file's `{env.NAME}` references are read from: the environment, over the
   * secrets of JUNCTION_SECRETS_FILE (a backend's URL, credentials, timeout and quota live there).
   */
  sourceEnv: Readonly<Record<string, string>>;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}

export interface AuthConfig {
  /** Where signing keys come from: a JWKS URL, a JWKS file, or the embedded dev issuer (development only). */
  keys: { kind: 'remote'; url: string } | { kind: 'file'; jwks: JSONWebKeySet } | { kind: 'dev' } | { kind: 'none' };
  issuer: string | undefined;
  audience: string | undefined;
  serviceAudience: string | undefined;
  algorithms: string[];
  tokenTypes: string[];
  clockToleranceSec: number;
  jwks: { maxAgeMs: number; staleIfErrorMs: number; cooldownMs: number };
  apiKeys: ApiKeyEntry[];
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Junction cannot start: the configuration has ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Validates the environment. Production is the default: only `NODE_ENV=development` turns on
 * GraphiQL, introspection and unmasked errors (`npm start` sets it unless NODE_ENV is given).
 */
export function loadConfig(env: Record<string, string | undefined>, readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): Config {
  // Empty strings are what `FOO= npm start` produces; treat them as unset rather than invalid.
  let cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const problems: string[] = [];
  const readJson = (key: string, path: string): unknown => {
    try {
      return JSON.parse(readFile(path));
    } catch (err) {
      problems.push(`${key}=${JSON.stringify(path)}: cannot be read as JSON (${(err as Error).message})`);
      return undefined;
    }
  };
  if (cleaned.JUNCTION_SECRETS_FILE) {
    // Secrets kept out of the environment (a mounted file); a variable set in the environment wins.
    const secrets = readJson('JUNCTION_SECRETS_FILE', cleaned.JUNCTION_SECRETS_FILE);
    if (secrets && typeof secrets === 'object' && !Array.isArray(secrets)) {
      // Any NAME the sources file reads as {env.NAME}: a backend's key, token or password.
      for (const [key, value] of Object.entries(secrets)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) problems.push(`JUNCTION_SECRETS_FILE: ${JSON.stringify(key)} is not a variable name`);
        else if (typeof value !== 'string') problems.push(`JUNCTION_SECRETS_FILE: ${key} must be a string`);
      }
      cleaned = { ...(secrets as Record<string, string>), ...cleaned };
    } else if (secrets !== undefined) problems.push('JUNCTION_SECRETS_FILE: must hold a JSON object of NAME: "value"');
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError([
      ...problems,
      ...parsed.error.issues.map((issue) => {
        const key = String(issue.path[0]);
        // A Redis URL may carry a password: never shown.
        const shown = JSON.stringify(key === 'REDIS_URL' && cleaned[key] ? redactUrl(cleaned[key]) : cleaned[key]);
        return `${key}=${shown}: ${issue.message}`;
      }),
    ]);
  }
  const e = parsed.data;
  const mode = e.NODE_ENV === 'development' ? 'development' : 'production';
  const auth = authConfig(e, mode, problems, readJson);
  const persistedDocuments = e.PERSISTED_DOCUMENTS_FILE ? persistedFrom(readJson('PERSISTED_DOCUMENTS_FILE', e.PERSISTED_DOCUMENTS_FILE), problems) : undefined;
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze({
    mode,
    port: e.PORT,
    host: e.HOST,
    metricsPort: e.METRICS_PORT,
    watch: e.JUNCTION_WATCH === 'on',
    upstream: { timeoutMs: e.UPSTREAM_TIMEOUT_MS, maxResponseBytes: e.UPSTREAM_MAX_RESPONSE_BYTES, requestDeadlineMs: e.REQUEST_DEADLINE_MS },
    drainMs: e.DRAIN_MS,
    shutdownDelayMs: e.SHUTDOWN_DELAY_MS,
    keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    readyCacheMs: e.READY_CACHE_MS,
    meshConfig: e.JUNCTION_CONFIG,
    corsOrigins: e.CORS_ORIGINS ?? [],
    redisUrl: e.REDIS_URL,
    cache: e.CACHE === 'on',
    metrics: e.METRICS === 'on',
    limits: Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((name) => [name, e[name as keyof Limits]])) as unknown as Limits,
    trustedProxies: e.TRUSTED_PROXIES ?? [],
    deliveryAllowedHosts: e.DELIVERY_ALLOWED_HOSTS,
    persistedDocuments,
    logLevel: e.LOG_LEVEL,
    auth,
    sourceEnv: cleaned as Record<string, string>,
  } satisfies Config);
}

/** `https://host[:port]` exactly as a browser sends it in `Origin` (no path, no trailing slash), or `*`. */
function isOrigin(value: string): boolean {
  if (value === '*') return true;
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

/** `{ "<sha256 of the document>": "<document>" }`, each hash checked, as Apollo's persisted queries. */
function persistedFrom(value: unknown, problems: string[]): Map<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    problems.push('PERSISTED_DOCUMENTS_FILE: must hold a JSON object of "<sha256>": "<document>"');
    return undefined;
  }
  const documents = new Map<string, string>();
  for (const [hash, document] of Object.entries(value)) {
    if (typeof document !== 'string' || createHash('sha256').update(document).digest('hex') !== hash.toLowerCase()) {
      problems.push(`PERSISTED_DOCUMENTS_FILE: "${hash.slice(0, 16)}..." is not the SHA-256 of its document`);
      continue;
    }
    documents.set(hash.toLowerCase(), document);
  }
  return documents;
}

function authConfig(
  e: z.infer<typeof envSchema>,
  mode: Config['mode'],
  problems: string[],
  readJson: (key: string, path: string) => unknown,
): AuthConfig {
  let apiKeys: ApiKeyEntry[] = [];
  if (e.AUTH_API_KEYS_FILE) {
    const parsed = apiKeyEntries.safeParse(readJson('AUTH_API_KEYS_FILE', e.AUTH_API_KEYS_FILE));
    if (parsed.success) apiKeys = parsed.data;
    else problems.push(...parsed.error.issues.map((i) => `AUTH_API_KEYS_FILE: [${i.path.join('.')}] ${i.message}`));
  }
  let keys: AuthConfig['keys'];
  if (e.AUTH_JWKS_URL && e.AUTH_JWKS_FILE) {
    problems.push('AUTH_JWKS_URL and AUTH_JWKS_FILE: both set; keys come from one place');
    keys = { kind: 'none' };
  } else if (e.AUTH_JWKS_URL) keys = { kind: 'remote', url: e.AUTH_JWKS_URL };
  else if (e.AUTH_JWKS_FILE) {
    const jwks = readJson('AUTH_JWKS_FILE', e.AUTH_JWKS_FILE) as JSONWebKeySet | undefined;
    if (jwks !== undefined && !Array.isArray(jwks?.keys)) problems.push(`AUTH_JWKS_FILE=${JSON.stringify(e.AUTH_JWKS_FILE)}: must hold a JWKS ({"keys": [...]})`);
    keys = { kind: 'file', jwks: jwks ?? { keys: [] } };
  } else if (mode === 'development') keys = { kind: 'dev' };
  else {
    keys = { kind: 'none' };
    if (apiKeys.length === 0) {
      problems.push('AUTH_JWKS_URL: not set; production needs AUTH_JWKS_URL (or AUTH_JWKS_FILE) with AUTH_ISSUER and AUTH_AUDIENCE, and/or AUTH_API_KEYS_FILE. The embedded dev issuer runs only with NODE_ENV=development.');
    }
  }
  if (keys.kind === 'remote' || keys.kind === 'file') {
    if (!e.AUTH_ISSUER) problems.push('AUTH_ISSUER: not set; tokens are only accepted from a named issuer');
    if (!e.AUTH_AUDIENCE) problems.push('AUTH_AUDIENCE: not set; tokens are only accepted for a named audience');
  }
  return {
    keys,
    issuer: e.AUTH_ISSUER,
    audience: e.AUTH_AUDIENCE,
    serviceAudience: e.AUTH_SERVICE_AUDIENCE,
    algorithms: e.AUTH_ALGORITHMS,
    tokenTypes: e.AUTH_TOKEN_TYPES,
    clockToleranceSec: e.AUTH_CLOCK_TOLERANCE_SEC,
    jwks: { maxAgeMs: e.AUTH_JWKS_MAX_AGE_SEC * 1000, staleIfErrorMs: e.AUTH_JWKS_STALE_IF_ERROR_SEC * 1000, cooldownMs: e.AUTH_JWKS_COOLDOWN_SEC * 1000 },
    apiKeys,
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
