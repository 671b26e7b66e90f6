import type { Plugin } from 'graphql-yoga';
import { junctionError } from '../../errors.ts';
import type { Principal } from '../../../schema/principal.ts';
import type { FieldRateLimit } from '../../../schema/rate-limit.ts';
import { ratePerMinFor, type Limits } from './limits.ts';
import { limitIdentity, type RateLimitEngine } from './rate-limits.ts';


export interface RateLimitOptions {
  engine: RateLimitEngine;
  limits: Limits;
  principalOf: (request: Request) => Promise<Principal>;
  trustedProxies: ReadonlySet<string>;
  /** Told about every refusal (metrics): `caller` over its whole-endpoint budget, or a `field` over its `@rateLimit`. */
  onRefused?: (limit: 'caller' | 'field') => void;
}

/**
 * The whole-endpoint budget per caller (operations per minute, by kind of caller), checked as soon
 * as the request is parsed: over it, the operation is refused with HTTP 429, `Retry-After` and a
 * RATE_LIMITED error, before any cache or backend is asked. Also puts `rateLimit` on the context
 * for fields with `@rateLimit`. Listed after the response cache, so its refusal has the last word.
 */
export function useRateLimits({ engine, limits, principalOf, trustedProxies, onRefused }: RateLimitOptions): Plugin<{ rateLimit: FieldRateLimit }> {
  const identities = new WeakMap<Request, string>();
  const identityOf = async (request: Request, serverContext: unknown) => {
    let identity = identities.get(request);
    if (!identity) {
      const remote = (serverContext as { req?: { socket?: { remoteAddress?: string } } }).req?.socket?.remoteAddress;
      identity = limitIdentity(await principalOf(request), request, remote, trustedProxies);
      identities.set(request, identity);
    }
    return identity;
  };

  return {
    async onParams({ request, context, setResult }) {
      const principal = await principalOf(request);
      const verdict = await engine.consume(`endpoint:${await identityOf(request, context)}`, ratePerMinFor(limits, principal), 60);
      if (verdict.allowed) return;
      onRefused?.('caller');
      setResult({
        errors: [junctionError('RATE_LIMITED', `Too many requests from this caller; retry in ${verdict.retryAfterSec} s.`, {
          status: 429,
          headers: { 'Retry-After': String(verdict.retryAfterSec) },
          extensions: { retryAfter: verdict.retryAfterSec },
        })],
      });
    },
    async onContextBuilding({ context, extendContext }) {
      const request = (context as { request: Request }).request;
      const identity = await identityOf(request, context);
      extendContext({
        rateLimit: async (coordinate, argsKey, max, windowSec) => {
          const verdict = await engine.consume(`field:${coordinate}:${identity}:${argsKey}`, max, windowSec);
          if (verdict.allowed) return undefined;
          onRefused?.('field');
          return { retryAfterSec: verdict.retryAfterSec };
        },
      });
    },
  };
}
