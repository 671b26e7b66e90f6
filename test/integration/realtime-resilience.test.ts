import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { Redis } from 'ioredis';
import { startHarness, type Harness, type HarnessOptions } from '../helpers/harness.ts';
import { createTestIssuer, type TestIssuer } from '../helpers/test-issuer.ts';
import { eventually, prefixedTopics, redisSubscribers, serveWebSocket, startRestartableRedis, stripeDelivery, subscribeSse, subscriptionsOpen, type Delivery, type RestartableRedis, type Served, type SseStream } from '../helpers/realtime.ts';
import { machineRedisClient, MACHINE_REDIS_URL, uniquePrefix } from '../helpers/redis.ts';
import { createRedis, createRedisEventTarget } from '../../gateway/redis.ts';
import { createLogger } from '../../gateway/logger.ts';
import { createRedisStore } from '../../gateway/cache/store.ts';
import { createRateLimitEngine } from '../../gateway/plugins/limits/rate-limits.ts';
import { hashApiKey } from '../../gateway/auth/api-keys.ts';
import { createMemoryWebhookStore, createRedisWebhookStore } from '../../gateway/webhooks/store.ts';

/**
 * What subscribers and webhook providers can count on when things go wrong or get busy: Redis
 * killed in the middle of a stream and started again, the order of one payment's events, one
 * event delivered a thousand times to two instances, and who may listen, checked at connect and
 * for each event. Deliveries are signed as Stripe signs them; subscribers read over SSE (and
 * WebSocket) through the gateway's public surface.
 */
const PATH = '/webhooks/payments';
const CHANNEL = 'webhook:payments';
const STREAM = 'junction:{webhook:payments}:stream';
const UPDATED = 'subscription($p: ID) { paymentUpdated(id: $p) { id status amount } }';
const quiet = createLogger('silent');

/** A payment as the provider sends it in an event; `amount` numbers the events in the tests. */
const payment = (id: string, amount: number, status = 'succeeded') => ({ id, object: 'payment', status, amount, currency: 'eur', customer: 'cus_none', merchant: 'mer_none', amount_refunded: 0, created: 0 });

/**
 * Delivers as a provider does: a 503 (the store did not answer in time, as on a busy machine) is
 * sent again, up to 20 times; the last answer is returned.
 */
async function deliverTaken(h: Harness, delivery: Delivery): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const answer = await h.fetch(PATH, { method: 'POST', headers: delivery.headers, body: delivery.body });
    if (answer.status !== 503 || attempt === 20) return answer;
  }
}

/** A gateway wired to Redis as main.ts wires it: one client for the stores and publishing, one that only subscribes. */
async function onRedis(path: string, options: HarnessOptions = {}): Promise<{ h: Harness; clients: Redis[] }> {
  const redis = createRedis({ path });
  const subscriber = createRedis({ path });
  for (const client of [redis, subscriber]) {
    client.on('error', () => undefined); // killed on purpose: the stores report their own failures
    await client.connect();
  }
  const h = await startHarness({
    ...options,
    webhookStore: createRedisWebhookStore(redis),
    eventTarget: createRedisEventTarget(redis, subscriber, () => undefined),
    cacheStore: createRedisStore(redis, quiet),
    rateLimits: createRateLimitEngine(redis),
  });
  return { h, clients: [redis, subscriber] };
}

describe('Redis killed in the middle of a stream, then started again (empty: it keeps nothing on disk)', () => {
  let own: RestartableRedis;
  let admin: Redis;
  let x: Harness;
  let y: Harness;
  const clients: Redis[] = [];
  const secret = `whsec_${randomBytes(12).toString('hex')}`;
  let issuer: TestIssuer;
  beforeAll(async () => {
    own = await startRestartableRedis();
    issuer = await createTestIssuer();
    admin = createRedis({ path: own.path });
    admin.on('error', () => undefined);
    await admin.connect();
    // Two instances, as behind a balancer: the provider delivers to x; subscribers are on both.
    for (const which of ['x', 'y'] as const) {
      const made = await onRedis(own.path, { env: () => ({ PAYMENTS_WEBHOOK_SECRET: secret }), auth: () => ({ keys: { kind: 'file', jwks: issuer.jwks } }) });
      clients.push(...made.clients);
      if (which === 'x') x = made.h;
      else y = made.h;
    }
  });
  afterAll(async () => {
    await Promise.all([x?.close(), y?.close()]);
    for (const client of [...clients, admin]) client?.disconnect();
    await own?.close();
  });

  const streamIds = async () => (await admin.xrange(STREAM, '-', '+')).map(([, fields]) => JSON.parse(fields[1]!).id as string);

  it('refuses deliveries with 503 while it is down, keeps answering queries, and afterwards streams to every subscriber, including one that joined while it was down', async () => {
    const token = `Bearer ${await issuer.token()}`;
    const id = `pay_${randomBytes(6).toString('hex')}`;
    const deliver = (event: Delivery) => x.fetch(PATH, { method: 'POST', headers: event.headers, body: event.body });
    const event = (n: number, type = 'payment.succeeded') => stripeDelivery(secret, type, payment(id, n, type.split('.')[1]));
    const amounts = async (stream: SseStream, count: number) => {
      const got: number[] = [];
      for (let i = 0; i < count; i++) got.push((await stream.next()).data.data.paymentUpdated.amount);
      return got;
    };
    const before = await subscribeSse(x, UPDATED, { p: id }, { authorization: token });
    let during: SseStream | undefined;
    try {
      await subscriptionsOpen(x, 'payments', 1);
      await redisSubscribers(admin, CHANNEL, 1);
      const early = [event(1), event(2, 'payment.refunded')];
      for (const e of early) expect((await deliver(e)).status).toBe(200);
      expect(await amounts(before, 2)).toEqual([1, 2]);
      // What an acknowledgement means: the event is in the topic's stream in Redis.
      expect(await streamIds()).toEqual(early.map((e) => e.id));

      await own.kill();
      // Not kept, so not acknowledged: the provider retries it.
      const third = event(3);
      const refused = await deliver(third);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect((await refused.json()).errors[0].extensions.code).toBe('WEBHOOK_UNAVAILABLE');
      // Queries do not need Redis: the cache stands aside, rate limits count in memory.
      const answer = await x.query('query($id: ID!) { payment(id: $id) { id } }', { id: x.seed.payments[0]!.id }, { authorization: token });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ data: { payment: { id: x.seed.payments[0]!.id } } });
      // A subscriber arriving meanwhile, on the instance that had none (a client reconnecting
      // elsewhere), is taken: its stream opens.
      during = await subscribeSse(y, UPDATED, { p: id }, { authorization: token });
      expect(during.response.status).toBe(200);
      await subscriptionsOpen(y, 'payments', 1);

      await own.restart();
      // Both instances listen again once their subscriber connections are back.
      await redisSubscribers(admin, CHANNEL, 2);
      // The provider's retry of the refused delivery is taken once the store answers.
      await eventually(async () => (await deliver(third)).status === 200, 'taking the retried delivery');
      const fourth = event(4, 'payment.refunded');
      expect((await deliver(fourth)).status).toBe(200);
      // The subscriber connected all along did not notice; the one that joined during the outage hears too.
      expect(await amounts(before, 2)).toEqual([3, 4]);
      expect(await amounts(during, 2)).toEqual([3, 4]);
      // The restarted Redis is empty: it holds what was acknowledged since, and not what was before.
      expect(await streamIds()).toEqual([third.id, fourth.id]);
      // The ids it had taken went too: a late retry of an event acknowledged before the kill is
      // taken, and heard, a second time.
      expect(await (await deliver(early[0]!)).json()).toEqual({ received: true });
      expect(await amounts(before, 1)).toEqual([1]);
      expect(x.gateway.webhookStats()[PATH]).toMatchObject({ accepted: 5 });
      expect(x.gateway.webhookStats()[PATH]!.unavailable).toBeGreaterThanOrEqual(1);
    } finally {
      before.close();
      during?.close();
    }
  });
});

/** What each subscriber read, as `<payment>:<amount>`, until it has `count` events. */
async function readAll(stream: SseStream, count: number): Promise<string[]> {
  const got: string[] = [];
  while (got.length < count) {
    const { data } = await stream.next();
    got.push(`${data.data.paymentUpdated.id}:${data.data.paymentUpdated.amount}`);
  }
  return got;
}

/** `<payment>:<amount>` of one payment, in the order read. */
const of = (read: readonly string[], id: string) => read.filter((e) => e.startsWith(`${id}:`)).map((e) => Number(e.split(':')[1]));

describe('an event kept whose publish to Redis fails', () => {
  it('is acknowledged (it is kept), and the failure is told with its topic: live subscribers may not have heard it', async () => {
    const own = await startRestartableRedis();
    const [publisher, subscriber] = [createRedis({ path: own.path }), createRedis({ path: own.path })];
    let h: Harness | undefined;
    try {
      for (const client of [publisher, subscriber]) {
        client.on('error', () => undefined);
        await client.connect();
      }
      const failed: string[] = [];
      // Kept in memory, published over Redis: as when Redis dies between keeping an event and publishing it.
      const store = createMemoryWebhookStore();
      h = await startHarness({ webhookStore: store, eventTarget: createRedisEventTarget(publisher, subscriber, (_err, topic) => failed.push(topic)) });
      await own.kill();
      const e = stripeDelivery(h.credentials.payments.webhookSecret, 'payment.succeeded', payment('pay_kept', 1));
      expect(await (await h.fetch(PATH, { method: 'POST', headers: e.headers, body: e.body })).json()).toEqual({ received: true });
      expect((await store.read('payments', 10)).map((k) => JSON.parse(k.event).id)).toEqual([e.id]);
      await eventually(() => failed.length > 0, 'told of the failed publish');
      expect(failed).toEqual([CHANNEL]);
    } finally {
      await h?.close();
      publisher.disconnect();
      subscriber.disconnect();
      await own.close();
    }
  });
});

describe('the order of events', () => {
  const PAYMENTS = 4;
  const EACH = 15;
  const ids = () => Array.from({ length: PAYMENTS }, () => `pay_${randomBytes(6).toString('hex')}`);
  const ascending = Array.from({ length: EACH }, (_, i) => i + 1);
  /**
   * Each payment's events, numbered by `amount` (succeeded, then refunded, alternately), each sent
   * once the previous one of that payment was acknowledged, as a provider keeping order would;
   * the payments' sequences run at the same time. `to(n)` picks the instance of the n-th event.
   */
  const deliverAll = async (secret: string, payments: string[], to: (n: number) => Harness) => {
    const acknowledged: string[] = [];
    await Promise.all(payments.map(async (id) => {
      for (let n = 1; n <= EACH; n++) {
        const e = stripeDelivery(secret, n % 2 === 1 ? 'payment.succeeded' : 'payment.refunded', payment(id, n, n % 2 === 1 ? 'succeeded' : 'refunded'));
        expect((await deliverTaken(to(n), e)).status).toBe(200);
        acknowledged.push(`${id}:${n}`);
      }
    }));
    return acknowledged;
  };
  /** How often consecutive events belong to different payments: PAYMENTS - 1 when nothing interleaved. */
  const switches = (read: readonly string[]) => read.filter((e, i) => i > 0 && e.split(':')[0] !== read[i - 1]!.split(':')[0]).length;

  it('one instance: each subscriber gets every payment\'s events in the order they were acknowledged, the payments interleaved', async () => {
    const h = await startHarness();
    try {
      const token = { authorization: `Bearer ${await h.issuer.token()}` };
      const payments = ids();
      const all = await subscribeSse(h, UPDATED, {}, token);
      const one = await subscribeSse(h, UPDATED, { p: payments[0] }, token);
      try {
        await subscriptionsOpen(h, 'payments', 2);
        const acknowledged = await deliverAll(h.credentials.payments.webhookSecret, payments, () => h);
        const read = await readAll(all, PAYMENTS * EACH);
        for (const id of payments) expect(of(read, id)).toEqual(ascending);
        expect(switches(read)).toBeGreaterThan(PAYMENTS - 1);
        // An event is published just before its acknowledgement leaves, in the same turn.
        expect(read).toEqual(acknowledged);
        expect(of(await readAll(one, EACH), payments[0]!)).toEqual(ascending);
      } finally {
        all.close();
        one.close();
      }
    } finally {
      await h.close();
    }
  });

  it('two instances over Redis, a payment\'s events taken by either in turn: every subscriber on either gets them in that order, and all subscribers the same sequence', async () => {
    const own = await startRestartableRedis();
    const admin = createRedis({ path: own.path });
    const made: Awaited<ReturnType<typeof onRedis>>[] = [];
    try {
      await admin.connect();
      const issuer = await createTestIssuer();
      const secret = `whsec_${randomBytes(12).toString('hex')}`;
      for (let i = 0; i < 2; i++) made.push(await onRedis(own.path, { env: () => ({ PAYMENTS_WEBHOOK_SECRET: secret }), auth: () => ({ keys: { kind: 'file', jwks: issuer.jwks } }) }));
      const [a, b] = made.map((m) => m.h) as [Harness, Harness];
      const token = { authorization: `Bearer ${await issuer.token()}` };
      const payments = ids();
      const onA = await subscribeSse(a, UPDATED, {}, token);
      const onB = await subscribeSse(b, UPDATED, {}, token);
      try {
        await redisSubscribers(admin, CHANNEL, 2);
        await deliverAll(secret, payments, (n) => (n % 2 === 1 ? a : b));
        const [readA, readB] = await Promise.all([readAll(onA, PAYMENTS * EACH), readAll(onB, PAYMENTS * EACH)]);
        for (const id of payments) {
          expect(of(readA, id)).toEqual(ascending);
          expect(of(readB, id)).toEqual(ascending);
        }
        expect(switches(readA)).toBeGreaterThan(PAYMENTS - 1);
        // Every message went through Redis, which hands them to each subscribed connection in the
        // order it ran the PUBLISHes.
        expect(readB).toEqual(readA);
      } finally {
        onA.close();
        onB.close();
      }
    } finally {
      await Promise.all(made.map((m) => m.h.close()));
      for (const client of [...made.flatMap((m) => m.clients), admin]) client.disconnect();
      await own.close();
    }
  });
});

describe('one event delivered 1,000 times to two instances sharing the machine\'s Redis', () => {
  it('is taken once: each of 3 subscribers gets it once, and the instances count 1 accepted and 999 duplicate or in progress', async () => {
    const url = MACHINE_REDIS_URL;
    // Keys and channels of this test only: the store's client prefixes its keys, the event target its topics.
    const prefix = uniquePrefix();
    const admin = machineRedisClient();
    await admin.connect();
    const issuer = await createTestIssuer();
    const secret = `whsec_${randomBytes(12).toString('hex')}`;
    const clients: Redis[] = [];
    const instances: Harness[] = [];
    const keys = [`${prefix}${STREAM}`];
    try {
      for (let i = 0; i < 2; i++) {
        const { hostname, port, password } = new URL(url);
        const redis = createRedis({ host: hostname, port: Number(port || 6379), ...(password ? { password: decodeURIComponent(password) } : {}), keyPrefix: prefix });
        const subscriber = machineRedisClient();
        await Promise.all([redis.connect(), subscriber.connect()]);
        clients.push(redis, subscriber);
        instances.push(await startHarness({
          env: () => ({ PAYMENTS_WEBHOOK_SECRET: secret }),
          auth: () => ({ keys: { kind: 'file', jwks: issuer.jwks } }),
          webhookStore: createRedisWebhookStore(redis),
          eventTarget: prefixedTopics(createRedisEventTarget(redis, subscriber, () => undefined), prefix),
        }));
      }
      const [a, b] = instances as [Harness, Harness];
      const token = { authorization: `Bearer ${await issuer.token()}` };
      const id = `pay_${randomBytes(6).toString('hex')}`;
      const streams = [await subscribeSse(a, UPDATED, { p: id }, token), await subscribeSse(a, UPDATED, { p: id }, token), await subscribeSse(b, UPDATED, { p: id }, token)];
      try {
        await redisSubscribers(admin, `${prefix}${CHANNEL}`, 2);
        const event = stripeDelivery(secret, 'payment.succeeded', payment(id, 1));
        keys.push(`${prefix}junction:{webhook:payments}:seen:${event.id}`);
        // Alternately to each instance, as a provider's retries behind a balancer would be.
        const send = (i: number) => deliverTaken(instances[i % 2]!, event);
        const burst = (from: number) => Promise.all(Array.from({ length: 50 }, (_, i) => send(from + i)));
        const answers = [...await burst(0)];
        for (let i = 50; i < 950; i++) answers.push(await send(i));
        answers.push(...await burst(950));
        expect(answers).toHaveLength(1_000);
        const bodies = await Promise.all(answers.map((answer) => answer.json()));
        const statuses = answers.map((answer) => answer.status);
        expect(statuses.filter((s) => s !== 200 && s !== 409)).toEqual([]);
        expect(bodies.filter((body) => body.received === true && body.duplicate === undefined)).toHaveLength(1);
        expect(bodies.filter((body) => body.duplicate === true).length + statuses.filter((s) => s === 409).length).toBe(999);
        const stats = instances.map((h) => h.gateway.webhookStats()[PATH] ?? {});
        const total = (outcome: string) => stats.reduce((sum, s) => sum + ((s as Record<string, number>)[outcome] ?? 0), 0);
        expect(total('accepted')).toBe(1);
        expect(total('duplicate') + total('in_progress')).toBe(999);
        expect(total('duplicate')).toBeGreaterThanOrEqual(900);
        // One more event through each instance: a subscriber that has both has every message published
        // before them (Redis hands each connection its messages in the order it ran the PUBLISHes).
        for (const [h, n] of [[a, 2], [b, 3]] as const) {
          const last = stripeDelivery(secret, 'payment.refunded', payment(id, n, 'refunded'));
          keys.push(`${prefix}junction:{webhook:payments}:seen:${last.id}`);
          expect((await deliverTaken(h, last)).status).toBe(200);
        }
        for (const stream of streams) expect(of(await readAll(stream, 3), id)).toEqual([1, 2, 3]);
        const kept = await admin.xrange(`${prefix}${STREAM}`, '-', '+');
        expect(kept.map(([, fields]) => JSON.parse(fields[1]!).id)).toEqual([event.id, expect.any(String), expect.any(String)]);
      } finally {
        for (const stream of streams) stream.close();
      }
    } finally {
      await Promise.all(instances.map((h) => h.close()));
      for (const client of clients) client.disconnect();
      await admin.del(...keys);
      admin.disconnect();
    }
  }, 60_000);
});

describe('who may listen, over SSE and WebSocket: checked when it connects, and for each event', () => {
  // What subscriptions.test.ts does not check already: refused credentials over SSE, API keys on
  // both transports, and field authorization inside each event.
  const KEY = `key_${randomBytes(16).toString('hex')}`;
  const LINKED = 'subscription($p: ID) { paymentUpdated(id: $p) { id customer { name messages(first: 1) { body } } } }';
  let h: Harness;
  let served: Served;
  beforeAll(async () => {
    h = await startHarness({ auth: () => ({ apiKeys: [{ service: 'ledger', sha256: hashApiKey(KEY), scopes: ['payments:read'] }] }) });
    served = await serveWebSocket(h);
  });
  afterAll(async () => {
    await served.close();
    await h.close();
  });

  const deliver = async (object: unknown) => {
    const e = stripeDelivery(h.credentials.payments.webhookSecret, 'payment.succeeded', object);
    expect((await h.fetch(PATH, { method: 'POST', headers: e.headers, body: e.body })).status).toBe(200);
  };
  const ws = (connectionParams: Record<string, string>) => createClient({ url: served.wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, onNonLazyError: () => undefined, connectionParams });
  /** The close code of a connection opened with these params, once the server closes it. */
  const closedWith = (connectionParams: Record<string, string>) => new Promise<number>((resolve) => {
    const client = createClient({
      url: served.wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, onNonLazyError: () => undefined, connectionParams,
      on: { closed: (event) => resolve((event as { code: number }).code) },
    });
    client.on('error', () => undefined);
  });
  /** A payment of the demo backend, and what a subscriber with payments:read but not messages:read reads of it. */
  const linkedPayment = () => {
    const p = h.seed.payments[0]!;
    return { p, name: h.seed.customers.find((c) => c.id === p.customer)!.name };
  };
  const forbiddenMessages = (name: string, id: string) => ({
    data: { paymentUpdated: { id, customer: { name, messages: null } } },
    errors: [expect.objectContaining({ path: ['paymentUpdated', 'customer', 'messages'], extensions: expect.objectContaining({ code: 'FORBIDDEN', requiredScopes: [['messages:read']] }) })],
  });

  it('SSE: refuses a token that does not verify, an unknown API key, and both at once: one INVALID_TOKEN message, then the end, and nothing listens', async () => {
    const refusals: unknown[] = [];
    const refused: Record<string, string>[] = [{ authorization: 'Bearer not-a-token' }, { 'x-api-key': 'key_unknown' }, { authorization: `Bearer ${await h.issuer.token()}`, 'x-api-key': KEY }];
    for (const headers of refused) {
      const stream = await subscribeSse(h, UPDATED, {}, headers);
      try {
        const refusal = await stream.next();
        refusals.push([refusal.data.data, refusal.data.errors.map((e: { extensions: { code: string } }) => e.extensions.code), (await stream.next()).event]);
      } finally {
        stream.close();
      }
    }
    expect(refusals).toEqual(Array.from({ length: 3 }, () => [undefined, ['INVALID_TOKEN'], 'complete']));
    expect(h.gateway.subscriptions().payments).toBeUndefined();
  });

  it('SSE: a service\'s API key is verified when it connects, and its subscription hears events', async () => {
    const p = h.seed.payments[1]!;
    const stream = await subscribeSse(h, UPDATED, { p: p.id }, { 'x-api-key': KEY });
    try {
      await subscriptionsOpen(h, 'payments', 1);
      await deliver({ ...p, status: 'refunded' });
      expect((await stream.next()).data.data).toEqual({ paymentUpdated: { id: p.id, status: 'REFUNDED', amount: p.amount } });
    } finally {
      stream.close();
      await subscriptionsOpen(h, 'payments', 0);
    }
  });

  it('SSE: each event is authorized field by field: without messages:read, every event comes with its messages null and FORBIDDEN there, and the rest of it', async () => {
    const { p, name } = linkedPayment();
    const stream = await subscribeSse(h, LINKED, { p: p.id }, { authorization: `Bearer ${await h.issuer.token({ scopes: ['payments:read'] })}` });
    try {
      await subscriptionsOpen(h, 'payments', 1);
      for (const status of ['succeeded', 'refunded']) {
        await deliver({ ...p, status });
        expect((await stream.next()).data).toMatchObject(forbiddenMessages(name, p.id));
      }
      expect((await h.stats()).messaging.total).toBe(0);
    } finally {
      stream.close();
      await subscriptionsOpen(h, 'payments', 0);
    }
  });

  it('WebSocket: an API key in connectionParams is verified when the connection opens, and hears events; an unknown key, or a key with a token, closes it with 4403', async () => {
    expect(await closedWith({ 'x-api-key': 'key_unknown' })).toBe(4403);
    expect(await closedWith({ 'x-api-key': KEY, authorization: `Bearer ${await h.issuer.token()}` })).toBe(4403);
    const p = h.seed.payments[2]!;
    const client: Client = ws({ 'x-api-key': KEY });
    try {
      const events = client.iterate<{ paymentUpdated: { id: string; status: string } }>({ query: UPDATED, variables: { p: p.id } });
      const first = events.next();
      await subscriptionsOpen(h, 'payments', 1);
      await deliver({ ...p, status: 'failed' });
      expect((await first).value?.data).toEqual({ paymentUpdated: { id: p.id, status: 'FAILED', amount: p.amount } });
      await events.return?.();
      await subscriptionsOpen(h, 'payments', 0);
    } finally {
      await client.dispose();
    }
  });

  it('WebSocket: a token without payments:read is refused FORBIDDEN before the subscription starts; a token without messages:read gets each event with its messages FORBIDDEN', async () => {
    const { p, name } = linkedPayment();
    const refused = ws({ authorization: `Bearer ${await h.issuer.token({ scopes: ['messages:read'] })}` });
    try {
      const outcome = await refused.iterate({ query: UPDATED }).next().then((r) => r.value, (err: unknown) => err);
      expect(JSON.stringify(outcome)).toContain('"code":"FORBIDDEN"');
      expect(h.gateway.subscriptions().payments).toBeUndefined();
    } finally {
      await refused.dispose();
    }
    const client = ws({ authorization: `Bearer ${await h.issuer.token({ scopes: ['payments:read'] })}` });
    try {
      const events = client.iterate({ query: LINKED, variables: { p: p.id } });
      const first = events.next();
      await subscriptionsOpen(h, 'payments', 1);
      await deliver({ ...p, status: 'refunded' });
      expect((await first).value).toMatchObject(forbiddenMessages(name, p.id));
      const second = events.next();
      await deliver({ ...p, status: 'succeeded' });
      expect((await second).value).toMatchObject(forbiddenMessages(name, p.id));
      await events.return?.();
    } finally {
      await client.dispose();
    }
  });
});
