import { Redis, type Command, type RedisOptions } from 'ioredis';

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

/** Hides the password of a redis:// URL for logs. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
