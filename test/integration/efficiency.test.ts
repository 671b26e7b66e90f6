import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callCounts, startHarness, type Harness } from '../helpers/harness.ts';

/**
 * What a query costs the backends, read from their own counters (/_stats): one call per source
 * operation per request, whatever the shape, where a naive resolver makes one per parent.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ mode: 'development' });
});
afterAll(() => h.close());
beforeEach(() => h.resetStats());

describe('batching', () => {
  it('a five-level query across all three backends costs one call per source operation', async () => {
    const { body } = await h.query(`{ payments(first: 30) { edges { node { id
      refunds { id payment { id merchant { name place { location { lat } } } } }
      customer { name messages(first: 2) { id customer { name address { location { lat } } } } }
      merchant { name place { name } } } } } }`);
    expect(body.errors).toBeUndefined();
    const stats = await h.stats();
    const page = h.seed.payments.slice().sort((a, b) => b.created - a.created).slice(0, 30);
    const customers = new Set(page.map((p) => p.customer)).size;
    const merchants = new Set(page.map((p) => p.merchant)).size;
    expect(stats.payments.operations).toEqual({ listPayments: 1, listRefunds: 1, listCustomers: 1, listMerchants: 1 });
    expect(stats.maps.operations).toEqual({ GetPlaces: 1, GeocodeBatch: 1 });
    expect(stats.messaging.operations).toEqual({ messagesForCustomers: 1 });
    // A message's customer and a refund's payment are the ones already loaded: no second call.
    expect(stats.payments.batchSizes).toEqual({ listRefunds: [30], listCustomers: [customers], listMerchants: [merchants] });
    expect(stats.maps.batchSizes).toEqual({ GetPlaces: [merchants], GeocodeBatch: [customers] });
  });

  it('asks for a repeated id once', async () => {
    const [a, b] = h.seed.customers;
    const { body } = await h.query('query($a: ID!, $b: ID!) { x: customer(id: $a) { id } y: customer(id: $a) { name } z: customer(id: $b) { id } }', { a: a!.id, b: b!.id });
    expect(body.data).toEqual({ x: { id: a!.id }, y: { name: a!.name }, z: { id: b!.id } });
    const stats = await h.stats();
    expect(stats.payments.operations).toEqual({ listCustomers: 1 });
    expect(stats.payments.batchSizes.listCustomers).toEqual([2]);
  });

  it('answers null for an id missing from a batch, without an error, in the same one call', async () => {
    const [a, b] = h.seed.customers;
    const { body } = await h.query('query($a: ID!, $b: ID!) { a: customer(id: $a) { id } gone: customer(id: "cus_missing0000") { id } b: customer(id: $b) { id } }', { a: a!.id, b: b!.id });
    expect(body).toEqual({ data: { a: { id: a!.id }, gone: null, b: { id: b!.id } } });
    expect((await h.stats()).payments.batchSizes.listCustomers).toEqual([3]);
  });

  it('answers null for a key no backend could hold, and still answers every other key of its batch', async () => {
    // A control character cannot be written into the maps service's SOAP batch: sent, it would
    // fail the whole GetPlaces call, and with it the merchant's place beside it.
    const merchant = h.seed.merchants[0]!;
    const { body } = await h.query('query($bad: ID!, $m: ID!) { place(id: $bad) { id } merchant(id: $m) { place { id } } }', { bad: 'plc\u0001x', m: merchant.id });
    expect(body).toEqual({ data: { place: null, merchant: { place: { id: merchant.place } } } });
    expect((await h.stats()).maps.batchSizes).toEqual({ GetPlaces: [1] });
  });

  it('an empty list costs its one call and nothing below it', async () => {
    const { body } = await h.query('{ payments(first: 10, customerId: "cus_nobody") { edges { node { customer { name messages { id } } merchant { place { name } } } } } }');
    expect(body.data).toEqual({ payments: { edges: [] } });
    expect(callCounts(await h.stats())).toEqual({ payments: 1, maps: 0, messaging: 0 });
  });
});

describe('single flight', () => {
  it('200 identical reads in flight at once reach the backend once', async () => {
    const id = h.seed.payments[0]!.id;
    const results = await Promise.all(Array.from({ length: 200 }, () => h.query('query($id: ID!) { payment(id: $id) { id } }', { id })));
    for (const r of results) expect(r.body).toEqual({ data: { payment: { id } } });
    expect((await h.stats()).payments.total).toBe(1);
  });

  it('never merges writes: five identical payments sent at once are five payments', async () => {
    const input = { customerId: h.seed.customers[0]!.id, merchantId: h.seed.merchants[0]!.id, amount: 700, currency: 'eur' };
    const results = await Promise.all(
      Array.from({ length: 5 }, () => h.query('mutation($input: CreatePaymentInput!) { createPayment(input: $input) { id } }', { input })),
    );
    expect(new Set(results.map((r) => r.body.data!.createPayment.id)).size).toBe(5);
    expect((await h.stats()).payments.operations.createPayment).toBe(5);
  });
});

describe('the x-junction-debug extension (development)', () => {
  it('lists each backend call with its source, operation, batch size and duration', async () => {
    const { body } = await h.query('{ payments(first: 5) { edges { node { customer { id messages(first: 1) { id } } } } } }', {}, { 'x-junction-debug': '1' });
    const upstream = body.extensions?.upstream as Record<string, unknown>[];
    expect(upstream.map(({ source, operation }) => `${source}.${operation}`)).toEqual([
      'payments.listPayments',
      'payments.listCustomers',
      'messaging.messagesForCustomers',
    ]);
    const customers = new Set(body.data!.payments.edges.map((e: any) => e.node.customer.id)).size;
    expect(upstream[1]).toMatchObject({ batchSize: customers, coalesced: false, cached: false, status: 200, durationMs: expect.any(Number) });
    expect(upstream[0]!.batchSize).toBeUndefined();
    expect(body.extensions!.breakers).toEqual({ payments: 'closed', maps: 'closed', messaging: 'closed' });
  });

  it('is absent without the header', async () => {
    const { body } = await h.query('{ payment(id: "pay_x") { id } }');
    expect(body.extensions).toBeUndefined();
  });

  it('is never given in production', async () => {
    const prod = await startHarness({ mode: 'production' });
    try {
      const { body } = await prod.query('{ payment(id: "pay_x") { id } }', {}, { 'x-junction-debug': '1' });
      expect(body).toEqual({ data: { payment: null } });
    } finally {
      await prod.close();
    }
  });
});
