import type { Plugin } from 'graphql-yoga';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { Principal } from '../../../schema/principal.ts';
import type { DevIssuer } from '../../auth/dev-issuer.ts';

/**
 * Puts the verified caller on the context as `principal`, before any resolver runs. Failed
 * credentials end the request here with the error's status (401 or 503), before execution, so
 * no resolver runs and no backend is called for a caller that is not who it claims.
 */
export function useIdentity(principalOf: (request: Request) => Promise<Principal>): Plugin<{ principal: Principal }> {
  return {
    async onContextBuilding({ context, extendContext }) {
      extendContext({ principal: await principalOf((context as { request: Request }).request) });
    },
  };
}

/**
 * Who sent a request, worked out once per request however many plugins ask (the response cache
 * needs it before parsing, the context after).
 */
export function principalPerRequest(authenticate: Authenticator): (request: Request) => Promise<Principal> {
  const known = new WeakMap<Request, Promise<Principal>>();
  return (request) => {
    let principal = known.get(request);
    if (!principal) known.set(request, (principal = authenticate(request.headers)));
    return principal;
  };
}

/** Where the dev issuer's public keys are served (development only). */
export const DEV_JWKS_PATH = '/dev-issuer/jwks.json';

/** Serves the embedded dev issuer's JWKS, so other local services can verify its tokens too. */
export function useDevIssuerJwks(issuer: DevIssuer): Plugin {
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== DEV_JWKS_PATH) return;
      endResponse(fetchAPI.Response.json(issuer.jwks));
    },
  };
}
