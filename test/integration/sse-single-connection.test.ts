import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createClient, type Client, type ExecutionResult } from 'graphql-sse';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { eventually, listening, stripeDelivery, subscriptionsOpen } from '../helpers/realtime.ts';
import { listen } from '../../gateway/index.ts';
import { formatAddress, type PaymentRecord } from '../../sources/payments/records.ts';

/**
 * GraphQL over Server-Sent Events in graphql-sse's single connection mode, on /graphql/stream:
 * one stream carries every operation of its caller, each sent through the gateway's whole HTTP
 * pipeline. Driven by graphql-sse's own client over a real port (protocol conformance), and by
 * hand through the public surface where a test needs to see each request's answer.
 */

const PAYMENT_UPDATED = /* GraphQL */ `subscription Updated($payment: ID) {
  paymentUpdated(id: $payment) { id status amount customer { name address { location { lat lng } } messages(first: 1) { body } } }
}`;
const PATH = '/graphql/stream';
const TOKEN_HEADER = 'x-graphql-event-stream-token';

interface Message {
  event: string;
  data: any;
}

/** The single-connection stream of a reservation, read with the body's own reader (cancelling it ends the stream at once). */
async function openStream(h: Pick<Harness, 'fetch'>, token: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await h.fetch(PATH, { headers: { accept: 'text/event-stream', [TOKEN_HEADER]: token, ...headers }, signal: controller.signal });
  const reader = response.ok ? response.body!.getReader() : undefined;
  const decoder = new TextDecoder();
  const queue: Message[] = [];
  let buffer = '';
  let reading: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  return {
    response,
    /** The next message that is not a keep-alive comment; fails after `timeoutMs` without one. */
    async next(timeoutMs = 5_000): Promise<Message> {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), timeoutMs);
      });
      try {
        while (queue.length === 0) {
          reading ??= reader!.read();
          const read = await Promise.race([reading, late]);
          if (read === 'late') throw new Error(`no message within ${timeoutMs} ms`);
          reading = undefined;
          if (read.done) throw new Error('the stream ended');
          buffer += decoder.decode(read.value, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const lines = buffer.slice(0, end).split('\n').filter((l) => !l.startsWith(':'));
            buffer = buffer.slice(end + 2);
            if (lines.length === 0) continue;
            const event = lines.find((l) => l.startsWith('event:'))!.slice(6).trim();
            const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
            queue.push({ event, data: data ? JSON.parse(data) : null });
          }
        }
        return queue.shift()!;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => void reader?.cancel().catch(() => undefined).finally(() => controller.abort()),
  };
}

const reserve = (h: Pick<Harness, 'fetch'>, headers: Record<string, string>) => h.fetch(PATH, { method: 'PUT', headers });
const post = (h: Pick<Harness, 'fetch'>, token: string, headers: Record<string, string>, body: Record<string, unknown>) =>
  h.fetch(PATH, { method: 'POST', headers: { 'content-type': 'application/json', [TOKEN_HEADER]: token, ...headers }, body: JSON.stringify(body) });
const codeOf = async (response: Response) => ((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code;

describe('single connection mode with graphql-sse\'s client', () => {
  let h: Harness;
  let server: Server;
  let url: string;
  let token: string;
  const clients: Client[] = [];
  /** Each request a client sent: its method, and whether it asked for the stream. */
  const sent: string[] = [];
  const client = (singleConnection = true) => {
    const made = createClient({
      singleConnection,
      url: `${url}${PATH}`,
      headers: { authorization: token },
      // A refusal is reported at once, not retried with backoff.
      retryAttempts: 0,
      fetchFn: (input: RequestInfo | URL, init?: RequestInit) => {
        const accept = new Headers(init?.headers).get('accept');
        sent.push(`${init?.method ?? 'GET'}${accept === 'text/event-stream' ? ' stream' : ''}`);
        return fetch(input, init);
      },
    });
    clients.push(made);
    return made;
  };
  const deliver = (object: unknown) => {
    const { body, headers } = stripeDelivery(h.credentials.payments.webhookSecret, 'payment.refunded', object);
    return h.fetch('/webhooks/payments', { method: 'POST', headers, body });
  };

  beforeAll(async () => {
    h = await startHarness();
    token = `Bearer ${await h.issuer.token({ sub: 'alice' })}`;
    server = createServer(h.gateway.yoga);
    url = await listen(server);
  });
  afterEach(async () => {
    for (const made of clients.splice(0)) made.dispose();
    sent.length = 0;
    await subscriptionsOpen(h, 'payments', 0);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await h.close();
  });

  it('delivers a Stripe-signed webhook\'s event to a subscription, with its linked data from every backend, on the one stream', async () => {
    const payment = h.seed.payments.find((p) => p.status === 'succeeded')!;
    const customer = h.seed.customers.find((c) => c.id === payment.customer)!;
    const place = h.seed.places.find((p) => p.formattedAddress === formatAddress(customer.address))!;
    const results = client().iterate({ query: PAYMENT_UPDATED, variables: { payment: payment.id } });
    const first = results.next();
    await listening(h, 'payments');
    const refunded: PaymentRecord = { ...payment, status: 'refunded', amount_refunded: payment.amount };
    expect((await deliver(refunded)).status).toBe(200);
    const { value } = await first as IteratorYieldResult<ExecutionResult<Record<string, any>>>;
    expect(value.errors).toBeUndefined();
    expect(value.data!.paymentUpdated).toEqual({
      id: payment.id,
      status: 'REFUNDED',
      amount: payment.amount,
      customer: { name: customer.name, address: { location: place.location }, messages: [{ body: expect.any(String) }] },
    });
    // The event's place in its topic's stream, as over every transport.
    expect(value.extensions?.cursor).toMatch(/^\d+-\d+$/);
    await results.return!();
    await subscriptionsOpen(h, 'payments', 0);
    // A reservation, its stream, the operation, and its stop.
    expect(sent).toEqual(['PUT', 'GET stream', 'POST', 'DELETE']);
  });

  it('multiplexes two subscriptions and a query on one stream; stopping one leaves the other receiving', async () => {
    const [one, two] = h.seed.payments;
    const sse = client();
    const first = sse.iterate({ query: PAYMENT_UPDATED });
    const second = sse.iterate({ query: 'subscription { paymentUpdated { id status } }' });
    const firstNext = first.next();
    const secondNext = second.next();
    await subscriptionsOpen(h, 'payments', 2);
    const query = await sse.iterate({ query: '{ payments(first: 2) { edges { node { id } } } }' }).next();
    expect((query.value as ExecutionResult<Record<string, any>>).data!.payments.edges.map((e: { node: { id: string } }) => e.node.id))
      .toEqual((await h.query('{ payments(first: 2) { edges { node { id } } } }')).body.data!.payments.edges.map((e: { node: { id: string } }) => e.node.id));

    await deliver({ ...one, status: 'refunded' });
    expect(((await firstNext).value as ExecutionResult<Record<string, any>>).data!.paymentUpdated.id).toBe(one!.id);
    expect(((await secondNext).value as ExecutionResult<Record<string, any>>).data!.paymentUpdated).toEqual({ id: one!.id, status: 'REFUNDED' });

    // The first stops (DELETE ?operationId=): the gateway stops listening for it, the second goes on.
    await first.return!();
    await subscriptionsOpen(h, 'payments', 1);
    await deliver({ ...two, status: 'refunded' });
    expect(((await second.next()).value as ExecutionResult<Record<string, any>>).data!.paymentUpdated).toEqual({ id: two!.id, status: 'REFUNDED' });
    await second.return!();
    // One reservation and one stream for all three operations.
    expect(sent.filter((s) => s === 'PUT' || s === 'GET stream')).toEqual(['PUT', 'GET stream']);
    expect(sent.filter((s) => s === 'POST')).toHaveLength(3);
  });

  it('serves graphql-sse\'s distinct connections mode on the same path, through the same pipeline', async () => {
    const payment = h.seed.payments[0]!;
    const results = client(false).iterate({ query: 'subscription { paymentUpdated { id status } }' });
    const first = results.next();
    await listening(h, 'payments');
    await deliver({ ...payment, status: 'refunded' });
    expect(((await first).value as ExecutionResult<Record<string, any>>).data!.paymentUpdated).toEqual({ id: payment.id, status: 'REFUNDED' });
    await results.return!();
    await subscriptionsOpen(h, 'payments', 0);
    expect(sent).toEqual(['POST stream']);
  });
});

describe('single connection mode through the public surface', () => {
  let h: Harness;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    h = await startHarness({ corsOrigins: ['https://app.example'] });
    alice = `Bearer ${await h.issuer.token({ sub: 'alice' })}`;
    bob = `Bearer ${await h.issuer.token({ sub: 'bob' })}`;
  });
  afterAll(() => h.close());

  it('keeps a reservation to the caller who made it: another caller, or no caller, is told it does not exist', async () => {
    const reserved = await reserve(h, { authorization: alice });
    expect(reserved.status).toBe(201);
    expect(reserved.headers.get('content-type')).toMatch(/^text\/plain/);
    const token = await reserved.text();
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const refusals: [number, string][] = [];
    for (const headers of [{ authorization: bob }, {}] as Record<string, string>[]) {
      const stream = await openStream(h, token, headers);
      refusals.push([stream.response.status, await codeOf(stream.response)]);
      const operation = await post(h, token, headers, { query: '{ __typename }', extensions: { operationId: 'op-1' } });
      refusals.push([operation.status, await codeOf(operation)]);
      const stop = await h.fetch(`${PATH}?operationId=op-1`, { method: 'DELETE', headers: { [TOKEN_HEADER]: token, ...headers } });
      refusals.push([stop.status, await codeOf(stop)]);
    }
    expect(refusals).toEqual(Array(6).fill([404, 'STREAM_NOT_FOUND']));
    const forged = await openStream(h, token, { authorization: `${alice.slice(0, -4)}AAAA` });
    expect([forged.response.status, await codeOf(forged.response)]).toEqual([401, 'INVALID_TOKEN']);

    // Its owner connects (the token also works as `?token=`), once.
    const stream = await openStream(h, token, { authorization: alice });
    try {
      expect(stream.response.status).toBe(200);
      expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const second = await h.fetch(`${PATH}?token=${token}`, { headers: { accept: 'text/event-stream', authorization: alice } });
      expect([second.status, await codeOf(second)]).toEqual([409, 'STREAM_CONFLICT']);
      const query = await h.fetch(`${PATH}?token=${token}&query=${encodeURIComponent('{ __typename }')}&extensions=${encodeURIComponent('{"operationId":"q"}')}`, { headers: { authorization: alice } });
      expect(query.status).toBe(202);
      expect(await stream.next()).toEqual({ event: 'next', data: { id: 'q', payload: { data: { __typename: 'Query' } } } });
      expect(await stream.next()).toEqual({ event: 'complete', data: { id: 'q' } });
    } finally {
      stream.close();
    }
    // Its connection ended: the token is spent.
    await eventually(async () => (await post(h, token, { authorization: alice }, { query: '{ __typename }', extensions: { operationId: 'late' } })).status === 404, 'the token forgotten');
  });

  it('refuses an anonymous subscriber to a topic that is not public on the stream, and subscribes nothing', async () => {
    const token = await (await reserve(h, {})).text();
    const stream = await openStream(h, token, {});
    try {
      const answer = await post(h, token, {}, { query: PAYMENT_UPDATED, extensions: { operationId: 'anon' } });
      expect(answer.status).toBe(202);
      const refused = await stream.next();
      expect(refused.event).toBe('next');
      expect(refused.data.id).toBe('anon');
      expect(refused.data.payload.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(await stream.next()).toEqual({ event: 'complete', data: { id: 'anon' } });
      expect(h.gateway.subscriptions().payments).toBeUndefined();
    } finally {
      stream.close();
    }
  });

  it('answers an operation the pipeline refuses on its own request, as GraphQL over HTTP does; nothing reaches the stream', async () => {
    const token = await (await reserve(h, { authorization: alice })).text();
    const stream = await openStream(h, token, { authorization: alice });
    try {
      const invalid = await post(h, token, { authorization: alice }, { query: '{ nope }', extensions: { operationId: 'a' } });
      expect([invalid.status, await codeOf(invalid)]).toEqual([400, 'GRAPHQL_VALIDATION_FAILED']);
      const unnamed = await post(h, token, { authorization: alice }, { query: '{ __typename }' });
      expect([unnamed.status, await codeOf(unnamed)]).toEqual([400, 'BAD_REQUEST']);
      const csrf = await h.fetch(PATH, { method: 'POST', headers: { 'content-type': 'text/plain', [TOKEN_HEADER]: token, authorization: alice }, body: JSON.stringify({ query: '{ __typename }', extensions: { operationId: 'b' } }) });
      expect([csrf.status, await codeOf(csrf)]).toEqual([400, 'CSRF_REFUSED']);
      // An id already running on the stream is refused before its document runs.
      expect((await post(h, token, { authorization: alice }, { query: 'subscription { paymentUpdated { id } }', extensions: { operationId: 'c' } })).status).toBe(202);
      await subscriptionsOpen(h, 'payments', 1);
      const twice = await post(h, token, { authorization: alice }, { query: 'subscription { paymentUpdated { id } }', extensions: { operationId: 'c' } });
      expect([twice.status, await codeOf(twice)]).toEqual([409, 'STREAM_CONFLICT']);
      expect(h.gateway.subscriptions().payments).toBe(1);
      // The subscription ends with the stream's connection.
      stream.close();
      await subscriptionsOpen(h, 'payments', 0);
    } finally {
      stream.close();
    }
  });

  it('gives the path /graphql\'s CORS treatment: a listed origin may reserve and stop, a foreign one gets no CORS header', async () => {
    const preflight = (origin: string) => h.fetch(PATH, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': `authorization, ${TOKEN_HEADER}` } });
    const listed = await preflight('https://app.example');
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(listed.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE');
    const foreign = await preflight('https://evil.example');
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(foreign.headers.get('access-control-allow-methods')).toBeNull();
    const reserved = await h.fetch(PATH, { method: 'PUT', headers: { origin: 'https://evil.example', authorization: alice } });
    expect(reserved.headers.get('access-control-allow-origin')).toBeNull();
  });
  it('writes no faster than its client reads: a subscriber that stops reading falls behind in the pipeline, and is ended there', async () => {
    const token = await (await reserve(h, { authorization: alice })).text();
    const stream = await openStream(h, token, { authorization: alice });
    try {
      // The client reads at first (a query's answer), then stops.
      expect((await post(h, token, { authorization: alice }, { query: '{ __typename }', extensions: { operationId: 'read' } })).status).toBe(202);
      expect((await stream.next()).data.id).toBe('read');
      expect(await stream.next()).toEqual({ event: 'complete', data: { id: 'read' } });
      expect((await post(h, token, { authorization: alice }, { query: 'subscription { paymentUpdated { id } }', extensions: { operationId: 'slow' } })).status).toBe(202);
      await subscriptionsOpen(h, 'payments', 1);
      const payment = h.seed.payments[0]!;
      // Nothing is read meanwhile. Events come in bursts of 50 with turns of the event loop between
      // them, time enough for a stream that took whatever came to keep up with them; this one takes
      // no more than its client's buffer (16 KiB here), so the subscription falls more than
      // MAX_EVENTS_QUEUED (100) behind in the pipeline and is ended there.
      let published = 0;
      while (h.gateway.subscriptions().payments === 1 && published < 2_000) {
        for (let i = 0; i < 50; i++) {
          h.gateway.pubsub.publish('webhook:payments', { source: 'payments', topic: 'payments', id: `evt_slow_${published++}`, type: 'payment.succeeded', payload: { data: { object: payment } }, receivedAt: 0 });
        }
        for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
      }
      expect(published).toBeLessThan(2_000);
      await subscriptionsOpen(h, 'payments', 0);
      const messages: Message[] = [];
      for (let message = await stream.next(); message.event !== 'complete'; message = await stream.next()) messages.push(message);
      const last = messages.pop()!;
      expect(last.data.payload.errors[0].extensions).toEqual({ code: 'SUBSCRIPTION_TOO_SLOW', limit: 100 });
      // What the stream had taken before the subscription fell behind.
      expect(messages.length).toBeLessThan(published - 100);
      expect(messages.every((m) => m.data.id === 'slow' && m.data.payload.data.paymentUpdated.id === payment.id)).toBe(true);
    } finally {
      stream.close();
    }
  });
});

describe('single connection mode\'s limits', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('forgets a reservation not connected within 30 s, and keeps a caller to MAX_SUBSCRIPTIONS_PER_CALLER streams', async () => {
    const h = await startHarness({ limits: { MAX_SUBSCRIPTIONS_PER_CALLER: 2 } });
    const streams: Awaited<ReturnType<typeof openStream>>[] = [];
    try {
      const alice = `Bearer ${await h.issuer.token({ sub: 'alice' })}`;
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
      const early = await (await reserve(h, { authorization: alice })).text();
      const late = await (await reserve(h, { authorization: alice })).text();
      const third = await reserve(h, { authorization: alice });
      expect([third.status, await codeOf(third)]).toEqual([409, 'STREAM_LIMIT']);
      // Another caller has a budget of its own.
      expect((await reserve(h, { authorization: `Bearer ${await h.issuer.token({ sub: 'bob' })}` })).status).toBe(201);

      vi.advanceTimersByTime(29_999);
      streams.push(await openStream(h, early, { authorization: alice }));
      expect(streams[0]!.response.status).toBe(200);
      vi.advanceTimersByTime(2);
      const expired = await openStream(h, late, { authorization: alice });
      expect([expired.response.status, await codeOf(expired.response)]).toEqual([404, 'STREAM_NOT_FOUND']);
      // The expired reservation no longer counts; the connected one does, for as long as it is open.
      expect((await reserve(h, { authorization: alice })).status).toBe(201);
      expect((await reserve(h, { authorization: alice })).status).toBe(409);
      vi.advanceTimersByTime(60_000);
      expect(streams[0]!.response.ok).toBe(true);
      expect((await reserve(h, { authorization: alice })).status).toBe(201);
    } finally {
      vi.useRealTimers();
      for (const stream of streams) stream.close();
      await h.close();
    }
  });

  it('counts each operation on the stream against the caller\'s rate limit, and nothing else of the protocol', async () => {
    const h = await startHarness({ limits: { RATE_USER_PER_MIN: 3 } });
    try {
      const alice = `Bearer ${await h.issuer.token({ sub: 'alice' })}`;
      const token = await (await reserve(h, { authorization: alice })).text();
      const stream = await openStream(h, token, { authorization: alice });
      try {
        const statuses: number[] = [];
        for (const id of ['1', '2', '3']) statuses.push((await post(h, token, { authorization: alice }, { query: '{ __typename }', extensions: { operationId: id } })).status);
        const over = await post(h, token, { authorization: alice }, { query: '{ __typename }', extensions: { operationId: '4' } });
        expect(statuses).toEqual([202, 202, 202]);
        expect(over.status).toBe(429);
        expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(await codeOf(over)).toBe('RATE_LIMITED');
        const messages: Message[] = [];
        for (let i = 0; i < 6; i++) messages.push(await stream.next());
        expect(messages.filter((m) => m.event === 'next').map((m) => m.data.id).sort()).toEqual(['1', '2', '3']);
        expect(messages.filter((m) => m.event === 'complete').map((m) => m.data.id).sort()).toEqual(['1', '2', '3']);
        // The same budget as over /graphql: the caller is over it there too.
        expect((await h.query('{ __typename }', {}, { authorization: alice })).status).toBe(429);
      } finally {
        stream.close();
      }
    } finally {
      await h.close();
    }
  });

  it('holds a browser-facing deployment to its persisted documents on the stream too', async () => {
    const document = '{ __typename }';
    const hash = createHash('sha256').update(document).digest('hex');
    const h = await startHarness({ persistedDocuments: new Map([[hash, document]]) });
    try {
      const alice = `Bearer ${await h.issuer.token({ sub: 'alice' })}`;
      const token = await (await reserve(h, { authorization: alice })).text();
      const stream = await openStream(h, token, { authorization: alice });
      try {
        const own = await post(h, token, { authorization: alice }, { query: '{ __schema { types { name } } }', extensions: { operationId: 'own' } });
        expect([own.status, await codeOf(own)]).toEqual([400, 'PERSISTED_DOCUMENT_REQUIRED']);
        const listed = await post(h, token, { authorization: alice }, { extensions: { operationId: 'listed', persistedQuery: { version: 1, sha256Hash: hash } } });
        expect(listed.status).toBe(202);
        expect(await stream.next()).toEqual({ event: 'next', data: { id: 'listed', payload: { data: { __typename: 'Query' } } } });
      } finally {
        stream.close();
      }
    } finally {
      await h.close();
    }
  });
});
