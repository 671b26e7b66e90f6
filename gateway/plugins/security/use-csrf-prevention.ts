import type { Plugin } from 'graphql-yoga';
import { junctionError } from '../../errors.ts';

/** Sending any of these headers proves the request went through a CORS preflight. */
export const CSRF_HEADERS = ['x-graphql-csrf', 'graphql-require-preflight', 'apollo-require-preflight'] as const;

// The content types a browser form or a no-cors fetch may send cross-site without a preflight.
const SIMPLE_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain', '']);

/**
 * Refuses POSTs that a third-party page could make a browser send with the user's cookies: a
 * body a form or a simple fetch can produce, without a header only a preflighted request can
 * carry. JSON clients (every GraphQL client) are unaffected. GET never runs a mutation (yoga).
 */
export function useCsrfPrevention(): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method !== 'POST') return;
      const mediaType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!SIMPLE_CONTENT_TYPES.has(mediaType)) return;
      if (CSRF_HEADERS.some((h) => request.headers.has(h))) return;
      const error = junctionError(
        'CSRF_REFUSED',
        `This request could be a cross-site request forgery: send it as application/json, or with one of the headers ${CSRF_HEADERS.join(', ')}.`,
      );
      endResponse(
        new fetchAPI.Response(JSON.stringify({ errors: [error.toJSON()] }), {
          status: 400,
          headers: { 'content-type': 'application/graphql-response+json; charset=utf-8' },
        }),
      );
    },
  };
}
