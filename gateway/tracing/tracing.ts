/**
 * OpenTelemetry traces of one gateway: a server span per HTTP request (continuing the caller's
 * W3C `traceparent`), a span per GraphQL phase under it (parse, validate, context, execute or
 * subscribe), and a span per backend call under the execute span (upstream-spans.ts).
 *
 * Given a TracerProvider (createGateway's `tracerProvider`; main.ts makes one from the OTEL_*
 * variables, setup.ts): without one none of this exists, no plugin is added and no call carries a
 * `traceparent`. Nothing global is touched: the provider is passed in, the current span travels
 * on Junction's own request scope (found by the request's GraphQL context, gateway/plugins/deadline/use-request-scope.ts)
 * rather than OpenTelemetry's context manager, and contexts are passed to `startSpan` by hand.
 *
 * A request the sampler leaves out costs one non-recording span and two WeakMap look-ups: phase
 * and call spans are only made under a recording request span, and backend calls then only carry
 * its context onwards, flagged not sampled.
 *
 * Never recorded: variables and their values, the document's text (its SHA-256 instead: literals
 * in it are arguments too), headers (Authorization, cookies, API keys), the query string, error
 * messages outside development (the catalogued codes instead).
 */
import { createHash } from 'node:crypto';
import { getOperationAST, type ExecutionResult } from 'graphql';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter, type TracerProvider } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import { ATTR, PHASE_SPANS } from './names.ts';
import { createUpstreamSpans, type UpstreamSpans } from './upstream-spans.ts';

export interface TracingOptions {
  tracerProvider: TracerProvider;
  /** Development records error messages as well as their codes. */
  mode: 'development' | 'production';
  /** Each request's id (useRequestId), recorded on its span to find its log lines. */
  requestIdOf: (request: Request) => string | undefined;
  /** The span of the operation of the request whose GraphQL context is given, from its request scope (see `spanOf`). */
  currentSpan: (context?: object) => Span | undefined;
}

export interface GatewayTracing {
  /** Placed early (after the metrics): its request span must be open before the phases start. */
  plugin: Plugin;
  /**
   * The span a request scope carries, by the operation's context: the execute span, or the request's
   * own span when it is not recorded (its context is still carried to the backends).
   */
  spanOf(context: object): Span | undefined;
  /** The backend calls' spans, for every source's runtime (RuntimeHooks.tracing). */
  upstream: UpstreamSpans;
}

/** Probes answer load balancers every few seconds: no trace is worth that much noise. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz']);
/** Paths that are routes (a span named after them stays a small set); other paths name none. */
const ROUTES = new Set(['/graphql', '/graphql/stream']);

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

interface RequestTrace {
  span: Span;
  /** The context phase spans start in: the request span's (ROOT_CONTEXT when it is not recorded: none start). */
  context: Context;
  recording: boolean;
  /** Catalogued codes of the request's result errors (onResultProcess); made on the first. */
  codes: Set<string> | undefined;
  /** Development only: the first error's message. */
  message: string | undefined;
}

export function createTracing({ tracerProvider, mode, requestIdOf, currentSpan }: TracingOptions): GatewayTracing {
  const tracer = tracerProvider.getTracer('junction');
  const propagator = new W3CTraceContextPropagator();
  const requests = new WeakMap<Request, RequestTrace>();
  // By the operation's context object, which every phase of one operation shares (one request
  // may carry a batch of operations).
  const executing = new WeakMap<object, Span>();
  const building = new WeakMap<object, Span>();
  const traceOf = (context: unknown) => requests.get((context as { request: Request }).request);

  /** Runs a synchronous phase inside its span. */
  const phase = (context: unknown, name: string, wrapped: () => void): void => {
    const state = traceOf(context);
    if (!state?.recording) return wrapped();
    const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL }, state.context);
    try {
      wrapped();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  };
  /** Runs an asynchronous phase (execute, subscribe) inside its span, kept for the request scope. */
  const asyncPhase = (context: object, name: string, wrapped: () => void | Promise<void>): void | Promise<void> => {
    const state = traceOf(context);
    if (!state?.recording) return wrapped();
    const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL }, state.context);
    executing.set(context, span);
    const failed = (err: unknown) => {
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      throw err;
    };
    let result: void | Promise<void>;
    try {
      result = wrapped();
    } catch (err) {
      return failed(err);
    }
    if (result && typeof result.then === 'function') return result.then(() => span.end(), failed);
    span.end();
    return result;
  };

  const plugin: Plugin = {
    onPluginInit({ registerContextErrorHandler }) {
      // A context that could not be built (bad credentials, say) ends its span too.
      registerContextErrorHandler(({ context }) => {
        const span = building.get(context);
        if (!span) return;
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      });
    },
    // Synchronous, as the metrics' hook: an async one puts every request through one more promise.
    onRequest({ request, url }) {
      if (UNTRACED_PATHS.has(url.pathname)) return;
      // Most callers send none: the propagator's parsing is skipped for them.
      const parent = request.headers.has('traceparent') ? propagator.extract(ROOT_CONTEXT, request.headers, headerGetter) : ROOT_CONTEXT;
      const route = ROUTES.has(url.pathname) ? url.pathname : undefined;
      const span = tracer.startSpan(route ? `${request.method} ${route}` : request.method, { kind: SpanKind.SERVER }, parent);
      const recording = span.isRecording();
      if (recording) {
        const requestId = requestIdOf(request);
        span.setAttributes({
          'http.request.method': request.method,
          'url.scheme': url.protocol.replace(':', ''),
          'url.path': url.pathname,
          'server.address': url.hostname,
          ...(route ? { 'http.route': route } : {}),
          ...(request.headers.has('user-agent') ? { 'user_agent.original': request.headers.get('user-agent')! } : {}),
          ...(requestId !== undefined ? { [ATTR.requestId]: requestId } : {}),
        });
      }
      requests.set(request, { span, context: recording ? trace.setSpan(ROOT_CONTEXT, span) : ROOT_CONTEXT, recording, codes: undefined, message: undefined });
    },
    onContextBuilding({ context }) {
      const state = traceOf(context);
      if (!state?.recording) return undefined;
      const span = tracer.startSpan(PHASE_SPANS.context, { kind: SpanKind.INTERNAL }, state.context);
      building.set(context, span);
      return () => span.end();
    },
    onExecute({ args }) {
      const span = executing.get(args.contextValue as object);
      if (!span) return;
      // The operation that runs names the request, whether or not the client sent operationName.
      const operation = getOperationAST(args.document, args.operationName);
      const attributes = {
        'graphql.operation.type': operation?.operation ?? 'unknown',
        ...(operation?.name ? { 'graphql.operation.name': operation.name.value } : {}),
      };
      span.setAttributes(attributes);
      // Here rather than in an onParams hook: one hook less on every request, sampled or not.
      const params = (args.contextValue as { params?: GraphQLParams }).params;
      const persisted = (params?.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery?.sha256Hash;
      // The text's own hash when there is text; a client's persisted-document hash only when it is one
      // (its text is then Junction's own, from the persisted documents): never a string a client chose.
      const hash = typeof params?.query === 'string'
        ? createHash('sha256').update(params.query).digest('hex')
        : typeof persisted === 'string' && /^[0-9a-f]{64}$/i.test(persisted) ? persisted.toLowerCase() : undefined;
      traceOf(args.contextValue)?.span.setAttributes(hash === undefined ? attributes : { ...attributes, [ATTR.documentHash]: hash });
    },
    onResultProcess({ request, result }) {
      const state = requests.get(request);
      if (!state?.recording) return;
      for (const one of Array.isArray(result) ? result : [result]) {
        if (Symbol.asyncIterator in one) continue;
        for (const error of (one as ExecutionResult).errors ?? []) {
          const code = error.extensions?.code;
          (state.codes ??= new Set()).add(typeof code === 'string' ? code : 'UNKNOWN');
          state.message ??= error.message;
        }
      }
    },
    onResponse({ request, response }) {
      const state = requests.get(request);
      if (!state) return;
      requests.delete(request);
      const { span } = state;
      if (state.recording) {
        span.setAttribute('http.response.status_code', response.status);
        if (state.codes !== undefined || response.status >= 500) {
          const codes = [...(state.codes ?? [])];
          if (codes.length > 0) span.setAttribute(ATTR.errorCodes, codes);
          span.setAttribute('error.type', codes[0] ?? String(response.status));
          span.setStatus({
            code: SpanStatusCode.ERROR,
            ...(mode === 'development' && state.message !== undefined ? { message: state.message } : {}),
          });
        }
      }
      span.end();
    },
    instrumentation: {
      parse: ({ context }, wrapped) => phase(context, PHASE_SPANS.parse, wrapped),
      validate: ({ context }, wrapped) => phase(context, PHASE_SPANS.validate, wrapped),
      execute: ({ context }, wrapped) => asyncPhase(context, PHASE_SPANS.execute, wrapped),
      subscribe: ({ context }, wrapped) => asyncPhase(context, PHASE_SPANS.subscribe, wrapped),
    },
  };

  return {
    plugin,
    spanOf: (context) => executing.get(context) ?? traceOf(context)?.span,
    upstream: createUpstreamSpans({ tracer, propagator, parent: currentSpan }),
  };
}
