import { createLocalJWKSet } from 'jose';
import type { Logger } from 'pino';
import type { AuthConfig } from '../config.ts';
import { createApiKeyLookup, serviceScopesOf } from './api-keys.ts';
import { createAuthenticator, type Authenticator } from './authenticator.ts';
import { DEV_ISSUER, loadDevIssuer, type DevIssuer } from './dev-issuer.ts';
import { createJwtVerifier, type JwtVerifier } from './jwt.ts';
import { createRemoteKeySet, type RemoteKeySet } from './key-set.ts';

export interface Auth {
  authenticate: Authenticator;
  /** Development without auth settings: the embedded issuer (GraphiQL's token, its JWKS). */
  devIssuer: DevIssuer | undefined;
  /** With AUTH_JWKS_URL: the remote key set, for readiness. */
  keySet: RemoteKeySet | undefined;
  /**
   * The scopes a service's API keys grant now (the union of its entries in AUTH_API_KEYS_FILE), or
   * undefined when it has no key: what the deliveries it registered with a key may still run with.
   */
  serviceScopes(serviceId: string): ReadonlySet<string> | undefined;
}

/** Builds the authenticator the configuration describes. `fetch` and `now` are for tests. */
export async function createAuth(
  config: AuthConfig,
  logger: Logger,
  inject: { fetch?: typeof globalThis.fetch; now?: () => number; devKeyFile?: string } = {},
): Promise<Auth> {
  let verifyJwt: JwtVerifier | undefined;
  let devIssuer: DevIssuer | undefined;
  let keySet: RemoteKeySet | undefined;
  const now = inject.now ? { now: inject.now } : {};
  const common = { clockToleranceSec: config.clockToleranceSec, tokenTypes: config.tokenTypes, ...now };
  switch (config.keys.kind) {
    case 'remote':
      keySet = createRemoteKeySet(config.keys.url, { ...config.jwks, ...(inject.fetch ? { fetch: inject.fetch } : {}), ...now });
      verifyJwt = createJwtVerifier({
        ...common, keys: keySet.getKey, issuer: config.issuer!, audience: config.audience!, algorithms: config.algorithms,
        ...(config.serviceAudience ? { serviceAudience: config.serviceAudience } : {}),
      });
      break;
    case 'file':
      verifyJwt = createJwtVerifier({
        ...common, keys: createLocalJWKSet(config.keys.jwks), issuer: config.issuer!, audience: config.audience!, algorithms: config.algorithms,
        ...(config.serviceAudience ? { serviceAudience: config.serviceAudience } : {}),
      });
      break;
    case 'dev':
      devIssuer = await loadDevIssuer(inject.devKeyFile);
      verifyJwt = createJwtVerifier({
        ...common, keys: devIssuer.keys, issuer: devIssuer.issuer, audience: devIssuer.audience, algorithms: [DEV_ISSUER.algorithm],
      });
      logger.warn(`No AUTH_JWKS_URL: verifying tokens of the embedded dev issuer (key in ${inject.devKeyFile ?? DEV_ISSUER.keyFile}). Make one with: npm run -s token -- --sub alice --scopes "<scope> ..."`);
      break;
    case 'none':
      break;
  }
  const apiKeys = config.apiKeys.length > 0 ? createApiKeyLookup(config.apiKeys) : undefined;
  return {
    authenticate: createAuthenticator({ ...(verifyJwt ? { verifyJwt } : {}), ...(apiKeys ? { apiKeys } : {}), logger }),
    devIssuer,
    keySet,
    serviceScopes: serviceScopesOf(config.apiKeys),
  };
}
