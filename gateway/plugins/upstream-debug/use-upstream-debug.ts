import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { UpstreamCallRecord } from '../../upstream/upstream-fetch.ts';

/** Send `x-junction-debug: 1` (development only) to get `extensions.upstream` on the response. */
export const DEBUG_HEADER = 'x-junction-debug';

export interface UpstreamDebugEntry extends UpstreamCallRecord {
  /** Served from Junction's entity cache instead of the backend (`operation` is then `cache:<entity>`). */
  cached: boolean;
}

/**
 * Lists, in the response, every backend call a request caused: source, operation, batch size,
 * duration, and whether it joined an identical call in flight or was served by the entity
 * cache; and each source's circuit breaker. The calls are collected in the request's scope
 * (use-request-scope.ts), which is what ties a call made later on a DataLoader tick to its request.
 */
export function useUpstreamDebug(callsOf: (request: Request) => UpstreamCallRecord[] | undefined, breakers: () => Record<string, string>): Plugin {
  return {
    onExecutionResult({ request, result, setResult }) {
      const records = callsOf(request);
      if (!records || !result || Symbol.asyncIterator in result) return;
      const single = result as ExecutionResult;
      const upstream: UpstreamDebugEntry[] = records.map((r) => ({ ...r, cached: r.cached ?? false }));
      setResult({ ...single, extensions: { ...single.extensions, upstream, breakers: breakers() } });
    },
  };
}
