import { createServer, type Server } from 'node:http';
import type { GraphQLError } from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import { basicAuth } from '../../sources/demo/credentials.ts';
import { closeServer, listen } from '../../sources/demo/server.ts';
import { armFault, credentialsSeen, loadDemoSources, readStats, resetBackend, startTestSources, type TestSources } from '../helpers/demo-sources.ts';
import { MESSAGING_MAX_BATCH, sendMessage, type Message } from '../../sources/messaging/loaders.ts';

const MESSAGING_SOURCE = 'messaging';

/** Asserts `promise` rejects with an UpstreamError carrying exactly these details. */
async function expectUpstreamError(promise: Promise<unknown>, expected: Partial<UpstreamError>): Promise<void> {
  const error = await promise.then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(UpstreamError);
  expect(error).toMatchObject({ source: MESSAGING_SOURCE, ...expected });
}

/** Asserts `promise` rejects with the catalogued error `code` about the messaging source. */
async function expectCatalogued(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(Error);
  expect((error as GraphQLError).extensions).toMatchObject({ code, source: MESSAGING_SOURCE });
}

let t: TestSources;
let url: string;
/** Answers every request the way a broken proxy or a hung service would, by path. */
let odd: Server;
let oddUrl: string;
let closedUrl: string;
const messaging = () => t.source('messaging');
const seedMessages = () => {
  const [m1, m2, m3] = [t.seed.messages[10]!, t.seed.messages[500]!, t.seed.messages[1200]!];
  const withMessages = [...new Set(t.seed.messages.map((m) => m.customerId!))];
  return { m1, m2, m3, alice: withMessages[0]!, bob: withMessages[1]! };
};

beforeAll(async () => {
  t = await startTestSources(['messaging']);
  url = t.backends.messaging!.url;
  odd = createServer((req, res) => {
    req.resume();
    if (req.url === '/bad-gateway/graphql' || req.url === '/bad-gateway/') {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>502 Bad Gateway</h1>');
    } else if (req.url === '/html/graphql') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Welcome</h1>');
    } else if (req.url === '/wrong-shape/graphql') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{"messages":[{"id":1}]}}');
    } else if (req.url === '/echo-auth/graphql') {
      // A message whose body is the Authorization header received: what the entry's credentials sent.
      const message = { id: 'SM1', to: '+1', from: '+2', body: req.headers.authorization ?? '', status: 'SENT', sentAt: '2026-01-01T00:00:00Z', customerId: null };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { messages: [message] } }));
    }
    // /hang/... never answers: the source's timeout must end the call.
  });
  oddUrl = await listen(odd);
  const closed = createServer();
  closedUrl = await listen(closed);
  await closeServer(closed);
});
afterAll(async () => {
  await t?.close();
  await closeServer(odd);
});
beforeEach(async () => {
  await resetBackend(url);
});

/** The demo sources' messaging entry, pointed at `base` instead of the backend. */
const messagingAt = (base: string, timeoutMs?: number) =>
  loadDemoSources({ urls: { messaging: base }, credentials: t.credentials, ...(timeoutMs !== undefined ? { timeoutMs: { messaging: timeoutMs } } : {}) });

const asMessage = (m: { status: string }) => ({ ...m, status: m.status.toUpperCase() });

describe('messaging loaders: message', () => {
  it('answers the messages found, null for unknown ids, in one request', async () => {
    const { m1, m2 } = seedMessages();
    const found = await t.loaders().message.loadMany([m1.id, 'SM0000000000000000000000000000000f', m2.id]);
    expect(found).toEqual([asMessage(m1), null, asMessage(m2)]);
    expect(await readStats(url)).toEqual({ total: 1, probes: 0, operations: { messages: 1 }, batchSizes: { messages: [3] } });
  });

  it('splits 250 ids into requests of at most 100 and answers all 250, each under its own id', async () => {
    const ids = t.seed.messages.slice(0, 250).map((m) => m.id);
    const found = await t.loaders().message.loadMany(ids);
    expect(found.map((m) => (m instanceof Error ? m : m?.id))).toEqual(ids);
    const stats = await readStats(url);
    expect(stats.operations).toEqual({ messages: 3 });
    expect([...stats.batchSizes['messages']!].sort((a, b) => a - b)).toEqual([50, MESSAGING_MAX_BATCH, MESSAGING_MAX_BATCH]);
  });

  it('asks for a repeated id once', async () => {
    const { m3 } = seedMessages();
    const found = await t.loaders().message.loadMany([m3.id, m3.id, m3.id]);
    expect(found.map((m) => (m instanceof Error ? m : m?.id))).toEqual([m3.id, m3.id, m3.id]);
    expect((await readStats(url)).batchSizes).toEqual({ messages: [1] });
  });

  it('makes no request for no ids', async () => {
    expect(await t.loaders().message.loadMany([])).toEqual([]);
    expect((await readStats(url)).total).toBe(0);
  });
});

describe('messaging loaders: customerMessages', () => {
  it('answers each asked customer\'s newest messages, an unknown customer getting an empty list', async () => {
    const { alice, bob } = seedMessages();
    const result = await t.loaders().customerMessages.loadMany([
      { customerId: alice, first: 2 }, { customerId: 'cus_unknown0000000', first: 2 }, { customerId: bob, first: 2 },
    ]);
    expect(result[1]).toEqual([]);
    for (const [index, customerId] of [[0, alice], [2, bob]] as const) {
      const expected = t.seed.messages.filter((m) => m.customerId === customerId).slice(0, 2).map((m) => m.id);
      expect((result[index] as Message[]).map((m) => m.id)).toEqual(expected);
    }
    expect((await readStats(url)).batchSizes).toEqual({ messagesForCustomers: [3] });
  });

  it('splits 150 customers into requests of 100 and 50', async () => {
    const ids = t.seed.customers.slice(0, 150).map((c) => c.id);
    const result = await t.loaders().customerMessages.loadMany(ids.map((customerId) => ({ customerId, first: 1 })));
    expect(result).toHaveLength(150);
    // Each customer's own: one message for every customer the seed sent any, each addressed to them.
    expect(result.map((messages) => (messages as { customerId: string | null }[]).map((m) => m.customerId)))
      .toEqual(ids.map((id) => (t.seed.messages.some((m) => m.customerId === id) ? [id] : [])));
    const stats = await readStats(url);
    expect([...stats.batchSizes['messagesForCustomers']!].sort((a, b) => a - b)).toEqual([50, 100]);
  });

  it('reports an out-of-range first as a graphql UpstreamError with the backend\'s code', async () => {
    const { alice } = seedMessages();
    await expectUpstreamError(t.loaders().customerMessages.load({ customerId: alice, first: 51 }), {
      operation: 'messagesForCustomers', failure: 'graphql', upstreamCode: 'INVALID_ARGUMENT',
    });
  });
});

describe('messaging: sendMessage', () => {
  it('returns the queued message', async () => {
    const { bob } = seedMessages();
    const sent = await sendMessage(messaging(), { to: '+447700900123', body: 'See you at 6.', customerId: bob });
    expect(sent).toEqual({
      id: expect.stringMatching(/^SM[0-9a-f]{32}$/), to: '+447700900123', from: '+15005550006',
      body: 'See you at 6.', status: 'QUEUED', sentAt: expect.any(String), customerId: bob,
    });
  });

  it('sends customerId null when none is given', async () => {
    const sent = await sendMessage(messaging(), { to: '+447700900124', body: 'Hello.' });
    expect(sent.customerId).toBeNull();
  });

  it('reports an invalid number as a graphql UpstreamError carrying the backend\'s code and message', async () => {
    await expectUpstreamError(sendMessage(messaging(), { to: '0044 7700', body: 'x' }), {
      operation: 'sendMessage', failure: 'graphql', upstreamCode: 'INVALID_PHONE_NUMBER',
      message: "The 'To' number 0044 7700 is not a valid phone number",
    });
  });
});

describe('messaging: credentials', () => {
  it('sends the gateway\'s account id and auth token as HTTP Basic, and nothing else', async () => {
    const { m1 } = seedMessages();
    await t.loaders().message.load(m1.id);
    await sendMessage(messaging(), { to: '+447700900125', body: 'Hi.' });
    expect(await credentialsSeen(url)).toEqual([basicAuth(t.credentials.messaging.accountSid, t.credentials.messaging.authToken)]);
  });

  it('sends them to the endpoint the entry names, <url>/graphql', async () => {
    const echo = await messagingAt(`${oddUrl}/echo-auth`);
    const message = await echo.loaders().message.load('SM1');
    expect(message?.body).toBe(basicAuth(t.credentials.messaging.accountSid, t.credentials.messaging.authToken));
  });
});

describe('messaging: failures', () => {
  it('turns an injected fault into a graphql UpstreamError with code INJECTED_FAULT', async () => {
    const { m1 } = seedMessages();
    await armFault(url, 'messages');
    await expectUpstreamError(t.loaders().message.load(m1.id), {
      operation: 'messages', failure: 'graphql', upstreamCode: 'INJECTED_FAULT', message: 'Injected fault for messages',
    });
    expect((await readStats(url)).operations).toEqual({ messages: 1 });
  });

  it('turns a closed port into an unreachable UpstreamError', async () => {
    const { m1 } = seedMessages();
    const down = await messagingAt(closedUrl);
    await expectUpstreamError(down.loaders().message.load(m1.id), { operation: 'messages', failure: 'unreachable' });
    await expectUpstreamError(down.loaded.messaging!.runtime!.probe(), { operation: 'probe', failure: 'unreachable' });
  });

  it('turns an HTTP 502 into an http UpstreamError with the status, and fails the probe', async () => {
    const proxied = await messagingAt(`${oddUrl}/bad-gateway`);
    await expectUpstreamError(sendMessage(proxied.source('messaging'), { to: '+4930555123', body: 'x' }), {
      operation: 'sendMessage', failure: 'http', status: 502,
    });
    await expect(proxied.loaded.messaging!.runtime!.probe()).rejects.toThrow('messaging answered its probe with HTTP 502');
  });

  it('turns a 200 that is not JSON into bad_response, and JSON of the wrong shape into SOURCE_BAD_RESPONSE', async () => {
    const { m1 } = seedMessages();
    await expectUpstreamError((await messagingAt(`${oddUrl}/html`)).loaders().message.load(m1.id), {
      operation: 'messages', failure: 'bad_response',
    });
    await expectCatalogued((await messagingAt(`${oddUrl}/wrong-shape`)).loaders().message.load(m1.id), 'SOURCE_BAD_RESPONSE');
  });

  it('turns a backend that never answers into a timeout UpstreamError', async () => {
    const { alice } = seedMessages();
    const hung = await messagingAt(`${oddUrl}/hang`, 100);
    await expectUpstreamError(hung.loaders().customerMessages.load({ customerId: alice, first: 1 }), { operation: 'messagesForCustomers', failure: 'timeout' });
  });
});

describe('messaging: probe', () => {
  it('resolves against the running backend without counting an operation', async () => {
    await expect(t.loaded.messaging!.runtime!.probe()).resolves.toBeUndefined();
    expect(await readStats(url)).toMatchObject({ total: 0, probes: 1 });
  });
});
