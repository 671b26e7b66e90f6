import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A small TCP proxy in front of a demo backend that misbehaves on demand, the way real backends
 * and networks do: `pass` forwards bytes both ways; the others answer (or do not) by themselves.
 */
export type FaultMode =
  | 'pass'
  /** Connection reset at once: "connection refused" as the client sees it. */
  | 'reset'
  /** The next connection reset at once, then `pass`: one fast failure, whenever the retry comes. */
  | 'reset-once'
  /** Accepts and reads, never answers. */
  | 'hang'
  /** Sends headers at once, then one byte of body a second. */
  | 'drip'
  /** Forwards the request, so the backend does the work, then answers 502 in its place. */
  | 'commit-then-502'
  | { status: number; headers?: Record<string, string>; body: string };

export interface FaultProxy {
  url: string;
  /** Setting it drops every open connection, so that pooled keep-alive connections see it too. */
  mode: FaultMode;
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  // Encoded once per canned answer: a 50 MB body must not cost the test's own event loop each time.
  const bodies = new WeakMap<object, Buffer>();
  let current: FaultMode = 'pass';
  const proxy: FaultProxy = {
    url: '',
    get mode() {
      return current;
    },
    set mode(next: FaultMode) {
      current = next;
      for (const socket of sockets) socket.destroy();
    },
    connections: 0,
    close: async () => undefined,
  };
  const server: Server = createServer((client) => {
    proxy.connections += 1;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const mode = current;
    if (mode === 'pass') {
      const upstream = connect(Number(port), hostname);
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.on('close', () => sockets.delete(upstream));
      client.pipe(upstream).pipe(client);
      return;
    }
    if (mode === 'commit-then-502') {
      const upstream = connect(Number(port), hostname);
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      client.pipe(upstream);
      upstream.once('data', () => {
        client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 11\r\nconnection: close\r\n\r\nbad gateway');
        upstream.destroy();
      });
      return;
    }
    if (mode === 'reset' || mode === 'reset-once') {
      if (mode === 'reset-once') current = 'pass';
      client.resetAndDestroy();
      return;
    }
    if (mode === 'hang') {
      client.resume();
      return;
    }
    client.once('data', () => {
      if (mode === 'drip') {
        client.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{');
        const timer = setInterval(() => client.write(' '), 1000);
        client.on('close', () => clearInterval(timer));
        return;
      }
      const body = bodies.get(mode) ?? Buffer.from(mode.body);
      bodies.set(mode, body);
      const headers = { 'content-length': String(body.byteLength), connection: 'close', ...mode.headers };
      client.write(`HTTP/1.1 ${mode.status} X\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
      client.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  });
  return proxy;
}
