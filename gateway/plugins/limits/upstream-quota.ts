import type { RedisClient } from '../../redis.ts';
import { RateLimiterMemory, RateLimiterQueue, RateLimiterRedis } from 'rate-limiter-flexible';
import { UpstreamError } from '../../upstream/upstream-error.ts';

/**
 * A provider's own rate limit, kept on our side: at most `perSec` calls per second to a source
 * (or to some of its operations), counted in Redis across every instance (in memory without it,
 * and as Redis's stand-in when it fails). A call over the rate waits in a short queue for the next
 * second; with `maxQueue` calls already waiting it is refused at once as `throttled`, so the
 * provider never sees more than it allows and never starts failing.
 */
export interface QuotaSpec {
  source: string;
  perSec: number;
  /** Only these operations count (a provider that limits sends only); default all. */
  operations?: readonly string[];
  /** Calls that may wait for room; more are refused. Default 100. */
  maxQueue?: number;
}

export function createUpstreamQuota(spec: QuotaSpec, redis?: RedisClient): (operation: string) => Promise<void> {
  const { source, perSec, operations, maxQueue = 100 } = spec;
  const memory = new RateLimiterMemory({ points: perSec, duration: 1, keyPrefix: `junction:quota:${source}` });
  const limiter = redis
    ? new RateLimiterRedis({ storeClient: redis, useRedisPackage: false, rejectIfRedisNotReady: true, points: perSec, duration: 1, keyPrefix: `junction:quota:${source}`, insuranceLimiter: memory })
    : memory;
  const queue = new RateLimiterQueue(limiter, { maxQueueSize: maxQueue });
  return async (operation) => {
    if (operations && !operations.includes(operation)) return;
    try {
      await queue.removeTokens(1);
    } catch {
      throw new UpstreamError(`${source}'s quota of ${perSec} calls per second is used up, with ${maxQueue} calls waiting`, {
        source, operation, failure: 'throttled', retryAfterSec: 1,
      });
    }
  };
}
