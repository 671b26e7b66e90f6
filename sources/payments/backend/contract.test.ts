import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeed, SEED_EPOCH, type PaymentRecord } from '../../demo/seed.ts';
import type { DemoBackend } from '../../demo/server.ts';
import { startPaymentsBackend } from './backend.ts';
import { createResponseValidator, loadPaymentsSpec, queryParameterNames, specOperations } from './openapi-validator.ts';
import { armFault, readStats, resetBackend, send, type Answer, type Request } from './test-http.ts';

const seed = createSeed();
const spec = loadPaymentsSpec();
const operations = specOperations(spec);
const validator = createResponseValidator(spec);

const OPERATION_IDS = [
  'listCustomers', 'getCustomer', 'listMerchants', 'getMerchant', 'listPayments', 'getPayment',
  'createPayment', 'listRefunds', 'createRefund',
];

const customer = seed.customers[0]!;
const merchant = seed.merchants[0]!;
const succeeded = seed.payments.filter((p) => p.status === 'succeeded' && p.amount_refunded === 0);
const pending = seed.payments.find((p) => p.status === 'pending')!;
const refunded = seed.payments.find((p) => p.status === 'refunded')!;
const refundedPaymentIds = [...new Set(seed.refunds.map((r) => r.payment))];

interface Sample extends Request {
  status: number;
  code?: string;
}

function expectMatchesSpec(operationId: string, answer: Answer): void {
  const result = validator.check(operationId, answer.status, answer.body);
  expect(result.errors, `${operationId} ${answer.status}`).toBe('');
  expect(result.valid).toBe(true);
}

/** Real requests for every operation: successes and the errors each one declares. */
const SAMPLES: Record<string, Sample[]> = {
  listCustomers: [
    { path: '/v1/customers', status: 200 },
    { path: `/v1/customers?ids=${seed.customers[1]!.id},${seed.customers[2]!.id},cus_missing`, status: 200 },
    { path: '/v1/customers?limit=101', status: 400, code: 'parameter_invalid' },
  ],
  getCustomer: [
    { path: `/v1/customers/${customer.id}`, status: 200 },
    { path: '/v1/customers/cus_missing', status: 404, code: 'resource_missing' },
  ],
  listMerchants: [
    { path: '/v1/merchants?limit=100', status: 200 },
    { path: `/v1/merchants?ids=${merchant.id}`, status: 200 },
    { path: '/v1/merchants?colour=blue', status: 400, code: 'parameter_unknown' },
  ],
  getMerchant: [
    { path: `/v1/merchants/${merchant.id}`, status: 200 },
    { path: '/v1/merchants/mer_missing', status: 404, code: 'resource_missing' },
  ],
  listPayments: [
    { path: '/v1/payments?limit=5&status=succeeded', status: 200 },
    { path: `/v1/payments?customer=${customer.id}&limit=100`, status: 200 },
    { path: `/v1/payments?ids=${pending.id},${refunded.id}`, status: 200 },
    { path: '/v1/payments?status=lost', status: 400, code: 'parameter_invalid' },
    { path: '/v1/payments?starting_after=pay_missing', status: 400, code: 'resource_missing' },
  ],
  getPayment: [
    { path: `/v1/payments/${refunded.id}`, status: 200 },
    { path: '/v1/payments/pay_missing', status: 404, code: 'resource_missing' },
  ],
  createPayment: [
    { method: 'POST', path: '/v1/payments', status: 200,
      form: { customer: customer.id, merchant: merchant.id, amount: '1250', currency: 'EUR', description: 'Order 4242' } },
    { method: 'POST', path: '/v1/payments', status: 200,
      json: { customer: customer.id, merchant: merchant.id, amount: 99_999_999, currency: 'gbp' } },
    { method: 'POST', path: '/v1/payments', status: 400, code: 'resource_missing',
      form: { customer: 'cus_missing', merchant: merchant.id, amount: '100', currency: 'eur' } },
    { method: 'POST', path: '/v1/payments', status: 400, code: 'parameter_invalid',
      form: { customer: customer.id, merchant: merchant.id, amount: '0', currency: 'eur' } },
  ],
  listRefunds: [
    { path: '/v1/refunds', status: 200 },
    { path: `/v1/refunds?payment=${refundedPaymentIds.slice(0, 3).join(',')}`, status: 200 },
    { path: `/v1/refunds?ids=${seed.refunds[0]!.id}`, status: 200 },
    { path: `/v1/refunds?payment=${Array.from({ length: 101 }, (_, i) => `pay_${i}`).join(',')}`, status: 400,
      code: 'parameter_invalid' },
  ],
  createRefund: [
    { method: 'POST', path: '/v1/refunds', status: 200, form: { payment: succeeded[0]!.id, amount: '25' } },
    { method: 'POST', path: '/v1/refunds', status: 400, code: 'amount_too_large',
      form: { payment: succeeded[1]!.id, amount: String(succeeded[1]!.amount + 1) } },
    { method: 'POST', path: '/v1/refunds', status: 400, code: 'parameter_missing', form: {} },
  ],
};

describe('payments openapi.yaml', () => {
  it('is an OpenAPI 3.0 document served at 127.0.0.1:4101', () => {
    expect(spec.openapi).toMatch(/^3\.0\.\d+$/);
    expect((spec as unknown as { servers: { url: string }[] }).servers[0]!.url).toBe('http://127.0.0.1:4101');
  });

  it('declares exactly the nine operations, each with an operationId, summary and description', () => {
    expect(operations.map((op) => op.operationId).sort()).toEqual([...OPERATION_IDS].sort());
    for (const op of operations) {
      expect(op.summary, op.operationId).toBeTruthy();
      expect(op.description, op.operationId).toBeTruthy();
    }
  });

  it('describes every schema property, because GraphiQL shows those descriptions', () => {
    const undescribed: string[] = [];
    for (const [name, schema] of Object.entries(spec.components.schemas)) {
      const { properties = {} } = schema as { properties?: Record<string, { description?: string }> };
      for (const [prop, definition] of Object.entries(properties)) {
        if (!definition.description) undescribed.push(`${name}.${prop}`);
      }
    }
    expect(undescribed).toEqual([]);
  });

  it('keeps string schemas free of pattern, length and unix-time format, so the gateway keeps String fields and their descriptions', () => {
    // The gateway's OpenAPI loader turns each of these into a one-off scalar and drops the
    // field's description; the limits are stated in descriptions and enforced by the backend.
    const offending: string[] = [];
    const walk = (node: unknown, where: string): void => {
      if (Array.isArray(node)) node.forEach((item, i) => walk(item, `${where}/${i}`));
      else if (typeof node === 'object' && node !== null) {
        for (const [key, value] of Object.entries(node)) {
          if (['pattern', 'maxLength', 'minLength'].includes(key) || (key === 'format' && value === 'unix-time')) {
            offending.push(`${where}/${key}`);
          }
          walk(value, `${where}/${key}`);
        }
      }
    };
    walk(spec, '#');
    expect(offending).toEqual([]);
  });

  it('rejects a body that breaks the spec, so the checks below can fail', () => {
    const broken = { ...pending, amount: '12.50', surprise: true };
    expect(validator.check('getPayment', 200, broken).valid).toBe(false);
    expect(validator.check('getPayment', 404, { error: { type: 'oops', message: 'x' } }).valid).toBe(false);
  });

  it('has a sample request below for every operation it declares', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual([...OPERATION_IDS].sort());
  });
});

describe('payments backend against its openapi.yaml', () => {
  let backend: DemoBackend;
  beforeAll(async () => {
    backend = await startPaymentsBackend();
  });
  afterAll(async () => {
    await backend.close();
  });

  it.each(OPERATION_IDS)('answers every sample request of %s with the status and body the spec declares', async (operationId) => {
    for (const sample of SAMPLES[operationId]!) {
      const answer = await send(backend.url, sample);
      expect(answer.status, `${sample.method ?? 'GET'} ${sample.path}`).toBe(sample.status);
      if (sample.code !== undefined) expect(answer.body.error.code).toBe(sample.code);
      expectMatchesSpec(operationId, answer);
    }
  });

  it.each(OPERATION_IDS)('accepts every query parameter %s declares', async (operationId) => {
    // The backend refuses unknown parameters, so one declared but not implemented would
    // break every gateway call that uses it.
    const op = operations.find((o) => o.operationId === operationId)!;
    const values: Record<string, string> = {
      ids: 'obj_1', payment: 'pay_1', limit: '5', starting_after: 'obj_1', customer: customer.id, status: 'succeeded',
    };
    for (const name of queryParameterNames(spec, op)) {
      expect(values[name], `a sample value for ${name}`).toBeDefined();
      const sample = SAMPLES[operationId]![0]!;
      const answer = await send(backend.url, { ...sample, path: `${sample.path.split('?')[0]}?${name}=${values[name]}` });
      expect(answer.body?.error?.code, `${operationId} ?${name}`).not.toBe('parameter_unknown');
    }
  });

  it.each(OPERATION_IDS)('answers an injected fault in %s with 500 api_error injected_fault', async (operationId) => {
    await armFault(backend.url, operationId);
    const answer = await send(backend.url, SAMPLES[operationId]![0]!);
    expect(answer.status).toBe(500);
    expect(answer.body.error).toMatchObject({ type: 'api_error', code: 'injected_fault' });
    expectMatchesSpec(operationId, answer);
    // The fault was used up: the same request now succeeds.
    expect((await send(backend.url, SAMPLES[operationId]![0]!)).status).toBe(SAMPLES[operationId]![0]!.status);
  });
});

describe('payments backend batching and pagination', () => {
  let backend: DemoBackend;
  beforeAll(async () => {
    backend = await startPaymentsBackend();
  });
  afterAll(async () => {
    await backend.close();
  });

  it('counts an ids= batch of 5 payments as one listPayments request with batch size 5', async () => {
    await resetBackend(backend.url);
    const ids = seed.payments.slice(0, 4).map((p) => p.id).concat('pay_missing');
    const answer = await send(backend.url, { path: `/v1/payments?ids=${ids.join(',')}` });
    expect(answer.body.data.map((p: PaymentRecord) => p.id).sort()).toEqual(ids.slice(0, 4).sort());
    expect(answer.body.has_more).toBe(false);
    expect(await readStats(backend.url)).toEqual({ total: 1, probes: 0, operations: { listPayments: 1 }, batchSizes: { listPayments: [5] } });
  });

  it('counts a payment= refunds batch as one listRefunds request and returns every refund of those payments', async () => {
    await resetBackend(backend.url);
    const paymentIds = refundedPaymentIds.slice(0, 7);
    const answer = await send(backend.url, { path: `/v1/refunds?payment=${paymentIds.join(',')}` });
    const expected = seed.refunds.filter((r) => paymentIds.includes(r.payment)).map((r) => r.id).sort();
    expect(answer.body.data.map((r: { id: string }) => r.id).sort()).toEqual(expected);
    expect(await readStats(backend.url)).toEqual({ total: 1, probes: 0, operations: { listRefunds: 1 }, batchSizes: { listRefunds: [7] } });
  });

  it('walks all 1000 seed payments exactly once, newest first, in 10 pages of 100', async () => {
    await resetBackend(backend.url);
    const seen: PaymentRecord[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const query = `limit=100${after ? `&starting_after=${after}` : ''}`;
      const answer = await send(backend.url, { path: `/v1/payments?${query}` });
      expect(answer.status).toBe(200);
      pages++;
      seen.push(...answer.body.data);
      if (!answer.body.has_more) break;
      after = seen.at(-1)!.id;
    }
    expect(pages).toBe(10);
    expect(seen).toHaveLength(1000);
    expect(new Set(seen.map((p) => p.id)).size).toBe(1000);
    expect(seen.map((p) => p.id).sort()).toEqual(seed.payments.map((p) => p.id).sort());
    for (let i = 1; i < seen.length; i++) expect(seen[i - 1]!.created).toBeGreaterThanOrEqual(seen[i]!.created);
    expect((await readStats(backend.url)).operations).toEqual({ listPayments: 10 });
  });

  it('pages a customer filter with the default limit of 10 and ends with has_more false', async () => {
    const expected = seed.payments.filter((p) => p.customer === customer.id).map((p) => p.id);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const answer = await send(backend.url, {
        path: `/v1/payments?customer=${customer.id}${after ? `&starting_after=${after}` : ''}`,
      });
      expect(answer.body.data.length).toBeLessThanOrEqual(10);
      seen.push(...answer.body.data.map((p: PaymentRecord) => p.id));
      if (!answer.body.has_more) break;
      after = seen.at(-1);
    }
    expect(seen).toEqual(expected);
  });

  it('refuses limit with an ids= batch, since a batch is a single page', async () => {
    const answer = await send(backend.url, { path: `/v1/customers?ids=${customer.id}&limit=5` });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'parameter_invalid', param: 'limit' });
  });
});

describe('payments backend idempotency', () => {
  let backend: DemoBackend;
  beforeAll(async () => {
    // A clock after the seed's newest payment, so a new payment is first in the listing.
    backend = await startPaymentsBackend({ now: () => (SEED_EPOCH + 3600) * 1000 });
  });
  afterAll(async () => {
    await backend.close();
  });

  it('creates one payment for two requests with the same Idempotency-Key and replays the first answer', async () => {
    const other = seed.customers[5]!;
    const listing = `/v1/payments?customer=${other.id}&limit=100`;
    const before = (await send(backend.url, { path: listing })).body.data as PaymentRecord[];
    await resetBackend(backend.url);
    const create = { method: 'POST' as const, path: '/v1/payments',
      form: { customer: other.id, merchant: merchant.id, amount: '4200', currency: 'eur' } };
    const first = await send(backend.url, create, { 'idempotency-key': 'order-7731' });
    const second = await send(backend.url, create, { 'idempotency-key': 'order-7731' });
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    expectMatchesSpec('createPayment', second);
    expect((await readStats(backend.url)).operations).toEqual({ createPayment: 2 });
    const after = (await send(backend.url, { path: listing })).body.data as PaymentRecord[];
    expect(after).toHaveLength(before.length + 1);
    expect(after[0]).toEqual(first.body);
    expect(first.body.created).toBe(SEED_EPOCH + 3600);
  });

  it('answers 400 idempotency_error when a key is reused with different parameters', async () => {
    const create = { method: 'POST' as const, path: '/v1/payments',
      form: { customer: customer.id, merchant: merchant.id, amount: '100', currency: 'eur' } };
    expect((await send(backend.url, create, { 'idempotency-key': 'order-9' })).status).toBe(200);
    const changed = await send(backend.url, { ...create, form: { ...create.form, amount: '101' } }, { 'idempotency-key': 'order-9' });
    expect(changed.status).toBe(400);
    expect(changed.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_in_use' });
    expectMatchesSpec('createPayment', changed);
  });
});
