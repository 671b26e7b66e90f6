import type { GraphQLSchema } from 'graphql';

/** Root fields a schema exposes (Query + Mutation + Subscription). */
export function rootFieldCount(schema: GraphQLSchema): number {
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].reduce(
    (sum, type) => sum + (type ? Object.keys(type.getFields()).length : 0),
    0,
  );
}

/** A fetch whose calls are abandoned after `timeoutMs`, headers and body alike. */
export function timedFetch(doFetch: typeof globalThis.fetch, timeoutMs: number): typeof globalThis.fetch {
  return (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return doFetch(input, { ...init, signal });
  };
}
