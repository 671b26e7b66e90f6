import type { ExecutionResult } from 'graphql';
import type { Span } from '@opentelemetry/api';
import type { Plugin } from 'graphql-yoga';
import { handleStreamOrSingleExecutionResult } from '@envelop/core';
import type { UpstreamCallRecord } from '../../upstream/upstream-fetch.ts';

/** What every backend call of one request shares. */
export interface RequestScope {
  /** When the request stops waiting on backends (ms since the epoch). */
  deadline: number;
  /** Set when part of the answer was served from stale cache entries (their backend failing). */
  stale: boolean;
  /** The backend calls made for the request, kept only when the debug extension asked for them. */
  calls: UpstreamCallRecord[] | undefined;
  /** The span backend calls are traced under (gateway/tracing/), when tracing is on. */
  span?: Span;
}

export interface RequestScopeOptions {
  deadlineMs: number;
  /** Whether to keep the request's backend calls (development, `x-junction-debug: 1`). */
  collectCalls: (request: Request) => boolean;
  /** Where each request's scope is found again: by backend calls (through their GraphQL context's request) and the debug extension. */
  byRequest: WeakMap<object, RequestScope>;
  /** The span of the operation being executed (gateway/tracing/), by its context; absent: tracing off. */
  spanOf?: (context: object) => Span | undefined;
}

/**
 * One scope per request, found by every backend call the request causes through the GraphQL
 * context the call carries (its `request`), including those a DataLoader makes a tick later. Not
 * an AsyncLocalStorage: on Node 20 one costs every promise of the process a hook, about a twentieth
 * of a cheap request's CPU. The scope holds:
 * - the deadline (REQUEST_DEADLINE_MS from the start of execution): each call's timeout is cut to
 *   what is left, and retries stop when little is left;
 * - the stale mark: an answer served in part from stale entries carries `extensions.stale: true`.
 *   Listed before the response cache, whose rule "never keep a stale answer" then sees it;
 * - in development, on request, the list of backend calls the debug extension shows;
 * - with tracing on, the span its backend calls' spans are children of (carried here rather than
 *   in OpenTelemetry's global context manager, which would be a second storage).
 */
export function useRequestScope({ deadlineMs, collectCalls, byRequest, spanOf }: RequestScopeOptions): Plugin {
  const requestOf = (context: unknown) => (context as { request: Request }).request;
  return {
    instrumentation: {
      execute({ context }, wrapped) {
        const request = requestOf(context);
        const scope: RequestScope = { deadline: Date.now() + deadlineMs, stale: false, calls: collectCalls(request) ? [] : undefined };
        if (spanOf) scope.span = spanOf(context);
        byRequest.set(request, scope);
        // Each operation of a batch has a context of its own and shares the Request.
        byRequest.set(context as object, scope);
        return wrapped();
      },
    },
    onExecute({ args }) {
      return {
        onExecuteDone(payload) {
          return handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) => {
            if (!(byRequest.get(args.contextValue as object) ?? byRequest.get(requestOf(args.contextValue)))?.stale) return;
            setResult({ ...result, extensions: { ...result.extensions, stale: true } } as ExecutionResult);
          });
        },
      };
    },
  };
}
