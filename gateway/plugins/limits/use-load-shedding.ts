import type { Plugin } from 'graphql-yoga';
import { junctionError } from '../../errors.ts';
import { ConcurrencyLimit, watchEventLoop, type LoadSample } from './concurrency-limit.ts';

export interface LoadSheddingOptions {
  /** MAX_IN_FLIGHT: never more requests at a time than this. */
  maxInFlight: number;
  /** MAX_QUEUE_MS: while the CPU is saturated, no more than finish in this time (concurrency-limit.ts). */
  maxQueueMs: number;
}

export interface LoadShedding {
  plugin: Plugin;
  /** Requests being answered now, and how many the instance takes at the moment. */
  state(): { inFlight: number; limit: number };
  /** Feeds the limit one sample by hand (tests; the watcher does it otherwise). */
  observe(sample: LoadSample): void;
  /** Stops sampling the event loop. */
  stop(): void;
}

/**
 * Sheds load instead of queueing it: with as many GraphQL requests being answered as the instance
 * takes now (ConcurrencyLimit), the next is refused at once with 503 OVERLOADED and
 * `Retry-After: 1`, before its body is read, so that the requests taken keep their latency and a
 * balancer can send the excess elsewhere. Health probes and GraphiQL pages are not counted.
 */
export function createLoadShedding(options: LoadSheddingOptions, watch = true): LoadShedding {
  let inFlight = 0;
  let finished = 0;
  const counted = new WeakSet<Request>();
  const limit = new ConcurrencyLimit({ max: options.maxInFlight, maxQueueMs: options.maxQueueMs });
  const stop = watch ? watchEventLoop(limit, () => finished) : () => undefined;
  const plugin: Plugin = {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== '/graphql' || (request.method === 'GET' && (request.headers.get('accept') ?? '').includes('text/html'))) return;
      if (inFlight >= limit.current) {
        const error = junctionError('OVERLOADED', 'This instance is answering as many requests as it can; retry in a second.', { headers: { 'Retry-After': '1' } });
        endResponse(fetchAPI.Response.json({ errors: [error.toJSON()] }, { status: 503, headers: { 'retry-after': '1' } }));
        return;
      }
      inFlight += 1;
      counted.add(request);
    },
    onResponse({ request }) {
      if (counted.delete(request)) {
        inFlight -= 1;
        finished += 1;
      }
    },
  };
  return {
    plugin,
    state: () => ({ inFlight, limit: limit.current }),
    observe: (sample) => limit.observe(sample),
    stop,
  };
}
