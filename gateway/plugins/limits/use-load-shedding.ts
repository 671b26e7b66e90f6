import type { Plugin } from 'graphql-yoga';
import { junctionError } from '../../errors.ts';
import { ConcurrencyLimit, watchEventLoop, type LoadSample } from './concurrency-limit.ts';

export interface LoadSheddingOptions {
  /** MAX_IN_FLIGHT: never more requests at a time than this. */
  maxInFlight: number;
  /** MAX_QUEUE_MS: while the CPU is saturated, no more than finish in this time (concurrency-limit.ts). */
  maxQueueMs: number;
  /**
   * Told about every refusal (metrics), and why: `in_flight` at MAX_IN_FLIGHT, `cpu_saturated` at
   * the lower limit a saturated CPU set.
   */
  onShed?: (request: Request, cause: 'in_flight' | 'cpu_saturated') => void;
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
 * `Retry-After: 1`, so that the requests taken keep their latency and a balancer can send the
 * excess elsewhere.
 *
 * A request counts from the moment its body has been read (use-request-reader.ts) until its
 * answer goes out. A client still sending its body holds a connection, bounded by BODY_TIMEOUT_MS,
 * but none of the places executing requests need: 512 connections dripping a byte every few
 * seconds refused every other request with 503 while they were counted from their headers.
 * Health probes and GraphiQL pages are never counted.
 */
export function createLoadShedding(options: LoadSheddingOptions, watch = true): LoadShedding {
  let inFlight = 0;
  let finished = 0;
  const counted = new WeakSet<Request>();
  const limit = new ConcurrencyLimit({ max: options.maxInFlight, maxQueueMs: options.maxQueueMs });
  const stop = watch ? watchEventLoop(limit, () => finished) : () => undefined;
  const shed = (request: Request) => options.onShed?.(request, inFlight >= options.maxInFlight ? 'in_flight' : 'cpu_saturated');
  const overloaded = () => junctionError('OVERLOADED', 'This instance is answering as many requests as it can; retry in a second.', { headers: { 'retry-after': '1' } });
  const plugin: Plugin = {
    // Refused at once when full, before the body is read: a refusal must cost next to nothing, or
    // an overloaded instance spends its CPU refusing (clients retry at once).
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== '/graphql' || (request.method === 'GET' && (request.headers.get('accept') ?? '').includes('text/html'))) return;
      if (inFlight >= limit.current) {
        shed(request);
        endResponse(fetchAPI.Response.json({ errors: [overloaded().toJSON()] }, { status: 503, headers: { 'retry-after': '1' } }));
      }
    },
    // Counted once its body is in; checked again, for the place may have gone while it arrived.
    onRequestParse({ request }) {
      return {
        onRequestParseDone() {
          if (inFlight >= limit.current) {
            shed(request);
            throw overloaded();
          }
          inFlight += 1;
          counted.add(request);
        },
      };
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
