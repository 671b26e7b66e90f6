import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';

/** The header that carries a request's id in and out. */
export const REQUEST_ID_HEADER = 'x-request-id';

// A caller's id is kept only when it is short and plain, so it is safe to log and echo.
const ACCEPTED_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (the caller's `x-request-id` when acceptable, else a UUID), echoes
 * it on the response, and makes it available to other plugins and to logs.
 */
export function useRequestId(ids: WeakMap<Request, string>): Plugin {
  return {
    onRequest({ request }) {
      const given = request.headers.get(REQUEST_ID_HEADER);
      ids.set(request, given && ACCEPTED_ID.test(given) ? given : randomUUID());
    },
    onResponse({ request, response }) {
      const id = ids.get(request);
      if (id) response.headers.set(REQUEST_ID_HEADER, id);
    },
  };
}
