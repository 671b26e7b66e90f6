import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeed, SEED_EPOCH } from '../../demo/seed.ts';
import type { DemoBackend } from '../../demo/server.ts';
import { startPaymentsBackend } from './backend.ts';
import { readStats, resetBackend, send, type Request } from './test-http.ts';

const seed = createSeed();
const customer = seed.customers[3]!;
const merchant = seed.merchants[2]!;
const fresh = seed.payments.filter((p) => p.status === 'succeeded' && p.amount_refunded === 0);
const pending = seed.payments.find((p) => p.status === 'pending')!;
const failed = seed.payments.find((p) => p.status === 'failed')!;
const refunded = seed.payments.find((p) => p.status === 'refunded')!;
const NOW = SEED_EPOCH + 86_400;

function refund(form: Record<string, string>): Request {
  return { method: 'POST', path: '/v1/refunds', form };
}

function pay(amount: number): Request {
  return { method: 'POST', path: '/v1/payments',
    form: { customer: customer.id, merchant: merchant.id, amount: String(amount), currency: 'eur' } };
}

describe('payments backend refunds', () => {
  let backend: DemoBackend;
  beforeAll(async () => {
    backend = await startPaymentsBackend({ now: () => NOW * 1000 });
  });
  afterAll(async () => {
    await backend.close();
  });

  it('refunds part, then by default the rest, and marks the payment refunded', async () => {
    const payment = fresh[0]!;
    const part = await send(backend.url, refund({ payment: payment.id, amount: '25' }));
    expect(part.status).toBe(200);
    expect(part.body).toMatchObject({ object: 'refund', payment: payment.id, amount: 25, currency: payment.currency,
      status: 'succeeded', created: NOW });
    expect(part.body.id).toMatch(/^re_[0-9A-Za-z]{14}$/);
    const midway = await send(backend.url, { path: `/v1/payments/${payment.id}` });
    expect(midway.body).toMatchObject({ status: 'succeeded', amount_refunded: 25 });

    const rest = await send(backend.url, refund({ payment: payment.id }));
    expect(rest.body.amount).toBe(payment.amount - 25);
    const after = await send(backend.url, { path: `/v1/payments/${payment.id}` });
    expect(after.body).toMatchObject({ status: 'refunded', amount_refunded: payment.amount });
    const listed = await send(backend.url, { path: `/v1/refunds?payment=${payment.id}` });
    expect(listed.body.data.map((r: { id: string }) => r.id).sort()).toEqual([part.body.id, rest.body.id].sort());
  });

  it('answers 400 charge_already_refunded for a fully refunded payment', async () => {
    const answer = await send(backend.url, refund({ payment: refunded.id }));
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ type: 'invalid_request_error', code: 'charge_already_refunded' });
  });

  it('answers 400 charge_not_refundable for a pending or failed payment', async () => {
    for (const payment of [pending, failed]) {
      const answer = await send(backend.url, refund({ payment: payment.id }));
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('charge_not_refundable');
    }
  });

  it('answers 400 amount_too_large with param amount for more than is left to refund', async () => {
    const payment = fresh[1]!;
    const answer = await send(backend.url, refund({ payment: payment.id, amount: String(payment.amount + 1) }));
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'amount_too_large', param: 'amount' });
    expect((await send(backend.url, { path: `/v1/payments/${payment.id}` })).body.amount_refunded).toBe(0);
  });

  it('answers 400 resource_missing with param payment for an unknown payment', async () => {
    const answer = await send(backend.url, refund({ payment: 'pay_gone' }));
    expect(answer.body.error).toEqual({
      type: 'invalid_request_error', code: 'resource_missing', message: "No such payment: 'pay_gone'", param: 'payment',
    });
  });

  it('creates payments as succeeded with nothing refunded, created now, a lowercase currency and a fresh pay_ id', async () => {
    const answer = await send(backend.url, { method: 'POST', path: '/v1/payments',
      json: { customer: customer.id, merchant: merchant.id, amount: 1999, currency: 'SEK', description: 'Order 1' } });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      id: answer.body.id, object: 'payment', amount: 1999, amount_refunded: 0, currency: 'sek', status: 'succeeded',
      customer: customer.id, merchant: merchant.id, description: 'Order 1', created: NOW,
    });
    expect(answer.body.id).toMatch(/^pay_[0-9A-Za-z]{14}$/);
  });
});

describe('payments backend Idempotency-Key', () => {
  let backend: DemoBackend;
  beforeAll(async () => {
    backend = await startPaymentsBackend({ now: () => NOW * 1000 });
  });
  afterAll(async () => {
    await backend.close();
  });

  it('creates one refund for two requests with the same key, and counts both', async () => {
    const payment = fresh[2]!;
    await resetBackend(backend.url);
    const first = await send(backend.url, refund({ payment: payment.id, amount: '50' }), { 'idempotency-key': 'rf-1' });
    const second = await send(backend.url, refund({ payment: payment.id, amount: '50' }), { 'idempotency-key': 'rf-1' });
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect((await send(backend.url, { path: `/v1/payments/${payment.id}` })).body.amount_refunded).toBe(50);
    expect((await readStats(backend.url)).operations).toEqual({ createRefund: 2, getPayment: 1 });
  });

  it('replays a form request for a JSON retry with the same parameters', async () => {
    const form = await send(backend.url, pay(300), { 'idempotency-key': 'mixed' });
    const json = await send(backend.url, { method: 'POST', path: '/v1/payments',
      json: { currency: 'eur', amount: 300, merchant: merchant.id, customer: customer.id } }, { 'idempotency-key': 'mixed' });
    expect(json.headers.get('idempotent-replayed')).toBe('true');
    expect(json.body.id).toBe(form.body.id);
  });

  it('replays the answer as first given, even after the payment changed', async () => {
    const first = await send(backend.url, pay(400), { 'idempotency-key': 'snap' });
    await send(backend.url, refund({ payment: first.body.id }));
    const replay = await send(backend.url, pay(400), { 'idempotency-key': 'snap' });
    expect(replay.body).toEqual(first.body);
    expect(replay.body.status).toBe('succeeded');
  });

  it('answers 400 idempotency_error for a key reused on another endpoint', async () => {
    const created = await send(backend.url, pay(500), { 'idempotency-key': 'cross' });
    const answer = await send(backend.url, refund({ payment: created.body.id }), { 'idempotency-key': 'cross' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_in_use' });
  });

  it('does not save a rejected request, so the key can be retried with fixed parameters', async () => {
    const rejected = await send(backend.url, pay(0), { 'idempotency-key': 'fix-me' });
    expect(rejected.status).toBe(400);
    const fixed = await send(backend.url, pay(600), { 'idempotency-key': 'fix-me' });
    expect(fixed.status).toBe(200);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
  });

  it('accepts a 255-character key and answers 400 parameter_invalid for a 256-character one', async () => {
    expect((await send(backend.url, pay(700), { 'idempotency-key': 'k'.repeat(255) })).status).toBe(200);
    const answer = await send(backend.url, pay(700), { 'idempotency-key': 'k'.repeat(256) });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ type: 'invalid_request_error', code: 'parameter_invalid' });
  });
});
