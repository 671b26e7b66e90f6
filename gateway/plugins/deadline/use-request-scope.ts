import type { AsyncLocalStorage } from 'node:async_hooks';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { handleStreamOrSingleExecutionResult } from '@envelop/core';

/** What every backend call of one request shares. */
export interface RequestScope {
  /** When the request stops waiting on backends (ms since the epoch). */
  deadline: number;
  /** Set when part of the answer was served from stale cache entries (their backend failing). */
  stale: boolean;
}

/**
 * One scope per request, carried by AsyncLocalStorage to every backend call the request causes,
 * including those a DataLoader makes a tick later (one storage for both needs: each one costs
 * every promise of the process a hook):
 * - the deadline (REQUEST_DEADLINE_MS from the start of execution): each call's timeout is cut to
 *   what is left, and retries stop when little is left;
 * - the stale mark: an answer served in part from stale entries carries `extensions.stale: true`.
 *   Listed before the response cache, whose rule "never keep a stale answer" then sees it.
 */
export function useRequestScope(store: AsyncLocalStorage<RequestScope>, deadlineMs: number): Plugin {
  const byContext = new WeakMap<object, RequestScope>();
  return {
    instrumentation: {
      execute({ context }, wrapped) {
        const scope: RequestScope = { deadline: Date.now() + deadlineMs, stale: false };
        byContext.set(context as object, scope);
        return store.run(scope, wrapped);
      },
    },
    onExecute({ args }) {
      return {
        onExecuteDone(payload) {
          return handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) => {
            if (!byContext.get(args.contextValue as object)?.stale) return;
            setResult({ ...result, extensions: { ...result.extensions, stale: true } } as ExecutionResult);
          });
        },
      };
    },
  };
}
