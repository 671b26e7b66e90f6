import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/logger.ts';
import { createMemoryStore, createRedisStore } from '../../gateway/cache/store.ts';
import type { CacheStore } from '../../gateway/upstream/cache.ts';
import { callCounts, startHarness, type Harness } from '../helpers/harness.ts';
import { sharedRedis, startOwnRedis, uniquePrefix } from '../helpers/redis.ts';

/**
 * The entity and response caches against a real Redis (REDIS_URL, else 127.0.0.1:6379); every
 * gateway here gets its own key prefix. Development mode, so `extensions.responseCache` says hit
 * or miss. The clock of the store is faked where expiry matters.
 */
const quiet = createLogger('silent');
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const CUSTOMER_QUERY = 'query($c: ID!) { customer(id: $c) { id name email } }';

describe('caching in Redis', () => {
  let redis: Redis;
  let h: Harness;
  let clock = Date.now();
  beforeAll(async () => {
    redis = await sharedRedis();
  });
  afterAll(() => redis.disconnect());
  beforeEach(async () => {
    clock = Date.now();
    // MAX_IN_FLIGHT raised: one test here sends 1000 requests at once on purpose.
    h = await startHarness({ mode: 'development', limits: { MAX_IN_FLIGHT: 2_000 }, cacheStore: createRedisStore(redis, quiet, { prefix: uniquePrefix(), now: () => clock }) });
  });
  afterEach(() => h.close());

  const customer = () => h.seed.customers[0]!;
  const CUSTOMER = 'query($c: ID!) { customer(id: $c) { id name email } }';

  it('user B, the same user with fewer scopes, and an anonymous client never get user A\'s cached answer', async () => {
    const alice = bearer(await h.issuer.token({ sub: 'alice', scopes: ['payments:read'] }));
    const first = await h.query(CUSTOMER, { c: customer().id }, alice);
    expect(first.body.extensions!.responseCache).toMatchObject({ hit: false, didCache: true });
    expect((await h.query(CUSTOMER, { c: customer().id }, alice)).body.extensions!.responseCache).toMatchObject({ hit: true });

    const bob = await h.query(CUSTOMER, { c: customer().id }, bearer(await h.issuer.token({ sub: 'bob', scopes: ['payments:read'] })));
    expect(bob.body.extensions!.responseCache).toMatchObject({ hit: false });
    const aliceNarrower = await h.query(CUSTOMER, { c: customer().id }, bearer(await h.issuer.token({ sub: 'alice', scopes: ['payments:read', 'messages:read'] })));
    expect(aliceNarrower.body.extensions!.responseCache).toMatchObject({ hit: false });

    await h.resetStats();
    const anonymous = await h.query(CUSTOMER, { c: customer().id }, { authorization: '' });
    expect(anonymous.body.data).toEqual({ customer: null });
    expect(anonymous.body.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
    expect(anonymous.body.extensions!.responseCache).toMatchObject({ hit: false, didCache: false });
    expect(callCounts(await h.stats()).payments).toBe(0);
  });

  it('shares public answers between anonymous callers', async () => {
    const GEO = 'query($a: String!) { geocode(address: $a) { id name } }';
    const address = h.seed.places[3]!.formattedAddress;
    expect((await h.query(GEO, { a: address }, { authorization: '' })).body.extensions!.responseCache).toMatchObject({ hit: false, didCache: true });
    await h.resetStats();
    const again = await h.query(GEO, { a: address }, { authorization: '' });
    expect(again.body.extensions!.responseCache).toMatchObject({ hit: true });
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
  });

  it('createPayment invalidates the customer\'s payments; refundPayment the payment and its refunds; sendMessage the recipient\'s messages', async () => {
    const PAYMENTS = 'query($c: ID!) { customer(id: $c) { id payments(first: 3) { edges { node { id amount } } } } }';
    await h.query(PAYMENTS, { c: customer().id });
    expect((await h.query(PAYMENTS, { c: customer().id })).body.extensions!.responseCache).toMatchObject({ hit: true });
    const created = await h.query('mutation($i: CreatePaymentInput!) { createPayment(input: $i) { id } }', {
      i: { customerId: customer().id, merchantId: h.seed.merchants[0]!.id, amount: 4321, currency: 'eur' },
    });
    const newId = created.body.data!.createPayment.id;
    const after = await h.query(PAYMENTS, { c: customer().id });
    expect(after.body.extensions!.responseCache).toMatchObject({ hit: false });
    expect(after.body.data!.customer.payments.edges[0].node).toEqual({ id: newId, amount: 4321 });

    const PAYMENT = 'query($p: ID!) { payment(id: $p) { id amountRefunded refunds { id amount } } }';
    await h.query(PAYMENT, { p: newId });
    expect((await h.query(PAYMENT, { p: newId })).body.extensions!.responseCache).toMatchObject({ hit: true });
    await h.query('mutation($p: ID!) { refundPayment(paymentId: $p, amount: 321) { id } }', { p: newId });
    const refunded = await h.query(PAYMENT, { p: newId });
    expect(refunded.body.extensions!.responseCache).toMatchObject({ hit: false });
    expect(refunded.body.data!.payment).toMatchObject({ amountRefunded: 321, refunds: [{ amount: 321 }] });

    const MESSAGES = 'query($c: ID!) { customer(id: $c) { id messages(first: 1) { id body } } }';
    const texted = h.seed.customers.find((c) => c.phone)!;
    await h.query(MESSAGES, { c: texted.id });
    expect((await h.query(MESSAGES, { c: texted.id })).body.extensions!.responseCache).toMatchObject({ hit: true });
    await h.query('mutation($c: ID!) { sendMessage(input: { customerId: $c, body: "your order shipped" }) { id } }', { c: texted.id });
    const fresh = await h.query(MESSAGES, { c: texted.id });
    expect(fresh.body.extensions!.responseCache).toMatchObject({ hit: false });
    expect(fresh.body.data!.customer.messages[0].body).toBe('your order shipped');
  });

  it('entries expire: a customer answer after its 60 s, the customer entity after its 60 s, geocodes after a day', async () => {
    await h.query(CUSTOMER, { c: customer().id });
    clock += 59_000;
    expect((await h.query(CUSTOMER, { c: customer().id })).body.extensions!.responseCache).toMatchObject({ hit: true, });
    clock += 2_000;
    await h.resetStats();
    const expired = await h.query(CUSTOMER, { c: customer().id });
    expect(expired.body.extensions!.responseCache).toMatchObject({ hit: false });
    expect(callCounts(await h.stats()).payments).toBe(1); // the entity entry expired with it

    const LOCATION = 'query($c: ID!) { customer(id: $c) { address { location { lat } } } }';
    await h.query(LOCATION, { c: customer().id });
    clock += 120_000; // response and customer entity gone, geocode entity still fresh
    await h.resetStats();
    await h.query(LOCATION, { c: customer().id });
    expect(callCounts(await h.stats())).toEqual({ payments: 1, maps: 0, messaging: 0 });
    clock += 86_400_000;
    await h.resetStats();
    await h.query(LOCATION, { c: customer().id });
    expect(callCounts(await h.stats())).toEqual({ payments: 1, maps: 1, messaging: 0 });
  });

  it('serves public entities past their freshness, marked stale, while the backend is down, within the stale window', async () => {
    const LOCATION = 'query($c: ID!) { customer(id: $c) { address { location { lat lng } } } }';
    const fresh = await h.query(LOCATION, { c: customer().id });
    clock += 86_400_000 + 60_000; // the geocode entry is a minute past its day
    await h.fault('maps', 'GeocodeBatch', -1);
    const stale = await h.query(LOCATION, { c: customer().id });
    expect(stale.body.errors).toBeUndefined();
    expect(stale.body.data).toEqual(fresh.body.data);
    expect(stale.body.extensions).toMatchObject({ stale: true, responseCache: { didCache: false } });
    clock += 3_600_000; // past the stale window too
    const gone = await h.query(LOCATION, { c: customer().id });
    // An error from maps now (its breaker may have opened on the failures so far), no stale data.
    expect(gone.body.errors![0]!.extensions).toMatchObject({ source: 'maps' });
    expect(['SOURCE_ERROR', 'SOURCE_UNAVAILABLE']).toContain(gone.body.errors![0]!.extensions!.code);
    expect(gone.body.extensions!.stale).toBeUndefined();
    await fetch(`${h.backends.maps.url}/_faults`, { method: 'DELETE' });
  });

  it('never caches an answer with errors or partial data', async () => {
    const MIXED = 'query($c: ID!) { customer(id: $c) { id messages(first: 1) { id } } }';
    await h.fault('messaging', 'messagesForCustomers');
    const partial = await h.query(MIXED, { c: customer().id });
    expect(partial.body.data!.customer.messages).toBeNull();
    expect(partial.body.extensions!.responseCache).toMatchObject({ hit: false, didCache: false });
    await h.resetStats();
    const next = await h.query(MIXED, { c: customer().id });
    expect(next.body.errors).toBeUndefined();
    expect(next.body.extensions!.responseCache).toMatchObject({ hit: false });
    expect(callCounts(await h.stats()).messaging).toBe(1);
  });

  it('a batch with half its keys cached sends the backend only the other half, and the debug extension says which', async () => {
    const [a, b, c, d] = h.seed.customers;
    const names = (ids: string[]) => `{ ${ids.map((id, i) => `c${i}: customer(id: "${id}") { name }`).join(' ')} }`;
    await h.query(names([a!.id, b!.id]));
    await h.resetStats();
    const { body } = await h.query(names([a!.id, b!.id, c!.id, d!.id]), {}, { 'x-junction-debug': '1', ...bearer(await h.issuer.token()) });
    expect((await h.stats()).payments.batchSizes).toEqual({ listCustomers: [2] });
    expect(body.extensions!.upstream).toEqual([
      expect.objectContaining({ source: 'payments', operation: 'cache:customer', batchSize: 2, cached: true }),
      expect.objectContaining({ source: 'payments', operation: 'listCustomers', batchSize: 2, cached: false }),
    ]);
  });

  it('1000 concurrent queries on a cold key, from 1000 different users, make one backend call', async () => {
    const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => h.issuer.token({ sub: `user-${i}` })));
    await h.resetStats();
    const answers = await Promise.all(tokens.map((t) => h.query(CUSTOMER, { c: customer().id }, bearer(t))));
    expect(answers.every((a) => a.status === 200 && a.body.data?.customer?.id === customer().id)).toBe(true);
    expect((await h.stats()).payments.operations).toEqual({ listCustomers: 1 });
  });
});

describe('single flight while the store is being written', () => {
  it('a request that misses the store while the first answer is still being written waits for that answer, never the backend', async () => {
    // The race behind a rare `listCustomers: 2` in the 1000-request test: the backend has answered,
    // the store write has not landed, and another request reads the store in between.
    const memory = createMemoryStore();
    let release!: () => void;
    const written = new Promise<void>((resolve) => (release = resolve));
    const store: CacheStore = { ...memory, setMany: async (entries) => { await written; await memory.setMany(entries); } };
    const h = await startHarness({ mode: 'development', cacheStore: store });
    try {
      const id = h.seed.customers[0]!.id;
      await h.resetStats();
      const first = await h.query(CUSTOMER_QUERY, { c: id }, bearer(await h.issuer.token({ sub: 'first' })));
      expect(first.body.data).toEqual({ customer: expect.objectContaining({ id }) });
      const second = await h.query(CUSTOMER_QUERY, { c: id }, bearer(await h.issuer.token({ sub: 'second' })));
      expect(second.body.data).toEqual(first.body.data);
      release();
      expect((await h.stats()).payments.operations).toEqual({ listCustomers: 1 });
    } finally {
      release();
      await h.close();
    }
  });
});

describe('in production', () => {
  it('answers a hit with exactly the bytes of the first answer, and no backend call', async () => {
    const redis = await sharedRedis();
    const h = await startHarness({ cacheStore: createRedisStore(redis, quiet, { prefix: uniquePrefix() }) });
    try {
      const token = await h.issuer.token();
      const ask = async () => {
        const response = await h.fetch('/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: 'query($c: ID!) { customer(id: $c) { id name address { city } } }', variables: { c: h.seed.customers[2]!.id } }),
        });
        return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
      };
      const first = await ask();
      await h.resetStats();
      const hit = await ask();
      expect(hit).toEqual(first);
      expect(JSON.parse(hit.text)).toEqual({ data: { customer: { id: h.seed.customers[2]!.id, name: h.seed.customers[2]!.name, address: { city: h.seed.customers[2]!.address!.city } } } });
      expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
    } finally {
      await h.close();
      redis.disconnect();
    }
  });
});

describe('one Redis, several instances', () => {
  it('an answer cached by one gateway instance is served by another', async () => {
    const redis = await sharedRedis();
    const prefix = uniquePrefix();
    const [one, two] = await Promise.all([0, 1].map(() => startHarness({ mode: 'development', cacheStore: createRedisStore(redis, quiet, { prefix }) })));
    try {
      const GEO = 'query($a: String!) { geocode(address: $a) { id } }';
      const address = one!.seed.places[5]!.formattedAddress;
      expect((await one!.query(GEO, { a: address }, { authorization: '' })).body.extensions!.responseCache).toMatchObject({ didCache: true });
      const second = await two!.query(GEO, { a: address }, { authorization: '' });
      expect(second.body.extensions!.responseCache).toMatchObject({ hit: true });
      expect(callCounts(await two!.stats()).maps).toBe(0);
    } finally {
      await Promise.all([one!.close(), two!.close()]);
      redis.disconnect();
    }
  });
});

describe('when Redis fails', () => {
  let own: Awaited<ReturnType<typeof startOwnRedis>>;
  let h: Harness;
  beforeEach(async () => {
    own = await startOwnRedis();
    h = await startHarness({ cacheStore: createRedisStore(own.redis, quiet, { prefix: uniquePrefix() }) });
  });
  afterEach(async () => {
    await h.close();
    await own.close();
  });

  const run = async (n: number, during: (i: number) => void) => {
    const statuses: number[] = [];
    const durations: number[] = [];
    for (let i = 0; i < n; i++) {
      during(i);
      const started = performance.now();
      const { status, body } = await h.query('query($c: ID!) { customer(id: $c) { name } }', { c: h.seed.customers[i % 20]!.id });
      durations.push(performance.now() - started);
      statuses.push(status === 200 && !body.errors && body.data?.customer ? 200 : status || 599);
    }
    return { statuses, durations };
  };

  it('Redis killed in the middle of a run: zero failed requests', async () => {
    const { statuses } = await run(200, (i) => i === 50 && own.kill());
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it('Redis killed under load (20 concurrent clients, 400 requests): zero failed requests', async () => {
    let sent = 0;
    const failures: string[] = [];
    const client = async () => {
      while (sent < 400) {
        const i = sent++;
        if (i === 100) own.kill();
        const { status, body } = await h.query('query($c: ID!) { customer(id: $c) { name } }', { c: h.seed.customers[i % 50]!.id });
        if (status !== 200 || body.errors || !body.data?.customer) failures.push(`${status} ${JSON.stringify(body.errors)}`);
      }
    };
    await Promise.all(Array.from({ length: 20 }, client));
    expect(failures).toEqual([]);
  });

  it('Redis paused in the middle of a run: zero failed requests, each costing at most the 100 ms command timeout', async () => {
    const { statuses, durations } = await run(60, (i) => {
      if (i === 20) own.pause();
      if (i === 40) own.resume();
    });
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // The first request to meet the hung server waits out one 100 ms command; the store is then
    // left alone for a second, so the others do not wait at all.
    const paused = durations.slice(20, 40);
    expect(paused.filter((d) => d > 100).length).toBeLessThanOrEqual(2);
  });
});
