/**
 * A client span per backend call, and the W3C trace context the call carries to its backend
 * (`traceparent`, `tracestate`), for every kind of source alike: REST, SOAP and GraphQL sources
 * all call through gateway/upstream/upstream-fetch.ts, which asks this for each call's span.
 *
 * A call's span is a child of the span the request scope carries (the operation's execute span).
 * Under a request that is not sampled no span is made at all: the call only carries the request's
 * context onwards, flagged not sampled, so that the backend's own traces join the same trace id
 * (W3C Trace Context says to forward it; the backend then samples nothing either).
 *
 * Never recorded: the URL's path and query (they hold the caller's arguments, and some sources'
 * API keys), headers, bodies.
 */
import { isSpanContextValid, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Link, type Span, type SpanContext, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import type { CallSpan, TracedCall, UpstreamTracing } from '../upstream/upstream-fetch.ts';
import { UpstreamError } from '../upstream/upstream-error.ts';
import type { UpstreamCallRecord } from '../upstream/upstream-fetch.ts';
import { ATTR } from './names.ts';

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const ignore = () => undefined;
/** For a call whose span is not recorded: the trace context only. */
const carrying = (headers: Record<string, string>): CallSpan => ({ headers, leads: ignore, retried: ignore, end: ignore });

export interface UpstreamSpansOptions {
  tracer: Tracer;
  propagator: TextMapPropagator;
  /** The span of the operation of the request whose GraphQL context is given (its request scope's), if any. */
  parent: (context?: object) => Span | undefined;
}

export interface UpstreamSpans extends UpstreamTracing {
  /**
   * Records keys answered from the entity cache (`cached`), fresh (junction.cache=hit) or stale
   * because their backend failed (junction.cache=stale), as a span under the request's.
   */
  cached(record: UpstreamCallRecord, stale: boolean, context?: object): void;
}

export function createUpstreamSpans({ tracer, propagator, parent }: UpstreamSpansOptions): UpstreamSpans {
  // The span context of each call in flight, by its pending answer: calls that join it link to it.
  const leaders = new WeakMap<Promise<unknown>, SpanContext>();
  const inject = (context: Context) => {
    const headers: Record<string, string> = {};
    propagator.inject(context, headers, { set: (carrier, key, value) => void (carrier[key] = value) });
    return headers;
  };

  return {
    start(call: TracedCall, joins?: Promise<unknown>): CallSpan | undefined {
      const current = parent(call.context);
      // A readiness probe is no one's request: probes every few seconds would swamp the traces.
      if (current === undefined && call.operation === 'probe') return undefined;
      if (current !== undefined && !current.isRecording()) return joins ? undefined : carrying(contextOf(current.spanContext()));
      // No request (a poll, a token fetched for one): a trace of its own, if the sampler takes it.
      const context = current === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, current);
      const attributes: Attributes = {
        [ATTR.source]: call.source,
        [ATTR.operation]: call.operation,
        'http.request.method': call.method,
      };
      if (call.batchSize !== undefined) attributes[ATTR.batchSize] = call.batchSize;
      const leader = joins && leaders.get(joins);
      const links: Link[] = leader ? [{ context: leader }] : [];
      if (joins) attributes[ATTR.coalesced] = true;
      else addServer(attributes, call.url);
      const span = tracer.startSpan(`${call.source} ${call.operation}`, { kind: joins ? SpanKind.INTERNAL : SpanKind.CLIENT, attributes, links }, context);
      if (!span.isRecording()) return joins ? undefined : carrying(contextOf(span.spanContext()));
      let retries = 0;
      return {
        headers: joins ? NO_HEADERS : inject(trace.setSpan(ROOT_CONTEXT, span)),
        leads: (pending) => void leaders.set(pending, span.spanContext()),
        retried(attempt, reason) {
          retries = attempt;
          span.addEvent('retry', { [ATTR.retryAttempt]: attempt, [ATTR.retryReason]: reason });
        },
        end(status, error) {
          if (retries > 0) span.setAttribute(ATTR.retries, retries);
          if (status !== undefined) span.setAttribute('http.response.status_code', status);
          if (error !== undefined || (status !== undefined && status >= 500)) {
            // The kind of failure, never its message: a backend's words may quote the request.
            const kind = error instanceof UpstreamError ? (error.upstreamCode === 'circuit_open' ? 'circuit_open' : error.failure) : status !== undefined ? String(status) : 'error';
            span.setAttribute('error.type', kind);
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        },
      };
    },
    cached(record, stale, context) {
      const current = parent(context);
      if (current !== undefined && !current.isRecording()) return;
      const ended = Date.now();
      const span = tracer.startSpan(`${record.source} ${record.operation}`, {
        kind: SpanKind.INTERNAL,
        startTime: ended - record.durationMs,
        attributes: {
          [ATTR.source]: record.source,
          [ATTR.operation]: record.operation,
          [ATTR.cache]: stale ? 'stale' : 'hit',
          ...(record.batchSize !== undefined ? { [ATTR.batchSize]: record.batchSize } : {}),
        },
      }, current === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, current));
      span.end(ended);
    },
  };
}

/**
 * The W3C headers of a span that is not recorded (most requests, at a low ratio): written out
 * rather than through the propagator, which would make a Context object per backend call. The
 * propagator writes the recorded ones. Its format: version 00, trace id, parent id, flags.
 */
function contextOf(span: SpanContext): Record<string, string> {
  if (!isSpanContextValid(span)) return {};
  const headers: Record<string, string> = { traceparent: `00-${span.traceId}-${span.spanId}-0${(span.traceFlags & TraceFlags.SAMPLED).toString(16)}` };
  const state = span.traceState?.serialize();
  if (state) headers.tracestate = state;
  return headers;
}

/** `server.address` and `server.port` of a call's URL: the backend's host, nothing of its path or query. */
function addServer(attributes: Attributes, url: string): void {
  try {
    const parsed = new URL(url);
    attributes['server.address'] = parsed.hostname;
    attributes['server.port'] = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
  } catch {
    // A URL the transport will refuse anyway: no address to record.
  }
}
