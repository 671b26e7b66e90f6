import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A small round-robin load balancer on loopback, doing what a production one does for a rolling
 * restart (nginx's `proxy_next_upstream error`, an orchestrator's readiness probe):
 * - each instance's `/readyz` is asked every `healthEveryMs`; one that does not answer 200 (a
 *   draining instance says 503 for its SHUTDOWN_DELAY_MS) is taken out of the rotation;
 * - a request is sent again to the next instance only when the one tried never saw it: the
 *   connection was refused, or a kept-alive connection was reset before the request was written
 *   (Node's `reusedSocket` case). Anything else is the instance's answer, passed on as it comes
 *   (server-sent events included).
 */
export interface Balancer {
  url: string;
  /** Replaces the instances (a restarted one listens on another port). */
  setTargets(urls: readonly string[]): void;
  /** Requests answered per instance URL, since start. */
  served: Map<string, number>;
  /** Requests the balancer itself failed (502: no instance took it). */
  failed(): number;
  close(): Promise<void>;
}

export interface BalancerOptions {
  healthEveryMs?: number;
  /** Keep connections to the instances alive (as a production balancer does). Default true. */
  keepAlive?: boolean;
}

const RETRYABLE = new Set(['ECONNREFUSED']);

export async function startBalancer(initial: readonly string[], options: BalancerOptions = {}): Promise<Balancer> {
  const { healthEveryMs = 100, keepAlive = true } = options;
  const agent = new Agent({ keepAlive, maxSockets: 256 });
  let targets = [...initial];
  const healthy = new Map<string, boolean>(targets.map((t) => [t, true]));
  /** Each instance's last probe: its answer (0: none) and when it came, for the 502's words. */
  const probed = new Map<string, { status: number; at: number }>();
  const served = new Map<string, number>();
  let next = 0;
  let failures = 0;
  const pick = (tried: Set<string>): string | undefined => {
    const candidates = targets.filter((t) => !tried.has(t) && healthy.get(t) !== false);
    const pool = candidates.length > 0 ? candidates : targets.filter((t) => !tried.has(t));
    if (pool.length === 0) return undefined;
    return pool[next++ % pool.length];
  };
  const probe = async () => {
    await Promise.all(targets.map(async (target) => {
      try {
        // A probe not answered in 500 ms is a failed one: the instance is out until it answers 200.
        const response = await fetch(`${target}/readyz`, { signal: AbortSignal.timeout(500) });
        await response.arrayBuffer();
        healthy.set(target, response.status === 200);
        probed.set(target, { status: response.status, at: Date.now() });
      } catch {
        healthy.set(target, false);
        probed.set(target, { status: 0, at: Date.now() });
      }
    }));
  };
  const timer = setInterval(() => void probe(), healthEveryMs);

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, tried: Set<string>) => {
    const target = pick(tried);
    if (!target) {
      failures++;
      res.writeHead(502, { 'content-type': 'text/plain' }).end('no instance took the request');
      return;
    }
    tried.add(target);
    const { hostname, port } = new URL(target);
    const headers = { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '127.0.0.1' };
    const upstream = request({ host: hostname, port, method: req.method, path: req.url, headers, agent }, (answer) => {
      served.set(target, (served.get(target) ?? 0) + 1);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    let answered = false;
    upstream.on('response', () => (answered = true));
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (answered) return res.destroy();
      const neverSeen = RETRYABLE.has(err.code ?? '') || (upstream.reusedSocket && err.code === 'ECONNRESET');
      if (RETRYABLE.has(err.code ?? '')) healthy.set(target, false);
      if (neverSeen && !res.headersSent) return forward(req, res, body, tried);
      failures++;
      const last = probed.get(target);
      const seen = last ? `its last probe answered ${last.status || 'nothing'} ${Date.now() - last.at} ms before` : 'never probed';
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`instance ${target} failed: ${err.code ?? ''} ${err.message} on a ${upstream.reusedSocket ? 'kept-alive' : 'new'} connection at ${Date.now()}; ${seen}`);
      else res.destroy();
    });
    // The client left (an SSE stream closed): so does the request to the instance.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), new Set()));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await probe();
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setTargets(urls) {
      targets = [...urls];
      for (const url of urls) if (!healthy.has(url)) healthy.set(url, false);
      void probe();
    },
    served,
    failed: () => failures,
    async close() {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}

/**
 * The same rotation one level down (a TCP proxy, as HAProxy's `mode tcp` or a Kubernetes Service):
 * each client connection goes to the next instance, and its bytes are copied both ways; a refused
 * connection is tried on the next. Far cheaper than the HTTP balancer above (no parsing), so the
 * scale-out bench measures the instances, not the balancer; an instance that drains closes its
 * connections, and the clients' next ones go elsewhere.
 */
export async function startTcpBalancer(targets: readonly string[]): Promise<{ url: string; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const attempt = (left: number) => {
      const { hostname, port } = new URL(targets[next++ % targets.length]!);
      const upstream = connect(Number(port), hostname);
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.once('connect', () => {
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
      });
      upstream.once('error', (err: NodeJS.ErrnoException) => {
        if (!upstream.connecting || err.code !== 'ECONNREFUSED' || left <= 1) return client.destroy();
        upstream.removeAllListeners('close');
        sockets.delete(upstream);
        attempt(left - 1);
      });
    };
    attempt(targets.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
