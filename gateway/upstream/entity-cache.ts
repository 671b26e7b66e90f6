import type { CacheStore } from './cache.ts';
import type { UpstreamCallRecord } from './upstream-fetch.ts';

/**
 * The entity cache in front of a batch look-up: a batch asks the store first and sends the
 * backend only the keys it does not have, and a key already being fetched (by any request on
 * this instance) is waited for rather than fetched again, so a thousand concurrent misses on one
 * key make one backend call.
 *
 * Shared by every caller: what the backends return here depends only on the gateway's own
 * credentials, never on who asked, and who may see it is decided before a loader is called
 * (schema/authorization.ts). Absent results (`null`) are not kept.
 */
export interface EntityCache {
  /**
   * Wraps a DataLoader batch function. `namespace` names the entity ('customer'), `keyOf` turns a
   * loader key into its cache key, `tagsOf` names the entity tags of a value (for invalidation).
   */
  batch<K, V>(spec: EntitySpec<K, V>, load: (keys: readonly K[]) => Promise<V[]>): (keys: readonly K[]) => Promise<V[]>;
}

export interface EntitySpec<K, V> {
  source: string;
  namespace: string;
  ttlMs: number;
  /**
   * Public data only: how long past `ttlMs` an entry is kept to be served, marked stale, when its
   * backend fails. Absent: never served stale.
   */
  staleMs?: number;
  keyOf: (key: K) => string;
  tagsOf?: (value: V) => string[];
  /** Whether a fetched value may be kept (default: every one but null); one that may not is still answered. */
  keep?: (value: V) => boolean;
  /** The GraphQL context of the request the batch is for, given to `onHit` and `onStale`. */
  context?: object;
}

export interface EntityCacheOptions {
  store: CacheStore;
  /** Told about every batch that found keys in the cache (the debug extension marks them cached). */
  onHit?: (record: UpstreamCallRecord, context?: object) => void;
  /** Told when expired entries were served because their backend failed (the response says so). */
  onStale?: (record: UpstreamCallRecord, context?: object) => void;
  /**
   * Told what each batch's keys found, once per outcome and batch (metrics): `hit`, `miss` (not
   * kept, expired, or being fetched already) and `stale` (expired, served because its backend failed).
   */
  onLookup?: (outcome: 'hit' | 'miss' | 'stale', count: number) => void;
  now?: () => number;
}

export function createEntityCache({ store, onHit, onStale, onLookup, now = () => performance.now() }: EntityCacheOptions): EntityCache {
  // Per instance, per namespace: keys being fetched now, by cache key.
  const inFlight = new Map<string, Promise<unknown>>();

  return {
    batch<K, V>(spec: EntitySpec<K, V>, load: (keys: readonly K[]) => Promise<V[]>) {
      const { source, namespace, ttlMs, staleMs = 0, keyOf, tagsOf, keep, context } = spec;
      return async (keys: readonly K[]) => {
        const started = now();
        const cacheKeys = keys.map((key) => `${namespace}:${keyOf(key)}`);
        const stored = await store.getMany(cacheKeys);
        const at = store.now();
        const results: (V | Promise<V>)[] = new Array(keys.length);
        const missing: number[] = [];
        const stale = new Map<number, V>();
        let hits = 0;
        stored.forEach((raw, i) => {
          // An entry is `<fresh until, ms>\n<JSON>`; past that, it is only a fallback.
          const newline = raw === undefined ? -1 : raw.indexOf('\n');
          if (raw !== undefined && newline > 0) {
            const value = JSON.parse(raw.slice(newline + 1)) as V;
            if (at < Number(raw.slice(0, newline))) {
              results[i] = value;
              hits += 1;
              return;
            }
            stale.set(i, value);
          }
          const pending = inFlight.get(cacheKeys[i]!) as Promise<V> | undefined;
          if (pending) results[i] = pending;
          else missing.push(i);
        });
        if (hits > 0) onHit?.({ source, operation: `cache:${namespace}`, batchSize: hits, durationMs: Math.round((now() - started) * 10) / 10, coalesced: false, cached: true }, context);
        // Keys with an expired entry to fall back on are told once their backend has answered: a
        // miss, or stale when the fallback was served.
        const fallbacks = stale.size === 0 ? 0 : missing.filter((i) => stale.has(i)).length;
        if (onLookup) {
          if (hits > 0) onLookup('hit', hits);
          if (keys.length - hits - fallbacks > 0) onLookup('miss', keys.length - hits - fallbacks);
        }

        if (missing.length > 0) {
          const loaded = load(missing.map((i) => keys[i]!));
          // The backend failed: what is kept past its freshness is served instead, and said to be.
          const fetched = stale.size === 0 ? loaded : loaded.then((values) => {
            if (fallbacks > 0) onLookup?.('miss', fallbacks);
            return values;
          }, (error: unknown) => {
            if (fallbacks > 0) onLookup?.('stale', fallbacks);
            onStale?.({ source, operation: `stale:${namespace}`, batchSize: stale.size, durationMs: Math.round((now() - started) * 10) / 10, coalesced: false, cached: true }, context);
            return missing.map((i) => (stale.has(i) ? stale.get(i)! : (error instanceof Error ? error : new Error(String(error))) as V));
          });
          missing.forEach((i, position) => {
            const one = fetched.then((values) => values[position] as V);
            one.catch(() => undefined); // the caller sees the error through `results`
            inFlight.set(cacheKeys[i]!, one);
            results[i] = one;
          });
          const forget = () => missing.forEach((i) => inFlight.delete(cacheKeys[i]!));
          fetched.then((values) => {
            const entries = missing.flatMap((i, position) => {
              const value = values[position];
              if (value === null || value === undefined || value instanceof Error || (keep && !keep(value))) return [];
              if (stale.has(i) && stale.get(i) === value) return []; // served stale: keep the old entry as it is
              return [{ key: cacheKeys[i]!, value: `${store.now() + ttlMs}\n${JSON.stringify(value)}`, ttlMs: ttlMs + staleMs, ...(tagsOf ? { tags: tagsOf(value) } : {}) }];
            });
            // Written in the background: a slow or failed store never delays the answer. The keys
            // stay in flight until the store has them, and one turn of the event loop longer: a
            // batch that read the store before the write landed, and missed, must still find them
            // here (forgotten as soon as the backend answered, they made a 1000-request burst on one
            // key call the backend twice now and then). Every reply Redis sent before the write's
            // own is handled before the setImmediate.
            void store.setMany(entries).catch(() => undefined).finally(() => setImmediate(forget));
          }, forget);
        }
        // One key's failure is that key's (DataLoader takes an Error per key): hits still answer.
        const settled = await Promise.allSettled(results);
        return settled.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason instanceof Error ? r.reason : new Error(String(r.reason))) as V));
      };
    },
  };
}

/** No cache: every batch goes to the backend (unit tests of the loaders, tools). */
export const NO_CACHE: EntityCache = { batch: (_spec, load) => load };
