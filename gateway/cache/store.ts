import { getEach, isCluster, type RedisClient } from '../redis.ts';
import type { Logger } from 'pino';
import type { CacheEntry, CacheStore } from '../upstream/cache.ts';

/**
 * Two stores behind one interface. Each entry carries its expiry time, read against the injected
 * clock, so expiry is exact and testable with a faked clock; Redis's own PX expiry (and the
 * memory store's LRU) only reclaims space.
 *
 * Tags are sets of entry keys (`tag:<name>`), so invalidation reads one set and deletes its
 * members: never `KEYS` or `SCAN`. A tag set expires with the longest-lived entry added to it.
 *
 * On a Redis Cluster, entries and tag sets hash to any slot, so nothing here sends a command over
 * keys of two slots: reads are one GET per key and writes one command per key (ioredis pipelines
 * them per node), and a tag is invalidated in three steps instead of one script (`invalidateSpread`).
 */
export interface StoreOptions {
  /** Clock in ms (tests fake it). Default Date.now. */
  now?: () => number;
  /** Prefix of every key, so several gateways (or tests) can share one Redis. Default 'junction:'. */
  prefix?: string;
}

/** Redis holds `<expires at, ms>\n<value>`: read with one indexOf, no JSON around a value that may be 30 KB of JSON itself. */
const encode = (value: string, expiresAt: number) => `${expiresAt}\n${value}`;

function decode(raw: string | null | undefined, now: number): string | undefined {
  if (raw == null) return undefined;
  const newline = raw.indexOf('\n');
  if (newline < 0) return undefined;
  return now < Number(raw.slice(0, newline)) ? raw.slice(newline + 1) : undefined;
}

/** Drops a tag's set and every entry in it, atomically; in chunks so `unpack` stays within Lua's stack. */
const INVALIDATE_TAG = `
local members = redis.call('SMEMBERS', KEYS[1])
for i = 1, #members, 1000 do
  redis.call('DEL', unpack(members, i, math.min(i + 999, #members)))
end
redis.call('DEL', KEYS[1])
return #members`;

/**
 * Redis, shared by every gateway instance. Every command is bounded by the client's
 * command timeout (`COMMAND_TIMEOUT_MS`, 100 ms, gateway/redis.ts), and any error is a miss or a skipped write: Redis
 * trouble never fails a request. Errors are logged at most once per 10 s.
 */
export function createRedisStore(redis: RedisClient, logger: Logger, options: StoreOptions = {}): CacheStore {
  const now = options.now ?? Date.now;
  const prefix = options.prefix ?? 'junction:';
  let lastWarned = Number.NEGATIVE_INFINITY;
  // After a failure the store is left alone for REDIS_STORE_BACKOFF_MS (real time), so a hung or
  // dead Redis costs one command timeout per second, not one per command of every request.
  let skipUntil = 0;
  const warn = (op: string, err: unknown) => {
    skipUntil = Date.now() + REDIS_STORE_BACKOFF_MS;
    if (Date.now() - lastWarned < 10_000) return;
    lastWarned = Date.now();
    logger.warn({ op, err: err instanceof Error ? err.message : String(err) }, 'cache store unavailable; serving without it');
  };
  const skipping = () => Date.now() < skipUntil;
  const spread = isCluster(redis);
  return {
    kind: 'redis',
    now,
    async getMany(keys) {
      if (keys.length === 0) return [];
      if (skipping()) return keys.map(() => undefined);
      try {
        const raw = await getEach(redis, keys.map((k) => prefix + k));
        const at = now();
        return raw.map((r) => decode(r, at));
      } catch (err) {
        warn('get', err);
        return keys.map(() => undefined);
      }
    },
    async setMany(entries) {
      if (entries.length === 0 || skipping()) return;
      const at = now();
      // One server: one pipeline. A cluster: the same commands one by one, each to its own slot's
      // node (a pipeline there must stay on one node).
      const pipeline = spread ? undefined : redis.pipeline();
      const sent: Promise<unknown>[] = [];
      const target = pipeline ?? redis;
      const send = (command: unknown) => {
        if (!pipeline) sent.push(command as Promise<unknown>);
      };
      for (const { key, value, ttlMs, tags = [] } of entries) {
        send(target.set(prefix + key, encode(value, at + ttlMs), 'PX', ttlMs));
        for (const tag of tags) {
          send(target.sadd(`${prefix}tag:${tag}`, prefix + key));
          send(target.pexpire(`${prefix}tag:${tag}`, ttlMs, 'GT'));
          send(target.pexpire(`${prefix}tag:${tag}`, ttlMs, 'NX'));
        }
      }
      try {
        await (pipeline ? pipeline.exec() : Promise.all(sent));
      } catch (err) {
        warn('set', err);
      }
    },
    async invalidateTags(tags) {
      // Tried even while skipping: a lost invalidation leaves stale entries until their TTL.
      try {
        await Promise.all(tags.map((tag) => (spread ? invalidateSpread(redis, `${prefix}tag:${tag}`) : redis.eval(INVALIDATE_TAG, 1, `${prefix}tag:${tag}`))));
      } catch (err) {
        warn('invalidate', err);
      }
    },
  };
}

/**
 * A tag on a cluster, where its entries live in other slots than its set and no script may touch
 * them: read the set, delete each entry, then take those members (and only those) out of the set.
 * An entry tagged while this runs stays in the set for the next invalidation; an entry rewritten
 * between the read and the delete is deleted (a miss, never a stale read).
 */
async function invalidateSpread(redis: RedisClient, tagKey: string): Promise<void> {
  const members = await redis.smembers(tagKey);
  if (members.length === 0) return;
  await Promise.all(members.map((member) => redis.del(member)));
  for (let i = 0; i < members.length; i += 1_000) await redis.srem(tagKey, ...members.slice(i, i + 1_000));
}

/** One instance's own cache: a bounded LRU with the same expiry and tags as the Redis store. */
export function createMemoryStore(options: StoreOptions & { maxEntries?: number } = {}): CacheStore {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? MEMORY_STORE_MAX_ENTRIES;
  const entries = new Map<string, { value: string; expiresAt: number; tags: readonly string[] }>();
  const tagged = new Map<string, Set<string>>();
  // Every way out (expiry, eviction, overwrite, invalidation) also leaves the tag sets, so they
  // never outgrow the entries.
  const remove = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    for (const tag of entry.tags) {
      const keys = tagged.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) tagged.delete(tag);
    }
  };
  return {
    kind: 'memory',
    now,
    async getMany(keys) {
      const at = now();
      return keys.map((key) => {
        const entry = entries.get(key);
        if (!entry) return undefined;
        if (at >= entry.expiresAt) {
          remove(key);
          return undefined;
        }
        entries.delete(key); // most recently used goes last
        entries.set(key, entry);
        return entry.value;
      });
    },
    async setMany(list: readonly CacheEntry[]) {
      const at = now();
      for (const { key, value, ttlMs, tags = [] } of list) {
        remove(key);
        entries.set(key, { value, expiresAt: at + ttlMs, tags });
        for (const tag of tags) {
          let keys = tagged.get(tag);
          if (!keys) tagged.set(tag, (keys = new Set()));
          keys.add(key);
        }
        while (entries.size > maxEntries) remove(entries.keys().next().value as string);
      }
    },
    async invalidateTags(tags) {
      for (const tag of tags) for (const key of [...(tagged.get(tag) ?? [])]) remove(key);
    },
  };
}

/** How long the Redis store is left alone after a failed command. */
export const REDIS_STORE_BACKOFF_MS = 1_000;

/** Entries one instance keeps in memory without Redis. */
export const MEMORY_STORE_MAX_ENTRIES = 10_000;
