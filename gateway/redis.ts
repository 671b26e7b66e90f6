import { Redis } from 'ioredis';

/**
 * Redis settings that fail fast. ioredis's defaults stall a request for seconds (killed server)
 * or forever (paused server); these make a Redis fault cost at most `commandTimeout`.
 */
export const REDIS_OPTIONS = Object.freeze({
  /** Milliseconds one command may take before it fails. */
  commandTimeout: 100,
  /** Commands issued while disconnected fail at once instead of queueing without bound. */
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  /** Connect when told to, so start-up can report the outcome. */
  lazyConnect: true,
  /** Reconnect in the background, backing off to at most 2 s. */
  retryStrategy: (times: number) => Math.min(times * 100, 2_000),
});

export function createRedis(url: string): Redis {
  return new Redis(url, { ...REDIS_OPTIONS });
}

/** Hides the password of a redis:// URL for logs. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
