import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { offlineGraphqlSource, writeSourcesFile } from '../helpers/sources-file.ts';
import { eventually, subscribeSse, subscriptionsOpen } from '../helpers/realtime.ts';
import { createMemoryWebhookStore, type WebhookStore } from '../../gateway/webhooks/store.ts';
import { createGateway, type Gateway } from '../../gateway/create-gateway.ts';
import { createLogger } from '../../gateway/logger.ts';
import { createAuth } from '../../gateway/auth/index.ts';
import { hashApiKey } from '../../gateway/auth/api-keys.ts';
import { DEFAULTS } from '../../gateway/config.ts';
import { DEFAULT_LIMITS } from '../../gateway/plugins/limits/limits.ts';
import { listen } from '../../gateway/index.ts';
import { attachWebSocket } from '../../gateway/websocket.ts';
import { manualPolls } from '../helpers/polls.ts';
import { createTestIssuer, TEST_AUTH } from '../helpers/test-issuer.ts';

/**
 * A hostile review of real time (issue 17): each test here failed before the fix beside it.
 */

const SUBSCRIPTION = 'subscription($c: ID!) { shipmentUpdated(customerId: $c) { id status } }';

/** A sources file with one declared source whose hmac-signed webhook feeds `shipmentUpdated`. */
const warehouseFile = (topic: string) => writeSourcesFile(offlineGraphqlSource('warehouse', `        webhooks:
          - { path: /webhooks/warehouse, scheme: hmac, secrets: ['{env.WAREHOUSE_SECRET}'], pubsubTopic: ${topic} }
additionalTypeDefs: |
  type Shipment {
    id: ID!
    customerId: ID!
    status: String
  }
  type Subscription {
    shipmentUpdated(customerId: ID!): Shipment
  }
additionalResolvers:
  - targetTypeName: Subscription
    targetFieldName: shipmentUpdated
    pubsubTopic: ${topic}
    filterBy: "root.shipment.customerId === args.customerId"
    result: shipment
`));

describe('resuming while an event is kept but not yet published', () => {
  const secret = randomBytes(16).toString('hex');
  const topic = `shipments-${randomBytes(4).toString('hex')}`;
  let h: Harness;
  /** While set, a delivery is appended to the stream and then waits here before it is published. */
  let gate: Promise<void> | undefined;
  let appended = 0;
  let reads = 0;
  let sequence = 0;
  beforeAll(async () => {
    const memory = createMemoryWebhookStore();
    // The store as a slow Redis is: the event is in the stream a moment before it is published
    // (confirm, invalidation and the pub/sub round trip come in between).
    const store: WebhookStore = {
      ...memory,
      append: async (...args) => {
        const id = await memory.append(...args);
        appended += 1;
        return id;
      },
      confirm: async (...args) => {
        await gate;
        await memory.confirm(...args);
      },
      readAfter: async (...args) => {
        const page = await memory.readAfter(...args);
        reads += 1;
        return page;
      },
    };
    h = await startHarness({ meshConfig: warehouseFile(topic), env: () => ({ WAREHOUSE_SECRET: secret }), webhookStore: store });
  });
  afterAll(() => h.close());

  const ship = (status: string) => {
    const body = JSON.stringify({ id: `evt_${sequence++}_${randomBytes(4).toString('hex')}`, type: 'shipment.updated', shipment: { id: 'shp_1', customerId: 'cus_1', status } });
    const signature = createHmac('sha256', secret).update(body).digest('hex');
    return h.fetch('/webhooks/warehouse', { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': `sha256=${signature}` }, body });
  };

  it('hears the event once: from the stream, not again when its publish arrives after the catch-up', async () => {
    const token = `Bearer ${await h.issuer.token()}`;
    const first = await subscribeSse(h, SUBSCRIPTION, { c: 'cus_1' }, { authorization: token });
    await subscriptionsOpen(h, topic, 1);
    expect((await ship('packed')).status).toBe(200);
    const seen = await first.next();
    expect(seen.data.data.shipmentUpdated.status).toBe('packed');
    first.close();
    await subscriptionsOpen(h, topic, 0);

    // `picked up` is kept in the stream; its publish waits.
    let open!: () => void;
    gate = new Promise((resolve) => {
      open = resolve;
    });
    const held = ship('picked up');
    await eventually(() => appended === 2, 'the held event appended');

    const again = await subscribeSse(h, SUBSCRIPTION, { c: 'cus_1' }, { authorization: token, 'last-event-id': seen.id! });
    try {
      const missed = await again.next();
      expect(missed.data.data.shipmentUpdated.status).toBe('picked up');
      // The catch-up read once more, found nothing newer, and went live.
      await eventually(() => reads >= 2, 'the catch-up to end');
      await new Promise((resolve) => setImmediate(resolve));
      // Now the held event is published, live.
      gate = undefined;
      open();
      expect((await held).status).toBe(200);
      expect((await ship('in transit')).status).toBe(200);
      const next = await again.next();
      expect(next.data.data.shipmentUpdated.status).toBe('in transit');
      expect(next.id).not.toBe(missed.id);
    } finally {
      again.close();
    }
    await subscriptionsOpen(h, topic, 0);
  });
});

describe('a polled item that changes back to a state it had before', () => {
  const OPS_KEY = `jk_ops_${randomBytes(8).toString('hex')}`;
  const topic = `parcels-${randomBytes(4).toString('hex')}`;
  const parcel = { id: 'p1', status: 'stored' };
  const polls = manualPolls();
  const received: { id: string; data: any }[] = [];
  let gateway: Gateway;
  let closeServers: () => Promise<void>;
  beforeAll(async () => {
    const depot = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [parcel] }));
    });
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ id: String(req.headers['webhook-id']), data: JSON.parse(Buffer.concat(chunks).toString('utf8')).data });
        res.writeHead(200).end('ok');
      });
    });
    const depotUrl = await listen(depot);
    const receiverUrl = await listen(receiver);
    closeServers = async () => {
      for (const server of [depot, receiver]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    };
    const spec = writeSourcesFile(`openapi: 3.0.3
info: { title: Depot, version: '1' }
paths:
  /parcels:
    get:
      operationId: listParcels
      responses:
        '200':
          description: The parcels.
          content:
            application/json:
              schema:
                type: object
                properties:
                  data: { type: array, items: { $ref: '#/components/schemas/Parcel' } }
components:
  schemas:
    Parcel:
      type: object
      properties:
        id: { type: string }
        status: { type: string }
`, '.yaml');
    const file = writeSourcesFile(`sources:
  - name: depot
    handler:
      openapi:
        source: ${spec}
        endpoint: '${depotUrl}'
        polls:
          - { pubsubTopic: ${topic}, operation: listParcels, items: data, key: id }
additionalTypeDefs: |
  type Subscription { parcelUpdated(id: ID!): Parcel }
additionalResolvers:
  - { targetTypeName: Subscription, targetFieldName: parcelUpdated, pubsubTopic: ${topic}, filterBy: "root.id === args.id" }
`);
    const logger = createLogger('silent');
    const issuer = await createTestIssuer();
    const auth = await createAuth({ ...TEST_AUTH, keys: { kind: 'file', jwks: issuer.jwks }, apiKeys: [{ service: 'ops', sha256: hashApiKey(OPS_KEY), scopes: [] }] }, logger);
    gateway = await createGateway({
      auth,
      logger,
      watchEventLoop: false,
      meshConfig: file,
      env: {},
      pollScheduler: polls,
      config: { mode: 'development', limits: DEFAULT_LIMITS, upstream: { timeoutMs: DEFAULTS.upstreamTimeoutMs, maxResponseBytes: DEFAULTS.upstreamMaxResponseBytes } },
      deliveries: { allowedHosts: [new URL(receiverUrl).host], syncIntervalMs: 3_600_000 },
    });
    const registered = await gateway.yoga.fetch(new Request('http://junction.test/deliveries', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': OPS_KEY },
      body: JSON.stringify({ url: `${receiverUrl}/hooks`, query: 'subscription { parcelUpdated(id: "p1") { id status } }' }),
    }), { req: { socket: { remoteAddress: '192.0.2.10' } } });
    expect(registered.status).toBe(201);
  });
  afterAll(async () => {
    await gateway?.close();
    await closeServers?.();
  });

  it('is delivered to a registered endpoint each time it changes, each change with its own webhook-id', async () => {
    // The first round records what there is; then stored -> lost -> stored -> lost: three changes.
    await polls.tick();
    for (const [round, status] of ['lost', 'stored', 'lost'].entries()) {
      parcel.status = status;
      await polls.tick();
      await eventually(() => received.length === round + 1, `delivery ${round + 1}`);
    }
    expect(received.map((r) => r.data.data.parcelUpdated.status)).toEqual(['lost', 'stored', 'lost']);
    expect(new Set(received.map((r) => r.id)).size).toBe(3);
    expect(gateway.pollStats()[topic]).toMatchObject({ polls: 4, events: 3 });
  });
});

describe('WebSocket behind a trusted proxy', () => {
  it('tells anonymous clients apart by x-forwarded-for, as HTTP does: one client\'s rate limit is not another\'s', async () => {
    // The proxy is this machine: every connection comes from 127.0.0.1, each client's own address in x-forwarded-for.
    const h = await startHarness({ limits: { RATE_ANONYMOUS_PER_MIN: 1 }, trustedProxies: ['127.0.0.1'] });
    const server = createServer();
    const closeSockets = attachWebSocket(server, h.gateway);
    const url = `${(await listen(server)).replace('http://', 'ws://')}/graphql`;
    const clients: Client[] = [];
    const via = (forwardedFor: string) => {
      const client = createClient({
        url,
        webSocketImpl: class extends WebSocket {
          constructor(address: string, protocols?: string | string[]) {
            super(address, protocols, { headers: { 'x-forwarded-for': forwardedFor } });
          }
        },
        retryAttempts: 0,
        lazy: true,
        lazyCloseTimeout: 60_000,
      });
      clients.push(client);
      return client;
    };
    const ask = (client: Client) => new Promise<any>((resolve, reject) => {
      let result: unknown;
      client.subscribe({ query: '{ __typename }' }, { next: (value) => { result = value; }, error: reject, complete: () => resolve(result) });
    });
    try {
      const first = via('203.0.113.1');
      const second = via('203.0.113.2');
      expect(await ask(first)).toEqual({ data: { __typename: 'Query' } });
      expect(await ask(second)).toEqual({ data: { __typename: 'Query' } });
      expect((await ask(first)).errors[0].extensions.code).toBe('RATE_LIMITED');
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
      await closeSockets();
      await new Promise((resolve) => server.close(resolve));
      await h.close();
    }
  });
});
