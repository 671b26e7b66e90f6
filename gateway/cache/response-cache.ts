import { createHash } from 'node:crypto';
import { getOperationAST, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { useResponseCache, type Cache } from '@graphql-yoga/plugin-response-cache';
import type { CacheStore } from '../upstream/cache.ts';
import type { Principal } from '../../schema/principal.ts';

/**
 * Whole-operation cache over @graphql-yoga/plugin-response-cache, with Junction's store behind it.
 * What may be cached, and for how long, is said in the schema with `@cacheControl(maxAge, scope)`
 * (schema/cache-control.ts); an operation is kept for the shortest maxAge among what it returned,
 * and not at all when it returned an error or touched a type without one.
 *
 * Who sees an entry: the key holds the caller's verified identity and scopes (`session`), so an
 * entry is only ever served to the same principal holding the same scopes. Anonymous callers have
 * no session: they share entries, and anything PRIVATE is never kept for them. The key also holds
 * the headers that change a response (`accept`).
 */
export interface ResponseCacheOptions {
  store: CacheStore;
  /** The caller, verified (memoised per request, so this costs nothing more). */
  principalOf: (request: Request) => Promise<Principal>;
  /** Development: `extensions.responseCache` says hit or miss, and a hit's age. */
  exposeMetadata: boolean;
  now?: () => number;
  /**
   * Told what each query found (metrics): `hit` (answered from the store), `miss` (run), `bypass`
   * (it skipped the cache: `If-None-Match`).
   */
  observe?: (outcome: 'hit' | 'miss' | 'bypass') => void;
}

/**
 * The keys @envelop/response-cache adds to every document it runs (`__responseCacheTypeName:
 * __typename` in every selection set, `__responseCacheId: id` in those of types with an `id`), to
 * learn which entities an answer holds.
 */
const CACHE_METADATA_KEYS = ['__responseCacheTypeName', '__responseCacheId'] as const;

/**
 * Takes the response cache's own keys out of an answer, in place, wherever they are. The plugin
 * takes them out itself, but `__responseCacheId` only when its value is a non-empty string or a
 * non-zero number (@envelop/response-cache `removeMetadataFieldsFromResult`): an entity whose id
 * came back null, "" or 0 kept `"__responseCacheId": null` in the client's answer (a SOAP user
 * source's `geocode { name }` did, when an aliased field of a user source came back null).
 */
export function withoutCacheMetadata(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) withoutCacheMetadata(item);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  // Execution results only: null-prototype or plain objects (the plugin itself leaves others alone).
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== null && prototype !== Object.prototype) return;
  const record = value as Record<string, unknown>;
  for (const key of CACHE_METADATA_KEYS) if (key in record) delete record[key];
  for (const key in record) withoutCacheMetadata(record[key]);
}

/** Runs after the response cache's own hooks: no answer leaves with its keys (withoutCacheMetadata). */
function useNoCacheMetadata(): Plugin {
  const clean = (result: { data?: unknown; incremental?: readonly { data?: unknown; items?: unknown }[] }) => {
    withoutCacheMetadata(result.data);
    for (const part of result.incremental ?? []) {
      withoutCacheMetadata(part.data);
      withoutCacheMetadata(part.items);
    }
  };
  return {
    onExecute: () => ({
      onExecuteDone: ({ result }) => {
        if (!(Symbol.asyncIterator in result)) {
          clean(result);
          return undefined;
        }
        return { onNext: ({ result: part }) => clean(part) };
      },
    }),
  };
}

/** The session part of a cache key: who, and with which scopes; null for anonymous callers. */
export function sessionOf(principal: Principal): string | null {
  if (principal.kind === 'anonymous') return null;
  return `${principal.kind}:${principal.id}:${[...principal.scopes].sort().join(' ')}`;
}

/**
 * An entry is `<cached at, ms>\n<the response body>`, the body exactly as yoga would write it
 * (without yoga's internal `extensions.http`). A hit in production is answered with those bytes
 * as they are, through the result's `stringify`: parsing a 30 KB answer only to write it out
 * again was a third of the CPU of a cached Dashboard request.
 */
function bodyOf(result: ExecutionResult): string {
  const { http: _internal, ...extensions } = (result.extensions ?? {}) as Record<string, unknown>;
  // The plugin stores before its hooks that clean answers run (useNoCacheMetadata).
  withoutCacheMetadata(result.data);
  return JSON.stringify({ ...result, extensions: Object.keys(extensions).length > 0 ? extensions : undefined });
}

/** The plugin's cache interface over a CacheStore: entries tagged with the entities they hold. */
export function storeCache(store: CacheStore, { exposeMetadata, now = Date.now, observe }: { exposeMetadata: boolean; now?: () => number; observe?: ResponseCacheOptions['observe'] }): Cache {
  return {
    async get(id) {
      const [raw] = await store.getMany([`response:${id}`]);
      // Misses are counted where the query runs (useCacheOutcomes): the plugin asks twice for
      // each query it then runs, and once for each mutation.
      if (raw === undefined) return undefined;
      observe?.('hit');
      const newline = raw.indexOf('\n');
      const body = raw.slice(newline + 1);
      if (!exposeMetadata) return { stringify: () => body } as ExecutionResult;
      const result = JSON.parse(body) as ExecutionResult;
      return { ...result, extensions: { ...result.extensions, responseCacheAgeMs: now() - Number(raw.slice(0, newline)) } };
    },
    async set(id, result, entities, ttl) {
      if (!Number.isFinite(ttl) || ttl <= 0) return;
      const tags = new Set<string>();
      for (const { typename, id: entityId } of entities) {
        tags.add(typename);
        if (entityId != null) tags.add(`${typename}:${entityId}`);
      }
      await store.setMany([{ key: `response:${id}`, value: `${now()}\n${bodyOf(result)}`, ttlMs: ttl, tags: [...tags] }]);
    },
    async invalidate(entities) {
      const tags: string[] = [];
      for (const { typename, id } of entities) tags.push(id != null ? `${typename}:${id}` : typename);
      await store.invalidateTags(tags);
    },
  };
}

export function useJunctionResponseCache({ store, principalOf, exposeMetadata, now, observe }: ResponseCacheOptions): Plugin {
  const cache = useResponseCache({
    cache: storeCache(store, { exposeMetadata, ...(now ? { now } : {}), ...(observe ? { observe } : {}) }),
    // Without a maxAge from the schema, nothing is kept.
    ttl: 0,
    session: async (request) => sessionOf(await principalOf(request)),
    // `If-None-Match` would let anyone ask whether a given key is cached, before any check of who
    // they are; such requests skip the cache instead.
    enabled: (request) => !request.headers.has('if-none-match'),
    buildResponseCacheKey: ({ documentString, variableValues, operationName, sessionId, request }) =>
      createHash('sha256')
        .update(JSON.stringify([documentString, variableValues ?? {}, operationName ?? null, sessionId ?? null, request.headers.get('accept') ?? '']))
        .digest('hex'),
    includeExtensionMetadata: exposeMetadata,
    // Never an answer with errors, nor one served in part from stale entries.
    shouldCacheResult: ({ result }) => !result.errors?.length && !(result.extensions as { stale?: boolean } | undefined)?.stale,
  }) as Plugin;
  // Added in this order, each right after the last: the cache's hooks, then the cleaning ones.
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(cache);
      addPlugin(useNoCacheMetadata());
      if (observe) addPlugin(useCacheOutcomes(observe));
    },
  };
}

/**
 * A query that executes was not answered from the store (a hit never reaches execution): a miss,
 * or a bypass when the request skipped the cache. Mutations and subscriptions are no look-ups.
 */
function useCacheOutcomes(observe: NonNullable<ResponseCacheOptions['observe']>): Plugin {
  return {
    onExecute({ args }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'query') return;
      const request = (args.contextValue as { request?: Request }).request;
      observe(request?.headers.has('if-none-match') ? 'bypass' : 'miss');
    },
  };
}
