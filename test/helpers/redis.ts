import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { createRedis, isCluster } from '../../gateway/redis.ts';

/** The machine's Redis server: REDIS_URL, else 127.0.0.1:6379. */
export const MACHINE_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A client (not yet connected) of the machine's Redis server, with Junction's fail-fast options. */
export function machineRedisClient(): Redis {
  const redis = createRedis(MACHINE_REDIS_URL);
  if (isCluster(redis)) throw new Error('these suites need one Redis server, and REDIS_URL names a cluster (test/helpers/redis-cluster.ts starts one of its own)');
  return redis;
}

/** The machine's Redis, connected. */
export async function sharedRedis(): Promise<Redis> {
  const redis = machineRedisClient();
  await redis.connect();
  return redis;
}

/** A key prefix no other test or run uses, so tests can share one Redis. */
export const uniquePrefix = (): string => `junction-test:${randomBytes(6).toString('hex')}:`;

export interface OwnRedis {
  redis: Redis;
  /** SIGKILL: the server is gone. */
  kill(): void;
  /** SIGSTOP / SIGCONT: the server hangs, then resumes. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/**
 * A redis-server of the test's own, on a unix socket (no port to clash), keeping nothing on disk:
 * for tests that kill or pause it.
 */
export async function startOwnRedis(): Promise<OwnRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'junction-redis-'));
  const path = join(dir, 'redis.sock');
  const server: ChildProcess = spawn('redis-server', ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 20));
  if (!existsSync(path)) throw new Error('redis-server did not start');
  const redis = createRedis({ path });
  redis.on('error', () => undefined); // killed on purpose: the store reports its own failures
  await redis.connect();
  return {
    redis,
    kill: () => server.kill('SIGKILL'),
    pause: () => server.kill('SIGSTOP'),
    resume: () => server.kill('SIGCONT'),
    async close() {
      redis.disconnect();
      if (server.exitCode === null && server.signalCode === null) {
        server.kill('SIGCONT');
        server.kill('SIGKILL');
      }
    },
  };
}
