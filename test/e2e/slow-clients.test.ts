import { connect, type Socket } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startGatewayProcess, stopProcess } from '../helpers/gateway-process.ts';

/**
 * Clients that send slowly, against the real server: the body reader's limit answers first, with
 * a GraphQL error; Node's own header and request timeouts, set from the configuration, are the
 * backstop for connections that never get as far as a request.
 */
const running: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map(stopProcess));
});

/** Opens a raw connection, writes `first`, and resolves with everything read until the server closes it, and when. */
function rawExchange(url: string, first: string): { socket: Socket; closed: Promise<{ text: string; afterMs: number }> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const started = performance.now();
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.write(first);
  const closed = new Promise<{ text: string; afterMs: number }>((resolve) => {
    socket.on('close', () => resolve({ text, afterMs: performance.now() - started }));
    socket.on('error', () => undefined);
  });
  return { socket, closed };
}

describe('slow clients', () => {
  it('answers a body that stops arriving with 408 REQUEST_TIMEOUT and closes the connection; a slow header is cut off by the server', async () => {
    const { url } = await startGatewayProcess({ NODE_ENV: 'development', BODY_TIMEOUT_MS: '300', HEADERS_TIMEOUT_MS: '600', SHUTDOWN_DELAY_MS: '0' }, running);
    const body = '{"query":"{ __typename }"}';
    const dripping = rawExchange(url, `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 1)}`);
    const halfHeaders = rawExchange(url, 'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: appl');
    // A normal client is answered meanwhile.
    const normal = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(normal.status).toBe(200);

    const late = await dripping.closed;
    expect(late.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(late.text).toContain('REQUEST_TIMEOUT');
    expect(late.afterMs).toBeGreaterThanOrEqual(280);
    expect(late.afterMs).toBeLessThan(2_000);

    // Headers never finished: Node's headersTimeout (600 ms), checked every second.
    const cut = await halfHeaders.closed;
    expect(cut.afterMs).toBeGreaterThanOrEqual(550);
    expect(cut.afterMs).toBeLessThan(2_600);
  });
});
