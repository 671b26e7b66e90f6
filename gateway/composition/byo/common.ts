import { assertSendableHeaders } from '../../upstream/upstream-fetch.ts';
import type { GraphQLSchema } from 'graphql';

/** Root fields a schema exposes (Query + Mutation + Subscription). */
export function rootFieldCount(schema: GraphQLSchema): number {
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].reduce(
    (sum, type) => sum + (type ? Object.keys(type.getFields()).length : 0),
    0,
  );
}

/**
 * A fetch whose calls are abandoned after `timeoutMs`, headers and body alike, with header values
 * checked before anything is sent. Used to read a remote spec at start; calls to a backend go
 * through the source's runtime (engine/runtime.ts).
 */
export function timedFetch(doFetch: typeof globalThis.fetch, timeoutMs: number): typeof globalThis.fetch {
  return ((input: RequestInfo | URL, init?: RequestInit, ...rest: unknown[]) => {
    assertSendableHeaders(init?.headers);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return (doFetch as (...args: unknown[]) => Promise<Response>)(input, { ...init, signal }, ...rest);
  }) as typeof globalThis.fetch;
}

