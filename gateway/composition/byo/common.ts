import { ANONYMOUS, type Principal } from '../../auth/principal.ts';
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

/** Headers a first-party backend reads to learn who is calling (`forwardIdentity: true`). */
export const IDENTITY_HEADERS = Object.freeze({ principal: 'x-junction-principal', scopes: 'x-junction-scopes' });

/**
 * The verified caller as headers: `x-junction-principal: user:<sub>` (or `service:<name>`, or
 * `anonymous`) and `x-junction-scopes: <space separated>`. Set by the gateway on every call, over
 * anything with the same name in `operationHeaders`; a client's own copies never reach a backend,
 * because the gateway forwards no client header at all.
 */
export function identityHeaders(principal: Principal | undefined): Record<string, string> {
  const who = principal ?? ANONYMOUS;
  return {
    [IDENTITY_HEADERS.principal]: who.kind === 'anonymous' ? 'anonymous' : `${who.kind}:${who.id}`,
    [IDENTITY_HEADERS.scopes]: [...who.scopes].join(' '),
  };
}

/** A fetch that adds identityHeaders for the request's principal (the context is fetch's third argument in Mesh's REST transport). */
export function withIdentity(doFetch: typeof globalThis.fetch): typeof globalThis.fetch {
  return ((input: RequestInfo | URL, init?: RequestInit, context?: { principal?: Principal }) => {
    const headers = new Headers(init?.headers);
    for (const [name, value] of Object.entries(identityHeaders(context?.principal))) headers.set(name, value);
    return doFetch(input, { ...init, headers });
  }) as typeof globalThis.fetch;
}
