import calculateSlot from 'cluster-key-slot';
import { isCluster, replicasOf, type RedisClient } from '../redis.ts';
import { compareCursors, type MissedPage } from '../plugins/realtime/event-stream.ts';

/**
 * Where inbound webhook events are kept before the provider is told they arrived: the ids already
 * taken (so a provider's retry, or a replay, is taken once) and a bounded stream of the events of
 * each topic (so an event acknowledged is an event kept: a crash after the 2xx loses nothing the
 * stream holds; before it, the provider's own retry covers it).
 *
 * In Redis when there is one (shared by every instance: a retry reaching another instance is
 * still a duplicate), else in this process's memory. Keys carry the topic in a hash tag
 * (`junction:{webhook:<topic>}:...`), so the two keys of one event stay in one Redis Cluster slot.
 * On a cluster whose shards have replicas, an event is kept once a replica holds it too
 * (`REPLICA_WAIT_MS`).
 */
export interface WebhookStore {
  /**
   * Marks `id` taken for `topic`, for `PENDING_TTL_SEC` only: `claimed`. `kept`: its event was
   * kept already (a duplicate). `pending`: another delivery of it is being kept right now, and
   * may yet fail. A claim whose event could not be kept lapses by itself, even when the store
   * could not be told (a command that timed out may still run later).
   */
  claim(topic: string, id: string): Promise<'claimed' | 'kept' | 'pending'>;
  /** The event is kept: its id stays taken for `ttlSec`. */
  confirm(topic: string, id: string, ttlSec: number): Promise<void>;
  /** Appends the event to the topic's stream, keeping the newest `maxLen`; resolves to its stream id. */
  append(topic: string, event: string, maxLen: number): Promise<string>;
  /** Gives the id back (the event could not be kept): the provider's retry is then taken. */
  release(topic: string, id: string): Promise<void>;
  /** The newest events of a topic, oldest first, with their stream ids. */
  read(topic: string, count: number): Promise<{ id: string; event: string }[]>;
  /**
   * Up to `count` events of a topic after `cursor` (a stream id), oldest first: what a subscriber
   * that reconnects missed. `expired` when the stream no longer holds the cursor's own event and
   * its oldest is newer: events after the cursor may have been trimmed away.
   */
  readAfter(topic: string, cursor: string, count: number): Promise<MissedPage>;
}

const key = (topic: string, part: string) => `junction:{webhook:${topic}}:${part}`;

/** How long a claimed id is held while its event is being kept. */
export const PENDING_TTL_SEC = 60;

/**
 * On a Redis Cluster, how long an event waits for a replica of its shard to hold it before it is
 * acknowledged (WAIT 1): within the 100 ms command timeout.
 */
export const REPLICA_WAIT_MS = 50;

/**
 * The stream entry's id, after XADD alone or XADD then WAIT in one pipeline. An entry no replica
 * took in time is deleted again before the refusal: the provider's retry appends it once more, and
 * a subscriber resuming from the stream must not read it twice.
 *
 * WAIT holds the connection it is sent on until a replica answers (at most REPLICA_WAIT_MS), so
 * main.ts gives this store a cluster connection of its own: cache reads and rate limits never
 * queue behind it.
 */
async function appendDurably(redis: RedisClient, replicas: ReturnType<typeof replicasOf> | undefined, stream: string, event: string, maxLen: number): Promise<string> {
  const add = ['MAXLEN', '~', String(maxLen), '*', 'event', event] as const;
  // One server, or a cluster shard without a replica: nothing to wait for (a lost primary loses
  // what it held, replica or not). A shard with replicas: acknowledged only once one holds it, so
  // a failover that promotes it keeps every event a provider was told was taken.
  if (!isCluster(redis) || !replicas || (await replicas.count(calculateSlot(stream))) < 1) return (await redis.xadd(stream, ...add)) as string;
  // Redis checks a blocked command's timeout on its own clock tick (10 a second by default), so WAIT
  // may answer up to 100 ms late: the command timeout may then end it first (same outcome).
  const replies = (await redis.pipeline().xadd(stream, ...add).wait(1, REPLICA_WAIT_MS).exec()) ?? [];
  const [[addError, id] = [], [waitError, acknowledged] = []] = replies;
  if (addError) throw addError;
  if (waitError || Number(acknowledged) < 1) {
    await redis.xdel(stream, id as string).catch(() => undefined);
    // The replica may be gone: its shard's replicas are read again before the next event.
    replicas.stale();
    throw new Error(`no replica of the shard holding ${stream} took the event within ${REPLICA_WAIT_MS} ms${waitError ? ` (${(waitError as Error).message})` : ''}`);
  }
  return id as string;
}

export function createRedisWebhookStore(redis: RedisClient): WebhookStore {
  const replicas = isCluster(redis) ? replicasOf(redis) : undefined;
  return {
    async claim(topic, id) {
      const seen = key(topic, `seen:${id}`);
      if ((await redis.set(seen, 'pending', 'EX', PENDING_TTL_SEC, 'NX')) === 'OK') return 'claimed';
      return (await redis.get(seen)) === 'kept' ? 'kept' : 'pending';
    },
    async confirm(topic, id, ttlSec) {
      await redis.set(key(topic, `seen:${id}`), 'kept', 'EX', ttlSec);
    },
    async append(topic, event, maxLen) {
      // MAXLEN ~ trims in whole macro-nodes: at least maxLen are kept, never unboundedly more.
      return appendDurably(redis, replicas, key(topic, 'stream'), event, maxLen);
    },
    async release(topic, id) {
      await redis.del(key(topic, `seen:${id}`));
    },
    async read(topic, count) {
      const entries = await redis.xrevrange(key(topic, 'stream'), '+', '-', 'COUNT', count);
      return entries.reverse().map(([id, fields]) => ({ id, event: fields[fields.indexOf('event') + 1] ?? '' }));
    },
    async readAfter(topic, cursor, count) {
      const stream = key(topic, 'stream');
      // From the cursor itself (inclusive), to learn whether the stream still holds it.
      const entries = (await redis.xrange(stream, cursor, '+', 'COUNT', count + 1)).map(([id, fields]) => ({ id, event: fields[fields.indexOf('event') + 1] ?? '' }));
      if (entries[0]?.id === cursor) return { events: entries.slice(1), expired: false };
      if (entries.length === 0) return { events: [], expired: false };
      const [oldest] = await redis.xrange(stream, '-', '+', 'COUNT', 1);
      return { events: entries.slice(0, count), expired: oldest?.[0] === entries[0]!.id };
    },
  };
}

export interface MemoryWebhookStoreOptions {
  /** Clock in ms (tests fake it). */
  now?: () => number;
  /** Most ids remembered per topic; the oldest are forgotten first. Default 100,000. */
  maxIds?: number;
}

export function createMemoryWebhookStore(options: MemoryWebhookStoreOptions = {}): WebhookStore {
  const now = options.now ?? (() => Date.now());
  const maxIds = options.maxIds ?? 100_000;
  const seen = new Map<string, Map<string, { until: number; kept: boolean }>>();
  const streams = new Map<string, { id: string; event: string }[]>();
  // Ids as Redis makes them, `<ms>-<sequence>`, never going back even when the clock does.
  let lastMs = 0;
  let sequence = 0;
  const idsOf = (topic: string) => {
    let ids = seen.get(topic);
    if (!ids) seen.set(topic, (ids = new Map()));
    return ids;
  };
  return {
    async claim(topic, id) {
      const ids = idsOf(topic);
      const held = ids.get(id);
      if (held !== undefined && held.until > now()) return held.kept ? 'kept' : 'pending';
      ids.delete(id);
      ids.set(id, { until: now() + PENDING_TTL_SEC * 1000, kept: false });
      // Insertion order is age order: forget the oldest beyond the bound.
      while (ids.size > maxIds) ids.delete(ids.keys().next().value!);
      return 'claimed';
    },
    async confirm(topic, id, ttlSec) {
      idsOf(topic).set(id, { until: now() + ttlSec * 1000, kept: true });
    },
    async append(topic, event, maxLen) {
      let stream = streams.get(topic);
      if (!stream) streams.set(topic, (stream = []));
      const ms = Math.max(now(), lastMs);
      sequence = ms === lastMs ? sequence + 1 : 0;
      lastMs = ms;
      const id = `${ms}-${sequence}`;
      stream.push({ id, event });
      if (stream.length > maxLen) stream.splice(0, stream.length - maxLen);
      return id;
    },
    async release(topic, id) {
      idsOf(topic).delete(id);
    },
    async read(topic, count) {
      return (streams.get(topic) ?? []).slice(-count);
    },
    async readAfter(topic, cursor, count) {
      const stream = streams.get(topic) ?? [];
      const first = stream.findIndex((entry) => compareCursors(entry.id, cursor) >= 0);
      if (first < 0) return { events: [], expired: false };
      if (stream[first]!.id === cursor) return { events: stream.slice(first + 1, first + 1 + count), expired: false };
      return { events: stream.slice(first, first + count), expired: first === 0 };
    },
  };
}
