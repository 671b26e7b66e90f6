import type { RedisClient } from '../redis.ts';

/**
 * What polling shares between instances (gateway/webhooks/poller.ts): which instance polls a topic
 * now, so that a source is called once per interval however many instances run, and the state the
 * last poll saw (each item's key and a hash of its content), so that a new holder of the lease,
 * after a restart or a failover, publishes what changed since and not everything again.
 *
 * In Redis when there is one, else in this process's memory. A topic's keys share one hash tag
 * (`junction:{poll:<topic>}:lease`, `...:state`), so the scripts below touch one Redis Cluster slot.
 */
export interface PollStore {
  /** Takes the topic's lease for `holder`, or extends it when `holder` has it, for `ttlMs`; true when `holder` holds it now. */
  lease(topic: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up when `holder` still has it, so that another instance takes over at its next interval. */
  release(topic: string, holder: string): Promise<void>;
  /** The state of the last poll, item key -> content hash; undefined while no poll has recorded one. */
  state(topic: string): Promise<Map<string, string> | undefined>;
  /**
   * Records the changes a poll found (`set` keys to hashes, `remove` keys), only while `holder`
   * holds the lease: false, and nothing written, once it does not.
   */
  commit(topic: string, holder: string, set: ReadonlyMap<string, string>, remove: readonly string[]): Promise<boolean>;
}

/**
 * How long a topic's state outlives its last poll, in seconds: a topic no longer polled is
 * forgotten after a week, and its next poll, if any, records a new baseline.
 */
export const STATE_TTL_SEC = 7 * 86_400;

/** A field no item can have (keys are never empty): the state exists, even when the list is empty. */
const BASELINE = '';

const key = (topic: string, part: 'lease' | 'state') => `junction:{poll:${topic}}:${part}`;

/** Takes a free lease, or extends the holder's own; keeps the state alive while the topic is polled. */
const LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder ~= false and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1`;

/** Deletes the lease only when it is the caller's: a lapsed lease another instance took stays theirs. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** ARGV: holder, ttl, the number of pairs, then key/hash pairs, then keys to remove. */
const COMMIT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[3])
redis.call('HSET', KEYS[2], '', '1')
for i = 4, 3 + n * 2, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
for i = 4 + n * 2, #ARGV do redis.call('HDEL', KEYS[2], ARGV[i]) end
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1`;

export function createRedisPollStore(redis: RedisClient): PollStore {
  return {
    async lease(topic, holder, ttlMs) {
      return (await redis.eval(LEASE, 2, key(topic, 'lease'), key(topic, 'state'), holder, String(ttlMs), String(STATE_TTL_SEC))) === 1;
    },
    async release(topic, holder) {
      await redis.eval(RELEASE, 1, key(topic, 'lease'), holder);
    },
    async state(topic) {
      const fields = await redis.hgetall(key(topic, 'state'));
      if (!(BASELINE in fields)) return undefined;
      delete fields[BASELINE];
      return new Map(Object.entries(fields));
    },
    async commit(topic, holder, set, remove) {
      const pairs = [...set].flat();
      const written = await redis.eval(COMMIT, 2, key(topic, 'lease'), key(topic, 'state'), holder, String(STATE_TTL_SEC), String(set.size), ...pairs, ...remove);
      return written === 1;
    },
  };
}

export interface MemoryPollStoreOptions {
  /** Clock in ms (tests fake it). */
  now?: () => number;
}

/** One instance's: the lease is always its own, and the state lives as long as the process. */
export function createMemoryPollStore(options: MemoryPollStoreOptions = {}): PollStore {
  const now = options.now ?? (() => Date.now());
  const leases = new Map<string, { holder: string; until: number }>();
  const states = new Map<string, Map<string, string>>();
  const holds = (topic: string, holder: string) => {
    const lease = leases.get(topic);
    return lease !== undefined && lease.holder === holder && lease.until > now();
  };
  return {
    async lease(topic, holder, ttlMs) {
      const lease = leases.get(topic);
      if (lease && lease.holder !== holder && lease.until > now()) return false;
      leases.set(topic, { holder, until: now() + ttlMs });
      return true;
    },
    async release(topic, holder) {
      if (leases.get(topic)?.holder === holder) leases.delete(topic);
    },
    async state(topic) {
      const state = states.get(topic);
      return state ? new Map(state) : undefined;
    },
    async commit(topic, holder, set, remove) {
      if (!holds(topic, holder)) return false;
      const state = states.get(topic) ?? new Map<string, string>();
      for (const [item, hash] of set) state.set(item, hash);
      for (const item of remove) state.delete(item);
      states.set(topic, state);
      return true;
    },
  };
}
