import { getEach, type RedisClient } from '../redis.ts';

/**
 * Where services' delivery registrations, and what happened to their events, are kept: in this
 * process's memory for one instance, or in Redis, where every instance reads the same
 * registrations and only one delivers each registration's events (the one holding its lease), so
 * that they go out in order, one at a time, once.
 *
 * Redis keys: a registration's own keys share its hash tag (`junction:{delivery:<id>}:...`: the
 * registration, its lease, its claimed events, failed events, events to replay and recent
 * attempts) so that a script over them stays in one Redis Cluster slot; the index of every
 * registration, each owner's set and the version live under `junction:deliveries:...`.
 */

/** Who registered, as verified then: the registration runs as this principal. */
export interface RegistrationOwner {
  kind: 'service';
  id: string;
  scopes: string[];
  via: 'jwt' | 'api-key' | 'none';
}

export interface Registration {
  id: string;
  /** `service:<id>`: who may see and manage it. */
  owner: string;
  principal: RegistrationOwner;
  url: string;
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  /** `whsec_...`: signs every event; shown to its owner once, when registered. */
  secret: string;
  createdAt: number;
}

/** An event that was not delivered, kept for replay. */
export interface FailedDelivery {
  /** Its `webhook-id`. */
  id: string;
  /** The event it came from (`<topic>:<event id>`). */
  event: string;
  /** The exact body that was (or would have been) sent; a replay sends it again, freshly signed. */
  body: string;
  reason: 'exhausted' | 'rejected' | 'redirected' | 'url_refused' | 'queue_full' | 'interrupted';
  /** The last answer's status, if there was an answer. */
  status?: number;
  /** The last failure's words, when there was no answer. */
  error?: string;
  attempts: number;
  failedAt: number;
}

/** One POST of one event. */
export interface AttemptRecord {
  id: string;
  attempt: number;
  at: number;
  outcome: 'delivered' | 'retrying' | 'failed';
  status?: number;
  error?: string;
  ms: number;
}

export interface DeliveryStore {
  /** Adds a registration unless its owner holds `max` already. */
  add(registration: Registration, max: number): Promise<'added' | 'limit'>;
  get(id: string): Promise<Registration | undefined>;
  /** An owner's registrations, or every registration (no owner given). */
  list(owner?: string): Promise<Registration[]>;
  remove(registration: Registration): Promise<void>;
  /** Changes whenever a registration is added or removed: instances reload their list when it does. */
  version(): Promise<string>;
  /** Takes, or keeps, the right to deliver a registration's events for `ttlMs`; true when `holder` has it. */
  lease(id: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease back (an instance stopping), so another takes it at once. */
  release(id: string, holder: string): Promise<void>;
  /**
   * The first to claim an event delivers it: `claimed`; `taken` when another instance did (two
   * holders of one lease for a moment); `gone` when the registration was removed.
   */
  claim(id: string, event: string, ttlSec: number): Promise<'claimed' | 'taken' | 'gone'>;
  /** Keeps a failed event, the newest `max`. */
  fail(id: string, entry: FailedDelivery, max: number): Promise<void>;
  /** The failed events, newest first. */
  failed(id: string): Promise<FailedDelivery[]>;
  /** Moves failed events (every one, or those whose ids are given) to be sent again; resolves to those moved, oldest first. */
  replay(id: string, ids?: readonly string[]): Promise<FailedDelivery[]>;
  /** Takes what `replay` moved, oldest first: the instance delivering the registration sends it. */
  takeReplays(id: string): Promise<FailedDelivery[]>;
  /** Records an attempt, keeping the newest `max`. */
  attempt(id: string, record: AttemptRecord, max: number): Promise<void>;
  /** The recent attempts, newest first. */
  attempts(id: string): Promise<AttemptRecord[]>;
}

/** Longest an event's claim is remembered: a copy of it arriving later than this is delivered again. */
export const CLAIM_TTL_SEC = 86_400;


// Both scripts read and write one registration's keys only (one hash tag, one slot).
const LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if holder then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then return 1 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 0`;

export interface RedisDeliveryStoreOptions {
  /** Put before every key (tests share one Redis). Default `junction:`. */
  prefix?: string;
}

export function createRedisDeliveryStore(redis: RedisClient, options: RedisDeliveryStoreOptions = {}): DeliveryStore {
  const { prefix = 'junction:' } = options;
  const tagged = (id: string, part: string) => `${prefix}{delivery:${id}}:${part}`;
  const INDEX = `${prefix}deliveries:index`;
  const VERSION = `${prefix}deliveries:version`;
  const ownerKey = (owner: string) => `${prefix}deliveries:owner:${owner}`;
  const parse = <T>(text: string | null | undefined): T | undefined => (text ? JSON.parse(text) as T : undefined);
  const getMany = async (ids: string[]) => {
    if (ids.length === 0) return [];
    const replies = await getEach(redis, ids.map((id) => tagged(id, 'registration')));
    return replies.flatMap((text) => {
      const registration = parse<Registration>(text);
      return registration ? [registration] : [];
    });
  };
  return {
    async add(registration, max) {
      const owned = ownerKey(registration.owner);
      // Counted after adding: two registrations racing for the last place may both be refused, never both taken.
      await redis.sadd(owned, registration.id);
      if ((await redis.scard(owned)) > max) {
        await redis.srem(owned, registration.id);
        return 'limit';
      }
      await redis.set(tagged(registration.id, 'registration'), JSON.stringify(registration));
      await redis.sadd(INDEX, registration.id);
      await redis.incr(VERSION);
      return 'added';
    },
    async get(id) {
      return parse<Registration>(await redis.get(tagged(id, 'registration')));
    },
    async list(owner) {
      const ids = await redis.smembers(owner === undefined ? INDEX : ownerKey(owner));
      return (await getMany(ids.sort())).sort((a, b) => a.createdAt - b.createdAt);
    },
    async remove(registration) {
      const { id } = registration;
      await redis.del(tagged(id, 'registration'), tagged(id, 'failed'), tagged(id, 'replay'), tagged(id, 'attempts'), tagged(id, 'lease'));
      await redis.srem(INDEX, id);
      await redis.srem(ownerKey(registration.owner), id);
      await redis.incr(VERSION);
    },
    async version() {
      return (await redis.get(VERSION)) ?? '0';
    },
    async lease(id, holder, ttlMs) {
      return (await redis.eval(LEASE, 2, tagged(id, 'lease'), tagged(id, 'registration'), holder, String(ttlMs))) === 1;
    },
    async release(id, holder) {
      await redis.eval(RELEASE, 1, tagged(id, 'lease'), holder);
    },
    async claim(id, event, ttlSec) {
      const claimed = await redis.eval(CLAIM, 2, tagged(id, 'registration'), tagged(id, `sent:${event}`), String(ttlSec));
      return claimed === 1 ? 'claimed' : claimed === -1 ? 'gone' : 'taken';
    },
    async fail(id, entry, max) {
      await redis.multi().lpush(tagged(id, 'failed'), JSON.stringify(entry)).ltrim(tagged(id, 'failed'), 0, max - 1).exec();
    },
    async failed(id) {
      return (await redis.lrange(tagged(id, 'failed'), 0, -1)).map((text) => JSON.parse(text) as FailedDelivery);
    },
    async replay(id, ids) {
      const wanted = ids === undefined ? undefined : new Set(ids);
      const moved: FailedDelivery[] = [];
      // Oldest first. LREM decides who moves an entry: two replays at once move each entry once.
      for (const text of (await redis.lrange(tagged(id, 'failed'), 0, -1)).reverse()) {
        const entry = JSON.parse(text) as FailedDelivery;
        if (wanted && !wanted.has(entry.id)) continue;
        if ((await redis.lrem(tagged(id, 'failed'), 1, text)) !== 1) continue;
        await redis.rpush(tagged(id, 'replay'), text);
        moved.push(entry);
      }
      return moved;
    },
    async takeReplays(id) {
      const [[, entries] = [null, []]] = (await redis.multi().lrange(tagged(id, 'replay'), 0, -1).del(tagged(id, 'replay')).exec()) ?? [];
      return (entries as string[]).map((text) => JSON.parse(text) as FailedDelivery);
    },
    async attempt(id, record, max) {
      await redis.multi().lpush(tagged(id, 'attempts'), JSON.stringify(record)).ltrim(tagged(id, 'attempts'), 0, max - 1).exec();
    },
    async attempts(id) {
      return (await redis.lrange(tagged(id, 'attempts'), 0, -1)).map((text) => JSON.parse(text) as AttemptRecord);
    },
  };
}

export interface MemoryDeliveryStoreOptions {
  /** Bytes of failed events' bodies kept per registration; the oldest go first past it. Default 16 MiB. */
  maxFailedBytes?: number;
  /** Events' claims remembered per registration (one instance never claims one twice anyway). Default 10,000. */
  maxClaims?: number;
}

/** Registrations and their events in this process's memory: one instance. */
export function createMemoryDeliveryStore(options: MemoryDeliveryStoreOptions = {}): DeliveryStore {
  const { maxFailedBytes = 16 * 1024 * 1024, maxClaims = 10_000 } = options;
  interface Kept { registration: Registration; failed: FailedDelivery[]; failedBytes: number; replays: FailedDelivery[]; attempts: AttemptRecord[]; claims: Set<string> }
  const kept = new Map<string, Kept>();
  let version = 0;
  const of = (id: string) => kept.get(id);
  return {
    async add(registration, max) {
      if ([...kept.values()].filter((k) => k.registration.owner === registration.owner).length >= max) return 'limit';
      kept.set(registration.id, { registration, failed: [], failedBytes: 0, replays: [], attempts: [], claims: new Set() });
      version += 1;
      return 'added';
    },
    async get(id) {
      return of(id)?.registration;
    },
    async list(owner) {
      return [...kept.values()].map((k) => k.registration).filter((r) => owner === undefined || r.owner === owner);
    },
    async remove(registration) {
      if (kept.delete(registration.id)) version += 1;
    },
    async version() {
      return String(version);
    },
    async lease(id) {
      return kept.has(id);
    },
    async release() {},
    async claim(id, event) {
      const entry = of(id);
      if (!entry) return 'gone';
      if (entry.claims.has(event)) return 'taken';
      entry.claims.add(event);
      // Insertion order is age order: forget the oldest beyond the bound.
      if (entry.claims.size > maxClaims) entry.claims.delete(entry.claims.values().next().value!);
      return 'claimed';
    },
    async fail(id, failed, max) {
      const entry = of(id);
      if (!entry) return;
      entry.failed.unshift(failed);
      entry.failedBytes += failed.body.length;
      while (entry.failed.length > max || (entry.failedBytes > maxFailedBytes && entry.failed.length > 1)) {
        entry.failedBytes -= entry.failed.pop()!.body.length;
      }
    },
    async failed(id) {
      return [...(of(id)?.failed ?? [])];
    },
    async replay(id, ids) {
      const entry = of(id);
      if (!entry) return [];
      const wanted = ids === undefined ? undefined : new Set(ids);
      const moved = entry.failed.filter((f) => !wanted || wanted.has(f.id)).reverse();
      entry.failed = entry.failed.filter((f) => wanted && !wanted.has(f.id));
      entry.failedBytes = entry.failed.reduce((sum, f) => sum + f.body.length, 0);
      entry.replays.push(...moved);
      return moved;
    },
    async takeReplays(id) {
      const entry = of(id);
      if (!entry) return [];
      return entry.replays.splice(0);
    },
    async attempt(id, record, max) {
      const entry = of(id);
      if (!entry) return;
      entry.attempts.unshift(record);
      if (entry.attempts.length > max) entry.attempts.length = max;
    },
    async attempts(id) {
      return [...(of(id)?.attempts ?? [])];
    },
  };
}
