import { z } from 'zod';
import { DEMO_PORTS, type SourceName } from '../sources/index.ts';

/**
 * Everything Junction can be told, read from the environment once at start-up, validated as a
 * whole (every problem reported at once, each naming its variable and the value received),
 * then frozen. `main.ts` is the only caller with `process.env`; tests pass plain objects.
 */

export const DEFAULTS = Object.freeze({
  port: 4000,
  host: '127.0.0.1',
  /** Ports of the demo backends started when a source's URL is not set. */
  demoPorts: DEMO_PORTS,
  upstreamTimeoutMs: 5_000,
  upstreamMaxResponseBytes: 5 * 1024 * 1024,
  logLevel: 'info',
});

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://127.0.0.1:4101' });
const port = z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(0).max(65_535);
const positiveInt = (max: number) =>
  z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(max, `must be at most ${max}`);

const envSchema = z.object({
  NODE_ENV: z.string().optional(),
  PORT: port.default(DEFAULTS.port),
  HOST: z.string().min(1).default(DEFAULTS.host),
  PAYMENTS_URL: url.optional(),
  MAPS_URL: url.optional(),
  MESSAGING_URL: url.optional(),
  PAYMENTS_PORT: port.default(DEFAULTS.demoPorts.payments),
  MAPS_PORT: port.default(DEFAULTS.demoPorts.maps),
  MESSAGING_PORT: port.default(DEFAULTS.demoPorts.messaging),
  UPSTREAM_TIMEOUT_MS: positiveInt(120_000).default(DEFAULTS.upstreamTimeoutMs),
  UPSTREAM_MAX_RESPONSE_BYTES: positiveInt(256 * 1024 * 1024).default(DEFAULTS.upstreamMaxResponseBytes),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});


export interface SourceConfig {
  /** Where the backend is; undefined means "start the demo backend". */
  url: string | undefined;
  /** Port for the demo backend when it is started. */
  demoPort: number;
}

export interface Config {
  /** development shows GraphiQL, introspection and error details; production hides them. */
  mode: 'development' | 'production';
  port: number;
  host: string;
  sources: Readonly<Record<SourceName, Readonly<SourceConfig>>>;
  upstream: Readonly<{ timeoutMs: number; maxResponseBytes: number }>;
  /** Unset: in-memory stores, and the log says so. */
  redisUrl: string | undefined;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Junction cannot start: the configuration has ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Validates the environment. Production is the default: only `NODE_ENV=development` turns on
 * GraphiQL, introspection and unmasked errors (`npm start` sets it unless NODE_ENV is given).
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings are what `FOO= npm start` produces; treat them as unset rather than invalid.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = issue.path.join('.');
        return `${key}=${JSON.stringify(cleaned[key])}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  return deepFreeze({
    mode: e.NODE_ENV === 'development' ? 'development' : 'production',
    port: e.PORT,
    host: e.HOST,
    sources: {
      payments: { url: e.PAYMENTS_URL, demoPort: e.PAYMENTS_PORT },
      maps: { url: e.MAPS_URL, demoPort: e.MAPS_PORT },
      messaging: { url: e.MESSAGING_URL, demoPort: e.MESSAGING_PORT },
    },
    upstream: { timeoutMs: e.UPSTREAM_TIMEOUT_MS, maxResponseBytes: e.UPSTREAM_MAX_RESPONSE_BYTES },
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
  } satisfies Config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
