import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { subscribeSse, subscriptionsOpen, redisSubscribers, type SseStream } from '../helpers/realtime.ts';
import { signedHmacDelivery, WAREHOUSE_WEBHOOK, warehouseSource } from '../helpers/warehouse.ts';
import { offlineGraphqlSource, writeSourcesFile } from '../helpers/sources-file.ts';
import { createRedisEventTarget } from '../../gateway/redis.ts';
import { machineRedisClient } from '../helpers/redis.ts';

/**
 * Who listens to what is counted per instance and per caller (an anonymous one by its address):
 * one subscriber leaving never silences another of the same topic, on its instance or on another (Hive Gateway's Redis pub/sub unsubscribed the
 * instance from the topic when either of two subscribers left).
 */
describe('two subscribers of one topic on each of two instances sharing Redis', () => {
  const SECRET = randomBytes(16).toString('hex');
  // A topic of this run's own: the channel is no other test's.
  const TOPIC = `shipments-${randomBytes(4).toString('hex')}`;
  const CHANNEL = `webhook:${TOPIC}`;
  const clients: Redis[] = [];
  const gateways: Harness[] = [];
  let admin: Redis;

  beforeAll(async () => {
    // Every subscriber hears every shipment: no argument, no filter.
    const file = warehouseSource({ topic: TOPIC, contract: `additionalTypeDefs: |
  type Shipment { id: ID!  status: String }
  type Subscription { shipmentUpdated: Shipment }
additionalResolvers:
  - { targetTypeName: Subscription, targetFieldName: shipmentUpdated, pubsubTopic: ${TOPIC}, result: shipment }
` });
    admin = machineRedisClient();
    await admin.connect();
    for (let i = 0; i < 2; i++) {
      const publisher = machineRedisClient();
      const subscriber = machineRedisClient();
      await Promise.all([publisher.connect(), subscriber.connect()]);
      clients.push(publisher, subscriber);
      gateways.push(await startHarness({
        meshConfig: file,
        env: () => ({ WAREHOUSE_SECRET: SECRET }),
        eventTarget: createRedisEventTarget(publisher, subscriber, () => undefined),
      }));
    }
  });
  afterAll(async () => {
    await Promise.all(gateways.map((h) => h.close()));
    for (const client of [...clients, admin]) client.disconnect();
  });

  const ship = async (status: string) => {
    const body = JSON.stringify({ id: `evt_${randomBytes(6).toString('hex')}`, shipment: { id: 'shp_1', status } });
    const answer = await gateways[0]!.fetch(WAREHOUSE_WEBHOOK, signedHmacDelivery(SECRET, body));
    expect(answer.status).toBe(200);
  };

  it('when one leaves, the other on its instance, and both on the other, still hear every event', async () => {
    // Each instance here has its own test issuer: a token of its own for each.
    const open = async (h: Harness) => subscribeSse(h, 'subscription { shipmentUpdated { status } }', {}, { authorization: `Bearer ${await h.issuer.token()}` });
    const [a1, a2, b1, b2] = await Promise.all([open(gateways[0]!), open(gateways[0]!), open(gateways[1]!), open(gateways[1]!)]) as SseStream[];
    try {
      await Promise.all(gateways.map((h) => subscriptionsOpen(h, TOPIC, 2)));
      // One Redis subscription per instance, however many subscribers it has.
      await redisSubscribers(admin, CHANNEL, 2);
      await ship('packed');
      for (const stream of [a1, a2, b1, b2]) expect((await stream!.next()).data.data.shipmentUpdated.status).toBe('packed');

      // One subscriber leaves on each instance.
      a1!.close();
      b2!.close();
      await Promise.all(gateways.map((h) => subscriptionsOpen(h, TOPIC, 1)));
      expect(Number((await admin.pubsub('NUMSUB', CHANNEL))[1])).toBe(2);
      await ship('shipped');
      for (const stream of [a2, b1]) expect((await stream!.next()).data.data.shipmentUpdated.status).toBe('shipped');

      // The last ones leave: the instances stop listening to the channel.
      a2!.close();
      b1!.close();
      await Promise.all(gateways.map((h) => subscriptionsOpen(h, TOPIC, 0)));
      await expect.poll(async () => Number((await admin.pubsub('NUMSUB', CHANNEL))[1])).toBe(0);
    } finally {
      for (const stream of [a1, a2, b1, b2]) stream?.close();
    }
  });
});

describe('anonymous subscribers of a public topic', () => {
  const TOPIC = `notices-${randomBytes(4).toString('hex')}`;
  let h: Harness;
  const streams: SseStream[] = [];
  beforeAll(async () => {
    const file = writeSourcesFile(offlineGraphqlSource('board', `        public: true
        webhooks:
          - { path: /webhooks/board, scheme: hmac, secrets: ['{env.BOARD_SECRET}'], pubsubTopic: ${TOPIC} }
additionalTypeDefs: |
  type Notice { id: ID!  text: String }
  type Subscription { noticePosted: Notice }
additionalResolvers:
  - { targetTypeName: Subscription, targetFieldName: noticePosted, pubsubTopic: ${TOPIC}, result: notice }
`));
    h = await startHarness({ meshConfig: file, env: () => ({ BOARD_SECRET: 'x'.repeat(32) }), limits: { MAX_SUBSCRIPTIONS_PER_CALLER: 2 } });
  });
  afterAll(async () => {
    for (const stream of streams) stream.close();
    await h.close();
  });

  const open = (address: string) => subscribeSse(h, 'subscription { noticePosted { id } }', {}, { 'x-test-remote-address': address });

  it('each have a budget of their own by address: one client at its MAX_SUBSCRIPTIONS_PER_CALLER does not lock out another', async () => {
    for (let i = 0; i < 2; i++) streams.push(await open('203.0.113.1'));
    await subscriptionsOpen(h, TOPIC, 2);
    const third = await open('203.0.113.1');
    streams.push(third);
    expect((await third.next()).data.errors[0].extensions).toMatchObject({ code: 'SUBSCRIPTION_LIMIT', limit: 2 });
    streams.push(await open('198.51.100.7'));
    await subscriptionsOpen(h, TOPIC, 3);
  });
});
