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
      try {
        if (!spread) {
          // One server: one pipeline.
          const pipeline = redis.pipeline();
          for (const { key, value, ttlMs, tags = [] } of entries) {
            pipeline.set(prefix + key, encode(value, at + ttlMs), 'PX', ttlMs);
            for (const tag of tags) {
              pipeline.sadd(`${prefix}tag:${tag}`, prefix + key);
              pipeline.pexpire(`${prefix}tag:${tag}`, ttlMs, 'GT');
              pipeline.pexpire(`${prefix}tag:${tag}`, ttlMs, 'NX');
            }
          }
          await pipeline.exec();
          return;
        }
        // A cluster: the same commands one by one, each to its own slot's node (a pipeline there
        // stays on one node), in three steps. The tags first: an entry is written only once every
        // tag holds it, so one whose tag write failed is never live. The entry. Its tags again: an
        // invalidation that emptied a tag between the first two steps (SPOP) leaves the entry
        // tracked for the next one, as on one server.
        const tagged = () => Promise.all(entries.flatMap(({ key, tags = [] }) => tags.map((tag) => redis.sadd(`${prefix}tag:${tag}`, prefix + key))));
        await Promise.all([tagged(), ...entries.flatMap(({ ttlMs, tags = [] }) => tags.flatMap((tag) => [
          redis.pexpire(`${prefix}tag:${tag}`, ttlMs, 'GT'),
          redis.pexpire(`${prefix}tag:${tag}`, ttlMs, 'NX'),
        ]))]);
        await Promise.all(entries.map(({ key, value, ttlMs }) => redis.set(prefix + key, encode(value, at + ttlMs), 'PX', ttlMs)));
        await tagged();
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
 * them: members are taken out of the set (SPOP, atomic), 1,000 at a time, and each is deleted.
 * An entry cached again meanwhile is added to the set again by its writer (the set is never
 * renamed or dropped under it), so no live entry is ever left out of its tag; one popped and then
 * written again before its delete is deleted (a miss, never a stale read).
 */
async function invalidateSpread(redis: RedisClient, tagKey: string): Promise<void> {
  // Bounded: writers adding to the tag as fast as it is emptied cannot keep this running.
  let left = (await redis.scard(tagKey)) + 1_000;
  while (left > 0) {
    const members = await redis.spop(tagKey, 1_000);
    if (members.length === 0) return;
    left -= members.length;
    try {
      await Promise.all(members.map((member) => redis.del(member)));
    } catch (err) {
      // Taken out of the tag but maybe not deleted: put back, for the next invalidation to find.
      await redis.sadd(tagKey, ...members).catch(() => undefined);
      throw err;
    }
  }
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
