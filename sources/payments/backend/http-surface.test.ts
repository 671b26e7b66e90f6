import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeed } from '../../demo/seed.ts';
import type { DemoBackend } from '../../demo/server.ts';
import { startPaymentsBackend } from './backend.ts';
import { MAX_BODY_BYTES } from './body.ts';
import { armFault, readStats, resetBackend, send } from './test-http.ts';

const seed = createSeed();
const customer = seed.customers[0]!;
const merchant = seed.merchants[0]!;
const pending = seed.payments.find((p) => p.status === 'pending')!;

describe('payments backend HTTP surface', () => {
  let backend: DemoBackend;
  beforeAll(async () => {
    backend = await startPaymentsBackend();
  });
  afterAll(async () => {
    await backend.close();
  });

  it('answers the GET / and GET /v1 probes with 200 {service:"payments"} and does not count them', async () => {
    await resetBackend(backend.url);
    for (const path of ['/', '/v1']) {
      const answer = await send(backend.url, { path });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ service: 'payments' });
    }
    // Probes are counted apart (`probes`, the `/` ones), never as operations.
    expect(await readStats(backend.url)).toEqual({ total: 0, probes: 1, operations: {}, batchSizes: {} });
  });

  it('returns 404 resource_missing with param id for an unknown payment id', async () => {
    const answer = await send(backend.url, { path: '/v1/payments/pay_nope' });
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({
      error: { type: 'invalid_request_error', code: 'resource_missing', message: "No such payment: 'pay_nope'", param: 'id' },
    });
  });

  it('returns the seed record unchanged for a known payment id', async () => {
    const answer = await send(backend.url, { path: `/v1/payments/${pending.id}` });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(pending);
  });

  it('answers 400 parameter_invalid with param status for an unknown status filter', async () => {
    const answer = await send(backend.url, { path: '/v1/payments?status=lost' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ type: 'invalid_request_error', code: 'parameter_invalid', param: 'status' });
  });

  it('answers 400 parameter_invalid with param ids for 101 ids in one batch, and counts it with batch size 101', async () => {
    await resetBackend(backend.url);
    const ids = Array.from({ length: 101 }, (_, i) => `pay_${i}`).join(',');
    const answer = await send(backend.url, { path: `/v1/payments?ids=${ids}` });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'parameter_invalid', param: 'ids' });
    expect((await readStats(backend.url)).batchSizes).toEqual({ listPayments: [101] });
  });

  it('answers 400 resource_missing with param starting_after for a cursor that is not a payment', async () => {
    const answer = await send(backend.url, { path: '/v1/payments?starting_after=pay_gone' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toEqual({
      type: 'invalid_request_error', code: 'resource_missing', message: "No such payment: 'pay_gone'", param: 'starting_after',
    });
  });

  it('answers 404 resource_missing for an unknown route and does not count it', async () => {
    await resetBackend(backend.url);
    const answer = await send(backend.url, { path: '/v1/charges' });
    expect(answer.status).toBe(404);
    expect(answer.body.error).toEqual({
      type: 'invalid_request_error', code: 'resource_missing', message: 'Unrecognized request URL (GET: /v1/charges).',
    });
    expect((await readStats(backend.url)).total).toBe(0);
  });

  it('answers 405 method_not_allowed with an Allow header for a method the route lacks', async () => {
    const answer = await send(backend.url, { method: 'DELETE', path: `/v1/payments/${pending.id}` });
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('GET');
    expect(answer.body.error).toMatchObject({ type: 'invalid_request_error', code: 'method_not_allowed' });
  });

  it('answers 413 request_too_large for a body over 1 MiB', async () => {
    const raw = `description=${'x'.repeat(MAX_BODY_BYTES)}`;
    const answer = await send(backend.url, { method: 'POST', path: '/v1/payments', raw },
      { 'content-type': 'application/x-www-form-urlencoded' });
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
  });

  it('answers 400 body_invalid for malformed JSON', async () => {
    const answer = await send(backend.url, { method: 'POST', path: '/v1/payments', raw: '{"customer":' },
      { 'content-type': 'application/json' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ type: 'invalid_request_error', code: 'body_invalid' });
  });

  it('answers 400 body_invalid for a content type other than form or JSON', async () => {
    const answer = await send(backend.url, { method: 'POST', path: '/v1/payments', raw: '<payment/>' },
      { 'content-type': 'application/xml' });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('body_invalid');
  });

  it('answers 400 parameter_missing with param currency when currency is left out', async () => {
    const answer = await send(backend.url, { method: 'POST', path: '/v1/payments',
      form: { customer: customer.id, merchant: merchant.id, amount: '100' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'parameter_missing', param: 'currency' });
  });

  it('answers 400 parameter_invalid with param amount for an amount over 99999999', async () => {
    const answer = await send(backend.url, { method: 'POST', path: '/v1/payments',
      json: { customer: customer.id, merchant: merchant.id, amount: 100_000_000, currency: 'eur' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'parameter_invalid', param: 'amount' });
  });

  it('answers 400 parameter_unknown for a body parameter the operation does not take', async () => {
    const answer = await send(backend.url, { method: 'POST', path: '/v1/payments',
      form: { customer: customer.id, merchant: merchant.id, amount: '100', currency: 'eur', tip: '5' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'parameter_unknown', param: 'tip' });
  });

  it('answers 400 resource_missing with param merchant for an unknown merchant', async () => {
    const answer = await send(backend.url, { method: 'POST', path: '/v1/payments',
      form: { customer: customer.id, merchant: 'mer_gone', amount: '100', currency: 'eur' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toEqual({
      type: 'invalid_request_error', code: 'resource_missing', message: "No such merchant: 'mer_gone'", param: 'merchant',
    });
  });

  it('counts a failed injected call and an armed count of 2 fails exactly two calls', async () => {
    await resetBackend(backend.url);
    await armFault(backend.url, 'getCustomer', 2);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(backend.url, { path: `/v1/customers/${customer.id}` })).status);
    expect(statuses).toEqual([500, 500, 200]);
    expect((await readStats(backend.url)).operations).toEqual({ getCustomer: 3 });
  });
});

describe('payments backend instances', () => {
  let first: DemoBackend;
  let second: DemoBackend;
  beforeAll(async () => {
    [first, second] = await Promise.all([startPaymentsBackend(), startPaymentsBackend()]);
  });
  afterAll(async () => {
    await Promise.all([first.close(), second.close()]);
  });

  it('keeps payments created on one backend out of another', async () => {
    const created = await send(first.url, { method: 'POST', path: '/v1/payments',
      form: { customer: customer.id, merchant: merchant.id, amount: '700', currency: 'eur' } });
    expect(created.status).toBe(200);
    expect((await send(first.url, { path: `/v1/payments/${created.body.id}` })).status).toBe(200);
    expect((await send(second.url, { path: `/v1/payments/${created.body.id}` })).status).toBe(404);
  });
});
