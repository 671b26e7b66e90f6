import { randomBytes } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { serveWebSocket, subscribeSse } from '../helpers/realtime.ts';
import { signedHmacDelivery, WAREHOUSE_WEBHOOK, warehouseSource } from '../helpers/warehouse.ts';
import { sharedRedis } from '../helpers/redis.ts';
import { createRedisWebhookStore } from '../../gateway/webhooks/store.ts';

/**
 * A subscriber that reconnects misses nothing: each message carries its event's cursor
 * (`extensions.cursor`, and over SSE its `id:`), and a subscription opened with `Last-Event-ID`
 * or `extensions.cursor` first receives, in order, what its topic's stream kept after it, then
 * the live events, each once. A subscription never outlives its token.
 */

const SUBSCRIPTION = 'subscription($c: ID!) { shipmentUpdated(customerId: $c) { id status } }';

/** Opens SUBSCRIPTION (cus_1's shipments) over SSE, with extra headers (Last-Event-ID) and the request's extensions (a cursor). */
const subscribe = (h: Harness, token: string, headers: Record<string, string> = {}, extensions?: Record<string, unknown>) =>
  subscribeSse(h, SUBSCRIPTION, { c: 'cus_1' }, { authorization: token, ...headers }, extensions);

/** Waits for `holds`, up to 5 s; on setImmediate and performance.now, which the tests that fake timers and Date leave real. */
async function until(holds: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (!holds()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A gateway over one declared source, `warehouse`, whose hmac-signed webhook feeds `shipmentUpdated`. */
async function warehouseGateway(options: { secret: string; topic?: string; streamLength?: number; redis?: Redis; keepAliveMs?: number }) {
  const topic = options.topic ?? 'shipments';
  const h = await startHarness({
    meshConfig: warehouseSource({ topic, streamLength: options.streamLength }),
    env: () => ({ WAREHOUSE_SECRET: options.secret }),
    ...(options.redis ? { webhookStore: createRedisWebhookStore(options.redis) } : {}),
    ...(options.keepAliveMs ? { limits: { KEEPALIVE_MS: options.keepAliveMs } } : {}),
  });
  let sequence = 0;
  const ship = async (status: string, customerId = 'cus_1') => {
    const body = JSON.stringify({ id: `evt_${sequence++}_${randomBytes(4).toString('hex')}`, type: 'shipment.updated', shipment: { id: 'shp_1', customerId, status } });
    const answer = await h.fetch(WAREHOUSE_WEBHOOK, signedHmacDelivery(options.secret, body));
    expect(answer.status).toBe(200);
  };
  const listening = (count: number) => until(() => (h.gateway.subscriptions()[topic] ?? 0) === count, `${count} subscriptions on ${topic}`);
  /** A subscriber reads the event `ship(status)` sends, then leaves: its message, whose id is the cursor to resume from. */
  const readOneAndLeave = async (token: string, status: string) => {
    const first = await subscribe(h, token);
    await listening(1);
    await ship(status);
    const seen = await first.next();
    first.close();
    await listening(0);
    return seen;
  };
  return { h, ship, listening, readOneAndLeave, topic };
}

const CURSOR = /^\d+-\d+$/;

describe.each([
  ['in memory', false],
  ['in Redis', true],
])('resuming a subscription from its cursor, the stream %s', (_, useRedis) => {
  let gateway: Awaited<ReturnType<typeof warehouseGateway>>;
  let redis: Redis | undefined;
  let token: string;
  beforeAll(async () => {
    redis = useRedis ? await sharedRedis() : undefined;
    // A topic of this run's own: the keys it makes in the shared Redis are no other test's.
    gateway = await warehouseGateway({ secret: randomBytes(16).toString('hex'), topic: `shipments-${randomBytes(4).toString('hex')}`, ...(redis ? { redis } : {}) });
    token = `Bearer ${await gateway.h.issuer.token()}`;
  });
  afterAll(async () => {
    await gateway.h.close();
    if (redis) {
      await redis.del(`junction:{webhook:${gateway.topic}}:stream`);
      redis.disconnect();
    }
  });

  it('gives each message its event\'s cursor, as extensions.cursor and as the SSE id', async () => {
    const stream = await subscribe(gateway.h, token);
    try {
      await gateway.listening(1);
      await gateway.ship('packed');
      const message = await stream.next();
      expect(message.data.data).toEqual({ shipmentUpdated: { id: 'shp_1', status: 'packed' } });
      expect(message.data.extensions.cursor).toMatch(CURSOR);
      expect(message.id).toBe(message.data.extensions.cursor);
    } finally {
      stream.close();
    }
    await gateway.listening(0);
  });

  it('with Last-Event-ID: what it missed first, in order, then the live events, each once', async () => {
    const seen = await gateway.readOneAndLeave(token, 'label printed');
    // While it is away: three events, one of them another customer's (its filter still applies).
    await gateway.ship('picked up');
    await gateway.ship('elsewhere', 'cus_2');
    await gateway.ship('in transit');

    const again = await subscribe(gateway.h, token, { 'last-event-id': seen.id! });
    try {
      const missed = [await again.next(), await again.next()];
      expect(missed.map((m) => m.data.data.shipmentUpdated.status)).toEqual(['picked up', 'in transit']);
      // Live again: the next event comes once, after what was missed.
      await gateway.listening(1);
      await gateway.ship('delivered');
      const live = await again.next();
      expect(live.data.data.shipmentUpdated.status).toBe('delivered');
      const cursors = [seen, ...missed, live].map((m) => m.id!);
      expect(new Set(cursors).size).toBe(4);
      expect([...cursors].sort(byCursor)).toEqual(cursors);
    } finally {
      again.close();
    }
    await gateway.listening(0);
  });

  it('with a cursor from the newest event: nothing replayed, live at once', async () => {
    const seen = await gateway.readOneAndLeave(token, 'sorted');
    const again = await subscribe(gateway.h, token, {}, { cursor: seen.id });
    try {
      await gateway.listening(1);
      await gateway.ship('out for delivery');
      expect((await again.next()).data.data.shipmentUpdated.status).toBe('out for delivery');
    } finally {
      again.close();
    }
    await gateway.listening(0);
  });
});

/** Orders cursors as the stream does (`<ms>-<sequence>`, both numbers). */
function byCursor(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}

describe('a cursor the stream no longer covers, or that is no cursor', () => {
  let gateway: Awaited<ReturnType<typeof warehouseGateway>>;
  let token: string;
  beforeAll(async () => {
    gateway = await warehouseGateway({ secret: randomBytes(16).toString('hex'), streamLength: 3 });
    token = `Bearer ${await gateway.h.issuer.token()}`;
  });
  afterAll(() => gateway.h.close());

  it('ends with SUBSCRIPTION_CURSOR_EXPIRED when events after it were trimmed away', async () => {
    const seen = await gateway.readOneAndLeave(token, 'one');
    // The topic keeps 3 events: four more push the one seen, and the first one after it, out.
    for (const status of ['two', 'three', 'four', 'five']) await gateway.ship(status);
    const again = await subscribe(gateway.h, token, { 'last-event-id': seen.id! });
    try {
      const last = await again.next();
      expect(last.data.errors[0].extensions.code).toBe('SUBSCRIPTION_CURSOR_EXPIRED');
      expect(last.data.errors[0].message).toBe('Events after this cursor are no longer kept (the topic keeps its newest events only); read the current state again, then subscribe without a cursor.');
      expect((await again.next()).event).toBe('complete');
    } finally {
      again.close();
    }
    await gateway.listening(0);
  });

  it.each([['not-a-cursor'], ['1-2-3'], ['9'.repeat(40) + '-1']])('refuses Last-Event-ID %j with BAD_USER_INPUT, subscribing nothing', async (cursor) => {
    const stream = await subscribe(gateway.h, token, { 'last-event-id': cursor });
    try {
      const message = await stream.next();
      expect(message.data.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(message.data.errors[0].message).toContain('"Last-Event-ID" must be the cursor of an event this subscription sent');
      expect(gateway.h.gateway.subscriptions()[gateway.topic]).toBeUndefined();
    } finally {
      stream.close();
    }
  });

  it('refuses an extensions.cursor that is not text', async () => {
    const stream = await subscribe(gateway.h, token, {}, { cursor: { $gt: '' } });
    try {
      expect((await stream.next()).data.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    } finally {
      stream.close();
    }
  });
});

describe('a subscription and its token', () => {
  let gateway: Awaited<ReturnType<typeof warehouseGateway>>;
  beforeAll(async () => {
    gateway = await warehouseGateway({ secret: randomBytes(16).toString('hex') });
  });
  afterAll(() => gateway.h.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ends with TOKEN_EXPIRED when the token expires, with the clock faked; the events before it arrive', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const token = `Bearer ${await gateway.h.issuer.token({ ttlSec: 120 })}`;
    const stream = await subscribe(gateway.h, token);
    try {
      await gateway.listening(1);
      await gateway.ship('packed');
      expect((await stream.next()).data.data.shipmentUpdated.status).toBe('packed');
      await vi.advanceTimersByTimeAsync(119_000);
      await gateway.ship('shipped');
      expect((await stream.next()).data.data.shipmentUpdated.status).toBe('shipped');
      await vi.advanceTimersByTimeAsync(1_000);
      const last = await stream.next();
      expect(last.data.errors[0].extensions.code).toBe('TOKEN_EXPIRED');
      expect(last.data.errors[0].message).toBe('The access token this subscription was opened with has expired; subscribe again with a fresh token (and the cursor of the last event, to miss nothing).');
      expect((await stream.next()).event).toBe('complete');
      await gateway.listening(0);
    } finally {
      stream.close();
    }
  });

  it('a token that lives for weeks does not end it at once (timers cap at 24.8 days)', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const token = `Bearer ${await gateway.h.issuer.token({ ttlSec: 60 * 86_400 })}`;
    const stream = await subscribe(gateway.h, token);
    try {
      await gateway.listening(1);
      await vi.advanceTimersByTimeAsync(30 * 86_400_000);
      await gateway.ship('still here');
      expect((await stream.next()).data.data.shipmentUpdated.status).toBe('still here');
      await vi.advanceTimersByTimeAsync(30 * 86_400_000);
      expect((await stream.next()).data.errors[0].extensions.code).toBe('TOKEN_EXPIRED');
    } finally {
      stream.close();
    }
    await gateway.listening(0);
  });

  it('over WebSocket too: the subscription ends with TOKEN_EXPIRED; resumed with a fresh token and extensions.cursor, it misses nothing', async () => {
    const served = await serveWebSocket(gateway.h);
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const open = async (ttlSec: number) => createClient({
      url: served.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${await gateway.h.issuer.token({ ttlSec })}` },
      retryAttempts: 0,
    });
    const client = await open(30);
    try {
      const events = client.iterate({ query: SUBSCRIPTION, variables: { c: 'cus_1' } });
      const first = events.next();
      await gateway.listening(1);
      await gateway.ship('packed');
      const seen = (await first).value!;
      expect(seen.data).toEqual({ shipmentUpdated: { id: 'shp_1', status: 'packed' } });
      await vi.advanceTimersByTimeAsync(30_000);
      const last = (await events.next()).value!;
      expect(last.errors?.[0]?.extensions?.code).toBe('TOKEN_EXPIRED');
      expect((await events.next()).done).toBe(true);
      await gateway.listening(0);
      // What happens while it has no subscription is kept for it.
      await gateway.ship('in transit');

      const fresh = await open(300);
      const resumed = fresh.iterate({ query: SUBSCRIPTION, variables: { c: 'cus_1' }, extensions: { cursor: seen.extensions!.cursor } });
      expect((await resumed.next()).value!.data).toEqual({ shipmentUpdated: { id: 'shp_1', status: 'in transit' } });
      await resumed.return?.();
      await fresh.dispose();
    } finally {
      await client.dispose();
      vi.useRealTimers();
      await served.close();
    }
  });
});

describe('a client that leaves before reading anything', () => {
  let gateway: Awaited<ReturnType<typeof warehouseGateway>>;
  let token: string;
  beforeAll(async () => {
    gateway = await warehouseGateway({ secret: randomBytes(16).toString('hex') });
    token = `Bearer ${await gateway.h.issuer.token()}`;
  });
  afterAll(() => gateway.h.close());

  // Its stream was never read, so never started: the subscription must end all the same.
  const open = async (signal?: AbortSignal) => gateway.h.fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: token },
    body: JSON.stringify({ query: SUBSCRIPTION, variables: { c: 'cus_1' } }),
    ...(signal ? { signal } : {}),
  });

  it('ends its subscription when it cancels the response body', async () => {
    const response = await open();
    await gateway.listening(1);
    await response.body!.cancel();
    await gateway.listening(0);
  });

  it('ends its subscription when it aborts the request', async () => {
    const leaving = new AbortController();
    await open(leaving.signal);
    await gateway.listening(1);
    leaving.abort();
    await gateway.listening(0);
  });
});

describe('keep-alive', () => {
  it('sends an SSE comment every KEEPALIVE_MS on an idle subscription, with the clock faked', async () => {
    const gateway = await warehouseGateway({ secret: randomBytes(16).toString('hex'), keepAliveMs: 1_000 });
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const stream = await subscribe(gateway.h, `Bearer ${await gateway.h.issuer.token()}`);
      try {
        await gateway.listening(1);
        // The first comment opens the stream at once; then one per KEEPALIVE_MS.
        await stream.commentsArrived(1);
        await vi.advanceTimersByTimeAsync(5_000);
        await stream.commentsArrived(6);
      } finally {
        stream.close();
      }
    } finally {
      vi.useRealTimers();
      await gateway.h.close();
    }
  });
});
