import { createServer, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import { RESILIENCE_DEFAULTS } from '../../gateway/upstream/resilience.ts';
import { startRecordingServer, json, type Seen } from '../helpers/recording-server.ts';
import { closeServer, listen } from '../../sources/demo/server.ts';
import { armFault, credentialsSeen, loadDemoSources, readStats, resetBackend, startTestSources, type TestSources } from '../helpers/demo-sources.ts';
import { PAYMENTS_MAX_BATCH } from '../../sources/payments/loaders.ts';
import { MAX_ID_LENGTH } from '../../schema/ids.ts';
import type { CustomerRecord, PaymentRecord, RefundRecord } from '../../sources/payments/records.ts';

/** Runs `action` and returns the UpstreamError it must throw. */
async function upstreamErrorOf(action: () => Promise<unknown>): Promise<UpstreamError> {
  const error = await action().then(() => undefined, (err: unknown) => err);
  if (!(error instanceof UpstreamError)) throw new Error(`expected an UpstreamError, got ${String(error)}`);
  return error;
}

/** Attempts one read makes against a backend failing with a 5xx: the first, then the engine's retries. */
const READ_ATTEMPTS = 1 + RESILIENCE_DEFAULTS.maxRetries;

interface List<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

describe('payments source against the payments backend', () => {
  let t: TestSources;
  let url: string;
  beforeAll(async () => {
    t = await startTestSources(['payments']);
    url = t.backends.payments!.url;
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    await resetBackend(url);
  });

  const seed = () => t.seed;
  const fresh = () => t.seed.payments.filter((p) => p.status === 'succeeded' && p.amount_refunded === 0);
  const payments = () => t.source('payments');

  it('gets a payment by id as the seed has it, by its operation and by its loader', async () => {
    const payment = seed().payments[7]!;
    expect(await payments().call('getPayment', { id: payment.id })).toEqual(payment);
    expect(await t.loaders().payment.load(payment.id)).toEqual(payment);
  });

  it('answers null for an unknown payment id through the loader', async () => {
    expect(await t.loaders().payment.load('pay_gone')).toBeNull();
    expect((await readStats(url)).batchSizes).toEqual({ listPayments: [1] });
  });

  it('throws UpstreamError http 404 resource_missing for getPayment of an unknown id', async () => {
    const err = await upstreamErrorOf(() => payments().call('getPayment', { id: 'pay_gone' }));
    expect(err).toMatchObject({ source: 'payments', operation: 'getPayment', failure: 'http', status: 404, upstreamCode: 'resource_missing' });
  });

  it('lists payments page by page with starting_after, filtered by status', async () => {
    const expected = seed().payments.filter((p) => p.status === 'failed');
    const first = await payments().call<List<PaymentRecord>>('listPayments', { limit: 20, status: 'failed' });
    expect(first.has_more).toBe(true);
    const rest = await payments().call<List<PaymentRecord>>('listPayments', { limit: 100, status: 'failed', starting_after: first.data.at(-1)!.id });
    expect(rest.has_more).toBe(false);
    expect([...first.data, ...rest.data]).toEqual(expected);
  });

  it('lists one customer\'s payments', async () => {
    const customer = seed().customers[9]!.id;
    const page = await payments().call<List<PaymentRecord>>('listPayments', { limit: 100, customer });
    expect(page.data.map((p) => p.id)).toEqual(seed().payments.filter((p) => p.customer === customer).map((p) => p.id));
  });

  it('loads 250 payment ids (with duplicates and unknowns) in three calls of at most 100, each answer under its own key', async () => {
    const known = seed().payments.slice(0, 248).map((p) => p.id);
    const ids = [...known, 'pay_gone', 'pay_lost', known[0]!];
    const found = await t.loaders().payment.loadMany(ids);
    expect(found.map((p) => (p instanceof Error ? p : p?.id ?? null))).toEqual([...known, null, null, known[0]]);
    const stats = await readStats(url);
    expect(stats.operations).toEqual({ listPayments: 3 });
    expect([...stats.batchSizes.listPayments!].sort((a, b) => a - b)).toEqual([50, PAYMENTS_MAX_BATCH, PAYMENTS_MAX_BATCH]);
  });

  it('makes no call for an empty batch', async () => {
    expect(await t.loaders().customer.loadMany([])).toEqual([]);
    expect((await readStats(url)).total).toBe(0);
  });

  it('answers ids that cannot be one element of an ids= list with null (refunds: none), without a call', async () => {
    const loaders = t.loaders();
    const unsendable = ['', 'pay_a,pay_b', 'p'.repeat(MAX_ID_LENGTH + 1)];
    expect(await loaders.payment.loadMany(unsendable)).toEqual([null, null, null]);
    expect(await loaders.customer.loadMany(unsendable)).toEqual([null, null, null]);
    expect(await loaders.refundsByPayment.loadMany(unsendable)).toEqual([[], [], []]);
    expect((await readStats(url)).total).toBe(0);
    // Among sendable ids, they are left out of the call.
    const payment = seed().payments[3]!;
    expect(await t.loaders().payment.loadMany([payment.id, 'pay_a,pay_b'])).toEqual([payment, null]);
    expect((await readStats(url)).batchSizes).toEqual({ listPayments: [1] });
  });

  it('loads customers and merchants asked for together in one call each', async () => {
    const loaders = t.loaders();
    const [customers, merchants] = await Promise.all([
      loaders.customer.loadMany([seed().customers[1]!.id, seed().customers[2]!.id, 'cus_gone']),
      loaders.merchant.loadMany([seed().merchants[3]!.id]),
    ]);
    expect(customers).toEqual([seed().customers[1], seed().customers[2], null]);
    expect(merchants).toEqual([seed().merchants[3]]);
    expect((await readStats(url)).batchSizes).toEqual({ listCustomers: [3], listMerchants: [1] });
  });

  it('loads every refund of a batch of payments in one call, each payment\'s under its own key', async () => {
    const paymentIds = [...new Set(seed().refunds.map((r) => r.payment))].slice(0, 12).concat(fresh()[0]!.id);
    const refunds = await t.loaders().refundsByPayment.loadMany(paymentIds);
    expect(refunds.map((list) => (list instanceof Error ? list : list.map((r: RefundRecord) => r.id).sort()))).toEqual(
      paymentIds.map((id) => seed().refunds.filter((r) => r.payment === id).map((r) => r.id).sort()));
    expect(refunds.at(-1)).toEqual([]);
    expect((await readStats(url)).batchSizes).toEqual({ listRefunds: [13] });
  });

  it('creates a payment once for two calls with the same idempotency key', async () => {
    const input = { customer: seed().customers[4]!.id, merchant: seed().merchants[4]!.id, amount: 2500, currency: 'eur', description: 'Order 77001' };
    const first = await payments().call<PaymentRecord>('createPayment', { input, Idempotency_Key: 'client-key-1' });
    const second = await payments().call<PaymentRecord>('createPayment', { input, Idempotency_Key: 'client-key-1' });
    expect(second).toEqual(first);
    expect(first).toMatchObject({ object: 'payment', amount: 2500, status: 'succeeded', description: 'Order 77001' });
    expect(await payments().call('getPayment', { id: first.id })).toEqual(first);
  });

  it('refunds a payment in full by default', async () => {
    const payment = fresh()[0]!;
    const refund = await payments().call<RefundRecord>('createRefund', { input: { payment: payment.id } });
    expect(refund).toMatchObject({ object: 'refund', payment: payment.id, amount: payment.amount, status: 'succeeded' });
    expect((await payments().call<PaymentRecord>('getPayment', { id: payment.id })).status).toBe('refunded');
  });

  it('throws UpstreamError http 400 resource_missing with the backend message for an unknown customer', async () => {
    const err = await upstreamErrorOf(() =>
      payments().call('createPayment', { input: { customer: 'cus_gone', merchant: seed().merchants[0]!.id, amount: 100, currency: 'eur' } }));
    expect(err).toMatchObject({ source: 'payments', operation: 'createPayment', failure: 'http', status: 400,
      upstreamCode: 'resource_missing', message: "No such customer: 'cus_gone'" });
  });

  it('throws UpstreamError http 400 amount_too_large for an over-refund', async () => {
    const payment = fresh()[1]!;
    const err = await upstreamErrorOf(() => payments().call('createRefund', { input: { payment: payment.id, amount: payment.amount + 25 } }));
    expect(err).toMatchObject({ operation: 'createRefund', failure: 'http', status: 400, upstreamCode: 'amount_too_large' });
  });

  it('turns an injected fault into UpstreamError http 500 injected_fault, once every retry of the read failed too', async () => {
    // Fresh sources: a breaker of their own, so this test's failures count for no other test.
    const sources = await t.reload();
    await armFault(url, 'getPayment', READ_ATTEMPTS);
    const err = await upstreamErrorOf(() => sources.source('payments').call('getPayment', { id: seed().payments[0]!.id }));
    expect(err).toMatchObject({ source: 'payments', operation: 'getPayment', failure: 'http', status: 500, upstreamCode: 'injected_fault' });
    expect((await readStats(url)).operations).toEqual({ getPayment: READ_ATTEMPTS });
  });

  it('names the batch operation in the UpstreamError of a failed batch', async () => {
    const sources = await t.reload();
    await armFault(url, 'listMerchants', READ_ATTEMPTS);
    const err = await upstreamErrorOf(() => sources.loaders().merchant.load(seed().merchants[0]!.id));
    expect(err).toMatchObject({ source: 'payments', operation: 'listMerchants', failure: 'http', status: 500, upstreamCode: 'injected_fault' });
  });

  it('sends the gateway\'s secret key as a bearer token, and nothing else', async () => {
    await t.loaders().customer.load(seed().customers[0]!.id);
    await payments().call('getMerchant', { id: seed().merchants[0]!.id });
    expect(await credentialsSeen(url)).toEqual([`Bearer ${t.credentials.payments.secretKey}`]);
  });

  it('probes the backend without counting a request', async () => {
    await expect(t.loaded.payments!.runtime!.probe()).resolves.toBeUndefined();
    expect(await readStats(url)).toMatchObject({ total: 0, probes: 1 });
  });
});

describe('payments source failures', () => {
  let closedUrl: string;
  /** What the misbehaving backend answers next. */
  let reply: (seen: Seen, res: ServerResponse) => void;
  let seen: Seen[];
  let odd: { url: string; close(): Promise<void> };
  const credentials = { payments: { secretKey: 'sk_test_odd', webhookSecret: 'whsec_odd' }, maps: { username: 'u', apiKey: 'k' }, messaging: { accountSid: 'AC1', authToken: 't' } };
  const oddSources = () => loadDemoSources({ urls: { payments: odd.url }, credentials });

  beforeAll(async () => {
    // A port that was just free: nothing listens there once the server is closed.
    const server = createServer();
    closedUrl = await listen(server);
    await closeServer(server);
    odd = await startRecordingServer((request, res) => {
      seen.push(request);
      reply(request, res);
    });
  });
  afterAll(async () => {
    await odd?.close();
  });
  beforeEach(() => {
    seen = [];
  });

  const text = (status: number, body: string, type = 'application/json') => (_: Seen, res: ServerResponse) => {
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  };

  it('throws UpstreamError unreachable for a closed port', async () => {
    const sources = await loadDemoSources({ urls: { payments: closedUrl }, credentials });
    const err = await upstreamErrorOf(() => sources.source('payments').call('getPayment', { id: 'pay_any' }));
    expect(err).toMatchObject({ source: 'payments', operation: 'getPayment', failure: 'unreachable' });
    expect(err.status).toBeUndefined();
  });

  it('rejects a probe of a closed port with UpstreamError unreachable', async () => {
    const sources = await loadDemoSources({ urls: { payments: closedUrl }, credentials });
    expect(await upstreamErrorOf(() => sources.loaded.payments!.runtime!.probe())).toMatchObject({ operation: 'probe', failure: 'unreachable' });
  });

  it('rejects a probe answered 503, and accepts one answered 404', async () => {
    const sources = await oddSources();
    reply = text(503, 'busy', 'text/plain');
    await expect(sources.loaded.payments!.runtime!.probe()).rejects.toThrow('payments answered its probe with HTTP 503');
    reply = text(404, '{}');
    await expect(sources.loaded.payments!.runtime!.probe()).resolves.toBeUndefined();
    expect(seen.map((s) => [s.method, s.url])).toEqual([['GET', '/'], ['GET', '/']]);
  });

  it('sends the bearer token the entry configures', async () => {
    reply = (_, res) => json(res, 200, { object: 'list', data: [], has_more: false, url: '/v1/customers' });
    await (await oddSources()).loaders().customer.load('cus_1');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/v1/customers?ids=cus_1' });
    expect(seen[0]!.headers.authorization).toBe('Bearer sk_test_odd');
  });

  it('answers each key with its own item, whatever the order of the list', async () => {
    const customer = (id: string) => ({ id, object: 'customer', name: id });
    reply = (request, res) => {
      const ids = new URL(request.url, 'http://x').searchParams.get('ids')!.split(',');
      json(res, 200, { object: 'list', data: ids.reverse().map(customer), has_more: false, url: '/v1/customers' });
    };
    const found = await (await oddSources()).loaders().customer.loadMany(['cus_a', 'cus_b', 'cus_c']);
    expect(found).toEqual([customer('cus_a'), customer('cus_b'), customer('cus_c')] as unknown as CustomerRecord[]);
    expect(seen.map((s) => s.url)).toEqual(['/v1/customers?ids=cus_a%2Ccus_b%2Ccus_c']);
  });

  it('throws UpstreamError bad_response for a 200 that is not JSON', async () => {
    reply = text(200, '<html>');
    expect(await upstreamErrorOf(async () => (await oddSources()).source('payments').call('getPayment', { id: 'pay_any' }))).toMatchObject({
      source: 'payments', operation: 'getPayment', failure: 'bad_response', status: 200 });
  });

  it('throws UpstreamError bad_response for a list without data', async () => {
    reply = text(200, '{"object":"list"}');
    expect(await upstreamErrorOf(async () => (await oddSources()).loaders().payment.load('pay_a'))).toMatchObject({
      source: 'payments', operation: 'listPayments', failure: 'bad_response' });
  });

  it('keeps the status of an error body that is not ours as an http failure', async () => {
    reply = text(502, '<h1>Bad gateway</h1>', 'text/html');
    const err = await upstreamErrorOf(async () => (await oddSources()).source('payments').call('listPayments', { limit: 10 }));
    expect(err).toMatchObject({ source: 'payments', operation: 'listPayments', failure: 'http', status: 502, upstreamCode: undefined, message: 'HTTP 502' });
  });

});
