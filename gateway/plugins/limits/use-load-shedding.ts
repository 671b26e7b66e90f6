import type { Plugin } from 'graphql-yoga';
import { junctionError } from '../../errors.ts';

/**
 * Sheds load instead of queueing it: with `maxInFlight` GraphQL requests already being answered,
 * the next is refused at once with 503 OVERLOADED and `Retry-After: 1`, so that the requests taken
 * keep their latency and a balancer can send the excess elsewhere. Health probes are not counted.
 */
export function useLoadShedding(maxInFlight: number): Plugin {
  let inFlight = 0;
  const counted = new WeakSet<Request>();
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== '/graphql' || (request.method === 'GET' && (request.headers.get('accept') ?? '').includes('text/html'))) return;
      if (inFlight >= maxInFlight) {
        const error = junctionError('OVERLOADED', `This instance is answering ${inFlight} requests, its most; retry in a second.`, { headers: { 'Retry-After': '1' } });
        endResponse(fetchAPI.Response.json({ errors: [error.toJSON()] }, { status: 503, headers: { 'retry-after': '1' } }));
        return;
      }
      inFlight += 1;
      counted.add(request);
    },
    onResponse({ request }) {
      if (counted.delete(request)) inFlight -= 1;
    },
  };
}
