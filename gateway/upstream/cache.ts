/**
 * The cache seen from the sources: a key-value store with expiry and tags, that never fails a
 * caller. The gateway provides it (gateway/cache/store.ts: Redis, or in memory for one instance);
 * sources only say what to keep and for how long.
 */
export interface CacheEntry {
  key: string;
  value: string;
  ttlMs: number;
  /** Entity tags (`Customer:cus_1`); invalidating a tag drops every entry carrying it. */
  tags?: readonly string[];
}

export interface CacheStore {
  /** One value per key, undefined for a miss; a store failure or an expired entry is a miss. Never rejects. */
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  /** Never rejects; a failure only means the next read misses. */
  setMany(entries: readonly CacheEntry[]): Promise<void>;
  /** Drops every entry carrying one of the tags. Never rejects. */
  invalidateTags(tags: readonly string[]): Promise<void>;
  /** Where entries live, for logs and /readyz: 'redis' or 'memory'. */
  readonly kind: 'redis' | 'memory';
  /** The store's clock, in ms (faked in tests): what expiry and freshness are measured against. */
  now(): number;
}
