import type { RedisClient } from '../../redis.ts';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Principal } from '../../../schema/principal.ts';

/**
 * Counting for every rate limit: rate-limiter-flexible, atomic in Redis (a Lua script per
 * consume) and so shared by every instance; with Redis down or slow, each limiter falls back to
 * an in-memory one of the same size (its insuranceLimiter): per instance, never none. Without
 * Redis at all, memory only.
 *
 * Why not graphql-rate-limit's own store: it reads, changes and writes back, so 200 concurrent
 * calls against a limit of 10 all got through (stack notes); its directive's shape is kept
 * (schema/rate-limit.ts).
 */
export type Verdict = { allowed: true } | { allowed: false; retryAfterSec: number };

export interface RateLimitEngine {
  consume(key: string, max: number, windowSec: number): Promise<Verdict>;
}

export function createRateLimitEngine(redis?: RedisClient, prefix = 'junction:rl'): RateLimitEngine {
  const limiters = new Map<string, RateLimiterAbstract>();
  const limiterFor = (max: number, windowSec: number) => {
    const id = `${max}/${windowSec}`;
    let limiter = limiters.get(id);
    if (!limiter) {
      const memory = new RateLimiterMemory({ points: max, duration: windowSec, keyPrefix: `${prefix}:${id}` });
      limiter = redis
        ? new RateLimiterRedis({ storeClient: redis, useRedisPackage: false, rejectIfRedisNotReady: true, points: max, duration: windowSec, keyPrefix: `${prefix}:${id}`, insuranceLimiter: memory })
        : memory;
      limiters.set(id, limiter);
    }
    return limiter;
  };
  return {
    async consume(key, max, windowSec) {
      try {
        await limiterFor(max, windowSec).consume(key);
        return { allowed: true };
      } catch (refusal) {
        if (refusal instanceof RateLimiterRes) return { allowed: false, retryAfterSec: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)) };
        throw refusal;
      }
    },
  };
}

/**
 * Who a limit counts against: the verified principal; else the client's address, taken from
 * `x-forwarded-for` only when the connection comes from a trusted proxy (the right-most address
 * that is not one). Unidentified clients are never pooled into one shared bucket.
 */
export function limitIdentity(principal: Principal, request: Request, remoteAddress: string | undefined, trustedProxies: ReadonlySet<string>): string {
  if (principal.kind !== 'anonymous') return `${principal.kind}:${principal.id}`;
  let address = remoteAddress;
  if (address && trustedProxies.has(address)) {
    const hops = (request.headers.get('x-forwarded-for') ?? '').split(',').map((h) => h.trim()).filter(Boolean);
    while (hops.length > 0 && trustedProxies.has(hops[hops.length - 1]!)) hops.pop();
    address = hops.pop() ?? address;
  }
  return `ip:${address ?? `unknown-${Math.random()}`}`;
}
