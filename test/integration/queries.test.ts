import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callCounts, startHarness, type Harness } from '../helpers/harness.ts';
import { formatAddress, type CustomerRecord, type PaymentRecord } from '../../sources/demo/seed.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
beforeEach(() => h.resetStats());

const newestFirst = (a: PaymentRecord, b: PaymentRecord) => b.created - a.created || (a.id < b.id ? 1 : -1);
const customerById = (id: string) => h.seed.customers.find((c) => c.id === id) as CustomerRecord;
const placeAt = (c: CustomerRecord) => h.seed.places.find((p) => p.formattedAddress === formatAddress(c.address))!;

const DASHBOARD = /* GraphQL */ `
  query Dashboard($first: Int) {
    payments(first: $first) {
      edges { cursor node {
        id amount currency status
        customer { id name address { city location { lat lng } } messages(first: 3) { id body status } }
        merchant { id name place { name location { lat lng } } }
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

describe('one query across the three backends', () => {
  it('answers the dashboard query correctly with one call per source operation', async () => {
    const { status, body } = await h.query(DASHBOARD, { first: 50 });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const expected = [...h.seed.payments].sort(newestFirst).slice(0, 50);
    const edges = body.data!.payments.edges;
    expect(edges.map((e: any) => e.node.id)).toEqual(expected.map((p) => p.id));

    for (const [i, { node }] of edges.entries()) {
      const payment = expected[i]!;
      const customer = customerById(payment.customer);
      expect(node.amount).toBe(payment.amount);
      expect(node.status).toBe(payment.status.toUpperCase());
      expect(node.customer.name).toBe(customer.name);
      // maps (SOAP) geocoded the payments (REST) address to the place the seed put there.
      expect(node.customer.address.location).toEqual(placeAt(customer).location);
      // messaging (GraphQL) gave this customer's three newest messages.
      const messages = h.seed.messages.filter((m) => m.customerId === customer.id).sort((a, b) => b.sentAt.localeCompare(a.sentAt)).slice(0, 3);
      expect(node.customer.messages.map((m: any) => m.id)).toEqual(messages.map((m) => m.id));
      const merchant = h.seed.merchants.find((m) => m.id === payment.merchant)!;
      expect(node.merchant.place.name).toBe(h.seed.places.find((p) => p.id === merchant.place)!.name);
    }

    const stats = await h.stats();
    expect(stats.payments.operations).toEqual({ listPayments: 1, listCustomers: 1, listMerchants: 1 });
    expect(stats.maps.operations).toEqual({ GeocodeBatch: 1, GetPlaces: 1 });
    expect(stats.messaging.operations).toEqual({ messagesForCustomers: 1 });
    // Repeated customers and merchants are asked for once each.
    const distinctCustomers = new Set(expected.map((p) => p.customer)).size;
    expect(stats.payments.batchSizes.listCustomers).toEqual([distinctCustomers]);
    expect(stats.maps.batchSizes.GeocodeBatch).toEqual([distinctCustomers]);
    expect(stats.messaging.batchSizes.messagesForCustomers).toEqual([distinctCustomers]);
  });

  it('pages with opaque cursors through the payments list', async () => {
    const first = await h.query(DASHBOARD.replace('customer {', 'customerId: id customer {'), { first: 3 });
    const { endCursor, hasNextPage } = first.body.data!.payments.pageInfo;
    expect(hasNextPage).toBe(true);
    expect(endCursor).not.toContain('pay_');
    const next = await h.query('query($after: String) { payments(first: 3, after: $after) { edges { node { id } } } }', { after: endCursor });
    const expected = [...h.seed.payments].sort(newestFirst).slice(3, 6).map((p) => p.id);
    expect(next.body.data!.payments.edges.map((e: any) => e.node.id)).toEqual(expected);
  });

  it('filters payments by customer and status', async () => {
    const payment = h.seed.payments.find((p) => p.status === 'succeeded')!;
    const { body } = await h.query(
      'query($c: ID) { payments(first: 100, customerId: $c, status: SUCCEEDED) { edges { node { id status customer { id } } } } }',
      { c: payment.customer },
    );
    const expected = h.seed.payments.filter((p) => p.customer === payment.customer && p.status === 'succeeded');
    expect(body.data!.payments.edges).toHaveLength(expected.length);
    for (const { node } of body.data!.payments.edges) expect(node).toMatchObject({ status: 'SUCCEEDED', customer: { id: payment.customer } });
  });

  it('refuses a forged cursor and an oversized page before calling any backend', async () => {
    const bad = await h.query('{ payments(after: "pay_123") { edges { cursor } } }');
    const big = await h.query('{ payments(first: 101) { edges { cursor } } }');
    expect(bad.status).toBe(200);
    expect(bad.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
    expect(big.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'first' });
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
  });
});

describe('single-entity fields', () => {
  it('payment(id) returns the payment with its refunds, and null for an unknown id', async () => {
    const refund = h.seed.refunds[0]!;
    const { body } = await h.query(
      'query($id: ID!) { payment(id: $id) { id amountRefunded createdAt refunds { id amount status payment { id } } } missing: payment(id: "pay_doesnotexist0") { id } }',
      { id: refund.payment },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data!.missing).toBeNull();
    const payment = h.seed.payments.find((p) => p.id === refund.payment)!;
    expect(body.data!.payment).toEqual({
      id: payment.id,
      amountRefunded: payment.amount_refunded,
      createdAt: new Date(payment.created * 1000).toISOString(),
      refunds: [{ id: refund.id, amount: refund.amount, status: 'SUCCEEDED', payment: { id: payment.id } }],
    });
  });

  it('customer(id) links to payments (REST), location (SOAP) and messages (GraphQL)', async () => {
    const customer = h.seed.customers[7]!;
    const { body } = await h.query(
      `query($id: ID!) { customer(id: $id) {
        id name email phone
        address { line1 city postalCode country location { lat lng } }
        payments(first: 2) { edges { node { id customer { id } } } }
        messages(first: 2) { id to customer { id } }
      } }`,
      { id: customer.id },
    );
    expect(body.errors).toBeUndefined();
    const c = body.data!.customer;
    expect(c).toMatchObject({ id: customer.id, name: customer.name, email: customer.email, phone: customer.phone });
    expect(c.address).toEqual({
      line1: customer.address.line1,
      city: customer.address.city,
      postalCode: customer.address.postal_code,
      country: customer.address.country,
      location: placeAt(customer).location,
    });
    for (const { node } of c.payments.edges) expect(node.customer.id).toBe(customer.id);
    for (const m of c.messages) expect(m).toMatchObject({ to: customer.phone, customer: { id: customer.id } });
    expect(await h.query('{ customer(id: "cus_nobody") { id } }').then((r) => r.body)).toEqual({ data: { customer: null } });
  });

  it('merchant(id) and place(id) come from payments and maps', async () => {
    const merchant = h.seed.merchants[3]!;
    const place = h.seed.places.find((p) => p.id === merchant.place)!;
    const { body } = await h.query(
      'query($m: ID!, $p: ID!) { merchant(id: $m) { id name category place { id name formattedAddress location { lat lng } } } place(id: $p) { id } none: place(id: "plc_none") { id } }',
      { m: merchant.id, p: place.id },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({
      merchant: { id: merchant.id, name: merchant.name, category: merchant.category, place: { id: place.id, name: place.name, formattedAddress: place.formattedAddress, location: place.location } },
      place: { id: place.id },
      none: null,
    });
  });

  it('geocode(address) finds the place, returns [] for nowhere, and refuses an empty address', async () => {
    const place = h.seed.places[0]!;
    const { body } = await h.query('query($a: String!) { geocode(address: $a) { id location { lat lng } } nowhere: geocode(address: "1 Nowhere Lane, Atlantis") { id } }', { a: place.formattedAddress });
    expect(body.errors).toBeUndefined();
    expect(body.data!.geocode[0]).toEqual({ id: place.id, location: place.location });
    expect(body.data!.nowhere).toEqual([]);
    const empty = await h.query('{ geocode(address: "   ") { id } }');
    expect(empty.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'address' });
  });

  it('message(id) links back to its customer in payments', async () => {
    const message = h.seed.messages[0]!;
    const { body } = await h.query('query($id: ID!) { message(id: $id) { id to body status sentAt customer { id phone } } }', { id: message.id });
    expect(body.errors).toBeUndefined();
    expect(body.data!.message).toEqual({
      id: message.id, to: message.to, body: message.body, status: message.status.toUpperCase(), sentAt: message.sentAt,
      customer: { id: message.customerId, phone: message.to },
    });
  });
});

describe('mutations', () => {
  const CREATE = 'mutation($input: CreatePaymentInput!) { createPayment(input: $input) { id amount currency status customer { id } merchant { id } } }';

  it('createPayment with an idempotency key charges once however often it is sent', async () => {
    const input = { customerId: h.seed.customers[0]!.id, merchantId: h.seed.merchants[0]!.id, amount: 1234, currency: 'EUR', idempotencyKey: 'order-42-attempt' };
    const first = await h.query(CREATE, { input });
    const again = await h.query(CREATE, { input });
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data!.createPayment).toMatchObject({ amount: 1234, currency: 'eur', status: 'SUCCEEDED', customer: { id: input.customerId } });
    expect(again.body.data!.createPayment.id).toBe(first.body.data!.createPayment.id);
    const stats = await h.stats();
    expect(stats.payments.operations.createPayment).toBe(2);
    const listed = await h.query('query($c: ID) { payments(first: 100, customerId: $c) { edges { node { id } } } }', { c: input.customerId });
    expect(listed.body.data!.payments.edges.filter((e: any) => e.node.id === first.body.data!.createPayment.id)).toHaveLength(1);
  });

  it('createPayment refuses a bad amount or currency without calling payments', async () => {
    const input = { customerId: h.seed.customers[0]!.id, merchantId: h.seed.merchants[0]!.id, amount: 0, currency: 'EUR' };
    const zero = await h.query(CREATE, { input });
    const currency = await h.query(CREATE, { input: { ...input, amount: 5, currency: 'EURO' } });
    expect(zero.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.amount' });
    expect(currency.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.currency' });
    expect((await h.stats()).payments.total).toBe(0);
  });

  it('createPayment passes on the backend\'s reason when it refuses', async () => {
    const input = { customerId: 'cus_nobody', merchantId: h.seed.merchants[0]!.id, amount: 500, currency: 'eur' };
    const { status, body } = await h.query(CREATE, { input });
    expect(status).toBe(200);
    expect(body.data).toEqual({ createPayment: null });
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_REJECTED', source: 'payments', upstreamCode: 'resource_missing' });
  });

  it('refundPayment refunds part, then the rest, and the payment shows it', async () => {
    const payment = h.seed.payments.find((p) => p.status === 'succeeded' && p.amount_refunded === 0 && p.amount >= 200)!;
    const REFUND = 'mutation($p: ID!, $a: Int) { refundPayment(paymentId: $p, amount: $a) { id amount status payment { id status amountRefunded } } }';
    const part = await h.query(REFUND, { p: payment.id, a: 100 });
    expect(part.body.errors).toBeUndefined();
    expect(part.body.data!.refundPayment).toMatchObject({ amount: 100, status: 'SUCCEEDED', payment: { status: 'SUCCEEDED', amountRefunded: 100 } });
    const rest = await h.query(REFUND, { p: payment.id });
    expect(rest.body.data!.refundPayment).toMatchObject({ amount: payment.amount - 100, payment: { status: 'REFUNDED', amountRefunded: payment.amount } });
    const over = await h.query(REFUND, { p: payment.id, a: 1 });
    expect(over.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_REJECTED', source: 'payments' });
  });

  it('sendMessage texts a customer at the number on file, or a given number', async () => {
    const customer = h.seed.customers[1]!;
    const SEND = 'mutation($input: SendMessageInput!) { sendMessage(input: $input) { id to body status customer { id } } }';
    const byCustomer = await h.query(SEND, { input: { customerId: customer.id, body: 'Your receipt is ready.' } });
    expect(byCustomer.body.errors).toBeUndefined();
    expect(byCustomer.body.data!.sendMessage).toMatchObject({ to: customer.phone, body: 'Your receipt is ready.', status: 'QUEUED', customer: { id: customer.id } });
    const byPhone = await h.query(SEND, { input: { phone: '+4930111222333', body: 'Hello' } });
    expect(byPhone.body.data!.sendMessage).toMatchObject({ to: '+4930111222333', customer: null });
    const read = await h.query('query($id: ID!) { message(id: $id) { id body } }', { id: byCustomer.body.data!.sendMessage.id });
    expect(read.body.data!.message).toEqual({ id: byCustomer.body.data!.sendMessage.id, body: 'Your receipt is ready.' });
  });

  it('sendMessage refuses bad input before calling messaging', async () => {
    const SEND = 'mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }';
    const both = await h.query(SEND, { input: { customerId: 'cus_x', phone: '+4930111222333', body: 'x' } });
    const phone = await h.query(SEND, { input: { phone: '030 1234', body: 'x' } });
    const long = await h.query(SEND, { input: { phone: '+4930111222333', body: 'x'.repeat(1601) } });
    expect(both.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input' });
    expect(phone.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.phone' });
    expect(long.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.body' });
    expect((await h.stats()).messaging.total).toBe(0);
  });
});
