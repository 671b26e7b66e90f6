import { ANONYMOUS, type Principal } from '../../schema/principal.ts';

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

/** Headers whose values are keys for the backend to remember, made each caller's own by default. */
export const DEFAULT_IDEMPOTENCY_HEADERS = Object.freeze(['Idempotency-Key']);
