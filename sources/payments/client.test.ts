import { createServer } from 'node:http';
import { DEMO_HEADERS } from '../demo/credentials.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeed } from '../demo/seed.ts';
import { closeServer, listen, type DemoBackend } from '../demo/server.ts';
import { UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import { startPaymentsBackend } from './backend/backend.ts';
import { createPaymentsClient, PAYMENTS_MAX_BATCH, type PaymentsClient } from './client.ts';
import { armFault, readStats, resetStats } from './backend/test-http.ts';

const seed = createSeed();
const fresh = seed.payments.filter((p) => p.status === 'succeeded' && p.amount_refunded === 0);

/** Runs `action` and returns the UpstreamError it must throw. */
async function upstreamErrorOf(action: () => Promise<unknown>): Promise<UpstreamError> {
  try {
    await action();
  } catch (err) {
    expect(err).toBeInstanceOf(UpstreamError);
    return err as UpstreamError;
  }
  throw new Error('expected an UpstreamError');
}

/** A fetch that answers every call with this status and body, for answers our backend never gives. */
function fakeFetch(status: number, body: string): typeof globalThis.fetch {
  return async () => new Response(body, { status, headers: { 'content-type': 'application/json' } });
}

describe('payments client against the payments backend', () => {
  let backend: DemoBackend;
  let client: PaymentsClient;
  beforeAll(async () => {
    backend = await startPaymentsBackend();
    client = createPaymentsClient({ headers: DEMO_HEADERS.payments, url: `${backend.url}/` });
  });
  afterAll(async () => {
    await backend.close();
  });

  it('gets a payment by id as the seed has it', async () => {
    expect(await client.getPayment(seed.payments[7]!.id)).toEqual(seed.payments[7]);
  });

  it('returns null for an unknown payment id', async () => {
    expect(await client.getPayment('pay_gone')).toBeNull();
  });

  it('lists payments page by page with startingAfter, filtered by status', async () => {
    const expected = seed.payments.filter((p) => p.status === 'failed');
    const first = await client.listPayments({ limit: 20, status: 'failed' });
    expect(first.hasMore).toBe(true);
    const rest = await client.listPayments({ limit: 100, status: 'failed', startingAfter: first.data.at(-1)!.id });
    expect(rest.hasMore).toBe(false);
    expect([...first.data, ...rest.data]).toEqual(expected);
  });

  it('lists one customer\'s payments', async () => {
    const customer = seed.customers[9]!.id;
    const page = await client.listPayments({ limit: 100, customer });
    expect(page.data.map((p) => p.id)).toEqual(seed.payments.filter((p) => p.customer === customer).map((p) => p.id));
  });

  it('fetches 250 payment ids (with duplicates and unknowns) in three calls of at most 100', async () => {
    await resetStats(backend.url);
    const ids = seed.payments.slice(0, 248).map((p) => p.id).concat('pay_gone', 'pay_lost', seed.payments[0]!.id);
    const found = await client.paymentsByIds(ids);
    expect(found.map((p) => p.id).sort()).toEqual(seed.payments.slice(0, 248).map((p) => p.id).sort());
    const stats = await readStats(backend.url);
    expect(stats.operations).toEqual({ listPayments: 3 });
    expect([...stats.batchSizes.listPayments!].sort((a, b) => a - b)).toEqual([50, PAYMENTS_MAX_BATCH, PAYMENTS_MAX_BATCH]);
  });

  it('makes no call for an empty batch', async () => {
    await resetStats(backend.url);
    expect(await client.customersByIds([])).toEqual([]);
    expect((await readStats(backend.url)).total).toBe(0);
  });

  it('fetches customers and merchants by id in one call each', async () => {
    await resetStats(backend.url);
    const customers = await client.customersByIds([seed.customers[1]!.id, seed.customers[2]!.id, 'cus_gone']);
    const merchants = await client.merchantsByIds([seed.merchants[3]!.id]);
    expect(customers).toEqual(expect.arrayContaining([seed.customers[1], seed.customers[2]]));
    expect(customers).toHaveLength(2);
    expect(merchants).toEqual([seed.merchants[3]]);
    expect((await readStats(backend.url)).batchSizes).toEqual({ listCustomers: [3], listMerchants: [1] });
  });

  it('fetches every refund of a batch of payments in one call', async () => {
    await resetStats(backend.url);
    const paymentIds = [...new Set(seed.refunds.map((r) => r.payment))].slice(0, 12).concat(fresh[0]!.id);
    const refunds = await client.refundsByPaymentIds(paymentIds);
    expect(refunds.map((r) => r.id).sort()).toEqual(
      seed.refunds.filter((r) => paymentIds.includes(r.payment)).map((r) => r.id).sort());
    expect((await readStats(backend.url)).batchSizes).toEqual({ listRefunds: [13] });
  });

  it('creates a payment once for two calls with the same idempotency key', async () => {
    const input = { customer: seed.customers[4]!.id, merchant: seed.merchants[4]!.id, amount: 2500, currency: 'eur',
      description: 'Order 77001' };
    const first = await client.createPayment(input, 'client-key-1');
    const second = await client.createPayment(input, 'client-key-1');
    expect(second).toEqual(first);
    expect(first).toMatchObject({ object: 'payment', amount: 2500, status: 'succeeded', description: 'Order 77001' });
    expect(await client.getPayment(first.id)).toEqual(first);
  });

  it('refunds a payment in full by default', async () => {
    const refund = await client.createRefund({ payment: fresh[0]!.id });
    expect(refund).toMatchObject({ object: 'refund', payment: fresh[0]!.id, amount: fresh[0]!.amount, status: 'succeeded' });
    expect((await client.getPayment(fresh[0]!.id))!.status).toBe('refunded');
  });

  it('throws UpstreamError http 400 resource_missing with the backend message for an unknown customer', async () => {
    const err = await upstreamErrorOf(() =>
      client.createPayment({ customer: 'cus_gone', merchant: seed.merchants[0]!.id, amount: 100, currency: 'eur' }));
    expect(err).toMatchObject({ source: 'payments', operation: 'createPayment', failure: 'http', status: 400,
      upstreamCode: 'resource_missing', message: "No such customer: 'cus_gone'" });
  });

  it('throws UpstreamError http 400 amount_too_large for an over-refund', async () => {
    const err = await upstreamErrorOf(() => client.createRefund({ payment: fresh[1]!.id, amount: fresh[1]!.amount + 25 }));
    expect(err).toMatchObject({ operation: 'createRefund', failure: 'http', status: 400, upstreamCode: 'amount_too_large' });
  });

  it('turns an injected fault into UpstreamError http 500 injected_fault', async () => {
    await armFault(backend.url, 'getPayment');
    const err = await upstreamErrorOf(() => client.getPayment(seed.payments[0]!.id));
    expect(err).toMatchObject({ source: 'payments', operation: 'getPayment', failure: 'http', status: 500,
      upstreamCode: 'injected_fault' });
  });

  it('names the batch operation in the UpstreamError of a failed batch', async () => {
    await armFault(backend.url, 'listMerchants');
    const err = await upstreamErrorOf(() => client.merchantsByIds([seed.merchants[0]!.id]));
    expect(err).toMatchObject({ operation: 'listMerchants', failure: 'http', status: 500, upstreamCode: 'injected_fault' });
  });

  it('probes the backend without counting a request', async () => {
    await resetStats(backend.url);
    await expect(client.probe()).resolves.toBeUndefined();
    expect((await readStats(backend.url)).total).toBe(0);
  });
});

describe('payments client failures', () => {
  let closedUrl: string;
  beforeAll(async () => {
    // A port that was just free: nothing listens there once the server is closed.
    const server = createServer();
    closedUrl = await listen(server);
    await closeServer(server);
  });

  it('throws UpstreamError unreachable for a closed port', async () => {
    const client = createPaymentsClient({ headers: DEMO_HEADERS.payments, url: closedUrl });
    const err = await upstreamErrorOf(() => client.getPayment('pay_any'));
    expect(err).toMatchObject({ source: 'payments', operation: 'getPayment', failure: 'unreachable' });
    expect(err.status).toBeUndefined();
  });

  it('rejects a probe of a closed port with UpstreamError unreachable', async () => {
    const err = await upstreamErrorOf(() => createPaymentsClient({ headers: DEMO_HEADERS.payments, url: closedUrl }).probe());
    expect(err).toMatchObject({ operation: 'probe', failure: 'unreachable' });
  });

  it('rejects a probe answered 503, and accepts one answered 404', async () => {
    const down = createPaymentsClient({ headers: DEMO_HEADERS.payments, url: 'http://payments.test', fetch: fakeFetch(503, 'busy') });
    expect(await upstreamErrorOf(() => down.probe())).toMatchObject({ failure: 'http', status: 503 });
    const odd = createPaymentsClient({ headers: DEMO_HEADERS.payments, url: 'http://payments.test', fetch: fakeFetch(404, '{}') });
    await expect(odd.probe()).resolves.toBeUndefined();
  });

  it('throws UpstreamError bad_response for a 200 that is not JSON', async () => {
    const client = createPaymentsClient({ headers: DEMO_HEADERS.payments, url: 'http://payments.test', fetch: fakeFetch(200, '<html>') });
    expect(await upstreamErrorOf(() => client.getPayment('pay_any'))).toMatchObject({
      operation: 'getPayment', failure: 'bad_response', status: 200 });
  });

  it('throws UpstreamError bad_response for a list without data', async () => {
    const client = createPaymentsClient({ headers: DEMO_HEADERS.payments, url: 'http://payments.test', fetch: fakeFetch(200, '{"object":"list"}') });
    expect(await upstreamErrorOf(() => client.paymentsByIds(['pay_a']))).toMatchObject({
      operation: 'listPayments', failure: 'bad_response' });
  });

  it('keeps the status of an error body that is not ours as an http failure', async () => {
    const client = createPaymentsClient({ headers: DEMO_HEADERS.payments, url: 'http://payments.test', fetch: fakeFetch(502, '<h1>Bad gateway</h1>') });
    const err = await upstreamErrorOf(() => client.listPayments({ limit: 10 }));
    expect(err).toMatchObject({ operation: 'listPayments', failure: 'http', status: 502, upstreamCode: undefined,
      message: 'payments answered listPayments with HTTP 502' });
  });
});
