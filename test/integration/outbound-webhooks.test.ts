import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type JunctionEventTarget } from '../../gateway/create-gateway.ts';
import { createLogger } from '../../gateway/logger.ts';
import { createAuth } from '../../gateway/auth/index.ts';
import { hashApiKey, type ApiKeyEntry } from '../../gateway/auth/api-keys.ts';
import { DEFAULTS } from '../../gateway/config.ts';
import { DEFAULT_LIMITS } from '../../gateway/plugins/limits/limits.ts';
import { createMemoryWebhookStore, type WebhookStore } from '../../gateway/webhooks/store.ts';
import { verifyWebhook } from '../../gateway/webhooks/signatures.ts';
import { messageId, newSecret, signStandardWebhook } from '../../gateway/webhooks/outbound-signature.ts';
import { CLAIM_TTL_SEC, createMemoryDeliveryStore, createRedisDeliveryStore, type DeliveryStore, type Registration } from '../../gateway/webhooks/outbound-store.ts';
import type { Scheduler } from '../../gateway/webhooks/outbound-delivery.ts';
import type { DeliveryStats, OutboundOptions } from '../../gateway/webhooks/outbound.ts';
import type { Resolver } from '../../gateway/webhooks/address-guard.ts';
import { createTestIssuer, TEST_AUTH, type TestIssuer } from '../helpers/test-issuer.ts';
import { offlineGraphqlSource, sourcesFileProblems, writeSourcesFile } from '../helpers/sources-file.ts';
import { sharedRedis, uniquePrefix } from '../helpers/redis.ts';
import { signedHmacDelivery, WAREHOUSE_WEBHOOK, warehouseSource } from '../helpers/warehouse.ts';

/**
 * Webhooks out, for services, through the gateway's public surface: services register endpoints
 * at /deliveries for a subscription of the contract a sources file declares (a warehouse's
 * shipments, fed by its signed webhook), and real HTTP receivers on 127.0.0.1 (allowed by the
 * allow-list, as an operator allows an internal host) get each event, signed as Standard Webhooks
 * sign. Time (attempt timeouts, backoff) is a scheduler the tests advance by hand.
 */

const WAREHOUSE_SECRET = `s3cr3t-${randomBytes(8).toString('hex')}`;
const SOURCES = warehouseSource();

const SHIPMENTS = 'subscription Shipments($c: ID!) { shipmentUpdated(customerId: $c) { id status } }';
/** The warehouse with a field only some callers may read: a shipment's carrier. */
const CARRIER_SCOPE = 'shipments:carrier';
const CARRIER_SOURCES = warehouseSource({ contract: `additionalTypeDefs: |
  type Shipment {
    id: ID!
    customerId: ID!
    status: String
    "Who carries it: only for callers who may see carriers."
    carrier: String @requiresScopes(scopes: [["${CARRIER_SCOPE}"]])
  }
  type Subscription {
    shipmentUpdated(customerId: ID!): Shipment
  }
additionalResolvers:
  - targetTypeName: Subscription
    targetFieldName: shipmentUpdated
    pubsubTopic: shipments
    filterBy: "root.shipment.customerId === args.customerId"
    result: shipment
` });
const CARRIED = 'subscription Carried($c: ID!) { shipmentUpdated(customerId: $c) { id status carrier } }';
const BILLING_KEY = `jk_billing_${randomBytes(8).toString('hex')}`;
const REPORTS_KEY = `jk_reports_${randomBytes(8).toString('hex')}`;
const SYNC_MS = 3_600_000;
const START = Date.UTC(2026, 11, 7, 12);

/** Time the tests move by hand: every wait and attempt timeout is one of its timers. */
function manualScheduler() {
  let now = START;
  const timers: { at: number; ms: number; resolve: () => void }[] = [];
  const requested: number[] = [];
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  const scheduler: Scheduler = {
    now: () => now,
    random: () => 1,
    sleep(ms, signal) {
      requested.push(ms);
      return new Promise((resolve) => {
        if (signal?.aborted) return resolve();
        const cancel = () => {
          timers.splice(timers.indexOf(timer), 1);
          resolve();
        };
        const timer = {
          at: now + ms,
          ms,
          resolve: () => {
            signal?.removeEventListener('abort', cancel);
            resolve();
          },
        };
        timers.push(timer);
        signal?.addEventListener('abort', cancel, { once: true });
      });
    },
  };
  return {
    scheduler,
    /** Every wait asked for, in ms, but the rounds' and the attempts' timeouts: the backoff. */
    backoff: () => requested.filter((ms) => ms !== SYNC_MS && ms !== 10_000),
    /** Resolves once a wait of `ms` is pending. */
    waiting: (ms: number) => eventually(() => timers.some((t) => t.ms === ms), `a wait of ${ms} ms`),
    /** Moves time on by `ms`, firing what falls due, in order. */
    async advance(ms: number) {
      now += ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers.splice(timers.indexOf(due), 1);
        due.resolve();
        await settle();
      }
    },
  };
}

/** Resolves when `holds()` does (what it waits for is I/O on this machine), fails after 5 s. */
async function eventually(holds: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const until = Date.now() + 5_000;
  while (!(await holds())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

type Reply = { status: number; headers?: Record<string, string> } | 'hang';

interface Hit {
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
}

/** An HTTP endpoint on 127.0.0.1 that records what it is sent and answers as `replies` says (then 200). */
async function startReceiver() {
  const hits: Hit[] = [];
  const replies: (Reply | Promise<Reply>)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      hits.push({ headers: req.headers, body, json: JSON.parse(body) });
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const answer = await (replies.shift() ?? { status: 200 });
      if (answer === 'hang') return;
      inFlight -= 1;
      res.writeHead(answer.status, answer.headers).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    host: `127.0.0.1:${port}`,
    hits,
    replies,
    maxInFlight: () => maxInFlight,
    reset() {
      hits.length = 0;
      replies.length = 0;
      maxInFlight = inFlight;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

interface Instance {
  gateway: Gateway;
  logs: Record<string, any>[];
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

interface InstanceOptions {
  scheduler: Scheduler;
  allowedHosts?: string[];
  store?: DeliveryStore;
  eventTarget?: JunctionEventTarget;
  webhookStore?: WebhookStore;
  deliveries?: Partial<OutboundOptions>;
  issuer?: TestIssuer;
  /** The keys file's entries. Default: billing's key (`shipments:read`) and reports' (no scope). */
  apiKeys?: ApiKeyEntry[];
  /** The sources file. Default: the warehouse's. */
  meshConfig?: string;
  /**
   * What a named service's keys grant from now on (undefined: it has none), over the keys file's,
   * for the deliveries' rounds: a test changes it as a keys file would change under a running
   * instance. The keys themselves still authenticate as the file says.
   */
  grants?: Map<string, readonly string[] | undefined>;
}

const KEYS: ApiKeyEntry[] = [
  { service: 'billing', sha256: hashApiKey(BILLING_KEY), scopes: ['shipments:read'] },
  { service: 'reports', sha256: hashApiKey(REPORTS_KEY), scopes: [] },
];

/** A gateway over the warehouse sources file, with two services' API keys (billing, reports) unless told otherwise. */
async function startInstance(options: InstanceOptions): Promise<Instance> {
  const logs: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger('info', sink);
  const issuer = options.issuer ?? await createTestIssuer();
  const fromFile = await createAuth({ ...TEST_AUTH, keys: { kind: 'file', jwks: issuer.jwks }, apiKeys: options.apiKeys ?? KEYS }, logger);
  const { grants } = options;
  const auth = grants
    ? { ...fromFile, serviceScopes: (id: string) => (grants.has(id) ? (grants.get(id) && new Set(grants.get(id))) : fromFile.serviceScopes(id)) }
    : fromFile;
  const gateway = await createGateway({
    auth,
    logger,
    watchEventLoop: false,
    meshConfig: options.meshConfig ?? SOURCES,
    env: { WAREHOUSE_SECRET },
    config: {
      mode: 'production',
      limits: DEFAULT_LIMITS,
      upstream: { timeoutMs: DEFAULTS.upstreamTimeoutMs, maxResponseBytes: DEFAULTS.upstreamMaxResponseBytes },
    },
    ...(options.eventTarget ? { eventTarget: options.eventTarget } : {}),
    ...(options.webhookStore ? { webhookStore: options.webhookStore } : {}),
    deliveries: {
      scheduler: options.scheduler,
      allowedHosts: options.allowedHosts ?? [],
      syncIntervalMs: SYNC_MS,
      ...(options.store ? { store: options.store } : {}),
      ...options.deliveries,
    },
  });
  return {
    gateway,
    logs,
    fetch: (path, init) => Promise.resolve(gateway.yoga.fetch(new Request(`http://junction.test${path}`, init), { req: { socket: { remoteAddress: '192.0.2.10' } } })),
    close: () => gateway.close(),
  };
}

const json = (key: string | undefined, body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const as = (key: string, method = 'GET'): RequestInit => ({ method, headers: { 'x-api-key': key } });

async function register(instance: Instance, url: string, extra: Record<string, unknown> = {}, key = BILLING_KEY) {
  const response = await instance.fetch('/deliveries', json(key, { url, query: SHIPMENTS, variables: { c: 'cus_1' }, ...extra }));
  return { status: response.status, headers: response.headers, body: await response.json() as any };
}

/** The warehouse's signed webhook: a shipment changed. */
function ship(instance: Instance, id: string, status: string, customerId = 'cus_1', more: Record<string, unknown> = {}) {
  const body = JSON.stringify({ id, type: 'shipment.updated', shipment: { id: `shp_${id}`, customerId, status, ...more } });
  return instance.fetch(WAREHOUSE_WEBHOOK, signedHmacDelivery(WAREHOUSE_SECRET, body));
}

const eventId = () => `evt_${randomBytes(6).toString('hex')}`;

/** Deletes every registration of both services (each answered 204) and clears the receiver: the next test's events reach only its own. */
async function removeRegistrations(instance: Instance, receiver: Receiver): Promise<void> {
  for (const key of [BILLING_KEY, REPORTS_KEY]) {
    const { deliveries } = await (await instance.fetch('/deliveries', as(key))).json() as { deliveries: { id: string }[] };
    for (const { id } of deliveries) expect((await instance.fetch(`/deliveries/${id}`, as(key, 'DELETE'))).status).toBe(204);
  }
  receiver.reset();
}
const statsOf = (instance: Instance, id: string): Partial<DeliveryStats> => instance.gateway.deliveryStats()[id] ?? {};

describe('Standard Webhooks signing', () => {
  it('reproduces the specification\'s published test vector', () => {
    expect(signStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'))
      .toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('signs what the gateway\'s own Standard Webhooks verifier accepts, and nothing else', () => {
    const secret = newSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    const body = JSON.stringify({ type: 'subscription.event', data: { data: { x: 'é' } } });
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': signStandardWebhook(secret, 'msg_1', 1700000000, body) };
    const at = () => 1700000000 * 1000;
    expect(verifyWebhook({ scheme: 'standard', secrets: [secret] }, { headers, body: Buffer.from(body) }, at)).toEqual({ ok: true, scheme: 'standard', id: 'msg_1', timestamp: 1700000000 });
    expect(verifyWebhook({ scheme: 'standard', secrets: [newSecret()] }, { headers, body: Buffer.from(body) }, at)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyWebhook({ scheme: 'standard', secrets: [secret] }, { headers, body: Buffer.from(`${body} `) }, at)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('gives one event the same webhook-id for a registration every time, another for another registration', () => {
    expect(messageId('dlv_a', 'shipments', 'evt_1')).toBe(messageId('dlv_a', 'shipments', 'evt_1'));
    expect(messageId('dlv_a', 'shipments', 'evt_1')).not.toBe(messageId('dlv_b', 'shipments', 'evt_1'));
    expect(messageId('dlv_a', 'shipments', 'evt_1')).toMatch(/^msg_[A-Za-z0-9_-]{27}$/);
  });
});


describe('the /deliveries path', () => {
  it('is the gateway\'s own: a sources file cannot declare a webhook on it', () => {
    const file = writeSourcesFile(offlineGraphqlSource('shop', `        webhooks:
          - { path: /deliveries/in, scheme: hmac, secrets: [s], pubsubTopic: orders }
`));
    expect(sourcesFileProblems(file, {})).toEqual([expect.stringMatching(/^sources \(shop\)\.webhooks\[0\]\.path: \/deliveries\/in is one of the gateway's own paths \(.*\/deliveries\)$/)]);
  });
});

describe('deliveries to a service\'s endpoint (in memory)', () => {
  let clock: ReturnType<typeof manualScheduler>;
  let receiver: Receiver;
  let g: Instance;
  let issuer: TestIssuer;
  let rebinds = 0;
  beforeAll(async () => {
    clock = manualScheduler();
    receiver = await startReceiver();
    issuer = await createTestIssuer();
    g = await startInstance({ scheduler: clock.scheduler, allowedHosts: [receiver.host, 'pinned.test'], issuer, deliveries: {
      // Names no DNS server knows, answered here: pinned.test is this machine, rebind.test is a
      // public address when registered and this machine a moment later. Others: the system's.
      resolve: (async (hostname) => {
        if (hostname === 'pinned.test') return [{ address: '127.0.0.1', family: 4 }];
        if (hostname === 'rebind.test') return [{ address: rebinds++ === 0 ? '93.184.215.14' : '127.0.0.1', family: 4 }];
        return lookup(hostname, { all: true });
      }) satisfies Resolver,
    } });
  });
  afterAll(async () => {
    await g.close();
    await receiver.close();
  });
  afterEach(() => removeRegistrations(g, receiver));

  it('registers a subscription, shows its secret once, and posts each event signed and verifiable, with its data', async () => {
    const created = await register(g, receiver.url);
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/deliveries/${created.body.id}`);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^dlv_[A-Za-z0-9_-]{20}$/), url: receiver.url, query: SHIPMENTS, variables: { c: 'cus_1' },
      createdAt: new Date(START).toISOString(), status: 'active', secret: expect.stringMatching(/^whsec_/),
    });
    const { id, secret } = created.body;
    const event = eventId();
    expect((await ship(g, event, 'packed')).status).toBe(200);
    await eventually(() => receiver.hits.length === 1, 'the delivery');
    const [hit] = receiver.hits as [Hit];
    expect(hit.headers['content-type']).toBe('application/json');
    expect(hit.headers['webhook-id']).toBe(messageId(id, 'shipments', event));
    expect(hit.headers['webhook-timestamp']).toBe(String(START / 1000));
    expect(verifyWebhook({ scheme: 'standard', secrets: [secret] }, { headers: hit.headers, body: Buffer.from(hit.body) }, () => START))
      .toEqual({ ok: true, scheme: 'standard', id: messageId(id, 'shipments', event), timestamp: START / 1000 });
    expect(hit.json).toMatchObject({
      type: 'subscription.event',
      timestamp: new Date(START).toISOString(),
      data: { data: { shipmentUpdated: { id: `shp_${event}`, status: 'packed' } } },
    });
    expect(hit.json.data.errors).toBeUndefined();
    await eventually(() => statsOf(g, id).delivered === 1, 'the count');
    // The list never shows the secret; the registration shows its attempts.
    const listed = await (await g.fetch('/deliveries', as(BILLING_KEY))).json();
    expect(listed).toEqual({ deliveries: [{ id, url: receiver.url, query: SHIPMENTS, variables: { c: 'cus_1' }, createdAt: new Date(START).toISOString(), status: 'active' }] });
    const one = await (await g.fetch(`/deliveries/${id}`, as(BILLING_KEY))).json();
    expect(JSON.stringify(one)).not.toContain(secret);
    expect(JSON.stringify(listed)).not.toContain(secret);
    expect(one).toMatchObject({ id, pending: 0, failed: [], attempts: [{ id: messageId(id, 'shipments', event), attempt: 1, outcome: 'delivered', status: 200 }] });
  });

  it('sends only the events its subscription selects, in order, one at a time: a slow answer holds the next', async () => {
    const { body: { id } } = await register(g, receiver.url);
    let release!: () => void;
    receiver.replies.push(new Promise<Reply>((resolve) => {
      release = () => resolve({ status: 200 });
    }));
    const events = [eventId(), eventId(), eventId(), eventId(), eventId()];
    await ship(g, events[0]!, 'status-0');
    await eventually(() => receiver.hits.length === 1, 'the first delivery');
    await ship(g, eventId(), 'another customer\'s', 'cus_2');
    for (const [i, event] of events.slice(1).entries()) await ship(g, event, `status-${i + 1}`);
    await eventually(() => statsOf(g, id).pending === 5, 'four more waiting behind the first');
    expect(receiver.hits).toHaveLength(1);
    release();
    await eventually(() => receiver.hits.length === 5, 'every delivery');
    expect(receiver.hits.map((h) => h.json.data.data.shipmentUpdated.status)).toEqual(['status-0', 'status-1', 'status-2', 'status-3', 'status-4']);
    expect(receiver.hits.map((h) => h.headers['webhook-id'])).toEqual(events.map((e) => messageId(id, 'shipments', e)));
    expect(receiver.maxInFlight()).toBe(1);
  });

  it('retries 5xx and 429 with doubling backoff, honouring Retry-After: a receiver failing 3 times gets the event on the 4th attempt', async () => {
    const { body: { id, secret } } = await register(g, receiver.url);
    receiver.replies.push({ status: 503 }, { status: 429, headers: { 'retry-after': '30' } }, { status: 500 });
    const before = clock.backoff().length;
    const event = eventId();
    await ship(g, event, 'shipped');
    for (const wait of [1_000, 30_000, 4_000]) {
      await clock.waiting(wait);
      await clock.advance(wait);
    }
    await eventually(() => statsOf(g, id).delivered === 1, 'the 4th attempt');
    // 1 s, then the receiver's 30 s over the 2 s backoff, then 4 s: no attempt before its time.
    expect(clock.backoff().slice(before)).toEqual([1_000, 30_000, 4_000]);
    expect(receiver.hits).toHaveLength(4);
    expect(new Set(receiver.hits.map((h) => h.headers['webhook-id']))).toEqual(new Set([messageId(id, 'shipments', event)]));
    // Each attempt is signed anew, for its own time: every one verifies at the moment it was sent.
    expect(receiver.hits.map((h) => Number(h.headers['webhook-timestamp']) - START / 1000)).toEqual([0, 1, 31, 35]);
    for (const hit of receiver.hits) {
      const at = Number(hit.headers['webhook-timestamp']) * 1000;
      expect(verifyWebhook({ scheme: 'standard', secrets: [secret] }, { headers: hit.headers, body: Buffer.from(hit.body) }, () => at)).toMatchObject({ ok: true });
    }
    expect(statsOf(g, id)).toMatchObject({ delivered: 1, retried: 3 });
    const { attempts } = await (await g.fetch(`/deliveries/${id}`, as(BILLING_KEY))).json();
    expect(attempts.map((a: any) => [a.attempt, a.outcome, a.status])).toEqual([[4, 'delivered', 200], [3, 'retrying', 500], [2, 'retrying', 429], [1, 'retrying', 503]]);
  });

  it('keeps an event that exhausted its 6 attempts as failed, and a replay delivers it, with the same webhook-id', async () => {
    const { body: { id, secret } } = await register(g, receiver.url);
    receiver.replies.push(...Array.from({ length: 6 }, () => ({ status: 502 })));
    const event = eventId();
    await ship(g, event, 'lost');
    for (const wait of [1_000, 2_000, 4_000, 8_000, 16_000]) {
      await clock.waiting(wait);
      await clock.advance(wait);
    }
    await eventually(() => statsOf(g, id).failed === 1, 'the event kept as failed');
    expect(receiver.hits).toHaveLength(6);
    const webhookId = messageId(id, 'shipments', event);
    const failed = (await (await g.fetch(`/deliveries/${id}`, as(BILLING_KEY))).json()).failed;
    expect(failed).toEqual([{ id: webhookId, event: `shipments:${event}`, reason: 'exhausted', status: 502, attempts: 6, failedAt: expect.any(String) }]);
    await clock.advance(60_000);
    const replayed = await g.fetch(`/deliveries/${id}/replay`, json(BILLING_KEY, {}));
    expect(replayed.status).toBe(202);
    expect(await replayed.json()).toEqual({ replayed: 1, ids: [webhookId] });
    await eventually(() => receiver.hits.length === 7, 'the replay');
    const again = receiver.hits[6]!;
    expect(again.headers['webhook-id']).toBe(webhookId);
    expect(again.body).toBe(receiver.hits[0]!.body);
    expect(verifyWebhook({ scheme: 'standard', secrets: [secret] }, { headers: again.headers, body: Buffer.from(again.body) }, () => clock.scheduler.now())).toMatchObject({ ok: true, id: webhookId });
    await eventually(() => statsOf(g, id).delivered === 1, 'the count');
    expect(statsOf(g, id)).toMatchObject({ failed: 1, replayed: 1, delivered: 1, retried: 5 });
    expect((await (await g.fetch(`/deliveries/${id}`, as(BILLING_KEY))).json()).failed).toEqual([]);
    // Nothing left to replay; an id it does not hold is named.
    expect(await (await g.fetch(`/deliveries/${id}/replay`, json(BILLING_KEY, { ids: ['msg_nope'] }))).json()).toEqual({ replayed: 0, ids: [], missing: ['msg_nope'] });
  });

  it('takes a 4xx other than 408 and 429 as final, and never follows a redirect', async () => {
    const { body: { id } } = await register(g, receiver.url);
    // Followed, the redirect would show as a third request here.
    receiver.replies.push({ status: 410 }, { status: 307, headers: { location: `${receiver.url}?followed` } });
    const [gone, moved] = [eventId(), eventId()];
    await ship(g, gone, 'a');
    await ship(g, moved, 'b');
    await eventually(() => statsOf(g, id).failed === 2, 'both kept as failed');
    expect(receiver.hits).toHaveLength(2);
    const { failed } = await (await g.fetch(`/deliveries/${id}`, as(BILLING_KEY))).json();
    expect(failed.map((f: any) => [f.event, f.reason, f.status, f.attempts])).toEqual([[`shipments:${moved}`, 'redirected', 307, 1], [`shipments:${gone}`, 'rejected', 410, 1]]);
    expect(statsOf(g, id).retried).toBeUndefined();
  });

  it('connects to the address it checked, and checks again before each delivery: a name that now resolves to this machine is refused', async () => {
    // pinned.test is known to no DNS server: the connection reaches the receiver only at the address checked.
    const port = new URL(receiver.url).port;
    const pinned = await register(g, `http://pinned.test:${port}/hooks`);
    expect(pinned.status).toBe(201);
    await ship(g, eventId(), 'pinned');
    await eventually(() => receiver.hits.length === 1, 'the delivery to pinned.test');
    expect(receiver.hits[0]!.headers.host).toBe(`pinned.test:${port}`);
    await g.fetch(`/deliveries/${pinned.body.id}`, as(BILLING_KEY, 'DELETE'));

    // rebind.test is not allowed: a public address when registered, 127.0.0.1 when an event comes.
    const rebound = await register(g, `https://rebind.test:${port}/hooks`);
    expect(rebound.status).toBe(201);
    await ship(g, eventId(), 'rebound');
    await eventually(() => statsOf(g, rebound.body.id).url_refused === 1, 'the refusal');
    expect(receiver.hits).toHaveLength(1);
    const { failed, attempts } = await (await g.fetch(`/deliveries/${rebound.body.id}`, as(BILLING_KEY))).json();
    expect(failed).toEqual([expect.objectContaining({ reason: 'url_refused', attempts: 0, error: 'loopback (127.0.0.0/8) addresses are not posted to unless DELIVERY_ALLOWED_HOSTS names the host (rebind.test resolves to one)' })]);
    expect(attempts).toEqual([]);
  });
  it('stops delivering a registration its service deletes', async () => {
    const { body: { id } } = await register(g, receiver.url);
    await ship(g, eventId(), 'before');
    await eventually(() => receiver.hits.length === 1, 'the delivery');
    expect((await g.fetch(`/deliveries/${id}`, as(BILLING_KEY, 'DELETE'))).status).toBe(204);
    expect((await g.fetch(`/deliveries/${id}`, as(BILLING_KEY))).status).toBe(404);
    // A registration made after it shows that later events are flowing, and the deleted one got none of them.
    const { body: { id: next } } = await register(g, receiver.url);
    await ship(g, eventId(), 'after');
    await eventually(() => statsOf(g, next).delivered === 1, 'the delivery to the new registration');
    expect(receiver.hits).toHaveLength(2);
    expect(g.gateway.deliveryStats()[id]).toBeUndefined();
  });

  it('lets only services register: anonymous callers 401, users 403, bad credentials 401, before anything is read', async () => {
    const body = { url: receiver.url, query: SHIPMENTS, variables: { c: 'cus_1' } };
    const anonymous = await g.fetch('/deliveries', json(undefined, body));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect((await anonymous.json()).errors[0].extensions.code).toBe('DELIVERY_UNAUTHENTICATED');
    const user = await g.fetch('/deliveries', { ...json(undefined, body), headers: { 'content-type': 'application/json', authorization: `Bearer ${await issuer.token()}` } });
    expect(user.status).toBe(403);
    expect(await user.json()).toEqual({ errors: [{ message: 'Only a service may register deliveries; this caller is a user.', extensions: { code: 'DELIVERY_FORBIDDEN' } }] });
    const forged = await g.fetch('/deliveries', json('jk_not_a_key', body));
    expect(forged.status).toBe(401);
    expect((await forged.json()).errors[0].extensions.code).toBe('INVALID_TOKEN');
    const listing = await g.fetch('/deliveries', { headers: { authorization: `Bearer ${await issuer.token()}` } });
    expect(listing.status).toBe(403);
    expect(g.gateway.deliveryStats()).toEqual({});
  });

  it('keeps each service to its own registrations: another sees none, and cannot read, delete or replay one (404)', async () => {
    const { body: { id } } = await register(g, receiver.url);
    expect(await (await g.fetch('/deliveries', as(REPORTS_KEY))).json()).toEqual({ deliveries: [] });
    for (const [path, method] of [[`/deliveries/${id}`, 'GET'], [`/deliveries/${id}`, 'DELETE'], [`/deliveries/${id}/replay`, 'POST']] as const) {
      const refused = await g.fetch(path, as(REPORTS_KEY, method));
      expect(refused.status, `${method} ${path}`).toBe(404);
      expect((await refused.json()).errors[0]).toEqual({ message: `No delivery registration "${id}" belongs to this caller.`, extensions: { code: 'DELIVERY_NOT_FOUND' } });
    }
    expect((await g.fetch(`/deliveries/${id}`, as(BILLING_KEY))).status).toBe(200);
    await ship(g, eventId(), 'still delivered');
    await eventually(() => statsOf(g, id).delivered === 1, 'the delivery');
  });

  it('lets a developer list every registration with its owner and delete another service\'s; a user or a service without junction:developer cannot', async () => {
    const { body: { id: billing } } = await register(g, receiver.url);
    const { body: { id: reports } } = await register(g, receiver.url, {}, REPORTS_KEY);
    const developer = { authorization: `Bearer ${await issuer.token({ sub: 'alice', scopes: ['junction:developer'] })}` };
    const user = { authorization: `Bearer ${await issuer.token({ sub: 'bob' })}` };
    const listed = await g.fetch('/deliveries?all=true', { headers: developer });
    expect(listed.status).toBe(200);
    const shown = { url: receiver.url, query: SHIPMENTS, variables: { c: 'cus_1' }, createdAt: new Date(clock.scheduler.now()).toISOString(), status: 'active' };
    const { deliveries } = await listed.json();
    expect(deliveries).toEqual([
      { id: billing, ...shown, owner: 'service:billing', via: 'api-key', scopes: ['shipments:read'] },
      { id: reports, ...shown, owner: 'service:reports', via: 'api-key', scopes: [] },
    ]);
    expect(JSON.stringify(deliveries)).not.toContain('whsec_');

    // A user without the scope is refused as before; a service without it keeps to its own.
    const refusals: [string, RequestInit, number, string][] = [
      ['/deliveries?all=true', { headers: user }, 403, 'Only a service may register deliveries; this caller is a user.'],
      [`/deliveries/${billing}`, { method: 'DELETE', headers: user }, 403, 'Only a service may register deliveries; this caller is a user.'],
      ['/deliveries?all=true', as(REPORTS_KEY), 403, 'Only a developer (junction:developer) may list every registration; this caller is a service.'],
      [`/deliveries/${billing}`, as(REPORTS_KEY, 'DELETE'), 404, `No delivery registration "${billing}" belongs to this caller.`],
      ['/deliveries?all=yes', { headers: developer }, 400, 'This delivery request is refused: "all" must be true or false, not "yes".'],
      // The operator lists and deletes; it reads nothing more of another's.
      [`/deliveries/${billing}`, { headers: developer }, 403, 'Only a service may register deliveries; this caller is a user.'],
    ];
    for (const [path, init, status, message] of refusals) {
      const refused = await g.fetch(path, init);
      expect(refused.status, `${init.method ?? 'GET'} ${path}`).toBe(status);
      expect((await refused.json()).errors[0].message, `${init.method ?? 'GET'} ${path}`).toBe(message);
    }
    expect(await (await g.fetch('/deliveries?all=false', as(REPORTS_KEY))).json()).toEqual({ deliveries: [{ id: reports, ...shown }] });

    const deleted = await g.fetch(`/deliveries/${billing}`, { method: 'DELETE', headers: developer });
    expect(deleted.status).toBe(204);
    expect(g.logs).toContainEqual(expect.objectContaining({ msg: 'delivery removed by a developer', delivery: billing, owner: 'service:billing', by: 'user:alice' }));
    expect((await g.fetch(`/deliveries/${billing}`, as(BILLING_KEY))).status).toBe(404);
    expect((await (await g.fetch('/deliveries?all=true', { headers: developer })).json()).deliveries.map((d: any) => d.id)).toEqual([reports]);
    const again = await g.fetch(`/deliveries/${billing}`, { method: 'DELETE', headers: developer });
    expect(again.status).toBe(404);
    expect((await again.json()).errors[0].extensions.code).toBe('DELIVERY_NOT_FOUND');
    // The deleted registration gets no more events; the other one does.
    await ship(g, eventId(), 'after');
    await eventually(() => statsOf(g, reports).delivered === 1, 'the delivery to reports');
    expect(receiver.hits).toHaveLength(1);
    expect(g.gateway.deliveryStats()[billing]).toBeUndefined();
  });

  it('answers other methods 405 with Allow, and paths it does not serve 404', async () => {
    const put = await g.fetch('/deliveries', as(BILLING_KEY, 'PUT'));
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST');
    expect((await put.json()).errors[0].extensions.code).toBe('METHOD_NOT_ALLOWED');
    expect((await g.fetch('/deliveries/dlv_x/replay', as(BILLING_KEY, 'GET'))).headers.get('allow')).toBe('POST');
    expect((await g.fetch('/deliveries/dlv_x/attempts', as(BILLING_KEY))).status).toBe(404);
  });

  it('refuses a URL at a private, loopback or metadata address unless allowed, and http in production', async () => {
    const cases: [string, string][] = [
      ['https://127.0.0.1/hooks', 'private_address'],
      ['https://10.0.0.8/hooks', 'private_address'],
      ['https://169.254.169.254/latest/meta-data/', 'private_address'],
      ['https://[::1]/hooks', 'private_address'],
      ['https://[::ffff:10.0.0.8]/hooks', 'private_address'],
      ['https://localhost/hooks', 'private_address'],
      [`http://127.0.0.1:${new URL(receiver.url).port === '1' ? 2 : 1}/hooks`, 'https_required'],
      ['ftp://files.example.com/', 'scheme'],
      ['https://user:pw@hooks.example.com/', 'credentials'],
      [`https://hooks.example.com/${'x'.repeat(2_050)}`, 'too_long'],
    ];
    for (const [url, reason] of cases) {
      const refused = await register(g, url);
      expect(refused.status, url).toBe(400);
      expect(refused.body.errors[0].extensions, url).toEqual({ code: 'DELIVERY_URL_REFUSED', reason });
    }
    expect(await (await g.fetch('/deliveries', as(BILLING_KEY))).json()).toEqual({ deliveries: [] });
  });

  it('refuses a document that is not a subscription this service can run, saying why', async () => {
    const refusal = async (body: unknown) => {
      const response = await g.fetch('/deliveries', json(BILLING_KEY, body));
      expect(response.status).toBe(400);
      return (await response.json()).errors[0];
    };
    const query = await refusal({ url: receiver.url, query: '{ __typename }' });
    expect(query).toEqual({ message: 'This delivery request is refused: the document\'s operation is a query, not a subscription.', extensions: { code: 'DELIVERY_INVALID', reason: 'not_subscription' } });
    expect((await refusal({ url: receiver.url, query: 'mutation { x }' })).extensions.reason).toBe('document');
    const syntax = await refusal({ url: receiver.url, query: 'subscription {' });
    expect(syntax.extensions).toMatchObject({ code: 'DELIVERY_INVALID', reason: 'document', errors: [{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });
    const unknown = await refusal({ url: receiver.url, query: 'subscription { shipmentUpdated(customerId: "c") { weight } }' });
    expect(unknown.extensions).toMatchObject({ reason: 'document', errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
    expect(unknown.message).toMatch(/^This delivery request is refused: Cannot query field "weight" on type "Shipment"\.$/);
    const missing = await refusal({ url: receiver.url, query: SHIPMENTS });
    expect(missing.extensions).toMatchObject({ reason: 'document', errors: [{ message: expect.stringMatching(/Variable "\$c"/) }] });
    for (const body of ['not json', [], { url: receiver.url }, { query: SHIPMENTS }, { url: receiver.url, query: SHIPMENTS, variables: [1] }, { url: receiver.url, query: SHIPMENTS, secret: 'mine' }]) {
      expect((await refusal(typeof body === 'string' ? body : body)).extensions.reason, JSON.stringify(body)).toBe('body');
    }
    const tooLarge = await g.fetch('/deliveries', json(BILLING_KEY, { url: receiver.url, query: `subscription { shipmentUpdated(customerId: "${'x'.repeat(DEFAULT_LIMITS.MAX_BODY_BYTES)}") { id } }` }));
    expect(tooLarge.status).toBe(413);
    expect((await tooLarge.json()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await (await g.fetch('/deliveries', as(BILLING_KEY))).json()).toEqual({ deliveries: [] });
    expect(g.gateway.subscriptions()).toEqual({});
  });
});

describe('what one service\'s deliveries may hold', () => {
  let clock: ReturnType<typeof manualScheduler>;
  let receiver: Receiver;
  let g: Instance;
  beforeAll(async () => {
    clock = manualScheduler();
    receiver = await startReceiver();
    g = await startInstance({ scheduler: clock.scheduler, allowedHosts: [receiver.host], deliveries: { maxPerService: 2, settings: { maxPending: 50, maxFailed: 100 } } });
  });
  afterAll(async () => {
    await g.close();
    await receiver.close();
  });
  afterEach(() => removeRegistrations(g, receiver));

  it('a slow receiver holds at most maxPending events: past it the oldest waiting are kept as failed (queue_full), to the maxFailed newest', async () => {
    // The receiver never answers, and the attempt's timeout is never reached: time stands still.
    receiver.replies.push(...Array.from({ length: 300 }, () => 'hang' as const));
    const { body: { id } } = await register(g, receiver.url);
    for (let i = 0; i < 250; i++) expect((await ship(g, eventId(), `s${i}`)).status).toBe(200);
    await eventually(() => (statsOf(g, id).queue_full ?? 0) >= 199 && receiver.hits.length > 0, '199 events pushed out');
    // One in flight, 50 waiting; 249 - 50 pushed out, of which the newest 100 are kept.
    expect(statsOf(g, id)).toEqual({ queue_full: 199, pending: 51 });
    expect(receiver.hits).toHaveLength(1);
    const { failed, pending } = await (await g.fetch(`/deliveries/${id}`, as(BILLING_KEY))).json();
    expect(pending).toBe(51);
    expect(failed).toHaveLength(100);
    expect(failed.every((f: any) => f.reason === 'queue_full' && f.attempts === 0)).toBe(true);
    // Its subscription kept up throughout: it never fell behind and had to be opened again.
    expect(statsOf(g, id).restarted).toBeUndefined();
  });

  it('falls more than MAX_EVENTS_QUEUED events behind, opens its subscription again after the last event it took, and loses none', async () => {
    // Claims wait for the gate: the subscription takes no event while 120 more arrive.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const memory = createMemoryDeliveryStore();
    const store: DeliveryStore = { ...memory, claim: async (...args) => (await gate, memory.claim(...args)) };
    const slow = await startInstance({ scheduler: clock.scheduler, allowedHosts: [receiver.host], store });
    try {
      const { body: { id } } = await register(slow, receiver.url);
      const events = Array.from({ length: 121 }, () => eventId());
      for (const [i, event] of events.entries()) expect((await ship(slow, event, `s${i}`)).status).toBe(200);
      open();
      await eventually(() => statsOf(slow, id).delivered === 121, 'every event');
      expect(statsOf(slow, id).restarted).toBe(1);
      expect(slow.logs.some((l) => l.msg === 'delivery: its subscription ended' && l.errors?.includes('SUBSCRIPTION_TOO_SLOW'))).toBe(true);
      expect(receiver.hits.map((h) => h.headers['webhook-id'])).toEqual(events.map((e) => messageId(id, 'shipments', e)));
    } finally {
      await slow.close();
    }
  });

  it('holds a service to maxPerService registrations (DELIVERY_LIMIT, 409), another service to its own', async () => {
    expect((await register(g, receiver.url)).status).toBe(201);
    expect((await register(g, receiver.url)).status).toBe(201);
    const third = await register(g, receiver.url);
    expect(third.status).toBe(409);
    expect(third.body.errors[0]).toEqual({
      message: 'This service has 2 delivery registrations, the most it may (MAX_DELIVERIES_PER_SERVICE); delete one first.',
      extensions: { code: 'DELIVERY_LIMIT', limit: 2 },
    });
    expect((await register(g, receiver.url, {}, REPORTS_KEY)).status).toBe(201);
  });
});

describe('deliveries across instances, with Redis', () => {
  const prefix = uniquePrefix();
  let redis: Redis;
  let clock: ReturnType<typeof manualScheduler>;
  let receiver: Receiver;
  let a: Instance;
  let b: Instance;
  let aClosed = false;
  beforeAll(async () => {
    redis = await sharedRedis();
    clock = manualScheduler();
    receiver = await startReceiver();
    // Both instances hear every event, as through Redis pub/sub, and share the webhooks' store.
    const shared = { eventTarget: new EventTarget() as JunctionEventTarget, webhookStore: createMemoryWebhookStore() };
    const start = () => startInstance({ scheduler: clock.scheduler, allowedHosts: [receiver.host], store: createRedisDeliveryStore(redis, { prefix }), ...shared });
    a = await start();
    b = await start();
  });
  afterAll(async () => {
    if (!aClosed) await a.close();
    await b.close();
    await receiver.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('every instance knows a registration; the one holding its lease delivers each event once, and sends a replay asked of another', async () => {
    const { body: { id } } = await register(a, receiver.url);
    expect((await (await b.fetch('/deliveries', as(BILLING_KEY))).json()).deliveries.map((d: any) => d.id)).toEqual([id]);
    await clock.advance(SYNC_MS);
    const [first, second] = [eventId(), eventId()];
    await ship(a, first, 'one');
    await ship(b, second, 'two');
    await eventually(() => statsOf(a, id).delivered === 2, 'both deliveries');
    expect(receiver.hits.map((h) => h.headers['webhook-id'])).toEqual([messageId(id, 'shipments', first), messageId(id, 'shipments', second)]);
    expect(b.gateway.deliveryStats()[id]).toBeUndefined();

    receiver.replies.push({ status: 400 });
    const refused = eventId();
    await ship(a, refused, 'three');
    await eventually(() => statsOf(a, id).failed === 1, 'the refusal');
    const seen = await (await b.fetch(`/deliveries/${id}`, as(BILLING_KEY))).json();
    expect(seen.failed).toEqual([expect.objectContaining({ id: messageId(id, 'shipments', refused), reason: 'rejected', status: 400 })]);
    expect(seen.attempts.map((x: any) => x.outcome)).toEqual(['failed', 'delivered', 'delivered']);
    // Asked of b, which does not deliver it: a sends it at its next round.
    expect(await (await b.fetch(`/deliveries/${id}/replay`, json(BILLING_KEY, { ids: [messageId(id, 'shipments', refused)] }))).json()).toEqual({ replayed: 1, ids: [messageId(id, 'shipments', refused)] });
    expect(receiver.hits).toHaveLength(3);
    await clock.advance(SYNC_MS);
    await eventually(() => statsOf(a, id).delivered === 3, 'the replay');
    expect(receiver.hits.map((h) => h.headers['webhook-id'])).toEqual([first, second, refused, refused].map((e) => messageId(id, 'shipments', e)));
  });

  it('when the instance holding a registration stops, what it had not sent is kept for replay, and another takes it over at its next round', async () => {
    const [{ id }] = (await (await a.fetch('/deliveries', as(BILLING_KEY))).json()).deliveries as [{ id: string }];
    // One event in flight to a receiver that does not answer, two waiting behind it.
    receiver.replies.push('hang');
    const unsent = [eventId(), eventId(), eventId()];
    for (const event of unsent) await ship(a, event, 'unsent');
    await eventually(() => statsOf(a, id).pending === 3 && receiver.hits.length === 5, 'one in flight, two waiting');
    await a.close();
    aClosed = true;
    const { failed } = await (await b.fetch(`/deliveries/${id}`, as(BILLING_KEY))).json();
    expect(failed.map((f: any) => [f.id, f.reason]).reverse()).toEqual(unsent.map((e) => [messageId(id, 'shipments', e), 'interrupted']));
    expect(b.gateway.subscriptions()).toEqual({});
    await clock.advance(SYNC_MS);
    // b's round took the lease and opened the registration's subscription.
    await eventually(() => b.gateway.subscriptions().shipments === 1, 'b listening');
    const event = eventId();
    await ship(b, event, 'four');
    await eventually(() => statsOf(b, id).delivered === 1, 'the delivery by b');
    expect(receiver.hits.at(-1)!.headers['webhook-id']).toBe(messageId(id, 'shipments', event));
    expect(receiver.hits).toHaveLength(6);
    expect(await (await b.fetch(`/deliveries/${id}/replay`, json(BILLING_KEY, ''))).json()).toMatchObject({ replayed: 3 });
    await eventually(() => statsOf(b, id).delivered === 4, 'the replays');
    expect(receiver.hits.slice(-3).map((h) => h.headers['webhook-id'])).toEqual(unsent.map((e) => messageId(id, 'shipments', e)));
    expect((await b.fetch(`/deliveries/${id}`, as(BILLING_KEY, 'DELETE'))).status).toBe(204);
    // What is left of it: its events' claims, each lapsing within CLAIM_TTL_SEC.
    const left = await redis.keys(`${prefix}{delivery:${id}}*`);
    expect(left.map((key) => key.slice(key.indexOf('}:') + 2).replace(/evt_\w+/, 'evt')).sort()).toEqual(Array(7).fill('sent:shipments:evt'));
    for (const key of left) expect(await redis.ttl(key)).toBeGreaterThan(CLAIM_TTL_SEC - 60);
  });

  it('gives each event to one claimant, each lease to one holder, and nothing once a registration is removed', async () => {
    const store = createRedisDeliveryStore(redis, { prefix });
    const registration: Registration = {
      id: `dlv_${randomBytes(6).toString('hex')}`, owner: 'service:billing', principal: { kind: 'service', id: 'billing', scopes: [], via: 'api-key' },
      url: receiver.url, query: SHIPMENTS, secret: newSecret(), createdAt: START,
    };
    expect(await store.add(registration, 20)).toBe('added');
    expect(await store.claim(registration.id, 'shipments:evt_1', 60)).toBe('claimed');
    expect(await store.claim(registration.id, 'shipments:evt_1', 60)).toBe('taken');
    expect(await store.lease(registration.id, 'one', 10_000)).toBe(true);
    expect(await store.lease(registration.id, 'two', 10_000)).toBe(false);
    expect(await store.lease(registration.id, 'one', 10_000)).toBe(true);
    await store.release(registration.id, 'two');
    expect(await store.lease(registration.id, 'two', 10_000)).toBe(false);
    await store.release(registration.id, 'one');
    expect(await store.lease(registration.id, 'two', 10_000)).toBe(true);
    await store.remove(registration);
    expect(await store.claim(registration.id, 'shipments:evt_2', 60)).toBe('gone');
    expect(await store.lease(registration.id, 'two', 10_000)).toBe(false);
    expect(await store.get(registration.id)).toBeUndefined();
  });
});

describe('a registration made with an API key follows the keys configured now (at each round)', () => {
  let clock: ReturnType<typeof manualScheduler>;
  let receiver: Receiver;
  let g: Instance;
  let issuer: TestIssuer;
  const grants = new Map<string, readonly string[] | undefined>();
  beforeAll(async () => {
    clock = manualScheduler();
    receiver = await startReceiver();
    issuer = await createTestIssuer();
    g = await startInstance({
      scheduler: clock.scheduler, allowedHosts: [receiver.host], meshConfig: CARRIER_SOURCES, grants, issuer,
      apiKeys: [{ ...KEYS[0]!, scopes: ['shipments:read', CARRIER_SCOPE] }, KEYS[1]!],
    });
  });
  afterAll(async () => {
    await g.close();
    await receiver.close();
  });
  afterEach(async () => {
    grants.clear();
    await removeRegistrations(g, receiver);
  });
  /** Billing, calling with a client-credentials token instead of its key. */
  const billingToken = async (scopes: string[]) => ({
    'content-type': 'application/json',
    authorization: `Bearer ${await issuer.token({ sub: 'billing', scopes, claims: { aud: TEST_AUTH.serviceAudience } })}`,
  });
  const round = async (msg: string, id: string) => {
    const before = g.logs.filter((l) => l.msg === msg && l.delivery === id).length;
    await clock.advance(SYNC_MS);
    await eventually(() => g.logs.filter((l) => l.msg === msg && l.delivery === id).length === before + 1, msg);
  };

  it('runs with what the keys grant now: a scope taken away nulls its field (FORBIDDEN), no key suspends it (nothing sent), a key again runs it', async () => {
    const { body: { id } } = await register(g, receiver.url, { query: CARRIED });
    await ship(g, eventId(), 'packed', 'cus_1', { carrier: 'DHL' });
    await eventually(() => statsOf(g, id).delivered === 1, 'the first delivery');
    expect(receiver.hits[0]!.json.data).toMatchObject({ data: { shipmentUpdated: { id: expect.any(String), status: 'packed', carrier: 'DHL' } } });
    expect(receiver.hits[0]!.json.data.errors).toBeUndefined();

    grants.set('billing', ['shipments:read']);
    await round('delivery: its service\'s scopes changed; its subscription runs with them from now', id);
    expect(g.logs.findLast((l) => l.delivery === id)).toMatchObject({ scopes: ['shipments:read'], was: [CARRIER_SCOPE, 'shipments:read'] });
    await ship(g, eventId(), 'shipped', 'cus_1', { carrier: 'DHL' });
    await eventually(() => statsOf(g, id).delivered === 2, 'the second delivery');
    const narrowed = receiver.hits[1]!.json.data;
    expect(narrowed.data).toEqual({ shipmentUpdated: { id: expect.any(String), status: 'shipped', carrier: null } });
    expect(narrowed.errors).toEqual([expect.objectContaining({ path: ['shipmentUpdated', 'carrier'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
    expect(g.gateway.subscriptions()).toEqual({ shipments: 1 });

    grants.set('billing', undefined);
    await round('delivery suspended: its service has no API key now; nothing is sent until it has one again', id);
    expect(statsOf(g, id)).toEqual({ delivered: 2, pending: 0, suspended: 'owner_gone' });
    expect(g.gateway.subscriptions()).toEqual({});
    expect(await (await g.fetch(`/deliveries/${id}`, as(BILLING_KEY))).json()).toMatchObject({ id, status: 'suspended', reason: 'owner_gone', pending: 0 });
    // Another service's registration shows that events flow; the suspended one gets none.
    const { body: { id: other } } = await register(g, receiver.url, {}, REPORTS_KEY);
    await ship(g, eventId(), 'while suspended', 'cus_1', { carrier: 'DHL' });
    await eventually(() => statsOf(g, other).delivered === 1, 'the delivery to reports');
    expect(receiver.hits).toHaveLength(3);
    expect(receiver.hits[2]!.json.data.data.shipmentUpdated).toEqual({ id: expect.any(String), status: 'while suspended' });
    expect(statsOf(g, id).delivered).toBe(2);
    // A later round changes nothing while the service has no key.
    await clock.advance(SYNC_MS);
    expect(g.logs.filter((l) => l.delivery === id && /^delivery suspended/.test(l.msg))).toHaveLength(1);

    grants.delete('billing');
    await round('delivery resumed: its service has an API key again', id);
    expect(statsOf(g, id).suspended).toBeUndefined();
    expect(await (await g.fetch(`/deliveries/${id}`, as(BILLING_KEY))).json()).toMatchObject({ id, status: 'active' });
    const back = eventId();
    await ship(g, back, 'resumed', 'cus_1', { carrier: 'UPS' });
    await eventually(() => statsOf(g, id).delivered === 3 && statsOf(g, other).delivered === 2, 'both deliveries');
    const resumed = receiver.hits.find((h) => h.headers['webhook-id'] === messageId(id, 'shipments', back));
    expect(resumed?.json.data).toMatchObject({ data: { shipmentUpdated: { id: expect.any(String), status: 'resumed', carrier: 'UPS' } } });
    expect(resumed?.json.data.errors).toBeUndefined();
  });

  it('keeps a registration made with a client-credentials token to the scopes it had: the identity provider cannot be asked again', async () => {
    const created = await g.fetch('/deliveries', {
      method: 'POST',
      headers: await billingToken(['shipments:read', CARRIER_SCOPE]),
      body: JSON.stringify({ url: receiver.url, query: CARRIED, variables: { c: 'cus_1' } }),
    });
    expect(created.status).toBe(201);
    const { id } = await created.json();
    // The same service's keys grant nothing any more: a registration made with a key would be suspended.
    grants.set('billing', undefined);
    await clock.advance(SYNC_MS);
    await ship(g, eventId(), 'packed', 'cus_1', { carrier: 'DHL' });
    await eventually(() => statsOf(g, id).delivered === 1, 'the delivery');
    expect(receiver.hits[0]!.json.data).toMatchObject({ data: { shipmentUpdated: { id: expect.any(String), status: 'packed', carrier: 'DHL' } } });
    expect(receiver.hits[0]!.json.data.errors).toBeUndefined();
    expect(statsOf(g, id).suspended).toBeUndefined();
    expect(g.logs.filter((l) => l.delivery === id && /suspended|scopes changed/.test(l.msg))).toEqual([]);
    const seen = await g.fetch(`/deliveries/${id}`, { headers: await billingToken([]) });
    expect(await seen.json()).toMatchObject({ id, status: 'active' });
    expect((await g.fetch(`/deliveries/${id}`, { method: 'DELETE', headers: await billingToken([]) })).status).toBe(204);
  });
});

describe('instances started with a changed keys file, with Redis', () => {
  const prefix = uniquePrefix();
  let redis: Redis;
  let clock: ReturnType<typeof manualScheduler>;
  let receiver: Receiver;
  let issuer: TestIssuer;
  beforeAll(async () => {
    redis = await sharedRedis();
    clock = manualScheduler();
    receiver = await startReceiver();
    issuer = await createTestIssuer();
  });
  afterAll(async () => {
    await receiver.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  const instance = (apiKeys: ApiKeyEntry[]) => startInstance({
    scheduler: clock.scheduler, allowedHosts: [receiver.host], store: createRedisDeliveryStore(redis, { prefix }), meshConfig: CARRIER_SOURCES, apiKeys, issuer,
  });

  it('suspends a registration whose service has no key in the new file (shown to its owner, nothing sent), and runs it with the fewer scopes of a key given back', async () => {
    const first = await instance([{ ...KEYS[0]!, scopes: ['shipments:read', CARRIER_SCOPE] }, KEYS[1]!]);
    let id: string;
    try {
      ({ body: { id } } = await register(first, receiver.url, { query: CARRIED }));
      await ship(first, eventId(), 'packed', 'cus_1', { carrier: 'DHL' });
      await eventually(() => statsOf(first, id).delivered === 1, 'the first delivery');
      expect(receiver.hits[0]!.json.data.data.shipmentUpdated.carrier).toBe('DHL');
    } finally {
      await first.close();
    }

    // The keys file no longer lists billing: the instance that takes the registration over does not run it.
    const without = await instance([KEYS[1]!]);
    try {
      expect(without.gateway.deliveryStats()[id]).toEqual({ pending: 0, suspended: 'owner_gone' });
      expect(without.logs).toContainEqual(expect.objectContaining({ msg: 'delivery suspended: its service has no API key now; nothing is sent until it has one again', delivery: id, owner: 'service:billing', reason: 'owner_gone' }));
      expect(without.gateway.subscriptions()).toEqual({});
      expect((await without.fetch(`/deliveries/${id}`, as(BILLING_KEY))).status).toBe(401);
      // Its owner, calling with a client-credentials token instead, sees why.
      const service = { authorization: `Bearer ${await issuer.token({ sub: 'billing', scopes: [], claims: { aud: TEST_AUTH.serviceAudience } })}` };
      const seen = await without.fetch(`/deliveries/${id}`, { headers: service });
      expect(seen.status).toBe(200);
      expect(await seen.json()).toMatchObject({ id, status: 'suspended', reason: 'owner_gone', pending: 0 });
      const { body: { id: other } } = await register(without, receiver.url, {}, REPORTS_KEY);
      await ship(without, eventId(), 'while gone', 'cus_1', { carrier: 'DHL' });
      await eventually(() => statsOf(without, other).delivered === 1, 'the delivery to reports');
      expect(receiver.hits).toHaveLength(2);
      expect(receiver.hits[1]!.headers['webhook-id']).toMatch(/^msg_/);
      expect(receiver.hits[1]!.json.data.data.shipmentUpdated.status).toBe('while gone');
      expect(statsOf(without, id)).toEqual({ pending: 0, suspended: 'owner_gone' });
      expect((await without.fetch(`/deliveries/${other}`, as(REPORTS_KEY, 'DELETE'))).status).toBe(204);
    } finally {
      await without.close();
    }

    // Billing is back, with a new key that no longer grants carriers: it runs, without them.
    const newKey = `jk_billing_${randomBytes(8).toString('hex')}`;
    const narrowed = await instance([{ service: 'billing', sha256: hashApiKey(newKey), scopes: ['shipments:read'] }, KEYS[1]!]);
    try {
      expect(narrowed.gateway.deliveryStats()[id]).toEqual({ pending: 0 });
      expect(await (await narrowed.fetch(`/deliveries/${id}`, as(newKey))).json()).toMatchObject({ id, status: 'active' });
      await ship(narrowed, eventId(), 'shipped', 'cus_1', { carrier: 'DHL' });
      await eventually(() => statsOf(narrowed, id).delivered === 1, 'the delivery after the key came back');
      expect(receiver.hits).toHaveLength(3);
      const { data, errors } = receiver.hits[2]!.json.data;
      expect(data).toEqual({ shipmentUpdated: { id: expect.any(String), status: 'shipped', carrier: null } });
      expect(errors).toEqual([expect.objectContaining({ path: ['shipmentUpdated', 'carrier'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
      expect((await narrowed.fetch(`/deliveries/${id}`, as(newKey, 'DELETE'))).status).toBe(204);
    } finally {
      await narrowed.close();
    }
  });
});
