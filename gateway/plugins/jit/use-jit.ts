import { useGraphQlJit, type JITCache } from '@envelop/graphql-jit';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** Compiled documents kept, by document text: a bound on the memory arbitrary documents can take. */
export const JIT_CACHE_SIZE = 1_000;

/** A small LRU: Map keeps insertion order, so the first key is the least recently used. */
function boundedCache(max: number): JITCache {
  const entries = new Map<string, Parameters<JITCache['set']>[1]>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (entry) {
        entries.delete(key);
        entries.set(key, entry);
      }
      return entry;
    },
    set(key, value) {
      entries.set(key, value);
      if (entries.size > max) entries.delete(entries.keys().next().value as string);
    },
  };
}

/**
 * Executes documents compiled to JavaScript by graphql-jit instead of interpreting them with
 * graphql-js on every request; the compiled form is kept per document text. Not subscriptions:
 * graphql-jit hands a subscription field's `subscribe` the operation's variables in place of its
 * arguments (`shipmentUpdated(customerId: $c)` saw `{ c }`), and a subscription is compiled once
 * and runs for minutes, so graphql-js loses nothing there.
 */
export function useJit(): Plugin {
  return useGraphQlJit({}, {
    cache: boundedCache(JIT_CACHE_SIZE),
    enableIf: ({ document, operationName }) => getOperationAST(document, operationName)?.operation !== 'subscription',
  }) as Plugin;
}
