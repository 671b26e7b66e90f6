import { createHash } from 'node:crypto';

/**
 * Who is calling, as every part of the gateway sees it: a person (a user's access token), a
 * service (an API key, or a client-credentials token with the service audience), or nobody.
 * The authorization directives read `scopes`; nothing downstream looks at the token itself.
 */
export type PrincipalKind = 'user' | 'service' | 'anonymous';

export interface Principal {
  kind: PrincipalKind;
  /** `sub` of a user token, the service's name, or '' when anonymous. */
  id: string;
  scopes: ReadonlySet<string>;
  /** How the caller proved it: a bearer JWT or an `x-api-key`. */
  via: 'jwt' | 'api-key' | 'none';
  /** When its credentials stop being valid (a token's `exp`, in ms since the epoch); absent: they do not expire. */
  expiresAt?: number;
}

export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', id: '', scopes: new Set<string>(), via: 'none' });

/**
 * Scopes from the claims IdPs actually use: `scope` (RFC 8693/9068, space separated), `scp`
 * (Okta, Azure: an array or a string) and `permissions` (Auth0 RBAC: an array).
 */
export function scopesFromClaims(claims: Record<string, unknown>): Set<string> {
  const scopes = new Set<string>();
  for (const claim of [claims.scope, claims.scp, claims.permissions]) {
    const values = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [];
    for (const value of values) if (typeof value === 'string' && value !== '') scopes.add(value);
  }
  return scopes;
}

/**
 * A caller's own value turned into one that is theirs alone, for values the gateway sends upstream
 * under its one account, where the backend would share them between callers: an idempotency key
 * sent as the client chose it let a second caller replay the first's payment with the same key, or
 * learn that the key was used. Hex SHA-256 of the caller (kind and id) and the value: the same
 * caller and value give the same key, so retries still de-duplicate; two callers never collide.
 */
export function callerScoped(principal: Principal, value: string): string {
  return createHash('sha256').update(`${principal.kind}\u0000${principal.id}\u0000${value}`).digest('hex');
}
