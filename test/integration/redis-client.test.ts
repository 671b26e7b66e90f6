import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_TIMEOUT_MS, createRedis, REDIS_OPTIONS } from '../../gateway/redis.ts';
import { startOwnRedis, type OwnRedis } from '../helpers/redis.ts';

/** Keeps the event loop busy, as a burst of requests on a saturated CPU does. */
const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* the loop is stalled */ }
};

describe("Junction's Redis client on a real redis-server", () => {
  let own: OwnRedis;
  beforeAll(async () => {
    own = await startOwnRedis();
  });
  afterAll(() => own.close());

  it('takes a reply that arrived while the event loop was stalled past the command timeout', async () => {
    const client = own.redis;
    const answer = client.ping();
    busy(COMMAND_TIMEOUT_MS * 3);
    await expect(answer).resolves.toBe('PONG');
  });

  it("ioredis's own commandTimeout fails the same command (why FailFastRedis exists)", async () => {
    const plain = new Redis({ path: own.redis.options.path, ...REDIS_OPTIONS, commandTimeout: COMMAND_TIMEOUT_MS });
    try {
      await plain.connect();
      const answer = plain.ping();
      busy(COMMAND_TIMEOUT_MS * 3);
      await expect(answer).rejects.toThrow('Command timed out');
    } finally {
      plain.disconnect();
    }
  });

  it('fails a command Redis does not answer within the timeout (paused server), and recovers', async () => {
    const client = createRedis({ path: own.redis.options.path });
    try {
      await client.connect();
      own.pause();
      const started = performance.now();
      await expect(client.ping()).rejects.toThrow('Command timed out');
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 1);
      expect(elapsed).toBeLessThan(COMMAND_TIMEOUT_MS + 400); // bounded (ioredis alone would wait forever), with room for a busy CI
      own.resume();
      await expect(client.ping()).resolves.toBe('PONG');
    } finally {
      own.resume();
      client.disconnect();
    }
  });
});
