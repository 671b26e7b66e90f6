import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { scopesFromClaims, type Principal } from '../../schema/principal.ts';

/** Verifies bearer tokens and turns them into principals. */
export interface JwtVerifierOptions {
  /** Where keys come from: a remote key set (key-set.ts) or createLocalJWKSet over configured keys. */
  keys: JWTVerifyGetKey;
  /** Required `iss`. */
  issuer: string;
  /** `aud` of users' access tokens. */
  audience: string;
  /** `aud` of services' client-credentials tokens; such a token becomes a service principal. */
  serviceAudience?: string;
  /** Accepted `alg` values, one family (e.g. ['RS256'] or ['ES256']): pinned, never read from the token alone. */
  algorithms: readonly string[];
  /** Clock skew allowed on `exp` and `nbf`, in seconds. Default 30. */
  clockToleranceSec?: number;
  /**
   * Accepted `typ` headers, compared case-insensitively. Default ['at+jwt'] (RFC 9068 access
   * tokens), which an OpenID ID token never carries; add 'JWT' only for a provider that
   * does not type its access tokens.
   */
  tokenTypes?: readonly string[];
  /** Clock in ms (tests fake it). Default Date.now. */
  now?: () => number;
  /** Verified tokens remembered, so a client's next request skips the signature check. Default 10000. */
  cacheSize?: number;
  /** Longest a verified token is remembered, in ms (it is never remembered past its `exp`). Default 60000. */
  cacheTtlMs?: number;
}

export const JWT_DEFAULTS = Object.freeze({ clockToleranceSec: 30, tokenTypes: ['at+jwt'] as readonly string[], cacheSize: 10_000, cacheTtlMs: 60_000 });

/** Why a token was refused: logged (never the token), never shown to the client. */
export class InvalidToken extends Error {
  override readonly name = 'InvalidToken';
}

export type JwtVerifier = (token: string) => Promise<Principal>;

const FAMILY: Record<string, string> = { RS: 'RSA', PS: 'RSA', ES: 'EC', Ed: 'OKP', HS: 'oct' };

export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const { keys, issuer, audience, serviceAudience, algorithms } = options;
  const clockToleranceSec = options.clockToleranceSec ?? JWT_DEFAULTS.clockToleranceSec;
  const tokenTypes = new Set((options.tokenTypes ?? JWT_DEFAULTS.tokenTypes).map((t) => t.toLowerCase()));
  const now = options.now ?? Date.now;
  if (algorithms.length === 0) throw new TypeError('createJwtVerifier: algorithms must name at least one algorithm');
  const families = new Set(algorithms.map((a) => FAMILY[a.slice(0, 2)] ?? a));
  if (families.size > 1) {
    // RS256 next to HS256 is how key confusion starts: a public key used as an HMAC secret.
    throw new TypeError(`createJwtVerifier: algorithms must be one family, got ${algorithms.join(', ')}`);
  }
  const audiences = serviceAudience ? [audience, serviceAudience] : [audience];
  const cacheSize = options.cacheSize ?? JWT_DEFAULTS.cacheSize;
  const cacheTtlMs = options.cacheTtlMs ?? JWT_DEFAULTS.cacheTtlMs;
  // Keyed by the whole token, signature included: only the exact bytes that verified are trusted.
  // A signature check was half the gateway's CPU on a one-field query (bench, Payment scenario).
  const verified = new Map<string, { principal: Principal; until: number }>();

  const verify = async (token: string): Promise<{ principal: Principal; exp: number }> => {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new InvalidToken('not a JWS compact token');
    }
    if (typeof header.typ !== 'string' || !tokenTypes.has(header.typ.toLowerCase())) {
      throw new InvalidToken(`typ ${JSON.stringify(header.typ ?? null)} is not an access token type (${[...tokenTypes].join(', ')})`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer,
        audience: audiences,
        algorithms: [...algorithms],
        clockTolerance: clockToleranceSec,
        requiredClaims: ['exp', 'iss', 'aud'],
        currentDate: new Date(now()),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) throw new InvalidToken(`${err.code}: ${err.message}`, { cause: err });
      throw err; // KeySetUnavailable and the like: not the token's fault
    }
    const exp = payload.exp!;
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const scopes = scopesFromClaims(payload as Record<string, unknown>);
    if (serviceAudience !== undefined && aud.includes(serviceAudience) && !aud.includes(audience)) {
      const id = [payload.client_id, payload.azp, payload.sub].find((v): v is string => typeof v === 'string' && v !== '');
      if (id === undefined) throw new InvalidToken('a service token names no client_id, azp or sub');
      return { principal: { kind: 'service', id, scopes, via: 'jwt', expiresAt: exp * 1000 }, exp };
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new InvalidToken('a user token without sub');
    return { principal: { kind: 'user', id: payload.sub, scopes, via: 'jwt', expiresAt: exp * 1000 }, exp };
  };

  return async (token) => {
    const at = now();
    const known = verified.get(token);
    if (known && at < known.until) return known.principal;
    if (known) verified.delete(token);
    const { principal, exp } = await verify(token);
    if (cacheSize > 0) {
      if (verified.size >= cacheSize) verified.delete(verified.keys().next().value as string); // oldest first
      verified.set(token, { principal: Object.freeze(principal), until: Math.min(exp * 1000 + clockToleranceSec * 1000, at + cacheTtlMs) });
    }
    return principal;
  };
}
