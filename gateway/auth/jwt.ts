import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { scopesFromClaims, type Principal } from './principal.ts';

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
}

export const JWT_DEFAULTS = Object.freeze({ clockToleranceSec: 30, tokenTypes: ['at+jwt'] as readonly string[] });

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

  return async (token) => {
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
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const scopes = scopesFromClaims(payload as Record<string, unknown>);
    if (serviceAudience !== undefined && aud.includes(serviceAudience) && !aud.includes(audience)) {
      const id = [payload.client_id, payload.azp, payload.sub].find((v): v is string => typeof v === 'string' && v !== '');
      if (id === undefined) throw new InvalidToken('a service token names no client_id, azp or sub');
      return { kind: 'service', id, scopes, via: 'jwt' };
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new InvalidToken('a user token without sub');
    return { kind: 'user', id: payload.sub, scopes, via: 'jwt' };
  };
}
