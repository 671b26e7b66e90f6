import { createServer } from 'node:http';
import { DEMO_HEADERS } from '../demo/credentials.ts';
import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSeed } from '../demo/seed.ts';
import { closeServer, listen } from '../demo/server.ts';
import type { DemoBackend } from '../demo/server.ts';
import { UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import { startMessagingBackend } from './backend/backend.ts';
import { createMessagingClient, MESSAGING_MAX_BATCH, MESSAGING_SOURCE } from './client.ts';
import type { MessagingClient } from './client.ts';
import { armFault, readStats, resetBackend } from './backend/test-support.ts';

const seed = createSeed();
const [m1, m2, m3] = [seed.messages[10]!, seed.messages[500]!, seed.messages[1200]!];
const withMessages = [...new Set(seed.messages.map((m) => m.customerId!))];
const [alice, bob] = [withMessages[0]!, withMessages[1]!];

/** Asserts `promise` rejects with an UpstreamError carrying exactly these details. */
async function expectUpstreamError(promise: Promise<unknown>, expected: Partial<UpstreamError>): Promise<void> {
  const error = await promise.then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(UpstreamError);
  expect(error).toMatchObject({ source: MESSAGING_SOURCE, ...expected });
}

let backend: DemoBackend;
let client: MessagingClient;
/** Answers every request the way a broken proxy or a hung service would, by path. */
let odd: Server;
let oddUrl: string;
let closedUrl: string;

beforeAll(async () => {
  backend = await startMessagingBackend({ seed });
  client = createMessagingClient({ headers: DEMO_HEADERS.messaging, url: backend.url });
  odd = createServer((req, res) => {
    req.resume();
    if (req.url === '/bad-gateway/graphql' || req.url === '/bad-gateway/') {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>502 Bad Gateway</h1>');
    } else if (req.url === '/html/graphql') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Welcome</h1>');
    } else if (req.url === '/wrong-shape/graphql') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{"messages":[{"id":1}]}}');
    }
    // /hang/... never answers: the client's timeout must end the call.
  });
  oddUrl = await listen(odd);
  const closed = createServer();
  closedUrl = await listen(closed);
  await closeServer(closed);
});
afterAll(async () => {
  await backend.close();
  await closeServer(odd);
});
beforeEach(async () => {
  await resetBackend(backend.url);
});

describe('messaging client: messagesByIds', () => {
  it('returns the messages found, leaving unknown ids out, in one request', async () => {
    const found = await client.messagesByIds([m1.id, 'SM0000000000000000000000000000000f', m2.id]);
    expect(found).toEqual([m1, m2].map((m) => ({ ...m, status: m.status.toUpperCase() })));
    expect(await readStats(backend.url)).toEqual({ total: 1, probes: 0, operations: { messages: 1 }, batchSizes: { messages: [3] } });
  });

  it('splits 250 ids into requests of at most 100 and returns all 250', async () => {
    const ids = seed.messages.slice(0, 250).map((m) => m.id);
    const found = await client.messagesByIds(ids);
    expect(found.map((m) => m.id).sort()).toEqual([...ids].sort());
    const stats = await readStats(backend.url);
    expect(stats.operations).toEqual({ messages: 3 });
    expect([...stats.batchSizes['messages']!].sort((a, b) => a - b)).toEqual([50, MESSAGING_MAX_BATCH, MESSAGING_MAX_BATCH]);
  });

  it('asks for a repeated id once', async () => {
    const found = await client.messagesByIds([m3.id, m3.id, m3.id]);
    expect(found.map((m) => m.id)).toEqual([m3.id]);
    expect((await readStats(backend.url)).batchSizes).toEqual({ messages: [1] });
  });

  it('makes no request for no ids', async () => {
    expect(await client.messagesByIds([])).toEqual([]);
    expect((await readStats(backend.url)).total).toBe(0);
  });
});

describe('messaging client: messagesForCustomers', () => {
  it('keys each asked customer\'s newest messages by id, an unknown customer getting an empty list', async () => {
    const result = await client.messagesForCustomers([alice, 'cus_unknown0000000', bob], 2);
    expect([...result.keys()]).toEqual([alice, 'cus_unknown0000000', bob]);
    expect(result.get('cus_unknown0000000')).toEqual([]);
    for (const customerId of [alice, bob]) {
      const expected = seed.messages.filter((m) => m.customerId === customerId).slice(0, 2).map((m) => m.id);
      expect(result.get(customerId)!.map((m) => m.id)).toEqual(expected);
    }
    expect((await readStats(backend.url)).batchSizes).toEqual({ messagesForCustomers: [3] });
  });

  it('splits 150 customers into requests of 100 and 50', async () => {
    const ids = seed.customers.slice(0, 150).map((c) => c.id);
    const result = await client.messagesForCustomers(ids, 1);
    expect(result.size).toBe(150);
    const stats = await readStats(backend.url);
    expect([...stats.batchSizes['messagesForCustomers']!].sort((a, b) => a - b)).toEqual([50, 100]);
  });

  it('reports an out-of-range first as a graphql UpstreamError with the backend\'s code', async () => {
    await expectUpstreamError(client.messagesForCustomers([alice], 51), {
      operation: 'messagesForCustomers', failure: 'graphql', upstreamCode: 'INVALID_ARGUMENT', status: 200,
    });
  });
});

describe('messaging client: sendMessage', () => {
  it('returns the queued message', async () => {
    const sent = await client.sendMessage({ to: '+447700900123', body: 'See you at 6.', customerId: bob });
    expect(sent).toEqual({
      id: expect.stringMatching(/^SM[0-9a-f]{32}$/), to: '+447700900123', from: '+15005550006',
      body: 'See you at 6.', status: 'QUEUED', sentAt: expect.any(String), customerId: bob,
    });
  });

  it('sends customerId null when none is given', async () => {
    const sent = await client.sendMessage({ to: '+447700900124', body: 'Hello.' });
    expect(sent.customerId).toBeNull();
  });

  it('reports an invalid number as a graphql UpstreamError carrying the backend\'s code and message', async () => {
    await expectUpstreamError(client.sendMessage({ to: '0044 7700', body: 'x' }), {
      operation: 'sendMessage', failure: 'graphql', upstreamCode: 'INVALID_PHONE_NUMBER',
      message: "The 'To' number 0044 7700 is not a valid phone number",
    });
  });
});

describe('messaging client: failures', () => {
  it('turns an injected fault into a graphql UpstreamError with code INJECTED_FAULT', async () => {
    await armFault(backend.url, 'messages');
    await expectUpstreamError(client.messagesByIds([m1.id]), {
      operation: 'messages', failure: 'graphql', upstreamCode: 'INJECTED_FAULT', message: 'Injected fault for messages',
    });
    expect((await readStats(backend.url)).operations).toEqual({ messages: 1 });
  });

  it('turns a closed port into an unreachable UpstreamError', async () => {
    const down = createMessagingClient({ headers: DEMO_HEADERS.messaging, url: closedUrl });
    await expectUpstreamError(down.messagesByIds([m1.id]), { operation: 'messages', failure: 'unreachable' });
    await expectUpstreamError(down.probe(), { operation: 'probe', failure: 'unreachable' });
  });

  it('turns an HTTP 502 into an http UpstreamError with the status', async () => {
    const proxied = createMessagingClient({ headers: DEMO_HEADERS.messaging, url: `${oddUrl}/bad-gateway` });
    await expectUpstreamError(proxied.sendMessage({ to: '+4930555123', body: 'x' }), {
      operation: 'sendMessage', failure: 'http', status: 502,
    });
    await expectUpstreamError(proxied.probe(), { operation: 'probe', failure: 'http', status: 502 });
  });

  it('turns a 200 that is not JSON, or JSON of the wrong shape, into bad_response', async () => {
    await expectUpstreamError(createMessagingClient({ headers: DEMO_HEADERS.messaging, url: `${oddUrl}/html` }).messagesByIds([m1.id]), {
      operation: 'messages', failure: 'bad_response',
    });
    await expectUpstreamError(createMessagingClient({ headers: DEMO_HEADERS.messaging, url: `${oddUrl}/wrong-shape` }).messagesByIds([m1.id]), {
      operation: 'messages', failure: 'bad_response',
    });
  });

  it('turns a backend that never answers into a timeout UpstreamError', async () => {
    const hung = createMessagingClient({ headers: DEMO_HEADERS.messaging, url: `${oddUrl}/hang`, timeoutMs: 100 });
    await expectUpstreamError(hung.messagesForCustomers([alice], 1), { operation: 'messagesForCustomers', failure: 'timeout' });
  });
});

describe('messaging client: probe', () => {
  it('resolves against the running backend without counting an operation', async () => {
    await expect(client.probe()).resolves.toBeUndefined();
    expect((await readStats(backend.url)).total).toBe(0);
  });
});
