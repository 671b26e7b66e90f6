import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { machineRedisClient, sharedRedis, startOwnRedis } from '../helpers/redis.ts';
import { createRedis, createRedisEventTarget } from '../../gateway/redis.ts';
import { listen as listenOn } from '../../gateway/index.ts';
import { createMemoryStore } from '../../gateway/cache/store.ts';
import { createMemoryWebhookStore, createRedisWebhookStore, type WebhookStore } from '../../gateway/webhooks/store.ts';
import { offlineGraphqlSource, sourcesFileProblems, writeSourcesFile } from '../helpers/sources-file.ts';
import { collectPublished } from '../helpers/realtime.ts';
import type { JunctionEventTarget, JunctionPubSub } from '../../gateway/create-gateway.ts';

/**
 * Inbound webhooks through the gateway's public surface: the demo's payments entry declares
 * `/webhooks/payments` (Stripe's scheme, its secret from PAYMENTS_WEBHOOK_SECRET, published on
 * `payments`). Deliveries are signed here as Stripe signs them.
 */
const PATH = '/webhooks/payments';
const TOPIC = 'webhook:payments';

function stripeSignature(secret: string, body: string, at = Math.floor(Date.now() / 1000)): string {
  return `t=${at},v1=${createHmac('sha256', secret).update(`${at}.${body}`).digest('hex')}`;
}

function stripeEvent(id = `evt_${randomBytes(8).toString('hex')}`, type = 'payment.succeeded'): { id: string; body: string } {
  return { id, body: JSON.stringify({ id, object: 'event', type, data: { object: { id: 'pay_1', object: 'payment', status: 'succeeded' } } }) };
}

const deliver = (h: Harness, body: string, headers: Record<string, string>, method = 'POST') =>
  h.fetch(PATH, { method, headers: { 'content-type': 'application/json', ...headers }, ...(method === 'POST' ? { body } : {}) });

/** Collects what is published on a topic from now on. */
const listen = (pubsub: JunctionPubSub, topic = TOPIC) => collectPublished(pubsub, topic);

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('a webhook endpoint (Stripe scheme, in memory)', () => {
  let h: Harness;
  let store: WebhookStore;
  const previous = `whsec_${randomBytes(12).toString('hex')}`;
  beforeAll(async () => {
    store = createMemoryWebhookStore();
    h = await startHarness({ webhookStore: store, env: () => ({ PAYMENTS_WEBHOOK_SECRET_PREVIOUS: previous }) });
  });
  afterAll(() => h.close());
  afterEach(() => vi.useRealTimers());
  const secret = () => h.credentials.payments.webhookSecret;

  it('takes a signed delivery: kept in the topic\'s stream, published once, then acknowledged', async () => {
    const events = listen(h.gateway.pubsub);
    const { id, body } = stripeEvent();
    const answer = await deliver(h, body, { 'stripe-signature': stripeSignature(secret(), body) });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ received: true });
    await settle();
    expect(events.received).toEqual([expect.objectContaining({ source: 'payments', topic: 'payments', id, type: 'payment.succeeded', payload: JSON.parse(body) })]);
    const kept = await store.read('payments', 10);
    expect(kept.map((k) => JSON.parse(k.event).id)).toContain(id);
    await events.stop();
  });

  it('accepts the previous secret while it is rotated', async () => {
    const { body } = stripeEvent();
    const answer = await deliver(h, body, { 'stripe-signature': stripeSignature(previous, body) });
    expect(answer.status).toBe(200);
  });

  it('refuses a forged, tampered, unsigned, malformed or stale delivery with 401, publishes nothing, and counts each', async () => {
    const events = listen(h.gateway.pubsub);
    const before = h.gateway.webhookStats()[PATH] ?? {};
    const { body } = stripeEvent();
    const good = stripeSignature(secret(), body);
    const cases: [string, string, Record<string, string>, string][] = [
      ['another secret', body, { 'stripe-signature': stripeSignature('whsec_not_ours', body) }, 'mismatch'],
      ['one byte changed', body.replace('succeeded', 'succeedeD'), { 'stripe-signature': good }, 'mismatch'],
      ['no signature', body, {}, 'missing'],
      ['an unreadable header', body, { 'stripe-signature': 'v1=zz' }, 'malformed'],
      ['signed six minutes ago', body, { 'stripe-signature': stripeSignature(secret(), body, Math.floor(Date.now() / 1000) - 360) }, 'stale'],
    ];
    for (const [what, sent, headers, reason] of cases) {
      const answer = await deliver(h, sent, headers);
      expect(answer.status, what).toBe(401);
      expect((await answer.json()).errors[0].extensions, what).toEqual({ code: 'WEBHOOK_SIGNATURE_INVALID', reason });
    }
    await settle();
    expect(events.received).toEqual([]);
    const after = h.gateway.webhookStats()[PATH]!;
    expect((after.refused_mismatch ?? 0) - (before.refused_mismatch ?? 0)).toBe(2);
    expect((after.refused_missing ?? 0) - (before.refused_missing ?? 0)).toBe(1);
    expect((after.refused_malformed ?? 0) - (before.refused_malformed ?? 0)).toBe(1);
    expect((after.refused_stale ?? 0) - (before.refused_stale ?? 0)).toBe(1);
    await events.stop();
  });

  it('takes a delivery signed 4 minutes 59 s ago, with the clock faked', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { body } = stripeEvent();
    const signedAt = Math.floor(Date.now() / 1000);
    vi.setSystemTime((signedAt + 299) * 1000);
    expect((await deliver(h, body, { 'stripe-signature': stripeSignature(secret(), body, signedAt) })).status).toBe(200);
    vi.setSystemTime((signedAt + 301) * 1000);
    const late = stripeEvent();
    expect((await deliver(h, late.body, { 'stripe-signature': stripeSignature(secret(), late.body, signedAt) })).status).toBe(401);
  });

  it('1,000 deliveries of one event at once: one published; the rest acknowledged as duplicates, or, while it is being kept, told to retry', async () => {
    const events = listen(h.gateway.pubsub);
    const { id, body } = stripeEvent();
    const signature = stripeSignature(secret(), body);
    const answers = await Promise.all(Array.from({ length: 1_000 }, () => deliver(h, body, { 'stripe-signature': signature })));
    const bodies = await Promise.all(answers.map((a) => a.json()));
    expect(bodies.filter((b) => b.received === true && b.duplicate === undefined)).toHaveLength(1);
    const duplicates = bodies.filter((b) => b.duplicate === true).length;
    const retry = answers.filter((a) => a.status === 409).length;
    expect(duplicates + retry).toBe(999);
    // A retry once it was kept is a duplicate.
    expect(await (await deliver(h, body, { 'stripe-signature': signature })).json()).toEqual({ received: true, duplicate: true });
    await settle();
    expect(events.received.filter((e) => e.id === id)).toHaveLength(1);
    expect((await store.read('payments', 10_000)).filter((k) => JSON.parse(k.event).id === id)).toHaveLength(1);
    await events.stop();
  });

  it('answers what is not a delivery with its code: 405 for GET, 413 over MAX_BODY_BYTES, 400 for a body without an event id or not JSON', async () => {
    const get = await deliver(h, '', {}, 'GET');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const huge = 'x'.repeat(3 * 1024 * 1024);
    const large = await deliver(h, huge, { 'stripe-signature': stripeSignature(secret(), huge) });
    expect(large.status).toBe(413);
    expect((await large.json()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    const noId = JSON.stringify({ object: 'event', type: 'payment.succeeded' });
    const missing = await deliver(h, noId, { 'stripe-signature': stripeSignature(secret(), noId) });
    expect(missing.status).toBe(400);
    expect((await missing.json()).errors[0].extensions.code).toBe('WEBHOOK_PAYLOAD_INVALID');
    const text = 'not json';
    const notJson = await deliver(h, text, { 'stripe-signature': stripeSignature(secret(), text) });
    expect(notJson.status).toBe(400);
  });
});

describe('the demo payments backend pushes', () => {
  it('a payment created through the gateway comes back as a Stripe-signed payment.succeeded, verified and published; a refund as refund.created and payment.refunded', async () => {
    const h = await startHarness();
    // The gateway on a real port, so the backend can POST its events to it.
    const server = createServer(h.gateway.yoga);
    try {
      const url = await listenOn(server);
      h.backends.payments.setWebhookTarget!(`${url}${PATH}`);
      const events = listen(h.gateway.pubsub);
      const created = await h.query('mutation($i: CreatePaymentInput!) { createPayment(input: $i) { id status } }', {
        i: { customerId: h.seed.customers[0]!.id, merchantId: h.seed.merchants[0]!.id, amount: 1200, currency: 'eur' },
      });
      const id = created.body.data!.createPayment.id;
      await h.query('mutation($p: ID!) { refundPayment(paymentId: $p) { id } }', { p: id });
      await h.backends.payments.webhooksIdle!();
      await settle();
      expect(events.received.map((e) => [e.type, (e.payload as { data: { object: { id: string; payment?: string } } }).data.object.payment ?? (e.payload as { data: { object: { id: string } } }).data.object.id])).toEqual([
        ['payment.succeeded', id], ['refund.created', id], ['payment.refunded', id],
      ]);
      expect(h.gateway.webhookStats()[PATH]).toEqual({ accepted: 3 });
      await events.stop();
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await h.close();
    }
  });
});

describe('a webhook makes the cached answers it touches stale', () => {
  it('after payment.refunded the next read of that payment reaches the backend again; another payment\'s stays cached', async () => {
    const h = await startHarness({ cacheStore: createMemoryStore() });
    try {
      const [payment, other] = [h.seed.payments[0]!, h.seed.payments[1]!];
      const Q = 'query($id: ID!) { payment(id: $id) { id status } }';
      await h.query(Q, { id: payment.id });
      await h.query(Q, { id: other.id });
      await h.resetStats();
      await h.query(Q, { id: payment.id });
      expect((await h.stats()).payments.total).toBe(0);
      const body = JSON.stringify({ id: `evt_${randomBytes(6).toString('hex')}`, object: 'event', type: 'payment.refunded', data: { object: { ...payment, status: 'refunded' } } });
      expect((await deliver(h, body, { 'stripe-signature': stripeSignature(h.credentials.payments.webhookSecret, body) })).status).toBe(200);
      await h.query(Q, { id: payment.id });
      await h.query(Q, { id: other.id });
      // Only the payment the event named: the other one's answer is still the cache's.
      expect((await h.stats()).payments.operations).toEqual({ listPayments: 1 });
      expect((await h.stats()).payments.batchSizes.listPayments).toEqual([1]);
    } finally {
      await h.close();
    }
  });
});

describe('webhooks over Redis: two instances, one Redis', () => {
  let redis: Redis;
  const subscribers: Redis[] = [];
  const instances: Harness[] = [];
  const sharedEnv = { PAYMENTS_WEBHOOK_SECRET: `whsec_${randomBytes(12).toString('hex')}` };
  beforeAll(async () => {
    redis = await sharedRedis();
    for (let i = 0; i < 2; i++) {
      const subscriber = machineRedisClient();
      await subscriber.connect();
      subscribers.push(subscriber);
      const eventTarget: JunctionEventTarget = createRedisEventTarget(redis, subscriber, () => undefined);
      instances.push(await startHarness({ webhookStore: createRedisWebhookStore(redis), eventTarget, env: () => sharedEnv }));
    }
  });
  afterAll(async () => {
    await Promise.all(instances.map((h) => h.close()));
    for (const s of subscribers) s.disconnect();
    redis.disconnect();
  });

  it('an event taken by one instance reaches subscribers on both, once; the provider\'s retry to the other is a duplicate', async () => {
    const [a, b] = instances as [Harness, Harness];
    const onA = listen(a.gateway.pubsub);
    const onB = listen(b.gateway.pubsub);
    const second = listen(b.gateway.pubsub);
    // Both instances' SUBSCRIBE has reached Redis (the listeners register on their first read).
    const until = Date.now() + 5_000;
    const subscribed = async () => Number(((await redis.pubsub('NUMSUB', TOPIC)) as [string, number])[1]);
    while ((await subscribed()) < 2) {
      if (Date.now() > until) throw new Error('the instances did not subscribe');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const { id, body } = stripeEvent();
    const signature = stripeSignature(sharedEnv.PAYMENTS_WEBHOOK_SECRET, body);
    expect(await (await deliver(a, body, { 'stripe-signature': signature })).json()).toEqual({ received: true });
    expect(await (await deliver(b, body, { 'stripe-signature': signature })).json()).toEqual({ received: true, duplicate: true });
    for (let i = 0; i < 100 && (onA.received.length === 0 || onB.received.length === 0 || second.received.length === 0); i++) await new Promise((r) => setTimeout(r, 10));
    // One subscriber leaving never silences another on the same instance.
    await second.stop();
    const next = stripeEvent();
    await deliver(a, next.body, { 'stripe-signature': stripeSignature(sharedEnv.PAYMENTS_WEBHOOK_SECRET, next.body) });
    for (let i = 0; i < 100 && onB.received.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(onA.received.map((e) => e.id)).toEqual([id, next.id]);
    expect(onB.received.map((e) => e.id)).toEqual([id, next.id]);
    expect(second.received.map((e) => e.id)).toEqual([id]);
    await onA.stop();
    await onB.stop();
  });
});

describe('a webhook whose store is down', () => {
  it('is not acknowledged (503, Retry-After) and not published; the provider\'s retry is taken once Redis is back', async () => {
    const own = await startOwnRedis();
    const h = await startHarness({ webhookStore: createRedisWebhookStore(own.redis) });
    try {
      const events = listen(h.gateway.pubsub);
      const { id, body } = stripeEvent();
      const signature = stripeSignature(h.credentials.payments.webhookSecret, body);
      own.pause();
      const refused = await deliver(h, body, { 'stripe-signature': signature });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect((await refused.json()).errors[0].extensions.code).toBe('WEBHOOK_UNAVAILABLE');
      own.resume();
      await settle();
      expect(events.received).toEqual([]);
      const retried = await deliver(h, body, { 'stripe-signature': signature });
      expect(await retried.json()).toEqual({ received: true });
      await settle();
      expect(events.received.map((e) => e.id)).toEqual([id]);
      await events.stop();
    } finally {
      await h.close();
      await own.close();
    }
  });
});

describe('a claim whose event could not be kept, and whose release was lost', () => {
  it('holds the id for 60 s (a retry is told to retry), then lapses: the next retry is taken', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const memory = createMemoryWebhookStore();
      let failing = true;
      // The store takes the claim, then fails to keep the event and to hear the release.
      const store: WebhookStore = {
        ...memory,
        append: (...args) => (failing ? Promise.reject(new Error('store down')) : memory.append(...args)),
        release: (...args) => (failing ? Promise.reject(new Error('store down')) : memory.release(...args)),
      };
      const h = await startHarness({ webhookStore: store });
      try {
        const { id, body } = stripeEvent();
        const sign = () => stripeSignature(h.credentials.payments.webhookSecret, body);
        expect((await deliver(h, body, { 'stripe-signature': sign() })).status).toBe(503);
        failing = false;
        const early = await deliver(h, body, { 'stripe-signature': sign() });
        expect(early.status).toBe(409);
        expect((await early.json()).errors[0].extensions.code).toBe('WEBHOOK_IN_PROGRESS');
        vi.setSystemTime(Date.now() + 61_000);
        expect(await (await deliver(h, body, { 'stripe-signature': sign() })).json()).toEqual({ received: true });
        expect((await memory.read('payments', 10)).map((k) => JSON.parse(k.event).id)).toEqual([id]);
      } finally {
        await h.close();
      }
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('webhooks in the sources file', () => {
  const entry = (webhooks: string) => offlineGraphqlSource('shop', `        webhooks:\n${webhooks}`);

  it('refuses at start a secret its scheme cannot use, and a memory of ids shorter than the signature\'s tolerance', () => {
    const file = writeSourcesFile(entry(`          - { path: /hooks/a, scheme: standard, secrets: [whsk_not-a-public-key], pubsubTopic: a }
          - { path: /hooks/b, scheme: stripe, secrets: [whsec_x], pubsubTopic: b, dedupeTtlSec: 60 }
`));
    expect(sourcesFileProblems(file, {})).toEqual([
      'sources (shop).webhooks[0]: secret 1 is a whsk_ private key: configure its whpk_ public key',
      'sources (shop).webhooks[1]: dedupeTtlSec (60) is shorter than the signature\'s tolerance (300 s): a captured delivery could be replayed once its id is forgotten',
    ]);
  });

  it('refuses a path the gateway answers itself, a path used twice, and a first secret that is not set', () => {
    const file = writeSourcesFile(entry(`          - { path: /graphql, scheme: stripe, secrets: [s], pubsubTopic: a }
          - { path: /hooks/shop, scheme: hmac, secrets: ['{env.SHOP_SECRET}'], pubsubTopic: b }
          - { path: /hooks/shop, scheme: slack, secrets: [s], pubsubTopic: c }
`));
    expect(sourcesFileProblems(file, {})).toEqual([
      'sources[0] (shop).handler.graphql.webhooks[1].secrets[0]: {env.SHOP_SECRET} is used but SHOP_SECRET is not set',
    ]);
    const second = writeSourcesFile(entry(`          - { path: /graphql, scheme: stripe, secrets: [s], pubsubTopic: a }
          - { path: /hooks/shop, scheme: hmac, secrets: [s], pubsubTopic: b }
          - { path: /hooks/shop, scheme: slack, secrets: [s], pubsubTopic: c }
`));
    expect(sourcesFileProblems(second, {})).toEqual([
      'sources (shop).webhooks[0].path: /graphql is one of the gateway\'s own paths (/graphql, /healthz, /readyz, /.well-known, /deliveries)',
      'sources (shop).webhooks[2].path: /hooks/shop is also a webhook of shop',
    ]);
  });
});
