import type { Plugin } from 'graphql-yoga';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { Principal } from '../../auth/principal.ts';
import type { DevIssuer } from '../../auth/dev-issuer.ts';

/**
 * Puts the verified caller on the context as `principal`, before any resolver runs. Failed
 * credentials end the request here with the error's status (401 or 503), before execution, so
 * no resolver runs and no backend is called for a caller that is not who it claims.
 */
export function useIdentity(authenticate: Authenticator): Plugin<{ principal: Principal }> {
  return {
    async onContextBuilding({ context, extendContext }) {
      const request = (context as { request: Request }).request;
      extendContext({ principal: await authenticate(request.headers) });
    },
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
