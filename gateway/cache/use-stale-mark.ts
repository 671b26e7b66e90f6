import type { AsyncLocalStorage } from 'node:async_hooks';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { handleStreamOrSingleExecutionResult } from '@envelop/core';

/**
 * When a backend is down, public entities kept past their freshness are served instead of an
 * error (sources/common/entity-cache.ts); such an answer carries `extensions.stale: true`. Listed
 * before the response cache, whose rule "only answers without errors or stale parts are kept"
 * then sees the mark.
 */
export function useStaleMark(marks: AsyncLocalStorage<{ stale: boolean }>): Plugin {
  const byContext = new WeakMap<object, { stale: boolean }>();
  return {
    instrumentation: {
      execute({ context }, wrapped) {
        const mark = { stale: false };
        byContext.set(context as object, mark);
        return marks.run(mark, wrapped);
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
