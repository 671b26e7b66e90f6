import { randomBytes } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { offlineGraphqlSource, sourcesFileProblems, writeSourcesFile } from '../helpers/sources-file.ts';
import { listening, serveWebSocket, stripeDelivery, subscribeSse, subscriptionsOpen, type Served, type SseEvent } from '../helpers/realtime.ts';
import { signedHmacDelivery, WAREHOUSE_WEBHOOK, warehouseSource } from '../helpers/warehouse.ts';
import { formatAddress, type PaymentRecord } from '../../sources/payments/records.ts';
import { DEMO_SCOPES } from '../../schema/index.ts';

/**
 * Subscriptions in the public contract, over GraphQL over Server-Sent Events: a verified webhook
 * (the payments provider's Stripe-signed event) reaches a subscriber with the linked data its
 * document asks for, from REST, SOAP and GraphQL, in one message.
 */
// The variable is named apart from the argument: graphql-jit once handed `subscribe` the variables.
const PAYMENT_UPDATED = /* GraphQL */ `subscription Updated($payment: ID) {
  paymentUpdated(id: $payment) { id status amount customer { name address { location { lat lng } } messages(first: 1) { body } } }
}`;

describe('paymentUpdated over Server-Sent Events', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness();
    token = `Bearer ${await h.issuer.token()}`;
  });
  afterAll(() => h.close());

  const deliver = (type: string, object: unknown) => {
    const { body, headers } = stripeDelivery(h.credentials.payments.webhookSecret, type, object);
    return h.fetch('/webhooks/payments', { method: 'POST', headers, body });
  };

  it('sends each event of that payment with its linked data from all three backends, and nothing of other payments', async () => {
    const payment = h.seed.payments.find((p) => p.status === 'succeeded')!;
    const other = h.seed.payments.find((p) => p.id !== payment.id)!;
    const customer = h.seed.customers.find((c) => c.id === payment.customer)!;
    const place = h.seed.places.find((p) => p.formattedAddress === formatAddress(customer.address))!;
    const stream = await subscribeSse(h, PAYMENT_UPDATED, { payment: payment.id }, { authorization: token });
    try {
      expect(stream.response.status).toBe(200);
      expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await listening(h, 'payments');
      expect((await deliver('payment.succeeded', other)).status).toBe(200);
      const refunded: PaymentRecord = { ...payment, status: 'refunded', amount_refunded: payment.amount };
      expect((await deliver('payment.refunded', refunded)).status).toBe(200);
      const message = await stream.next();
      expect(message.event).toBe('next');
      expect(message.data.errors).toBeUndefined();
      expect(message.data.data.paymentUpdated).toEqual({
        id: payment.id,
        status: 'REFUNDED',
        amount: payment.amount,
        customer: {
          name: customer.name,
          address: { location: place.location },
          messages: [{ body: expect.any(String) }],
        },
      });
    } finally {
      stream.close();
    }
  });

  it('refuses an anonymous subscriber, and one without payments:read, before it starts', async () => {
    const refusals: unknown[] = [];
    const callers: Record<string, string>[] = [{}, { authorization: `Bearer ${await h.issuer.token({ scopes: ['messages:read'] })}` }];
    for (const headers of callers) {
      const stream = await subscribeSse(h, PAYMENT_UPDATED, {}, headers);
      try {
        refusals.push((await stream.next()).data.errors?.[0]?.extensions?.code);
      } finally {
        stream.close();
      }
    }
    expect(refusals).toEqual(['UNAUTHENTICATED', 'FORBIDDEN']);
  });

  it('answers a subscription sent without Accept: text/event-stream with a catalogued 406, and subscribes nothing', async () => {
    const answer = await h.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: token },
      body: JSON.stringify({ query: PAYMENT_UPDATED }),
    });
    expect(answer.status).toBe(406);
    expect((await answer.json()).errors[0].extensions.code).toBe('NOT_ACCEPTABLE');
  });

  it('masks an unexpected failure inside an event as INTERNAL_SERVER_ERROR, and the stream goes on', async () => {
    const payment = h.seed.payments[0]!;
    const stream = await subscribeSse(h, 'subscription($id: ID) { paymentUpdated(id: $id) { id amount } }', { id: payment.id }, { authorization: token });
    try {
      await new Promise((resolve) => setImmediate(resolve));
      // An amount that is no integer: the event cannot be answered as the schema says.
      await deliver('payment.succeeded', { ...payment, amount: 'lots' });
      const broken = await stream.next();
      expect(broken.data.data).toEqual({ paymentUpdated: null });
      expect(broken.data.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(broken.data)).not.toMatch(/at .*\.ts:\d+/);
      await deliver('payment.succeeded', payment);
      const fine = await stream.next();
      expect(fine.data.data.paymentUpdated.id).toBe(payment.id);
    } finally {
      stream.close();
    }
  });
});

describe('subscriptions per caller', () => {
  it('keeps a caller to MAX_SUBSCRIPTIONS_PER_CALLER open at a time: the next is refused before it starts, and taken once one ends', async () => {
    const h = await startHarness({ limits: { MAX_SUBSCRIPTIONS_PER_CALLER: 2 } });
    try {
      const alice = `Bearer ${await h.issuer.token({ sub: 'alice' })}`;
      const bob = `Bearer ${await h.issuer.token({ sub: 'bob' })}`;
      const first = await subscribeSse(h, PAYMENT_UPDATED, {}, { authorization: alice });
      const second = await subscribeSse(h, PAYMENT_UPDATED, {}, { authorization: alice });
      await listening(h, 'payments');
      const third = await subscribeSse(h, PAYMENT_UPDATED, {}, { authorization: alice });
      const refused = await third.next();
      expect(refused.data.errors?.[0]?.extensions).toMatchObject({ code: 'SUBSCRIPTION_LIMIT', limit: 2 });
      // Another caller has a budget of its own.
      const bobs = await subscribeSse(h, PAYMENT_UPDATED, {}, { authorization: bob });
      await subscriptionsOpen(h, 'payments', 3);
      first.close();
      await subscriptionsOpen(h, 'payments', 2);
      const again = await subscribeSse(h, PAYMENT_UPDATED, {}, { authorization: alice });
      await subscriptionsOpen(h, 'payments', 3);
      for (const stream of [second, third, bobs, again]) stream.close();
    } finally {
      await h.close();
    }
  });
});

describe('what a subscriber cannot do', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ limits: { MAX_COST_USER: 60 } });
  });
  afterAll(() => h.close());

  it('fall more than MAX_EVENTS_QUEUED events behind: its subscription is ended, and the gateway lives on', async () => {
    const token = `Bearer ${await h.issuer.token()}`;
    const stream = await subscribeSse(h, 'subscription { paymentUpdated { id } }', {}, { authorization: token });
    try {
      await listening(h, 'payments');
      const payment = h.seed.payments[0]!;
      // Never read: 1,100 events would overflow yoga's own queue (1,024), which throws.
      for (let i = 0; i < 1_100; i++) {
        h.gateway.pubsub.publish('webhook:payments', { source: 'payments', topic: 'payments', id: `evt_${i}`, type: 'payment.succeeded', payload: { data: { object: payment } }, receivedAt: 0 });
      }
      await subscriptionsOpen(h, 'payments', 0);
      expect(h.logs.some((l) => l.msg?.startsWith('subscription ended: its subscriber fell more than MAX_EVENTS_QUEUED'))).toBe(true);
      expect((await h.query('{ __typename }')).body.data).toEqual({ __typename: 'Query' });
      // The subscriber learns why: at most the event a read was already waiting for, then the
      // catalogued last message, then the end.
      const messages: SseEvent[] = [];
      for (let message = await stream.next(); message.event !== 'complete'; message = await stream.next()) messages.push(message);
      const last = messages.pop()!;
      expect(messages.length).toBeLessThanOrEqual(1);
      expect(last.data.errors[0]).toMatchObject({ extensions: { code: 'SUBSCRIPTION_TOO_SLOW', limit: 100 } });
      expect(last.data.errors[0].message).toBe('This subscriber fell more than 100 events behind (MAX_EVENTS_QUEUED); its subscription is ended. Subscribe again with the cursor of the last event it read.');
    } finally {
      stream.close();
    }
  });

  it.each([
    ['@skip(if: $v)', 'subscription($v: Boolean!) { paymentUpdated @skip(if: $v) { id } }'],
    ['@include on a fragment at its root', 'subscription($v: Boolean!) { ...F @include(if: $v) } fragment F on Subscription { paymentUpdated { id } }'],
    ['@skip inside a fragment', 'subscription($v: Boolean!) { ...F } fragment F on Subscription { paymentUpdated @skip(if: $v) { id } }'],
  ])('make its root field conditional (%s): GRAPHQL_VALIDATION_FAILED, not an internal error', async (_, query) => {
    const answer = await h.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${await h.issuer.token()}` },
      body: JSON.stringify({ query, variables: { v: false } }),
    });
    expect(answer.status).toBe(400);
    const body = await answer.json();
    expect(body.errors).toEqual([expect.objectContaining({ message: 'A subscription\'s root field cannot be conditional: remove @skip and @include from it.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })]);
    expect(h.gateway.subscriptions().payments).toBeUndefined();
  });

  it('send one inside a batch: refused, and nothing stays subscribed', async () => {
    const developer = `Bearer ${await h.issuer.token({ scopes: [...DEMO_SCOPES, 'junction:developer'] })}`;
    const answer = await h.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: developer },
      body: JSON.stringify([{ query: 'subscription { paymentUpdated { id } }' }, { query: '{ __typename }' }]),
    });
    const body = await answer.json();
    expect(body[0].errors[0].extensions.code).toBe('NOT_ACCEPTABLE');
    expect(body[1]).toEqual({ data: { __typename: 'Query' } });
    await subscriptionsOpen(h, 'payments', 0);
  });

  it('open one that would cost more than its budget on each event: refused before it starts', async () => {
    const stream = await subscribeSse(h, 'subscription { paymentUpdated { customer { payments(first: 50) { edges { node { id } } } } } }', {}, { authorization: `Bearer ${await h.issuer.token()}` });
    try {
      expect((await stream.next()).data.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY', maxCost: 60 });
      expect(h.gateway.subscriptions().payments).toBeUndefined();
    } finally {
      stream.close();
    }
  });
});

describe('a subscription declared in a sources file (Mesh\'s pubsubTopic, filterBy, result)', () => {
  const SECRET = `s3cr3t-${randomBytes(8).toString('hex')}`;
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    const file = warehouseSource({ filterBy: "root.shipment.customerId === args.customerId && root.type !== 'shipment.test'" });
    h = await startHarness({ meshConfig: file, env: () => ({ WAREHOUSE_SECRET: SECRET }) });
    token = `Bearer ${await h.issuer.token()}`;
  });
  afterAll(() => h.close());

  const ship = (id: string, customerId: string, status: string, type = 'shipment.updated') => {
    const body = JSON.stringify({ id, type, shipment: { id: `shp_${id}`, customerId, status } });
    return h.fetch(WAREHOUSE_WEBHOOK, signedHmacDelivery(SECRET, body));
  };

  it('sends a subscriber only the events its arguments select, shaped by result', async () => {
    const stream = await subscribeSse(h, 'subscription($c: ID!) { shipmentUpdated(customerId: $c) { id customerId status } }', { c: 'cus_1' }, { authorization: token });
    try {
      await new Promise((resolve) => setImmediate(resolve));
      expect((await ship('e1', 'cus_2', 'packed')).status).toBe(200);
      expect((await ship('e2', 'cus_1', 'test', 'shipment.test')).status).toBe(200);
      expect((await ship('e3', 'cus_1', 'shipped')).status).toBe(200);
      const message = await stream.next();
      // The event's place in its topic's stream comes with it, to resume from.
      expect(message.data).toEqual({ data: { shipmentUpdated: { id: 'shp_e3', customerId: 'cus_1', status: 'shipped' } }, extensions: { cursor: expect.stringMatching(/^\d+-\d+$/) } });
    } finally {
      stream.close();
    }
  });

  it('refuses an anonymous subscriber: the warehouse source is not public', async () => {
    const stream = await subscribeSse(h, 'subscription { shipmentUpdated(customerId: "cus_1") { id } }');
    try {
      expect((await stream.next()).data.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      stream.close();
    }
  });

  it('refuses at start a filterBy it cannot read, and a topic no webhook publishes', () => {
    const file = writeSourcesFile(offlineGraphqlSource('warehouse', `        webhooks:
          - { path: /webhooks/warehouse, scheme: hmac, secrets: [s], pubsubTopic: shipments }
additionalResolvers:
  - { targetTypeName: Subscription, targetFieldName: a, pubsubTopic: parcels }
  - { targetTypeName: Subscription, targetFieldName: b, pubsubTopic: shipments, filterBy: "process.exit(1)" }
  - { targetTypeName: Subscription, targetFieldName: c, pubsubTopic: "webhook:post:/webhooks/parcels" }
`));
    expect(sourcesFileProblems(file, {})).toEqual([
      'additionalResolvers[0].pubsubTopic: "parcels" is the topic of no webhook or poll in this file (shipments)',
      'additionalResolvers[1].filterBy: expected root.…, args.… or a literal at 0 ("process")',
      // Mesh's own topic form: told how to declare the webhook instead.
      'additionalResolvers[2].pubsubTopic: "webhook:post:/webhooks/parcels" is the topic of no webhook or poll in this file (shipments); Mesh publishes any request to /webhooks/parcels unverified, Junction only a verified webhook: declare it in its source\'s entry (webhooks: [{ path: /webhooks/parcels, scheme, secrets, pubsubTopic }]) and name that pubsubTopic here',
    ]);
  });
});

describe('paymentUpdated over WebSocket (graphql-transport-ws)', () => {
  let h: Harness;
  let served: Served;
  beforeAll(async () => {
    h = await startHarness();
    served = await serveWebSocket(h);
  });
  afterAll(async () => {
    await served.close();
    await h.close();
  });

  const client = (authorization?: string) => createClient({
    url: served.wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0,
    ...(authorization ? { connectionParams: { authorization } } : {}),
  });

  it('delivers each event with its linked data to a verified subscriber', async () => {
    const payment = h.seed.payments.find((p) => p.status === 'succeeded')!;
    const ws = client(`Bearer ${await h.issuer.token()}`);
    try {
      const events = ws.iterate<{ paymentUpdated: { id: string; status: string; customer: { name: string } } }>({
        query: 'subscription($p: ID) { paymentUpdated(id: $p) { id status customer { name } } }', variables: { p: payment.id },
      });
      const first = events.next();
      await listening(h, 'payments');
      const { body, headers } = stripeDelivery(h.credentials.payments.webhookSecret, 'payment.refunded', { ...payment, status: 'refunded' });
      expect((await h.fetch('/webhooks/payments', { method: 'POST', headers, body })).status).toBe(200);
      const { value } = await first;
      expect(value).toEqual({
        data: { paymentUpdated: { id: payment.id, status: 'REFUNDED', customer: { name: h.seed.customers.find((c) => c.id === payment.customer)!.name } } },
        extensions: { cursor: expect.stringMatching(/^\d+-\d+$/) },
      });
      await events.return?.();
      // The client left: the gateway no longer listens for it.
      await subscriptionsOpen(h, 'payments', 0);
    } finally {
      await ws.dispose();
    }
  });

  it('closes a connection whose credentials do not verify with 4403, before anything runs', async () => {
    const closed = new Promise<number>((resolve) => {
      const ws = createClient({
        url: served.wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, onNonLazyError: () => undefined,
        connectionParams: { authorization: 'Bearer not-a-token' }, on: { closed: (event) => resolve((event as { code: number }).code) },
      });
      ws.on('error', () => undefined);
    });
    expect(await closed).toBe(4403);
  });

  it('refuses an anonymous subscriber with UNAUTHENTICATED', async () => {
    const ws = client();
    try {
      const events = ws.iterate({ query: 'subscription { paymentUpdated { id } }' });
      const outcome = await events.next().then((r) => r.value, (err: unknown) => err);
      expect(JSON.stringify(outcome)).toContain('UNAUTHENTICATED');
    } finally {
      await ws.dispose();
    }
  });
});
