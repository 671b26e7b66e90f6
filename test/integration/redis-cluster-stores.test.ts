import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../gateway/cache/store.ts';
import { createRateLimitEngine } from '../../gateway/plugins/limits/rate-limits.ts';
import { createUpstreamQuota } from '../../gateway/plugins/limits/upstream-quota.ts';
import { createRedis, createRedisEventTarget, isCluster, supportsShardedPubSub, type RedisClient } from '../../gateway/redis.ts';
import { createRedisDeliveryStore, type Registration } from '../../gateway/webhooks/outbound-store.ts';
import { createRedisPollStore } from '../../gateway/webhooks/poll-store.ts';
import { createRedisWebhookStore } from '../../gateway/webhooks/store.ts';
import { startRedisCluster, type RedisClusterBed } from '../helpers/redis-cluster.ts';

/**
 * Every use Junction makes of Redis, on a Redis Cluster of the suite's own (three primaries, three
 * replicas): what spans keys of several slots is split so that no command or script crosses one.
 * The same stores on one server are tested in their own suites.
 */
const quiet = pino({ level: process.env.DEBUG_STORES ? 'warn' : 'silent' });
const unique = () => randomBytes(5).toString('hex');

let bed: RedisClusterBed;
let redis: RedisClient;
beforeAll(async () => {
  bed = await startRedisCluster();
  redis = createRedis(bed.url);
  await redis.connect();
}, 60_000);
afterAll(async () => {
  redis?.disconnect();
  await bed?.close();
});

describe('on a Redis Cluster', () => {
  it('is a cluster client, on Redis 7 or later: sharded pub/sub is used', async () => {
    expect(isCluster(redis)).toBe(true);
    expect(await supportsShardedPubSub(redis)).toBe(true);
  });

  it('the cache reads, writes and invalidates entries and tags spread over many slots', async () => {
    const prefix = `junction-test:${unique()}:`;
    const store = createRedisStore(redis, quiet, { prefix });
    const keys = Array.from({ length: 40 }, (_, i) => `entity:${i}`);
    expect(new Set(keys.map((k) => calculateSlot(prefix + k))).size).toBeGreaterThan(30);
    await store.setMany(keys.map((key, i) => ({ key, value: `v${i}`, ttlMs: 60_000, tags: i % 2 ? ['Odd', `Thing:${i}`] : ['Even'] })));
    expect(await store.getMany([...keys, 'absent'])).toEqual([...keys.map((_, i) => `v${i}`), undefined]);
    await store.invalidateTags(['Odd']);
    expect(await store.getMany(keys)).toEqual(keys.map((_, i) => (i % 2 ? undefined : `v${i}`)));
    await store.invalidateTags(['Thing:2', 'Even']);
    expect((await store.getMany(keys)).filter((v) => v !== undefined)).toEqual([]);
    // The tag sets are emptied with their entries.
    expect(await redis.scard(`${prefix}tag:Even`)).toBe(0);
  });

  it('a tag of 2,500 entries is invalidated whole', async () => {
    const prefix = `junction-test:${unique()}:`;
    const store = createRedisStore(redis, quiet, { prefix });
    const keys = Array.from({ length: 2_500 }, (_, i) => `e:${i}`);
    await store.setMany(keys.map((key) => ({ key, value: 'x', ttlMs: 60_000, tags: ['Big'] })));
    expect((await store.getMany(keys)).every((v) => v === 'x')).toBe(true);
    await store.invalidateTags(['Big']);
    expect((await store.getMany(keys)).every((v) => v === undefined)).toBe(true);
  });

  it('webhook ids and streams: claimed once, appended (with a replica holding it), read after a cursor', async () => {
    const store = createRedisWebhookStore(redis);
    const topic = `t-${unique()}`;
    expect(await store.claim(topic, 'evt_1')).toBe('claimed');
    expect(await store.claim(topic, 'evt_1')).toBe('pending');
    const first = await store.append(topic, '{"n":1}', 100);
    await store.confirm(topic, 'evt_1', 60);
    expect(await store.claim(topic, 'evt_1')).toBe('kept');
    const second = await store.append(topic, '{"n":2}', 100);
    expect(await store.read(topic, 10)).toEqual([{ id: first, event: '{"n":1}' }, { id: second, event: '{"n":2}' }]);
    expect(await store.readAfter(topic, first, 10)).toEqual({ events: [{ id: second, event: '{"n":2}' }], expired: false });
    await store.release(topic, 'evt_2');
  });

  it('poll leases and state: one holder at a time, its commits kept, released for another', async () => {
    const store = createRedisPollStore(redis);
    const topic = `p-${unique()}`;
    expect(await store.lease(topic, 'a', 5_000)).toBe(true);
    expect(await store.lease(topic, 'b', 5_000)).toBe(false);
    expect(await store.commit(topic, 'a', new Map([['item-1', 'h1'], ['item-2', 'h2']]), [])).toBe(true);
    expect(await store.commit(topic, 'b', new Map([['item-3', 'h3']]), [])).toBe(false);
    expect(await store.commit(topic, 'a', new Map(), ['item-1'])).toBe(true);
    expect(await store.state(topic)).toEqual(new Map([['item-2', 'h2']]));
    await store.release(topic, 'a');
    expect(await store.lease(topic, 'b', 5_000)).toBe(true);
  });

  it('delivery registrations in many slots: listed, leased, claimed, failed, replayed and removed', async () => {
    const store = createRedisDeliveryStore(redis, { prefix: `junction-test:${unique()}:` });
    const registration = (id: string): Registration => ({
      id, owner: 'service:billing', principal: { kind: 'service', id: 'billing', scopes: [], via: 'none' },
      url: 'https://hooks.example/in', query: 'subscription { x }', secret: 'whsec_x', createdAt: 0,
    });
    const ids = Array.from({ length: 12 }, (_, i) => `reg_${i}_${unique()}`);
    const before = await store.version();
    for (const id of ids) expect(await store.add(registration(id), 20)).toBe('added');
    expect(await store.version()).not.toBe(before);
    expect((await store.list('service:billing')).map((r) => r.id).sort()).toEqual([...ids].sort());
    expect((await store.list()).length).toBeGreaterThanOrEqual(12);
    const [id] = ids as [string];
    expect(await store.lease(id, 'instance-a', 5_000)).toBe(true);
    expect(await store.lease(id, 'instance-b', 5_000)).toBe(false);
    expect(await store.claim(id, 'topic:evt_1', 60)).toBe('claimed');
    expect(await store.claim(id, 'topic:evt_1', 60)).toBe('taken');
    const failed = { id: 'msg_1', event: 'topic:evt_1', body: '{}', reason: 'exhausted' as const, attempts: 3, failedAt: 1 };
    await store.fail(id, failed, 10);
    expect(await store.failed(id)).toEqual([failed]);
    expect(await store.replay(id)).toEqual([failed]);
    expect(await store.takeReplays(id)).toEqual([failed]);
    await store.attempt(id, { id: 'msg_1', attempt: 1, at: 1, outcome: 'delivered', status: 200, ms: 3 }, 10);
    expect(await store.attempts(id)).toHaveLength(1);
    await store.release(id, 'instance-a');
    expect(await store.lease(id, 'instance-b', 5_000)).toBe(true);
    for (const other of ids) await store.remove(registration(other));
    expect(await store.list('service:billing')).toEqual([]);
    expect(await store.claim(id, 'topic:evt_2', 60)).toBe('gone');
  });

  it('a rate limit of 10 lets 10 of 100 concurrent calls through; a quota of 5 a second lets 5 through at once', async () => {
    const engine = createRateLimitEngine(redis, `junction-test:${unique()}:rl`);
    const verdicts = await Promise.all(Array.from({ length: 100 }, () => engine.consume('user:spammer', 10, 60)));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(10);
    const quota = createUpstreamQuota({ source: `src-${unique()}`, perSec: 5, maxQueue: 0 }, redis);
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => quota('op')));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(5);
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(3);
  });

  it('events travel as sharded pub/sub: two instances each hear each event once', async () => {
    const topic = `webhook:${unique()}`;
    const subscribers = [createRedis(bed.url), createRedis(bed.url)];
    await Promise.all(subscribers.map((s) => s.connect()));
    try {
      const heard: unknown[][] = [[], []];
      const targets = subscribers.map((s) => createRedisEventTarget(redis, s, () => undefined));
      targets.forEach((target, i) => (target as unknown as EventTarget).addEventListener(topic, (event) => heard[i]!.push((event as CustomEvent).detail)));
      const primary = bed.admin(await bed.primaryOf(topic));
      for (let i = 0; i < 100; i++) {
        const [, count] = await primary.call('PUBSUB', 'SHARDNUMSUB', topic) as [string, number];
        if (Number(count) === 2) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await primary.call('PUBSUB', 'SHARDNUMSUB', topic) as [string, number])[1]).toBe(2);
      expect((await primary.call('PUBSUB', 'NUMSUB', topic) as [string, number])[1]).toBe(0);
      for (const n of [1, 2, 3]) (targets[0] as unknown as EventTarget).dispatchEvent(new CustomEvent(topic, { detail: { n } }));
      for (let i = 0; i < 100 && heard.some((h) => h.length < 3); i++) await new Promise((r) => setTimeout(r, 20));
      expect(heard).toEqual([[{ n: 1 }, { n: 2 }, { n: 3 }], [{ n: 1 }, { n: 2 }, { n: 3 }]]);
    } finally {
      for (const s of subscribers) s.disconnect();
    }
  });

  it('an event no replica takes in time is refused and not kept: the provider\'s retry appends it once', async () => {
    const topic = `paused-${unique()}`;
    const stream = `junction:{webhook:${topic}}:stream`;
    // A replica that has received nothing yet says `loading` and is not waited for: one write first.
    const first = await createRedisWebhookStore(redis).append(topic, '{"n":0}', 100);
    await bed.replicasOnline(stream);
    const store = createRedisWebhookStore(redis);
    const second = await store.append(topic, '{"n":0.5}', 100); // this store has read the replicas: one, online
    const resume = await bed.pauseReplicasOf(stream);
    try {
      await expect(store.append(topic, '{"n":1}', 100)).rejects.toThrow(/no replica of the shard .* took the event within 50 ms/);
      expect(await store.read(topic, 10)).toEqual([{ id: first, event: '{"n":0}' }, { id: second, event: '{"n":0.5}' }]);
    } finally {
      resume();
    }
    await store.append(topic, '{"n":1}', 100);
    expect((await store.read(topic, 10)).map((e) => e.event)).toEqual(['{"n":0}', '{"n":0.5}', '{"n":1}']);
  });

  // Last: it leaves a shard without its replica.
  it('a replica lost: events on its shard are refused (503 upstream) only until the cluster marks it failed, then kept on the primary alone', async () => {
    const store = createRedisWebhookStore(redis);
    const topic = `lonely-${unique()}`;
    await store.append(topic, '{"n":0}', 100);
    await bed.killReplicasOf(`junction:{webhook:${topic}}:stream`);
    let refused = 0;
    const started = Date.now();
    for (;;) {
      try {
        await store.append(topic, '{"n":1}', 100);
        break;
      } catch {
        refused++;
        if (Date.now() - started > 15_000) throw new Error(`still refused after ${refused} tries`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // Kept from then on, without waiting for a replica that is not there.
    for (let i = 2; i < 12; i++) await store.append(topic, `{"n":${i}}`, 100);
    expect((await store.read(topic, 100)).map((e) => JSON.parse(e.event).n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  }, 30_000);
});
