import { ANONYMOUS, callerScoped, type Principal } from '../../auth/principal.ts';
import { assertSendableHeaders } from '../../../sources/common/upstream-fetch.ts';
import type { GraphQLSchema } from 'graphql';

/** Root fields a schema exposes (Query + Mutation + Subscription). */
export function rootFieldCount(schema: GraphQLSchema): number {
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].reduce(
    (sum, type) => sum + (type ? Object.keys(type.getFields()).length : 0),
    0,
  );
}

/**
 * A fetch whose calls are abandoned after `timeoutMs`, headers and body alike, and whose header
 * values are checked before anything is sent: an OpenAPI header parameter is a caller's argument,
 * and CR or LF in it (an UnsendableValueError, BAD_USER_INPUT) made the HTTP client throw an
 * error that reached the caller as INTERNAL_SERVER_ERROR. Wrap it around every other wrapper.
 */
export function timedFetch(doFetch: typeof globalThis.fetch, timeoutMs: number): typeof globalThis.fetch {
  return ((input: RequestInfo | URL, init?: RequestInit, ...rest: unknown[]) => {
    assertSendableHeaders(init?.headers);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    // Mesh's REST transport passes the GraphQL context third (withIdentity reads it).
    return (doFetch as (...args: unknown[]) => Promise<Response>)(input, { ...init, signal }, ...rest);
  }) as typeof globalThis.fetch;
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

/** Headers whose values are keys for the backend to remember, made each caller's own by default. */
export const DEFAULT_IDEMPOTENCY_HEADERS = Object.freeze(['Idempotency-Key']);

/**
 * A fetch that makes the caller's idempotency keys their own (callerScoped), as the curated
 * payments source does: every caller reaches the backend under the gateway's one account, so a
 * key sent as the caller wrote it would let a second caller replay the first one's payment, or
 * learn that the key was used. `names` are the headers that carry such keys (case-insensitive).
 */
export function withCallerScopedKeys(doFetch: typeof globalThis.fetch, names: readonly string[]): typeof globalThis.fetch {
  const lower = names.map((n) => n.toLowerCase());
  return ((input: RequestInfo | URL, init?: RequestInit, context?: { principal?: Principal }, ...rest: unknown[]) => {
    const headers = new Headers(init?.headers);
    let changed = false;
    for (const name of lower) {
      const value = headers.get(name);
      if (value === null) continue;
      headers.set(name, callerScoped(context?.principal ?? ANONYMOUS, value));
      changed = true;
    }
    return (doFetch as (...args: unknown[]) => Promise<Response>)(input, changed ? { ...init, headers } : init, context, ...rest);
  }) as typeof globalThis.fetch;
}
