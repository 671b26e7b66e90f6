import { Cluster, Redis, type ClusterOptions, type Command, type RedisOptions } from 'ioredis';
import type { PubSubEventTarget } from 'graphql-yoga';

/** Milliseconds one Redis command may take before it fails (see `FailFastRedis`). */
export const COMMAND_TIMEOUT_MS = 100;

/**
 * Redis settings that fail fast. ioredis's defaults stall a request for seconds (killed server)
 * or forever (paused server); with these and `FailFastRedis` a Redis fault costs at most
 * `COMMAND_TIMEOUT_MS`.
 */
export const REDIS_OPTIONS = Object.freeze({
  /** Commands issued while disconnected fail at once instead of queueing without bound. */
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  /** Connect when told to, so start-up can report the outcome. */
  lazyConnect: true,
  /** Reconnect in the background, backing off to at most 2 s. */
  retryStrategy: (times: number) => Math.min(times * 100, 2_000),
});

/**
 * ioredis whose command timeout a busy event loop cannot trip.
 *
 * ioredis's own `commandTimeout` is a plain timer. When the gateway's event loop is busy for
 * longer than the timeout (a burst of requests on a saturated CPU), the timer phase of the next
 * loop iteration runs before the poll phase that would read Redis's reply, already waiting in the
 * socket, so the command fails although Redis answered in a millisecond. Under load, exactly when
 * they matter, rate limits then fell back to per-instance counting (26 of 200 calls through a limit
 * of 10 on a busy CI machine) and the cache store stood aside for a second.
 *
 * Here the timer, when it fires, waits one `setImmediate`: the poll phase runs in between and takes
 * any reply that has arrived. Only a command Redis has really not answered fails.
 */
export class FailFastRedis extends Redis {
  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    const sent = super.sendCommand(command, stream);
    failUnansweredInTime(command);
    return sent;
  }
}

/** The timer of `FailFastRedis`: `command` fails COMMAND_TIMEOUT_MS after it is sent (and one turn of the poll phase), unless answered. */
function failUnansweredInTime(command: Command): void {
  if (command.isResolved) return;
  const timer = setTimeout(() => setImmediate(() => {
    if (!command.isResolved) command.reject(new Error('Command timed out'));
  }), COMMAND_TIMEOUT_MS);
  const clear = () => clearTimeout(timer);
  command.promise.then(clear, clear);
}

/** Either a Redis server or a Redis Cluster: every store takes both (see `isCluster`). */
export type RedisClient = Redis | Cluster;

/**
 * The same fail-fast timeout for a cluster, for each time a command is sent: ioredis sends a command
 * again after a redirection or a failover (at most `maxRedirections` times, `retryDelayOn*` apart),
 * each try with its own 100 ms. (A deadline kept across the tries was tried and dropped: a pipeline
 * whose command failed at once when sent again never settled.) And a command given while the
 * cluster has never been reached (no slot map yet), which ioredis would hold until a connection
 * attempt ends (seconds), fails after COMMAND_TIMEOUT_MS.
 */
export class FailFastCluster extends Cluster {
  override sendCommand(command: Command, stream?: Parameters<Cluster['sendCommand']>[1], node?: unknown): unknown {
    const sent = super.sendCommand(command, stream, node);
    failUnansweredInTime(command);
    return sent;
  }

  override delayUntilReady(callback: (err?: Error | null) => void): void {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      callback(new Error('Redis Cluster not reached yet'));
    }, COMMAND_TIMEOUT_MS);
    super.delayUntilReady((err?: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      callback(err);
    });
  }
}

/** True for a Redis Cluster client, whose multi-key commands must stay within one slot. */
export const isCluster = (redis: RedisClient): redis is Cluster => redis.isCluster;

/**
 * GET of each key: one MGET on one server; on a cluster, one GET per key (ioredis pipelines them
 * per node), since keys of different slots can share neither a command nor a pipeline there.
 */
export async function getEach(redis: RedisClient, keys: readonly string[]): Promise<(string | null)[]> {
  if (keys.length === 0) return [];
  return isCluster(redis) ? Promise.all(keys.map((key) => redis.get(key))) : redis.mget(...keys);
}

/**
 * Where REDIS_URL points: one server (`redis://`, `rediss://`, as ioredis reads them), or a
 * cluster (`redis+cluster://[user:password@]host:port[,host:port...]`, `rediss+cluster://` with
 * TLS): the nodes listed are where discovery starts; the rest of the cluster is learned from them.
 */
export type RedisTarget =
  | { kind: 'server'; url: string }
  | { kind: 'cluster'; nodes: { host: string; port: number }[]; username?: string; password?: string; tls: boolean };

/** Reads REDIS_URL; throws an Error whose message says what is wrong with it. */
export function parseRedisUrl(url: string): RedisTarget {
  const scheme = /^([a-z+]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'redis' || scheme === 'rediss') {
    if (!URL.canParse(url)) throw new Error('is not a valid URL');
    return { kind: 'server', url };
  }
  if (scheme !== 'redis+cluster' && scheme !== 'rediss+cluster') {
    throw new Error('must be a redis://, rediss://, redis+cluster:// or rediss+cluster:// URL');
  }
  let rest = url.slice(scheme.length + 3);
  const end = rest.search(/[/?#]/);
  if (end >= 0) {
    if (rest.slice(end).replace(/^\/$/, '') !== '') throw new Error('a cluster URL takes no path, database number or query: a cluster has database 0 only');
    rest = rest.slice(0, end);
  }
  const at = rest.lastIndexOf('@');
  let username: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const auth = rest.slice(0, at);
    const colon = auth.indexOf(':');
    const decode = (text: string) => {
      try {
        return decodeURIComponent(text);
      } catch {
        throw new Error('has a user or password that is not valid percent-encoding');
      }
    };
    username = decode(colon >= 0 ? auth.slice(0, colon) : auth) || undefined;
    password = colon >= 0 ? decode(auth.slice(colon + 1)) || undefined : undefined;
    rest = rest.slice(at + 1);
  }
  const nodes = rest.split(',').map((part) => {
    const match = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/i.exec(part.trim());
    const port = Number(match?.[2] ?? 6379);
    if (!match || port < 1 || port > 65_535) throw new Error(`has a node "${part}" that is not host:port`);
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
  return { kind: 'cluster', nodes, ...(username ? { username } : {}), ...(password ? { password } : {}), tls: scheme === 'rediss+cluster' };
}

/**
 * The cluster's settings: the same fail-fast behaviour as one server's, single-key commands
 * pipelined per node (`enableAutoPipelining`: a cache read of twenty keys in twenty slots is one
 * round trip per node), and sharded pub/sub (SSUBSCRIBE: each event crosses only its own shard).
 */
function clusterOptions(target: Extract<RedisTarget, { kind: 'cluster' }>): ClusterOptions {
  return {
    enableOfflineQueue: false,
    lazyConnect: true,
    enableAutoPipelining: true,
    shardedSubscribers: true,
    clusterRetryStrategy: REDIS_OPTIONS.retryStrategy,
    // A failover: ioredis retries a command whose node went away after the slot map is read again.
    retryDelayOnFailover: 50,
    retryDelayOnClusterDown: 50,
    retryDelayOnTryAgain: 50,
    // At most 3 tries after the first (ioredis's default: 16), so that a command during a failover
    // gives up within about 600 ms: 4 x (50 ms + its 100 ms).
    maxRedirections: 4,
    slotsRefreshTimeout: 1_000,
    // The slot map read again every 5 s (ioredis's default: never, until a redirection), so that a
    // moved slot or a promoted replica is seen before a command is sent to the old primary.
    slotsRefreshInterval: 5_000,
    // With TLS, the nodes in the URL are connected to by name, not by an address looked up first,
    // so that their certificates are checked against the names they carry (ioredis's advice for
    // managed clusters); the nodes learned from the cluster are reached as the cluster announces them.
    ...(target.tls ? { dnsLookup: (address: string, callback: (err: Error | null, address: string) => void) => callback(null, address) } : {}),
    redisOptions: {
      maxRetriesPerRequest: REDIS_OPTIONS.maxRetriesPerRequest,
      connectTimeout: 2_000,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
  };
}

/** A fail-fast client for REDIS_URL (one server or a cluster), or for one server's options (a unix socket's `path`, say). */
export function createRedis(target: RedisOptions): FailFastRedis;
export function createRedis(target: string): RedisClient;
export function createRedis(target: string | RedisOptions): RedisClient {
  if (typeof target !== 'string') return new FailFastRedis({ ...REDIS_OPTIONS, ...target });
  const parsed = parseRedisUrl(target);
  if (parsed.kind === 'server') return new FailFastRedis(parsed.url, { ...REDIS_OPTIONS });
  return new FailFastCluster(parsed.nodes, clusterOptions(parsed));
}

type Listener = (event: CustomEvent) => void;

/**
 * Events shared by every instance through Redis pub/sub, as yoga's pubsub takes them (an event
 * target): published on `publisher`, heard on `subscriber`, a connection of its own (one that
 * subscribes can do nothing else). Each message reaches this instance's listeners of its topic.
 *
 * Here rather than @graphql-yoga/redis-event-target, which sends a topic's SUBSCRIBE once, when the
 * topic's first listener arrives. With the fail-fast options Redis's absence refuses it at once, and
 * ioredis sends again after a reconnect only the channels Redis had confirmed: a subscription that
 * started while Redis was down, first of its topic on the instance, stayed open and heard nothing
 * once Redis was back, nor did every later one of that topic there (test/integration/
 * realtime-resilience.test.ts). Here every topic with listeners is subscribed again each time the
 * connection is ready (subscribing twice to a channel changes nothing), and a publish that fails is
 * told to `onPublishError` instead of being dropped unseen.
 *
 * On a Redis Cluster of Redis 7 or later the topics are sharded channels (SSUBSCRIBE / SPUBLISH):
 * a message crosses only the shard that owns its topic's slot instead of every node of the
 * cluster, and each instance holds one subscriber connection per primary (ioredis moves them after
 * a failover). `sharded: false` (an older cluster, see `supportsShardedPubSub`) keeps plain pub/sub.
 */
export function createRedisEventTarget<T extends Record<string, [unknown]>>(
  publisher: RedisClient,
  subscriber: RedisClient,
  onPublishError: (err: Error, topic: string) => void,
  { sharded = isCluster(subscriber) }: { sharded?: boolean } = {},
): PubSubEventTarget<T> {
  const listeners = new Map<string, Set<Listener>>();
  // Refused while the connection is down: the next 'ready' subscribes to every topic anyway. A
  // cluster takes one sharded channel per command (channels of one command share one slot).
  const subscribe = (topics: string[]) => {
    if (!sharded) return void subscriber.subscribe(...topics).catch(() => undefined);
    for (const topic of topics) void subscriber.ssubscribe(topic).catch(() => undefined);
  };
  const unsubscribe = (topic: string) => void (sharded ? subscriber.sunsubscribe(topic) : subscriber.unsubscribe(topic)).catch(() => undefined);
  const publish = (topic: string, message: string) => (sharded ? publisher.spublish(topic, message) : publisher.publish(topic, message));
  subscriber.on('ready', () => {
    if (listeners.size > 0) subscribe([...listeners.keys()]);
  });
  subscriber.on(sharded ? 'smessage' : 'message', (topic: string, message: string) => {
    const callbacks = listeners.get(topic);
    if (!callbacks) return;
    const event = new CustomEvent(topic, { detail: JSON.parse(message) });
    for (const callback of callbacks) callback(event);
  });
  const callbackOf = (listener: unknown): Listener | undefined =>
    typeof listener === 'function' ? listener as Listener : (listener as { handleEvent?: Listener } | null)?.handleEvent?.bind(listener);
  const bound = new WeakMap<object, Listener>();
  const target = {
    addEventListener(topic: string, listener: unknown) {
      const callback = (listener ? bound.get(listener as object) : undefined) ?? callbackOf(listener);
      if (!callback) return;
      bound.set(listener as object, callback);
      let callbacks = listeners.get(topic);
      if (!callbacks) {
        listeners.set(topic, (callbacks = new Set()));
        subscribe([topic]);
      }
      callbacks.add(callback);
    },
    removeEventListener(topic: string, listener: unknown) {
      const callbacks = listeners.get(topic);
      const callback = listener ? bound.get(listener as object) : undefined;
      if (!callbacks || !callback || !callbacks.delete(callback) || callbacks.size > 0) return;
      listeners.delete(topic);
      // Not heard when Redis is down; a message of a topic nobody listens to is dropped above.
      unsubscribe(topic);
    },
    dispatchEvent(event: CustomEvent) {
      publish(event.type, JSON.stringify(event.detail)).catch((err: Error) => onPublishError(err, event.type));
      return true;
    },
  };
  return target as unknown as PubSubEventTarget<T>;
}

/** How long `replicasOf` trusts the replicas it read. */
export const REPLICAS_READ_EVERY_MS = 5_000;

/**
 * The number of online replicas of the primary serving a slot, from CLUSTER SHARDS (Redis 7; CLUSTER
 * SLOTS before it, which leaves out a replica that has not yet received anything), read again at
 * most every REPLICAS_READ_EVERY_MS, or at once after `stale()`. ioredis's own slot map lists
 * primaries only (replicas only with `scaleReads`), so it cannot tell. A read that fails keeps the
 * last answer (0 before any).
 */
export function replicasOf(cluster: Cluster): { count(slot: number): Promise<number>; stale(): void } {
  let ranges: { from: number; to: number; replicas: number }[] = [];
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | undefined;
  const fromShards = (shards: unknown[][]) => shards.flatMap((shard) => {
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < shard.length; i += 2) fields.set(String(shard[i]), shard[i + 1]);
    const slots = (fields.get('slots') ?? []) as number[];
    const nodes = ((fields.get('nodes') ?? []) as unknown[][]).map((node) => {
      const of = new Map<string, unknown>();
      for (let i = 0; i + 1 < node.length; i += 2) of.set(String(node[i]), node[i + 1]);
      return of;
    });
    const replicas = nodes.filter((node) => node.get('role') === 'replica' && node.get('health') === 'online').length;
    const out: { from: number; to: number; replicas: number }[] = [];
    for (let i = 0; i + 1 < slots.length; i += 2) out.push({ from: Number(slots[i]), to: Number(slots[i + 1]), replicas });
    return out;
  });
  // Asked of a primary (a replica may be the node that hangs), within the command timeout.
  const ask = async (what: 'SHARDS' | 'SLOTS') => {
    // The connected primaries in turn (one may be the node that just died).
    const primaries = cluster.nodes('master').filter((node) => node.status === 'ready');
    let last: unknown = new Error('no primary connected');
    for (const primary of primaries) {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([(what === 'SHARDS' ? primary.cluster('SHARDS') : primary.cluster('SLOTS')) as Promise<unknown>, new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('Command timed out')), COMMAND_TIMEOUT_MS);
        })]);
      } catch (err) {
        last = err;
      } finally {
        clearTimeout(timer);
      }
    }
    throw last;
  };
  const read = () => (reading ??= (async () => {
    try {
      try {
        ranges = fromShards(await ask('SHARDS') as unknown[][]);
      } catch {
        const slots = await ask('SLOTS') as [number, number, ...unknown[]][];
        ranges = slots.map(([from, to, , ...replicas]) => ({ from, to, replicas: replicas.length }));
      }
      readAt = Date.now();
    } catch {
      // The last answer stands; asked again next time.
    } finally {
      reading = undefined;
    }
  })());
  return {
    async count(slot) {
      if (Date.now() - readAt > REPLICAS_READ_EVERY_MS) await read();
      return ranges.find((r) => slot >= r.from && slot <= r.to)?.replicas ?? 0;
    },
    stale() {
      readAt = Number.NEGATIVE_INFINITY;
    },
  };
}

/**
 * Whether a cluster's servers have sharded pub/sub (Redis 7 and later), asked of one of them; a
 * cluster that cannot be asked now (unreachable at start) is taken to have it.
 */
export async function supportsShardedPubSub(redis: RedisClient): Promise<boolean> {
  if (!isCluster(redis)) return false;
  try {
    const node = redis.nodes('master')[0];
    const info = node ? await Promise.race([node.info('server'), new Promise<string>((resolve) => setTimeout(resolve, 1_000, '').unref())]) : '';
    const version = /redis_version:(\d+)/.exec(info)?.[1];
    return version === undefined || Number(version) >= 7;
  } catch {
    return true;
  }
}

/** Hides the password of a REDIS_URL (one server's or a cluster's) for logs and error messages; never throws. */
export function redactUrl(url: string): string {
  const scheme = url.indexOf('://');
  if (scheme < 0) return url;
  // Up to the last '@' anywhere: a password with an unencoded '/', '?' or '#' is hidden too.
  const at = url.lastIndexOf('@');
  const colon = url.indexOf(':', scheme + 3);
  if (at < 0 || colon < 0 || colon > at) return url;
  return `${url.slice(0, colon + 1)}***${url.slice(at)}`;
}
