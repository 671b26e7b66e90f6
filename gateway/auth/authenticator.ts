import type { Logger } from 'pino';
import { junctionError } from '../errors.ts';
import type { ApiKeyLookup } from './api-keys.ts';
import { InvalidToken, type JwtVerifier } from './jwt.ts';
import { KeySetUnavailable } from './key-set.ts';
import { ANONYMOUS, type Principal } from '../../schema/principal.ts';

/** The one message for every refused credential: which check failed is for the log, not the caller. */
export const INVALID_TOKEN_MESSAGE = 'The access token or API key is invalid.';
/** Seconds a client is told to wait when the identity provider's keys cannot be had. */
const KEYS_RETRY_AFTER_SEC = 5;

export interface AuthenticatorOptions {
  /** Bearer tokens; absent: a bearer token is refused. */
  verifyJwt?: JwtVerifier;
  /** `x-api-key`; absent: an API key is refused. */
  apiKeys?: ApiKeyLookup;
  logger: Logger;
}

/** Reads the caller's credentials from request headers and returns who it is. */
export type Authenticator = (headers: Headers) => Promise<Principal>;

/**
 * No credentials: anonymous (the schema's directives decide what that may see). Credentials
 * that fail: INVALID_TOKEN (401) for the whole request, so a client with a broken token learns
 * it at once rather than through nulls. Keys unobtainable: AUTH_UNAVAILABLE (503).
 */
export function createAuthenticator({ verifyJwt, apiKeys, logger }: AuthenticatorOptions): Authenticator {
  const refuse = (reason: string, via: string) => {
    logger.info({ via, reason }, 'credentials refused');
    return junctionError('INVALID_TOKEN', INVALID_TOKEN_MESSAGE, {
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
    });
  };

  return async (headers) => {
    const authorization = headers.get('authorization');
    const apiKey = headers.get('x-api-key');
    if (authorization !== null && apiKey !== null) throw refuse('both Authorization and x-api-key were sent', 'both');
    if (apiKey !== null) {
      const principal = apiKeys?.(apiKey);
      if (!principal) throw refuse('unknown API key', 'api-key');
      return principal;
    }
    if (authorization === null) return ANONYMOUS;
    const match = /^Bearer +([A-Za-z0-9\-_.~+/]+=*) *$/i.exec(authorization);
    if (!match) throw refuse('Authorization is not a Bearer token', 'jwt');
    if (!verifyJwt) throw refuse('bearer tokens are not configured', 'jwt');
    try {
      return await verifyJwt(match[1]!);
    } catch (err) {
      if (err instanceof InvalidToken) throw refuse(err.message, 'jwt');
      if (err instanceof KeySetUnavailable) {
        logger.error({ err: err.message }, 'identity provider keys unavailable');
        throw junctionError('AUTH_UNAVAILABLE', 'The identity provider cannot be reached to check the token; try again shortly.', {
          headers: { 'Retry-After': String(KEYS_RETRY_AFTER_SEC) },
        });
      }
      throw err;
    }
  };
}
