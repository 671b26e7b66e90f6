import type { AsyncLocalStorage } from 'node:async_hooks';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { UpstreamCallRecord } from '../../../sources/common/upstream-fetch.ts';

/** Send `x-junction-debug: 1` (development only) to get `extensions.upstream` on the response. */
export const DEBUG_HEADER = 'x-junction-debug';

export interface UpstreamDebugEntry extends UpstreamCallRecord {
  /** Served from Junction's entity cache instead of the backend (`operation` is then `cache:<entity>`). */
  cached: boolean;
}

/**
 * Lists, in the response, every backend call a request caused: source, operation, batch size,
 * duration, and whether it joined an identical call in flight; and each source's circuit breaker. The source clients report each
 * call to the gateway's `log`; running execution inside `log.run` is what ties a call, made
 * later on a DataLoader batch tick, to the request that caused it.
 */
export function useUpstreamDebug(log: AsyncLocalStorage<UpstreamCallRecord[]>, breakers: () => Record<string, string>): Plugin {
  const calls = new WeakMap<Request, UpstreamCallRecord[]>();
  return {
    instrumentation: {
      execute({ context }, wrapped) {
        const request = (context as { request?: Request }).request;
        if (!request || request.headers.get(DEBUG_HEADER) !== '1') return wrapped();
        const records: UpstreamCallRecord[] = [];
        calls.set(request, records);
        return log.run(records, wrapped);
      },
    },
    onExecutionResult({ request, result, setResult }) {
      const records = calls.get(request);
      if (!records || !result || Symbol.asyncIterator in result) return;
      const single = result as ExecutionResult;
      const upstream: UpstreamDebugEntry[] = records.map((r) => ({ ...r, cached: r.cached ?? false }));
      setResult({ ...single, extensions: { ...single.extensions, upstream, breakers: breakers() } });
    },
  };
}
