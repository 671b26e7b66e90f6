import type { Plugin } from 'graphql-yoga';

/** How long a browser may keep a preflight's answer, in seconds. */
export const CORS_MAX_AGE_SEC = 600;

/**
 * Cross-origin access for the browser origins the operator names (CORS_ORIGINS), and for no
 * other: yoga's default answers every origin with itself and `allow-credentials: true`, so any
 * page on the web could read answers. A foreign origin gets no `Access-Control-Allow-*` header at
 * all, preflight or not, and the browser keeps the answer from the page. `*` in the list allows
 * every origin.
 *
 * Credentials are never allowed: Junction reads no cookies (callers identify with a bearer token
 * or an API key, which a page must send itself), so there is nothing ambient for a page to borrow.
 * Every answer to a request with an `Origin` varies by it, so no cache hands one origin's answer
 * headers to another.
 */
export function useCorsPolicy(origins: readonly string[]): Plugin {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return {
    // A preflight is answered here, allowed or not (yoga's own CORS handling is off): 204, with the
    // allowing headers only for a listed origin.
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method === 'OPTIONS') endResponse(new fetchAPI.Response(null, { status: 204, headers: { 'content-length': '0' } }));
    },
    onResponse({ request, response }) {
      const origin = request.headers.get('origin');
      if (origin === null) return;
      response.headers.append('vary', 'Origin');
      if (!any && !allowed.has(origin)) return;
      response.headers.set('access-control-allow-origin', any ? '*' : origin);
      response.headers.set('access-control-expose-headers', 'retry-after, x-request-id');
      if (request.method === 'OPTIONS') {
        response.headers.set('access-control-allow-methods', 'GET, POST');
        const asked = request.headers.get('access-control-request-headers');
        if (asked) response.headers.set('access-control-allow-headers', asked);
        response.headers.set('access-control-max-age', String(CORS_MAX_AGE_SEC));
      }
    },
  };
}
