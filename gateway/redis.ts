import { Redis, type Command, type RedisOptions } from 'ioredis';
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
    if (!command.isResolved) {
      const timer = setTimeout(() => setImmediate(() => {
        if (!command.isResolved) command.reject(new Error('Command timed out'));
      }), COMMAND_TIMEOUT_MS);
      const clear = () => clearTimeout(timer);
      command.promise.then(clear, clear);
    }
    return sent;
  }
}

/** A fail-fast client for a redis:// URL, or for options (a unix socket's `path`, say). */
export function createRedis(target: string | RedisOptions): FailFastRedis {
  return typeof target === 'string' ? new FailFastRedis(target, { ...REDIS_OPTIONS }) : new FailFastRedis({ ...REDIS_OPTIONS, ...target });
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
 */
export function createRedisEventTarget<T extends Record<string, [unknown]>>(
  publisher: Redis,
  subscriber: Redis,
  onPublishError: (err: Error, topic: string) => void,
): PubSubEventTarget<T> {
  const listeners = new Map<string, Set<Listener>>();
  // Refused while the connection is down: the next 'ready' subscribes to every topic anyway.
  const subscribe = (topics: string[]) => void subscriber.subscribe(...topics).catch(() => undefined);
  subscriber.on('ready', () => {
    if (listeners.size > 0) subscribe([...listeners.keys()]);
  });
  subscriber.on('message', (topic: string, message: string) => {
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
      void subscriber.unsubscribe(topic).catch(() => undefined);
    },
    dispatchEvent(event: CustomEvent) {
      publisher.publish(event.type, JSON.stringify(event.detail)).catch((err: Error) => onPublishError(err, event.type));
      return true;
    },
  };
  return target as unknown as PubSubEventTarget<T>;
}

/** Hides the password of a redis:// URL for logs. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
