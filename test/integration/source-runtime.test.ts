import { createServer, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startHarness, type GraphQLResponse, type Harness } from '../helpers/harness.ts';
import { json, startRecordingServer, type Seen } from '../helpers/recording-server.ts';
import { TEXTS_LINK } from '../helpers/declared.ts';
import { closeServer, listen } from '../../sources/demo/server.ts';
import { basicAuth, randomCredentials } from '../../sources/demo/credentials.ts';
import { SOURCE_NAMES, type SourceName } from '../../sources/demo/index.ts';
import { createGateway, type Gateway } from '../../gateway/create-gateway.ts';
import { createLogger } from '../../gateway/logger.ts';
import { createAuth } from '../../gateway/auth/index.ts';
import { DEFAULTS } from '../../gateway/config.ts';
import { DEFAULT_LIMITS } from '../../gateway/plugins/limits/limits.ts';
import { TEST_AUTH } from '../helpers/test-issuer.ts';

/**
 * The machinery every declared source gets (gateway/engine/runtime.ts), proven through the
 * gateway's public surface: `/readyz`, the development debug extension, retries, the circuit
 * breaker, the request deadline, a provider's 429, and the gateway's own credentials (never the
 * caller's). The sources are declared in Mesh v0 files written to a temp folder: the demo payments
 * (REST) and messaging (GraphQL) backends, a tiny REST backend of the test's own ("Widgets", which
 * records what it receives and answers as scripted), and a GraphQL source whose backend is down.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const PAYMENTS_SPEC = join(ROOT, 'sources/payments/openapi.yaml');
const MESSAGING_SDL = join(ROOT, 'sources/messaging/schema.graphql');

// ---------------------------------------------------------------------------------------------
// Backends of the test's own

/** An answer a scriptable server gives instead of its usual one, once each, in order. */
type Scripted =
  | { status: number; body: string; headers?: Record<string, string> }
  /** Reads the request and never answers. */
  | 'hang'
  /** Passes the request on (the backend does the work), then answers 502 in its place. */
  | 'forward-then-502';

interface Scriptable {
  url: string;
  /** Requests received, probes left out. */
  seen: Seen[];
  /** Requests received, probes included. */
  all: Seen[];
  script: Scripted[];
  close(): Promise<void>;
}

const isProbe = (s: Seen) => (s.method === 'GET' && new URL(s.url, 'http://x').pathname === '/') || s.body === '{"query":"{__typename}"}';

/** A node:http server that answers with `usual`, unless its script says otherwise. */
async function startScriptable(usual: (seen: Seen, res: ServerResponse) => void | Promise<void>): Promise<Scriptable> {
  const scriptable: Scriptable = { url: '', seen: [], all: [], script: [], close: async () => undefined };
  const server = await startRecordingServer((seen, res) => {
    scriptable.all.push(seen);
    if (isProbe(seen)) return void usual(seen, res);
    scriptable.seen.push(seen);
    const next = scriptable.script.shift();
    if (next === undefined) return void usual(seen, res);
    if (next === 'hang') return;
    if (next === 'forward-then-502') {
      void Promise.resolve(usual(seen, { writeHead: () => undefined, end: () => undefined } as unknown as ServerResponse)).then(() => {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html>502 Bad Gateway</html>');
      });
      return;
    }
    res.writeHead(next.status, { 'content-length': String(Buffer.byteLength(next.body)), ...next.headers });
    res.end(next.body);
  });
  return Object.assign(scriptable, server);
}

/** Widgets: `GET /widgets/{id}` and `POST /widgets`, nothing else. */
function startWidgets(): Promise<Scriptable> {
  return startScriptable((seen, res) => {
    const url = new URL(seen.url, 'http://widgets.invalid');
    if (url.pathname === '/') return json(res, 200, { service: 'widgets' });
    const one = /^\/widgets\/([^/]+)$/.exec(url.pathname);
    if (one && seen.method === 'GET') return json(res, 200, { id: decodeURIComponent(one[1]!), name: `Widget ${decodeURIComponent(one[1]!)}` });
    if (url.pathname === '/widgets' && seen.method === 'POST') return json(res, 201, { id: 'w_new', name: (JSON.parse(seen.body) as { name: string }).name });
    return json(res, 404, { code: 'not_found', message: `no route ${seen.method} ${url.pathname}` });
  });
}

/** A pass-through in front of another backend (its target set once known), scriptable. */
async function startFront(): Promise<Scriptable & { target: string }> {
  const front = Object.assign(
    await startScriptable(async (seen, res) => {
      const headers = Object.fromEntries(Object.entries(seen.headers).filter(([k]) => !['host', 'content-length', 'connection', 'transfer-encoding'].includes(k))) as Record<string, string>;
      const answer = await fetch(`${front.target}${seen.url}`, { method: seen.method, headers, ...(seen.method === 'GET' || seen.method === 'HEAD' ? {} : { body: seen.body }) });
      const text = await answer.text();
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
    }),
    { target: '' },
  );
  return front;
}

const WIDGETS_SPEC = {
  openapi: '3.0.3',
  info: { title: 'Widgets', version: '1' },
  servers: [{ url: 'http://widgets.invalid' }],
  paths: {
    '/widgets/{id}': {
      get: {
        operationId: 'getWidget',
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
          // The provider documents its key as a query parameter, as Google Maps does.
          { name: 'api_key', in: 'query', schema: { type: 'string' } },
        ],
        responses: { 200: { description: 'The widget', content: { 'application/json': { schema: { $ref: '#/components/schemas/Widget' } } } } },
      },
    },
    '/widgets': {
      post: {
        operationId: 'createWidget',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/WidgetInput' } } } },
        responses: { 201: { description: 'Created', content: { 'application/json': { schema: { $ref: '#/components/schemas/Widget' } } } } },
      },
    },
  },
  components: {
    schemas: {
      Widget: { type: 'object', required: ['id'], properties: { id: { type: 'string' }, name: { type: 'string' } } },
      WidgetInput: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Configurations, written to a temp folder with absolute paths

const dir = mkdtempSync(join(tmpdir(), 'junction-source-runtime-'));
writeFileSync(join(dir, 'widgets.openapi.json'), JSON.stringify(WIDGETS_SPEC));
writeFileSync(join(dir, 'ghost.graphql'), 'type Query { ghostStatus: String }\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BILLING = `
  - name: Billing
    handler:
      openapi:
        source: ${PAYMENTS_SPEC}
        endpoint: '{env.BILLING_URL}'
        ignoreErrorResponses: true
        auth:
          bearer: '{env.BILLING_KEY}'`;

const SMS = `
  - name: Sms
    handler:
      graphql:
        endpoint: '{env.SMS_URL}/graphql'
        source: ${MESSAGING_SDL}
        auth:
          basic: { username: '{env.SMS_SID}', password: '{env.SMS_TOKEN}' }
    transforms:
      - prefix:
          value: Sms_
          includeRootOperations: true`;

const WIDGETS = (timeoutMs: number, extra = '') => `
  - name: Widgets
    handler:
      openapi:
        source: ${join(dir, 'widgets.openapi.json')}
        endpoint: '{env.WIDGETS_URL}'
        ignoreErrorResponses: true
        timeoutMs: ${timeoutMs}${extra}
        auth:
          apiKey: { in: query, name: api_key, value: '{env.WIDGETS_KEY}' }`;

const GHOST = `
  - name: Ghost
    handler:
      graphql:
        endpoint: '{env.GHOST_URL}/graphql'
        source: ${join(dir, 'ghost.graphql')}`;

const LINKS = `
additionalTypeDefs: |
  extend type Customer {
    texts: [Sms_Message!]
  }
additionalResolvers:${TEXTS_LINK}
`;

function writeConfig(name: string, sources: string[], tail = ''): string {
  const file = join(dir, name);
  writeFileSync(file, `sources:${sources.join('')}\n${tail}`);
  return file;
}

/** A port nothing listens on. */
async function closedPort(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await closeServer(server);
  return url;
}

const WIDGETS_KEY = 'wk_live_0123456789';
const CALLER_SECRET = 'caller-secret-never-forwarded';

type Answer = GraphQLResponse;
const codes = (answer: Answer) => answer.body.errors?.map((e) => e.extensions?.code);

// ---------------------------------------------------------------------------------------------

describe('declared sources: readiness, debug, retries, deadline, 429 and credentials', () => {
  let h: Harness;
  let widgets: Scriptable;
  let front: Scriptable & { target: string };
  beforeAll(async () => {
    widgets = await startWidgets();
    front = await startFront();
    const ghost = await closedPort();
    h = await startHarness({
      mode: 'development',
      meshConfig: writeConfig('runtime.meshrc.yaml', [BILLING, SMS, WIDGETS(300), GHOST], LINKS),
      env: (b, c) => {
        front.target = b.messaging.url;
        return {
          BILLING_URL: b.payments.url,
          BILLING_KEY: c.payments.secretKey,
          SMS_URL: front.url,
          SMS_SID: c.messaging.accountSid,
          SMS_TOKEN: c.messaging.authToken,
          WIDGETS_URL: widgets.url,
          WIDGETS_KEY,
          GHOST_URL: ghost,
        };
      },
    });
  });
  afterAll(async () => {
    vi.useRealTimers();
    await Promise.all([h?.close(), widgets?.close(), front?.close()]);
  });
  beforeEach(async () => {
    await h.resetStats();
    widgets.seen.length = 0;
    front.seen.length = 0;
    widgets.script.length = 0;
    front.script.length = 0;
  });

  describe('/readyz', () => {
    it('lists every declared source by name with its breaker; one whose backend is down makes it degraded, not 503', async () => {
      const response = await h.fetch('/readyz');
      expect(response.status).toBe(200);
      const body = (await response.json()) as { status: string; sources: Record<string, { status: string; latencyMs: number; breaker: string }> };
      expect(body.status).toBe('degraded');
      expect(Object.keys(body.sources).sort()).toEqual(['Billing', 'Ghost', 'Sms', 'Widgets']);
      expect(body.sources).toMatchObject({
        Billing: { status: 'up', breaker: 'closed' },
        Sms: { status: 'up', breaker: 'closed' },
        Widgets: { status: 'up', breaker: 'closed' },
        Ghost: { status: 'down', breaker: 'closed' },
      });
      for (const source of Object.values(body.sources)) expect(typeof source.latencyMs).toBe('number');
      // No demo source is named by the file, so none is probed or listed.
      for (const name of SOURCE_NAMES) expect(body.sources[name]).toBeUndefined();
      // The probes went with the gateway's credentials: the Widgets key in the query.
      const probe = widgets.all.filter(isProbe).at(-1)!;
      expect(new URL(probe.url, 'http://x').searchParams.get('api_key')).toBe(WIDGETS_KEY);
    });

    it('a query to the source that is down: a 200 with SOURCE_UNAVAILABLE for its field, the others answering', async () => {
      const answer = await h.query('query ($id: String!) { ghostStatus getWidget(id: $id) { id } }', { id: 'w1' });
      expect(answer.status).toBe(200);
      expect(answer.body.data).toEqual({ ghostStatus: null, getWidget: { id: 'w1' } });
      expect(answer.body.errors).toHaveLength(1);
      expect(answer.body.errors![0]).toMatchObject({ path: ['ghostStatus'], extensions: { code: 'SOURCE_UNAVAILABLE', source: 'Ghost' } });
    });
  });

  describe('the debug extension (development, x-junction-debug: 1)', () => {
    it('lists each declared source call (source, operation, status) and every declared source\'s breaker', async () => {
      const answer = await h.query('{ listCustomers(limit: 3) { data { id texts { id } } } getWidget(id: "w7") { id } }', {}, { 'x-junction-debug': '1' });
      expect(answer.body.errors).toBeUndefined();
      const upstream = answer.body.extensions!.upstream as { source: string; operation: string; status?: number; batchSize?: number; coalesced: boolean; cached: boolean; durationMs: number }[];
      const calls = upstream.map(({ source, operation, status }) => ({ source, operation, status })).sort((a, b) => a.source.localeCompare(b.source));
      expect(calls).toEqual([
        { source: 'Billing', operation: 'listCustomers', status: 200 },
        // The link: one call for the three customers.
        { source: 'Sms', operation: 'messagesForCustomers', status: 200 },
        { source: 'Widgets', operation: 'getWidget', status: 200 },
      ]);
      expect(upstream.every((c) => c.coalesced === false && c.cached === false && typeof c.durationMs === 'number')).toBe(true);
      const breakers = answer.body.extensions!.breakers as Record<string, string>;
      expect(Object.keys(breakers).sort()).toEqual(['Billing', 'Ghost', 'Sms', 'Widgets']);
      expect(breakers).toMatchObject({ Billing: 'closed', Sms: 'closed', Widgets: 'closed' });
      // The records are the backends' own counts.
      const stats = await h.stats();
      expect(stats.payments.operations).toEqual({ listCustomers: 1 });
      expect(stats.messaging.operations).toEqual({ messagesForCustomers: 1 });
      expect(stats.messaging.batchSizes).toEqual({ messagesForCustomers: [3] });
    });

    it('gives the batch size of a declared link\'s batched call (batchSize: 3 for three customers)', async () => {
      const answer = await h.query('{ listCustomers(limit: 3) { data { id texts { id } } } }', {}, { 'x-junction-debug': '1' });
      const link = (answer.body.extensions!.upstream as { source: string; batchSize?: number }[]).find((c) => c.source === 'Sms');
      expect(link).toMatchObject({ batchSize: 3 });
    });

    it('shows nothing without the header', async () => {
      const answer = await h.query('{ getWidget(id: "w8") { id } }');
      expect(answer.body.extensions?.upstream).toBeUndefined();
      expect(answer.body.extensions?.breakers).toBeUndefined();
    });
  });

  describe('retries', () => {
    it('a REST read whose first attempt fails (HTTP 500) answers: the backend saw 2 calls', async () => {
      const customer = h.seed.customers[0]!;
      await h.fault('payments', 'getCustomer', 1);
      const answer = await h.query('query ($id: String!) { getCustomer(id: $id) { id name } }', { id: customer.id }, { 'x-junction-debug': '1' });
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data).toEqual({ getCustomer: { id: customer.id, name: customer.name } });
      expect((await h.stats()).payments.operations).toEqual({ getCustomer: 2 });
      // One call as the debug extension counts them (its attempts are the runtime's business).
      expect((answer.body.extensions!.upstream as { operation: string; status: number }[]).map((c) => [c.operation, c.status])).toEqual([['getCustomer', 200]]);
    });

    it('a REST mutation (POST, no idempotency key) is never retried: 1 call, SOURCE_ERROR', async () => {
      await h.fault('payments', 'createPayment', 1);
      const input = { customer: h.seed.customers[0]!.id, merchant: h.seed.merchants[0]!.id, amount: 1250, currency: 'eur' };
      const answer = await h.query('mutation ($input: PaymentCreateParams_Input) { createPayment(input: $input) { id } }', { input });
      expect(answer.body.data).toEqual({ createPayment: null });
      expect(answer.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_ERROR', source: 'Billing' });
      expect((await h.stats()).payments.operations).toEqual({ createPayment: 1 });
    });

    it('a REST write carrying an Idempotency-Key is safe to repeat: retried after a 500, 2 calls, and it answers', async () => {
      await h.fault('payments', 'createPayment', 1);
      const input = { customer: h.seed.customers[0]!.id, merchant: h.seed.merchants[0]!.id, amount: 1300, currency: 'eur' };
      const answer = await h.query('mutation ($input: PaymentCreateParams_Input, $key: String) { createPayment(input: $input, Idempotency_Key: $key) { id amount } }', { input, key: 'order-4711' });
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data!.createPayment).toMatchObject({ amount: 1300 });
      expect((await h.stats()).payments.operations).toEqual({ createPayment: 2 });
    });

    it('a GraphQL query whose first attempt fails (HTTP 503 from in front of the backend) answers: 2 calls sent, the backend answered 1', async () => {
      front.script.push({ status: 503, body: 'busy', headers: { 'content-type': 'text/plain' } });
      const answer = await h.query('query ($ids: [ID!]!) { Sms_messagesForCustomers(customerIds: $ids) { customerId } }', { ids: [h.seed.customers[0]!.id] });
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data).toEqual({ Sms_messagesForCustomers: [{ customerId: h.seed.customers[0]!.id }] });
      expect(front.seen).toHaveLength(2);
      expect((await h.stats()).messaging.operations).toEqual({ messagesForCustomers: 1 });
    });

    it('a GraphQL mutation is never retried: the backend did the work once, and the 502 after it is SOURCE_ERROR', async () => {
      front.script.push('forward-then-502');
      const answer = await h.query('mutation { Sms_sendMessage(to: "+4930123456", body: "hello") { id } }');
      // sendMessage's type is non-null: the null reaches data.
      expect(answer.body.data).toBeNull();
      expect(answer.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_ERROR', source: 'Sms' });
      expect(front.seen).toHaveLength(1);
      expect((await h.stats()).messaging.operations).toEqual({ sendMessage: 1 });
    });

    it('a GraphQL backend\'s own error (HTTP 200 with errors) is its answer, not retried: 1 call, SOURCE_ERROR with its code', async () => {
      await h.fault('messaging', 'messagesForCustomers', 1);
      const answer = await h.query('query ($ids: [ID!]!) { Sms_messagesForCustomers(customerIds: $ids) { customerId } }', { ids: [h.seed.customers[0]!.id] });
      expect(answer.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_ERROR', source: 'Sms', upstreamCode: 'INJECTED_FAULT' });
      expect((await h.stats()).messaging.operations).toEqual({ messagesForCustomers: 1 });
    });
  });

  describe("the gateway's credentials, never the caller's", () => {
    it('each backend sees only the credentials its entry declares: the caller\'s Authorization reaches none of them', async () => {
      const token = await h.issuer.token({ sub: 'someone' });
      const headers = { authorization: `Bearer ${token}`, cookie: `session=${CALLER_SECRET}`, 'x-api-key-hint': CALLER_SECRET };
      const answer = await h.query(
        'query ($id: String!) { listCustomers(limit: 2) { data { id texts { id } } } getWidget(id: $id, api_key: "callers-own-key") { id } }',
        { id: 'w9' },
        headers,
      );
      expect(answer.body.errors).toBeUndefined();
      const credentialsSeen = async (name: SourceName) => (await fetch(`${h.backends[name].url}/_stats/credentials`)).json();
      expect(await credentialsSeen('payments')).toEqual([`Bearer ${h.credentials.payments.secretKey}`]);
      expect(await credentialsSeen('messaging')).toEqual([basicAuth(h.credentials.messaging.accountSid, h.credentials.messaging.authToken)]);
      // Widgets: the key in the query, once, over the caller's argument; no header of the caller's.
      expect(widgets.seen).toHaveLength(1);
      const sent = widgets.seen[0]!;
      expect(new URL(sent.url, 'http://x').searchParams.getAll('api_key')).toEqual([WIDGETS_KEY]);
      expect(sent.headers.authorization).toBeUndefined();
      expect(sent.headers.cookie).toBeUndefined();
      const everything = JSON.stringify([...widgets.seen, ...front.seen].map((s) => [s.url, s.headers, s.body]));
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(CALLER_SECRET);
      expect(everything).not.toContain('callers-own-key');
    });
  });

  describe('the source timeout', () => {
    it('a backend slower than the source\'s timeoutMs (300): SOURCE_TIMEOUT within it, one call, the other fields answering', async () => {
      widgets.script.push('hang');
      const started = performance.now();
      const answer = await h.query('query ($c: String!) { getWidget(id: "slow") { id } getCustomer(id: $c) { id } }', { c: h.seed.customers[1]!.id });
      const elapsed = performance.now() - started;
      expect(answer.status).toBe(200);
      expect(answer.body.data).toEqual({ getWidget: null, getCustomer: { id: h.seed.customers[1]!.id } });
      expect(answer.body.errors).toHaveLength(1);
      expect(answer.body.errors![0]).toMatchObject({ path: ['getWidget'], extensions: { code: 'SOURCE_TIMEOUT', source: 'Widgets' } });
      // Its own 300 ms, not the gateway's 5 s nor the request's 10 s (the rest is headroom for a busy machine).
      expect(elapsed).toBeGreaterThanOrEqual(280);
      expect(elapsed).toBeLessThan(1_000);
      // A timeout has used the caller's time: not retried.
      expect(widgets.seen).toHaveLength(1);
    });
  });

  // Last of this harness's Widgets tests: Widgets is then held off for 7 s of real time.
  describe('a 429 with the wait in its JSON body', () => {
    it('gives SOURCE_RATE_LIMITED with retryAfter 7; calls within the window are refused unsent, and the first after it is sent', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const start = Date.now();
      widgets.script.push({ status: 429, body: '{"retry_after": 7}', headers: { 'content-type': 'application/json' } });
      const first = await h.query('{ getWidget(id: "w1") { id } }');
      expect(first.status).toBe(200);
      expect(first.body.data).toEqual({ getWidget: null });
      expect(first.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'Widgets', retryAfter: 7 });
      expect(widgets.seen).toHaveLength(1);

      // Within the window, a read and a write alike are refused without reaching the backend.
      vi.setSystemTime(start + 3_000);
      const read = await h.query('{ getWidget(id: "w2") { id } }');
      expect(read.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'Widgets', retryAfter: 4 });
      const write = await h.query('mutation { createWidget(input: { name: "x" }) { id } }');
      expect(write.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'Widgets', retryAfter: 4 });
      expect(widgets.seen).toHaveLength(1);
      // Another source is not held off.
      expect(codes(await h.query('{ listCustomers(limit: 1) { data { id } } }'))).toBeUndefined();

      vi.setSystemTime(start + 7_001);
      const after = await h.query('{ getWidget(id: "w3") { id } }');
      expect(after.body.errors).toBeUndefined();
      expect(after.body.data).toEqual({ getWidget: { id: 'w3' } });
      expect(widgets.seen).toHaveLength(2);
      // A 429 is the provider's limit, not a failure: the breaker stayed closed.
      expect(h.gateway.breakers().Widgets).toBe('closed');
    });
  });
});

describe("a declared source's circuit breaker", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      meshConfig: writeConfig('breaker.meshrc.yaml', [BILLING, SMS]),
      resilience: { failureThreshold: 2, halfOpenAfterMs: 60_000, maxRetries: 0 },
      env: (b, c) => ({
        BILLING_URL: b.payments.url,
        BILLING_KEY: c.payments.secretKey,
        SMS_URL: b.messaging.url,
        SMS_SID: c.messaging.accountSid,
        SMS_TOKEN: c.messaging.authToken,
      }),
    });
  });
  afterAll(() => h?.close());
  afterEach(() => vi.useRealTimers());

  it('opens after 2 failures: the next call is refused unsent (SOURCE_UNAVAILABLE, circuit_open), other sources unaffected, and a call after halfOpenAfterMs closes it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const Q = 'query ($id: String!) { getCustomer(id: $id) { id } }';
    const id = h.seed.customers[2]!.id;
    await h.fault('payments', 'getCustomer', 2);
    for (let i = 0; i < 2; i++) {
      const failed = await h.query(Q, { id });
      expect(failed.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_ERROR', source: 'Billing' });
    }
    expect((await h.stats()).payments.total).toBe(2);
    expect(h.gateway.breakers()).toEqual({ Billing: 'open', Sms: 'closed' });

    const refused = await h.query(Q, { id });
    expect(refused.status).toBe(200);
    expect(refused.body.data).toEqual({ getCustomer: null });
    expect(refused.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_UNAVAILABLE', source: 'Billing', upstreamCode: 'circuit_open' });
    // Any operation of the source, while open.
    const other = await h.query('{ listCustomers(limit: 1) { data { id } } }');
    expect(other.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_UNAVAILABLE', source: 'Billing', upstreamCode: 'circuit_open' });
    expect((await h.stats()).payments.total).toBe(2);
    // Sms still answers.
    const sms = await h.query('query ($ids: [ID!]!) { Sms_messagesForCustomers(customerIds: $ids) { customerId } }', { ids: [id] });
    expect(sms.body.errors).toBeUndefined();

    // Readiness shows the breaker; the probe sees the backend itself, which is up.
    const ready = await (await h.fetch('/readyz')).json();
    expect(ready).toMatchObject({ status: 'ready', sources: { Billing: { status: 'up', breaker: 'open' }, Sms: { status: 'up', breaker: 'closed' } } });

    // Still open just before halfOpenAfterMs; after it, one call goes through and closes it.
    vi.setSystemTime(Date.now() + 59_000);
    expect((await h.query(Q, { id })).body.errors![0]!.extensions!.upstreamCode).toBe('circuit_open');
    expect((await h.stats()).payments.total).toBe(2);
    vi.setSystemTime(Date.now() + 1_001);
    const back = await h.query(Q, { id });
    expect(back.body.errors).toBeUndefined();
    expect(back.body.data).toEqual({ getCustomer: { id } });
    expect((await h.stats()).payments.total).toBe(3);
    expect(h.gateway.breakers().Billing).toBe('closed');
  });
});

describe('the request deadline (REQUEST_DEADLINE_MS) over a declared source', () => {
  let gateway: Gateway;
  let widgets: Scriptable;
  beforeAll(async () => {
    widgets = await startWidgets();
    const logger = createLogger('error', new Writable({ write: (_chunk, _enc, done) => done() }));
    const unused = await closedPort();
    gateway = await createGateway({
      auth: await createAuth({ ...TEST_AUTH }, logger),
      watchEventLoop: false,
      logger,
      // Widgets' own timeout is 5 s; the request's deadline is 250 ms.
      meshConfig: writeConfig('deadline.meshrc.yaml', [WIDGETS(5_000, '\n        public: true')]),
      env: { WIDGETS_URL: widgets.url, WIDGETS_KEY },
      config: {
        mode: 'production',
        limits: DEFAULT_LIMITS,
        upstream: { timeoutMs: 5_000, maxResponseBytes: DEFAULTS.upstreamMaxResponseBytes, requestDeadlineMs: 250 },
      },
    });
  });
  afterAll(async () => {
    gateway?.close();
    await widgets?.close();
  });

  it('a backend slower than the deadline: SOURCE_TIMEOUT when the deadline passes, not after the source\'s 5 s', async () => {
    widgets.script.push('hang');
    const started = performance.now();
    const response = await gateway.yoga.fetch(
      new Request('http://junction.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query: '{ getWidget(id: "slow") { id } }' }),
      }),
      { req: { socket: { remoteAddress: '192.0.2.10' } } },
    );
    const elapsed = performance.now() - started;
    const body = (await response.json()) as Answer['body'];
    expect(response.status).toBe(200);
    expect(body.data).toEqual({ getWidget: null });
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_TIMEOUT', source: 'Widgets' });
    // The deadline's 250 ms, not the source's 5 s (the rest is headroom for a busy machine).
    expect(elapsed).toBeGreaterThanOrEqual(200);
    expect(elapsed).toBeLessThan(1_500);
    expect(widgets.seen).toHaveLength(1);
  });
});
