import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startHarness, type Harness, type HarnessOptions } from '../helpers/harness.ts';
import { attachWebSocket, type WebSocketOptions } from '../../gateway/websocket.ts';
import { listen as listenOn } from '../../gateway/index.ts';

/**
 * The WebSocket transport holds what HTTP holds: a foreign page cannot open it, every operation
 * passes the same guards as an HTTP request (rate limits, persisted documents), and a connection
 * that stops answering pings is closed.
 */

interface Open {
  h: Harness;
  url: string;
  client(params?: Record<string, unknown>): Client;
  close(): Promise<void>;
}

async function open(harness: HarnessOptions = {}, options: WebSocketOptions = {}): Promise<Open> {
  const h = await startHarness(harness);
  const server: Server = createServer();
  const closeSockets = attachWebSocket(server, h.gateway, options);
  const url = `${(await listenOn(server)).replace('http://', 'ws://')}/graphql`;
  const clients: Client[] = [];
  return {
    h,
    url,
    client: (connectionParams = {}) => {
      // One connection for all of a test's operations (lazy clients close it between them by default).
      const client = createClient({ url, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true, lazyCloseTimeout: 60_000 });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.dispose()));
      await closeSockets();
      await new Promise((resolve) => server.close(resolve));
      await h.close();
    },
  };
}

/** The HTTP status a WebSocket upgrade is answered with (101: opened). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', { headers });
    socket.on('open', () => {
      socket.close();
      resolve(101);
    });
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.on('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

const query = (client: Client, document: string, extensions?: Record<string, unknown>) =>
  new Promise<any>((resolve, reject) => {
    let result: unknown;
    client.subscribe({ query: document, ...(extensions ? { extensions } : {}) }, {
      next: (value) => {
        result = value;
      },
      error: reject,
      complete: () => resolve(result),
    });
  });

let opened: Open | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await opened?.close();
  opened = undefined;
});

describe('who may open a connection', () => {
  it('refuses a page of a foreign origin (403), and takes the gateway\'s own origin, an allowed one, and a client that sends none', async () => {
    opened = await open({}, { allowedOrigins: ['https://app.example.com'] });
    const host = new URL(opened.url).host;
    expect(await upgradeStatus(opened.url, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(opened.url, { origin: 'null' })).toBe(403);
    expect(await upgradeStatus(opened.url, { origin: `http://${host}` })).toBe(101);
    expect(await upgradeStatus(opened.url, { origin: 'https://app.example.com' })).toBe(101);
    expect(await upgradeStatus(opened.url, {})).toBe(101);
  });
});

describe('each operation passes the guards an HTTP request passes', () => {
  it('counts operations over WebSocket against the caller\'s rate limit: the fourth of 3 per minute is RATE_LIMITED', async () => {
    opened = await open({ limits: { RATE_USER_PER_MIN: 3 } });
    const client = opened.client({ authorization: `Bearer ${await opened.h.issuer.token()}` });
    for (let i = 0; i < 3; i++) expect(await query(client, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
    const refused = await query(client, '{ __typename }');
    expect(refused.errors[0].extensions.code).toBe('RATE_LIMITED');
  });

  it('holds a browser-facing deployment to its persisted documents over WebSocket too', async () => {
    const document = '{ __typename }';
    const hash = createHash('sha256').update(document).digest('hex');
    opened = await open({ persistedDocuments: new Map([[hash, document]]) });
    const client = opened.client({ authorization: `Bearer ${await opened.h.issuer.token()}` });
    expect((await query(client, '{ __schema { types { name } } }')).errors[0].extensions.code).toBe('PERSISTED_DOCUMENT_REQUIRED');
    expect(await query(client, '', { persistedQuery: { version: 1, sha256Hash: hash } })).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses the operation of a connection whose token expired since it opened', async () => {
    // The gateway reads the clock the test fakes.
    opened = await open({ now: () => Date.now() });
    vi.useFakeTimers({ toFake: ['Date'] });
    const client = opened.client({ authorization: `Bearer ${await opened.h.issuer.token({ ttlSec: 60 })}` });
    expect(await query(client, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
    vi.setSystemTime(Date.now() + 10 * 60_000);
    expect((await query(client, '{ __typename }')).errors[0].extensions.code).toBe('INVALID_TOKEN');
  });
});

describe('keep-alive', () => {
  it('pings every keepAliveMs and terminates a connection that did not answer the last ping', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    opened = await open({}, { keepAliveMs: 1_000 });
    const answering = new WebSocket(opened.url, 'graphql-transport-ws');
    const silent = new WebSocket(opened.url, 'graphql-transport-ws', { autoPong: false });
    await Promise.all([answering, silent].map((s) => new Promise((resolve) => s.once('open', resolve))));
    let pings = 0;
    silent.on('ping', () => pings++);
    const silentClosed = new Promise((resolve) => silent.once('close', resolve));
    await vi.advanceTimersByTimeAsync(1_000);
    await until(() => pings === 1);
    await vi.advanceTimersByTimeAsync(1_000);
    await silentClosed;
    expect(answering.readyState).toBe(WebSocket.OPEN);
    answering.close();
  });
});

async function until(holds: () => boolean): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (!holds()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
