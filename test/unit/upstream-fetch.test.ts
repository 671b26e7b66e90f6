import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { callUpstream, pathSegment, type SourceClientOptions, type UpstreamCallRecord } from '../../gateway/upstream/upstream-fetch.ts';
import { UnsendableValueError, UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import { closeServer, listen } from '../../sources/demo/server.ts';

/** A backend with one route per behaviour, counting what it receives. */
let server: Server;
let url: string;
let hits = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      // Chunked, no content-length: the cap must hold while reading.
      for (let i = 0; i < 64; i++) res.write('x'.repeat(1024));
      res.end();
    } else if (req.url === '/declared-big') {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      res.write('x');
    } else if (req.url === '/drip') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a'); // and never ends: the deadline must cover the body
    } else {
      setTimeout(() => res.end(JSON.stringify({ url: req.url, method: req.method })), 20);
    }
  });
  url = await listen(server);
});
afterAll(() => closeServer(server));

const paths = {
  'undici pool': (): Partial<SourceClientOptions> => ({ dispatcher: new Agent({ keepAliveTimeout: 1_000 }) }),
  'fetch': (): Partial<SourceClientOptions> => ({}),
};

for (const [label, make] of Object.entries(paths)) {
  describe(`callUpstream over ${label}`, () => {
    const call = (path: string, extra: Partial<SourceClientOptions> = {}, method = 'GET') =>
      callUpstream({ source: 's', operation: 'op', url: `${url}${path}`, init: { method } }, { url, ...make(), ...extra });

    it('reads a whole answer', async () => {
      expect(await call('/ok')).toMatchObject({ status: 200, text: '{"url":"/ok","method":"GET"}' });
    });

    it('refuses a body over the cap, declared or streamed, as bad_response', async () => {
      await expect(call('/big', { maxResponseBytes: 16 * 1024 })).rejects.toMatchObject({ failure: 'bad_response', status: 200 });
      await expect(call('/declared-big', { maxResponseBytes: 1024 })).rejects.toMatchObject({ failure: 'bad_response' });
    });

    it('gives up on a body that drips, within the deadline', async () => {
      const error = await call('/drip', { timeoutMs: 150 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UpstreamError);
      expect(error).toMatchObject({ failure: 'timeout' });
    });

    it('reports a closed port as unreachable', async () => {
      const closed = createServer();
      const closedUrl = await listen(closed);
      await closeServer(closed);
      await expect(
        callUpstream({ source: 's', operation: 'op', url: `${closedUrl}/x`, init: {} }, { url: closedUrl, ...make() }),
      ).rejects.toMatchObject({ failure: 'unreachable' });
    });

    it('makes identical reads in flight once, and never merges writes', async () => {
      const inFlight = new Map();
      const records: UpstreamCallRecord[] = [];
      const before = hits;
      const reads = await Promise.all(Array.from({ length: 10 }, () => call('/same', { inFlight, onCall: (r) => records.push(r) })));
      expect(hits - before).toBe(1);
      expect(new Set(reads.map((r) => r.text)).size).toBe(1);
      expect(records.filter((r) => r.coalesced)).toHaveLength(9);
      expect(inFlight.size).toBe(0); // forgotten once answered: not a cache
      const writesBefore = hits;
      await Promise.all(Array.from({ length: 3 }, () => call('/same', { inFlight }, 'POST')));
      expect(hits - writesBefore).toBe(3);
    });
  });
}

describe('values a caller cannot make the gateway send', () => {
  it('refuses a header value holding CR, LF or NUL before any call, as the caller\'s error', async () => {
    const before = hits;
    for (const value of ['a\r\nx-injected: 1', 'a\nb', 'a\u0000b', 'ключ']) {
      await expect(callUpstream({ source: 's', operation: 'op', url: `${url}/x`, init: { headers: { 'x-value': value } } }, { url }))
        .rejects.toBeInstanceOf(UnsendableValueError);
    }
    expect(hits).toBe(before);
  });

  it('keeps a path segment one segment, and refuses what no encoding can keep so', () => {
    expect(pathSegment('../admin/users?all=1#')).toBe('..%2Fadmin%2Fusers%3Fall%3D1%23');
    for (const value of ['', '.', '..', 'lone \ud800']) expect(() => pathSegment(value)).toThrow(UnsendableValueError);
  });
});
