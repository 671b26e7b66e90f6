import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { machineRedisClient, sharedRedis } from '../helpers/redis.ts';
import { collectPublished, listening, subscribeSse } from '../helpers/realtime.ts';
import { declaredEnv } from '../helpers/declared.ts';
import { sourcesFileProblems, writeSourcesFile } from '../helpers/sources-file.ts';
import { createRedis, createRedisEventTarget } from '../../gateway/redis.ts';
import { listen as listenOn } from '../../gateway/index.ts';
import { SourceConfigError } from '../../gateway/composition/byo/mesh-config.ts';
import { createMemoryStore } from '../../gateway/cache/store.ts';
import { createMemoryWebhookStore, createRedisWebhookStore, type WebhookStore } from '../../gateway/webhooks/store.ts';
import { createRedisPollStore } from '../../gateway/webhooks/poll-store.ts';
import { manualPolls } from '../helpers/polls.ts';
import type { CacheStore } from '../../gateway/upstream/cache.ts';
import type { JunctionEventTarget, JunctionPubSub } from '../../gateway/create-gateway.ts';
import { basicAuth } from '../../sources/demo/credentials.ts';

/**
 * Polls through the gateway's public surface: a declared source without push (here a REST "depot"
 * served by the test, whose parcels the test changes), read every interval by one instance, each
 * change published once on its topic. Rounds are run by hand (a scheduler the test drives), never
 * by sleeping.
 */

interface Parcel {
  id: string;
  status: string;
  weightGrams: number;
  /** Free-form: passed through as the backend writes it. */
  labels: Record<string, string>;
}

/** A REST backend of parcels per depot, counting its reads; `failing` answers 503. */
async function startDepot() {
  const depot = {
    parcels: {
      berlin: [
        { id: 'p1', status: 'stored', weightGrams: 500, labels: { carrier: 'ups' } },
        { id: 'p2', status: 'stored', weightGrams: 1200, labels: { carrier: 'dhl', zone: '3' } },
        { id: 'p3', status: 'stored', weightGrams: 90, labels: {} },
      ],
      hamburg: [{ id: 'h1', status: 'stored', weightGrams: 10, labels: {} }, { id: 'h2', status: 'stored', weightGrams: 20, labels: {} }],
    } as Record<string, Parcel[]>,
    calls: {} as Record<string, number>,
    failing: false,
    url: '',
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server = createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://depot');
    if (req.method !== 'GET' || url.pathname !== '/parcels') {
      res.writeHead(404).end();
      return;
    }
    const name = url.searchParams.get('depot') ?? '';
    const calls = (depot.calls[name] = (depot.calls[name] ?? 0) + 1);
    if (depot.failing) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"down for maintenance"}');
      return;
    }
    // Every other answer writes the free-form labels in another order: the same content all the same.
    const data = (depot.parcels[name] ?? []).map((p) => (calls % 2 === 0 ? { ...p, labels: Object.fromEntries(Object.entries(p.labels).reverse()) } : p));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data }));
  });
  depot.url = await listenOn(server);
  return depot;
}
type Depot = Awaited<ReturnType<typeof startDepot>>;

const DEPOT_SPEC = writeSourcesFile(`openapi: 3.0.3
info: { title: Depot, version: '1' }
paths:
  /parcels:
    get:
      operationId: listParcels
      parameters:
        - { name: depot, in: query, required: true, schema: { type: string } }
      responses:
        '200':
          description: The depot's parcels.
          content:
            application/json:
              schema:
                type: object
                properties:
                  data: { type: array, items: { $ref: '#/components/schemas/Parcel' } }
    post:
      operationId: createParcel
      requestBody:
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Parcel' }
      responses:
        '200':
          description: The parcel.
          content:
            application/json:
              schema: { $ref: '#/components/schemas/Parcel' }
components:
  schemas:
    Parcel:
      type: object
      properties:
        id: { type: string }
        status: { type: string }
        weightGrams: { type: integer }
        labels: { type: object, additionalProperties: { type: string } }
`, '.yaml');

/** The depot entry with its polls (YAML lines indented by 10), then what follows the sources. */
const depotFile = (polls: string, rest = '') => writeSourcesFile(`sources:
  - name: depot
    handler:
      openapi:
        source: ${DEPOT_SPEC}
        endpoint: '{env.DEPOT_URL}'
        polls:
${polls}${rest}`);

/** Berlin's parcels on `topic` (changes only), Hamburg's on `<topic>-hamburg` (removals too). */
const depotPolls = (topic: string) => `          - pubsubTopic: ${topic}
            operation: listParcels
            args: { depot: berlin }
            items: data
            key: id
            type: parcel.changed
            invalidates: ['Parcel:{id}']
          - { pubsubTopic: ${topic}-hamburg, operation: listParcels, args: { depot: hamburg }, items: data, key: id, removals: true }
`;

/** Collects what is published on `topic` from now on. */
const collect = (pubsub: JunctionPubSub, topic: string) => collectPublished(pubsub, `webhook:${topic}`);

const settle = () => new Promise((resolve) => setImmediate(resolve));
/** An event's id: the item's key and 12 hex digits, new for each change. */
const eventId = (key: string) => expect.stringMatching(new RegExp(`^${key}:[0-9a-f]{12}$`));

describe('a REST source polled (one instance, in memory)', () => {
  const topic = `parcels-${randomBytes(4).toString('hex')}`;
  let depot: Depot;
  let h: Harness;
  let store: WebhookStore;
  /** The topics' streams, failing to keep anything while `down`. */
  const streams = { down: false };
  const scheduler = manualPolls();
  const invalidated: string[] = [];
  beforeAll(async () => {
    depot = await startDepot();
    const memory = createMemoryWebhookStore();
    store = { ...memory, append: (...args) => (streams.down ? Promise.reject(new Error('stream store down')) : memory.append(...args)) };
    const cache = createMemoryStore();
    const cacheStore: CacheStore = { ...cache, invalidateTags: async (tags) => {
      invalidated.push(...tags);
      await cache.invalidateTags(tags);
    } };
    const file = depotFile(depotPolls(topic), `additionalTypeDefs: |
  type Subscription {
    "A parcel of the Berlin depot as it changes."
    parcelUpdated(id: ID!): Parcel
  }
additionalResolvers:
  - { targetTypeName: Subscription, targetFieldName: parcelUpdated, pubsubTopic: ${topic}, filterBy: "root.id === args.id" }
`);
    // No retries: one read per round, whatever the backend answers.
    h = await startHarness({ meshConfig: file, env: () => ({ DEPOT_URL: depot.url }), pollScheduler: scheduler, webhookStore: store, cacheStore, resilience: { maxRetries: 0 } });
  });
  afterAll(async () => {
    await h?.close();
    await depot?.close();
  });
  const berlin = () => depot.parcels.berlin!;

  it('records the first read without publishing; publishes nothing while nothing changes, one read per round', async () => {
    const events = collect(h.gateway.pubsub, topic);
    await scheduler.tick();
    await scheduler.tick();
    await scheduler.tick();
    await settle();
    expect(depot.calls).toEqual({ berlin: 3, hamburg: 3 });
    expect(events.received).toEqual([]);
    expect(h.gateway.pollStats()[topic]).toEqual({ polls: 3, events: 0, failed: 0, standby: 0, skipped: 0 });
    await events.stop();
  });

  it('publishes one event for exactly the item that changed, keeps it in the topic\'s stream and drops its cached answers first', async () => {
    const events = collect(h.gateway.pubsub, topic);
    berlin()[1] = { ...berlin()[1]!, status: 'out for delivery' };
    await scheduler.tick();
    await settle();
    expect(events.received).toEqual([{
      source: 'depot', topic, id: eventId('p2'), type: 'parcel.changed', payload: { id: 'p2', status: 'out for delivery', weightGrams: 1200, labels: { carrier: 'dhl', zone: '3' } },
      receivedAt: expect.any(Number), cursor: expect.stringMatching(/^\d+-\d+$/),
    }]);
    expect(invalidated).toEqual(['Parcel:p2']);
    expect((await store.read(topic, 10)).map((kept) => JSON.parse(kept.event).id)).toEqual([events.received[0]!.id]);
    // Read again, unchanged: nothing more.
    await scheduler.tick();
    await settle();
    expect(events.received).toHaveLength(1);
    expect(h.gateway.pollStats()[topic]).toMatchObject({ polls: 5, events: 1, failed: 0 });
    await events.stop();
  });

  it('publishes a new item; an item gone publishes nothing unless the poll says removals, and then only its key', async () => {
    const inBerlin = collect(h.gateway.pubsub, topic);
    const inHamburg = collect(h.gateway.pubsub, `${topic}-hamburg`);
    depot.parcels.berlin = [...berlin().filter((p) => p.id !== 'p1'), { id: 'p4', status: 'stored', weightGrams: 7, labels: { fragile: 'yes' } }];
    depot.parcels.hamburg = depot.parcels.hamburg!.filter((p) => p.id !== 'h1');
    await scheduler.tick();
    await settle();
    expect(inBerlin.received.map((e) => [e.id, e.type, e.payload])).toEqual([[eventId('p4'), 'parcel.changed', { id: 'p4', status: 'stored', weightGrams: 7, labels: { fragile: 'yes' } }]]);
    expect(inHamburg.received.map((e) => [e.id, e.type, e.payload])).toEqual([[expect.stringMatching(/^h1:removed:[0-9a-f]{12}$/), 'removed', { id: 'h1' }]]);
    // An item back after it was gone is new again.
    depot.parcels.berlin = [...berlin(), { id: 'p1', status: 'returned', weightGrams: 500, labels: {} }];
    await scheduler.tick();
    await settle();
    expect(inBerlin.received.map((e) => e.payload)).toEqual([{ id: 'p4', status: 'stored', weightGrams: 7, labels: { fragile: 'yes' } }, { id: 'p1', status: 'returned', weightGrams: 500, labels: {} }]);
    await inBerlin.stop();
    await inHamburg.stop();
  });

  it('reaches a declared subscription over Server-Sent Events: the changed parcel, only the one it asked for', async () => {
    const stream = await subscribeSse(h, 'subscription($id: ID!) { parcelUpdated(id: $id) { id status weightGrams } }', { id: 'p3' }, { authorization: `Bearer ${await h.issuer.token()}` });
    try {
      expect(stream.response.status).toBe(200);
      await listening(h, topic);
      depot.parcels.berlin = berlin().map((p) => (p.id === 'p2' ? { ...p, weightGrams: 1300 } : p.id === 'p3' ? { ...p, status: 'delivered' } : p));
      await scheduler.tick();
      // Its cursor is the event's place in the topic's stream, as a webhook's is.
      expect((await stream.next()).data).toEqual({ data: { parcelUpdated: { id: 'p3', status: 'delivered', weightGrams: 90 } }, extensions: { cursor: expect.stringMatching(/^\d+-\d+$/) } });
    } finally {
      stream.close();
    }
  });

  it('a failing backend: nothing published, one read per round, one log line, the last state kept; the change is published once it answers again', async () => {
    const events = collect(h.gateway.pubsub, topic);
    const before = { ...h.gateway.pollStats()[topic]!, calls: depot.calls.berlin! };
    depot.failing = true;
    depot.parcels.berlin = berlin().map((p) => (p.id === 'p4' ? { ...p, status: 'lost' } : p));
    await scheduler.tick();
    await scheduler.tick();
    await settle();
    expect(events.received).toEqual([]);
    expect(depot.calls.berlin! - before.calls).toBe(2);
    expect(h.gateway.pollStats()[topic]).toMatchObject({ polls: before.polls + 2, failed: before.failed + 2, events: before.events });
    const failures = h.logs.filter((l) => l.msg === 'poll failed: nothing published, the last state kept' && l.topic === topic);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ source: 'depot', stage: 'read', failed: before.failed + 1 });
    depot.failing = false;
    await scheduler.tick();
    await settle();
    expect(events.received.map((e) => [e.id, e.payload])).toEqual([[eventId('p4'), { id: 'p4', status: 'lost', weightGrams: 7, labels: { fragile: 'yes' } }]]);
    expect(h.logs.filter((l) => l.msg === 'poll succeeded again' && l.topic === topic)).toHaveLength(1);
    await events.stop();
  });

  it('a change the topic\'s stream cannot keep is not published; the next round finds it again and publishes it once', async () => {
    const events = collect(h.gateway.pubsub, topic);
    const before = h.gateway.pollStats()[topic]!;
    depot.parcels.berlin = berlin().map((p) => (p.id === 'p1' ? { ...p, status: 'sorted' } : p));
    streams.down = true;
    await scheduler.tick();
    await settle();
    expect(events.received).toEqual([]);
    expect(h.gateway.pollStats()[topic]).toMatchObject({ failed: before.failed + 1, events: before.events });
    streams.down = false;
    await scheduler.tick();
    await scheduler.tick();
    await settle();
    expect(events.received.map((e) => [e.id, e.payload])).toEqual([[eventId('p1'), { id: 'p1', status: 'sorted', weightGrams: 500, labels: {} }]]);
    await events.stop();
  });

  it('leaves out items without a key, and fails a round whose list is over 5,000 items (MAX_POLL_ITEMS), publishing nothing', async () => {
    const hamburg = `${topic}-hamburg`;
    const events = collect(h.gateway.pubsub, hamburg);
    const before = h.gateway.pollStats()[hamburg]!;
    const kept = depot.parcels.hamburg!;
    depot.parcels.hamburg = [...kept, { status: 'unlabelled', weightGrams: 1, labels: {} } as unknown as Parcel];
    await scheduler.tick();
    depot.parcels.hamburg = Array.from({ length: 5_001 }, (_, i) => ({ id: `x${i}`, status: 'stored', weightGrams: 1, labels: {} }));
    await scheduler.tick();
    await settle();
    expect(events.received).toEqual([]);
    expect(h.gateway.pollStats()[hamburg]).toEqual({ ...before, polls: before.polls + 2, skipped: before.skipped + 1, failed: before.failed + 1 });
    depot.parcels.hamburg = kept;
    await events.stop();
  });

  it('stops polling when the gateway closes', async () => {
    const calls = depot.calls.berlin!;
    await h.close();
    await scheduler.tick();
    expect(depot.calls.berlin).toBe(calls);
  });
});

describe('a GraphQL source polled', () => {
  it('sends its read as a document with the entry\'s arguments and fields, and publishes the item that changed', async () => {
    const topic = `texts-${randomBytes(4).toString('hex')}`;
    const scheduler = manualPolls();
    const file = writeSourcesFile(`sources:
  - name: Sms
    handler:
      graphql:
        endpoint: '{env.SMS_URL}/graphql'
        source: ${process.cwd()}/sources/messaging/schema.graphql
        operationHeaders: { Authorization: '{env.SMS_AUTHORIZATION}' }
        polls:
          - pubsubTopic: ${topic}
            operation: messagesForCustomers
            args: { customerIds: ['{env.CUSTOMER}'], first: 3 }
            key: customerId
            selectionSet: '{ customerId messages { id body } }'
          # Without selectionSet: every leaf field, three levels deep.
          - { pubsubTopic: ${topic}-all, operation: messagesForCustomers, args: { customerIds: ['{env.CUSTOMER}'] }, key: customerId }
`);
    const customer = 'cus_polled';
    const h = await startHarness({ meshConfig: file, pollScheduler: scheduler, env: (b, c) => ({ ...declaredEnv(b, c), CUSTOMER: customer }) });
    const events = collect(h.gateway.pubsub, topic);
    try {
      await scheduler.tick();
      const sent = await fetch(`${h.backends.messaging.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(h.credentials.messaging.accountSid, h.credentials.messaging.authToken) },
        body: JSON.stringify({ query: 'mutation($c: ID) { sendMessage(to: "+4930123456", body: "Your parcel is on its way", customerId: $c) { id } }', variables: { c: customer } }),
      });
      const id = (await sent.json()).data.sendMessage.id;
      await scheduler.tick();
      await scheduler.tick();
      await settle();
      expect(events.received.map((e) => [e.id, e.type, e.payload])).toEqual([
        [eventId(customer), 'changed', { customerId: customer, messages: [{ id, body: 'Your parcel is on its way' }] }],
      ]);
      expect(h.gateway.pollStats()[topic]).toEqual({ polls: 3, events: 1, failed: 0, standby: 0, skipped: 0 });
      expect(h.gateway.pollStats()[`${topic}-all`]).toMatchObject({ polls: 3, failed: 0, skipped: 0 });
      expect(h.gateway.pollStats()[`${topic}-all`]!.events).toBeGreaterThanOrEqual(1);
    } finally {
      await events.stop();
      await h.close();
    }
  });
});

describe('polls over Redis: two instances, one Redis', () => {
  const topic = `parcels-${randomBytes(4).toString('hex')}`;
  let redis: Redis;
  let depot: Depot;
  const subscribers: Redis[] = [];
  const instances: { h: Harness; scheduler: ReturnType<typeof manualPolls> }[] = [];
  beforeAll(async () => {
    redis = await sharedRedis();
    depot = await startDepot();
    const file = depotFile(depotPolls(topic));
    for (let i = 0; i < 2; i++) {
      const subscriber = machineRedisClient();
      await subscriber.connect();
      subscribers.push(subscriber);
      const eventTarget: JunctionEventTarget = createRedisEventTarget(redis, subscriber, () => undefined);
      const scheduler = manualPolls();
      const h = await startHarness({
        meshConfig: file, env: () => ({ DEPOT_URL: depot.url }), pollScheduler: scheduler, resilience: { maxRetries: 0 },
        pollStore: createRedisPollStore(redis), webhookStore: createRedisWebhookStore(redis), eventTarget,
      });
      instances.push({ h, scheduler });
    }
  });
  afterAll(async () => {
    await Promise.all(instances.map(({ h }) => h.close()));
    for (const t of [topic, `${topic}-hamburg`]) await redis.del(`junction:{poll:${t}}:lease`, `junction:{poll:${t}}:state`, `junction:{webhook:${t}}:stream`);
    for (const s of subscribers) s.disconnect();
    redis.disconnect();
    await depot?.close();
  });
  /** One round on every instance still open: the first instance asks for the lease first. */
  const round = async () => {
    for (const { scheduler } of instances) await scheduler.tick();
  };

  it('only the holder of the lease reads the backend: one read per round, not one per instance', async () => {
    for (let i = 0; i < 3; i++) await round();
    expect(depot.calls).toEqual({ berlin: 3, hamburg: 3 });
    const [a, b] = instances.map(({ h }) => h.gateway.pollStats()[topic]);
    expect(a).toEqual({ polls: 3, events: 0, failed: 0, standby: 0, skipped: 0 });
    expect(b).toEqual({ polls: 0, events: 0, failed: 0, standby: 3, skipped: 0 });
  });

  it('a change reaches the subscribers of both instances, once each', async () => {
    const [a, b] = instances.map(({ h }) => collect(h.gateway.pubsub, topic)) as [ReturnType<typeof collect>, ReturnType<typeof collect>];
    // Both instances' SUBSCRIBE has reached Redis (the listeners register on their first read).
    const until = Date.now() + 5_000;
    while (Number(((await redis.pubsub('NUMSUB', `webhook:${topic}`)) as [string, number])[1]) < 2) {
      if (Date.now() > until) throw new Error('the instances did not subscribe');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    depot.parcels.berlin = depot.parcels.berlin!.map((p) => (p.id === 'p1' ? { ...p, status: 'sorted' } : p));
    await round();
    await round();
    for (let i = 0; i < 200 && (a.received.length === 0 || b.received.length === 0); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(a.received.map((e) => [e.id, e.payload])).toEqual([[eventId('p1'), { id: 'p1', status: 'sorted', weightGrams: 500, labels: { carrier: 'ups' } }]]);
    expect(b.received.map((e) => e.id)).toEqual([a.received[0]!.id]);
    expect(depot.calls.berlin).toBe(5);
    await a.stop();
    await b.stop();
  });

  it('the holder closing hands over: the other instance reads from the state the first saw, republishing nothing unchanged', async () => {
    const [first, second] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const events = collect(second.h.gateway.pubsub, topic);
    await first.h.close();
    instances.shift();
    await round();
    await settle();
    expect(second.h.gateway.pollStats()[topic]).toMatchObject({ polls: 1, events: 0, failed: 0 });
    expect(depot.calls.berlin).toBe(6);
    depot.parcels.berlin = depot.parcels.berlin!.map((p) => (p.id === 'p3' ? { ...p, status: 'delivered' } : p));
    await round();
    for (let i = 0; i < 200 && events.received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(events.received.map((e) => [e.id, e.payload])).toEqual([[eventId('p3'), { id: 'p3', status: 'delivered', weightGrams: 90, labels: {} }]]);
    expect(await redis.get(`junction:{poll:${topic}}:lease`)).toMatch(/:\d+:[0-9a-f]{8}$/);
    await events.stop();
  });
});

describe('polls in the sources file', () => {
  it('refuses a poll\'s topic that is another poll\'s or a webhook\'s, and a selectionSet for a source that is not GraphQL; a subscription may read a poll\'s topic', () => {
    const file = depotFile(`          - { pubsubTopic: parcels, operation: listParcels, key: id }
          - { pubsubTopic: parcels, operation: listParcels, key: id }
          - { pubsubTopic: hooks, operation: listParcels, key: id, selectionSet: '{ id }' }
        webhooks:
          - { path: /webhooks/depot, scheme: hmac, secrets: [s], pubsubTopic: hooks }
`, `additionalResolvers:
  - { targetTypeName: Subscription, targetFieldName: parcelUpdated, pubsubTopic: parcels }
`);
    expect(sourcesFileProblems(file, { DEPOT_URL: 'http://127.0.0.1:9' })).toEqual([
      'sources (depot).polls[1].pubsubTopic: "parcels" is also the topic of a poll of depot',
      'sources (depot).polls[2].pubsubTopic: "hooks" is also the topic of a webhook of depot',
      'sources (depot).polls[2].selectionSet: only a GraphQL source\'s poll chooses its fields',
    ]);
  });

  it('refuses at start a read the source does not have, a write, and arguments the read does not take or needs', async () => {
    const file = depotFile(`          - { pubsubTopic: a, operation: listParcel, key: id }
          - { pubsubTopic: b, operation: createParcel, key: id }
          - { pubsubTopic: c, operation: listParcels, args: { depot: berlin, colour: red }, key: id }
          - { pubsubTopic: d, operation: listParcels, key: id, intervalSec: 0 }
`);
    expect(sourcesFileProblems(file, { DEPOT_URL: 'http://127.0.0.1:9' })).toEqual([
      'sources[0] (depot).handler.openapi.polls.3.intervalSec: Too small: expected number to be >=1',
    ]);
    const loaded = depotFile(`          - { pubsubTopic: a, operation: listParcel, key: id }
          - { pubsubTopic: b, operation: createParcel, key: id }
          - { pubsubTopic: c, operation: listParcels, args: { depot: berlin, colour: red }, key: id }
          - { pubsubTopic: d, operation: listParcels, key: id, intervalSec: '{env.INTERVAL}' }
`);
    const failure = await startHarness({ meshConfig: loaded, env: () => ({ DEPOT_URL: 'http://127.0.0.1:9' }) }).then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(SourceConfigError);
    expect((failure as SourceConfigError).problems).toEqual([
      'sources (depot).polls[0].operation: depot has no read named listParcel (its reads: listParcels)',
      'sources (depot).polls[1].operation: createParcel is a write of depot (a mutation); only reads are polled',
      'sources (depot).polls[2].args: listParcels takes no colour (it takes depot)',
      'sources (depot).polls[3].args: listParcels needs depot',
    ]);
  });
});

describe('the demo\'s maps source, polled (SOAP has no push)', () => {
  it('a business renamed reaches a placeUpdated subscriber over Server-Sent Events, and the place query no longer answers from the cache', async () => {
    const scheduler = manualPolls();
    const h = await startHarness({ pollScheduler: scheduler, cacheStore: createMemoryStore() });
    try {
      const [shop, other] = h.seed.places.filter((p) => p.kind === 'business') as [typeof h.seed.places[0], typeof h.seed.places[0]];
      const PLACE = 'query($id: ID!) { place(id: $id) { id name } }';
      expect((await h.query(PLACE, { id: shop.id })).body.data).toEqual({ place: { id: shop.id, name: shop.name } });
      const stream = await subscribeSse(h, 'subscription($id: ID) { placeUpdated(id: $id) { id name formattedAddress location { lat lng } } }', { id: shop.id });
      try {
        await listening(h, 'places');
        await scheduler.tick();
        const rename = (id: string, name: string) => fetch(`${h.backends.maps.url}/_places/${id}`, { method: 'POST', body: JSON.stringify({ name }) }).then((r) => r.json());
        await rename(other.id, 'Another Name');
        await rename(shop.id, 'Corner Bakery & Café');
        await scheduler.tick();
        expect((await stream.next()).data).toEqual({
          data: { placeUpdated: { id: shop.id, name: 'Corner Bakery & Café', formattedAddress: shop.formattedAddress, location: shop.location } },
          extensions: { cursor: expect.stringMatching(/^\d+-\d+$/) },
        });
        expect(h.gateway.pollStats().places).toEqual({ polls: 2, events: 2, failed: 0, standby: 0, skipped: 0 });
        expect((await h.stats()).maps.operations).toMatchObject({ ListPlaces: 2 });
        // Cached for a day, but the change dropped it: the next read is the backend's.
        expect((await h.query(PLACE, { id: shop.id })).body.data).toEqual({ place: { id: shop.id, name: 'Corner Bakery & Café' } });
      } finally {
        stream.close();
      }
    } finally {
      await h.close();
    }
  });
});
