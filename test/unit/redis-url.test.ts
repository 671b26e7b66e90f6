import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../gateway/config.ts';
import { createRedis, isCluster, parseRedisUrl, redactUrl } from '../../gateway/redis.ts';

const IDP = { AUTH_JWKS_URL: 'https://idp.example/.well-known/jwks.json', AUTH_ISSUER: 'https://idp.example/', AUTH_AUDIENCE: 'https://api.example' };

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig({ ...IDP, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('REDIS_URL', () => {
  it('names one server (redis://, rediss://) or a cluster (redis+cluster://, rediss+cluster:// with TLS)', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({ kind: 'server', url: 'redis://127.0.0.1:6379/2' });
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,10.0.0.2:7001,redis-3')).toEqual({
      kind: 'cluster', tls: false,
      nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }, { host: 'redis-3', port: 6379 }],
    });
    expect(parseRedisUrl('rediss+cluster://app:p%40ss%2Fw@[::1]:7000/')).toEqual({
      kind: 'cluster', tls: true, username: 'app', password: 'p@ss/w', nodes: [{ host: '::1', port: 7000 }],
    });
    expect(parseRedisUrl('REDIS+CLUSTER://:secret@h:1')).toMatchObject({ password: 'secret' });
    expect(parseRedisUrl('redis+cluster://redis_1:7000,redis_2')).toMatchObject({ nodes: [{ host: 'redis_1', port: 7000 }, { host: 'redis_2', port: 6379 }] });
  });

  it('gives a cluster client for a cluster URL and a server client otherwise, neither connected', () => {
    const cluster = createRedis('redis+cluster://127.0.0.1:1,127.0.0.1:2');
    const server = createRedis('redis://127.0.0.1:1');
    try {
      expect(isCluster(cluster)).toBe(true);
      expect(isCluster(server)).toBe(false);
      expect([cluster.status, server.status]).toEqual(['wait', 'wait']);
    } finally {
      cluster.disconnect();
      server.disconnect();
    }
  });

  it.each([
    ['http://redis', 'must be a redis://, rediss://, redis+cluster:// or rediss+cluster:// URL'],
    ['redis+cluster://', 'has a node "" that is not host:port'],
    ['redis+cluster://a:1,,b:2', 'has a node "" that is not host:port'],
    ['redis+cluster://a:99999', 'has a node "a:99999" that is not host:port'],
    ['redis+cluster://a:1/3', 'a cluster URL takes no path, database number or query'],
    ['redis+cluster://a:1?db=2', 'a cluster URL takes no path, database number or query'],
    ['redis+cluster://u:%zz@a:1', 'not valid percent-encoding'],
    ['redis://exa mple', 'is not a valid URL'],
  ])('refuses %s at start-up, saying why', (url, why) => {
    const problems = problemsOf({ REDIS_URL: url });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^REDIS_URL=/);
    expect(problems[0]).toContain(why);
  });

  it('never shows a password, in a refusal or a log line', () => {
    const [problem] = problemsOf({ REDIS_URL: 'redis+cluster://app:hunter2@a:1/9' });
    expect(problem).toContain('app:***@a:1');
    expect(problem).not.toContain('hunter2');
    expect(redactUrl('redis://:hunter2@h:6379/0')).toBe('redis://:***@h:6379/0');
    expect(redactUrl('rediss+cluster://u:p%40hunter2@h1:1,h2:2')).toBe('rediss+cluster://u:***@h1:1,h2:2');
    expect(redactUrl('redis://h:6379')).toBe('redis://h:6379');
    // A password with an unencoded '/': refused (a path), and still hidden.
    const [slashed] = problemsOf({ REDIS_URL: 'rediss+cluster://app:s3/cret@h:1' });
    expect(slashed).toContain('app:***@h:1');
    expect(slashed).not.toContain('cret');
    expect(redactUrl('not a url')).toBe('not a url');
  });

  it('is taken as given when valid', () => {
    expect(loadConfig({ ...IDP, REDIS_URL: 'redis+cluster://127.0.0.1:7000' }).redisUrl).toBe('redis+cluster://127.0.0.1:7000');
  });

  it('a cluster not reached yet fails a command within the command timeout, not when the connection attempt ends', async () => {
    // Accepts connections and answers nothing: the cluster's first slot map never comes.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const redis = createRedis(`redis+cluster://127.0.0.1:${(silent.address() as { port: number }).port}`);
    redis.on('error', () => undefined);
    try {
      void redis.connect().catch(() => undefined);
      const started = performance.now();
      await expect(redis.get('k')).rejects.toThrow(/not reached yet|timed out/);
      // COMMAND_TIMEOUT_MS is 100; ioredis alone waits for the attempt (slotsRefreshTimeout, 1 s).
      expect(performance.now() - started).toBeLessThan(600);
    } finally {
      redis.disconnect();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
