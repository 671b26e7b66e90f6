import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXAMPLE_QUERY } from '../../schema/example-query.ts';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { startGatewayProcess, stopProcess } from '../helpers/gateway-process.ts';

/**
 * What a newcomer gets from `npm start`: the real entry point as its own process, demo
 * backends included, reached over real HTTP. Ports are 0 so runs never collide.
 */
const running: ChildProcess[] = [];
const start = (env: Record<string, string>) => startGatewayProcess(env, running);
const stop = stopProcess;

/** An API keys file with one service: production needs some way to authenticate. */
function apiKeysFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'junction-e2e-')), 'api-keys.json');
  writeFileSync(path, JSON.stringify([{ service: 'e2e', sha256: 'b'.repeat(64), scopes: [] }]));
  return path;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map(stop));
});

describe('npm start', () => {
  it('starts on embedded defaults, answers the GraphiQL example query with GraphiQL\'s own dev token, and stops cleanly on SIGTERM', async () => {
    const { child, url, output } = await start({ NODE_ENV: 'development' });
    expect(output()).toContain('REDIS_URL is not set: running on in-memory stores');
    expect(output()).toMatch(/payments\s+http:\/\/127\.0\.0\.1:\d+\s+\(demo backend\)/);
    const ask = (headers: Record<string, string>) => fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: EXAMPLE_QUERY }),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));

    // Without a token payment data stays in: one error where it starts, the rest of the query answers.
    const anonymous = await ask({});
    expect(anonymous.status).toBe(200);
    expect(anonymous.body.data).toEqual({ payments: null });
    expect(anonymous.body.errors).toMatchObject([{ path: ['payments'], extensions: { code: 'UNAUTHENTICATED' } }]);

    // GraphiQL opens with a dev token in its headers, so a newcomer's first query works.
    const page = await (await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } })).text();
    expect(page).toContain('query Dashboard');
    const token = /Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/.exec(page)?.[1];
    expect(token).toBeDefined();
    const { status, body } = await ask({ authorization: `Bearer ${token}` });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.payments.edges).toHaveLength(5);
    const node = body.data.payments.edges[0].node;
    expect(node.customer.address.location).toEqual({ lat: expect.any(Number), lng: expect.any(Number) });
    expect(node.merchant.place.formattedAddress).toEqual(expect.any(String));
    expect(Array.isArray(node.customer.messages)).toBe(true);

    // npm run -s token prints a token that this gateway accepts, and nothing else.
    const printed = execFileSync(process.execPath, ['--import', 'tsx', 'gateway/auth/token-cli.ts', 'token', '--sub', 'e2e', '--scopes', 'payments:read'], { encoding: 'utf8' });
    expect(printed).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const scoped = await ask({ authorization: `Bearer ${printed.trim()}` });
    expect(scoped.body.data.payments.edges).toHaveLength(5);
    // payments:read only: the messages are refused, each where it was asked for.
    expect(scoped.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', requiredScopes: [['messages:read']] });

    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(await stop(child)).toBe(0);
  });

  it('uses Redis when REDIS_URL is set and reports it on /readyz', async () => {
    const { url, output } = await start({ REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', AUTH_API_KEYS_FILE: apiKeysFile() });
    expect(output()).toContain('Redis connected');
    const ready = await (await fetch(`${url}/readyz`)).json();
    expect(ready.sources.redis).toMatchObject({ status: 'up' });
    // Production is the default without NODE_ENV: no GraphiQL.
    const page = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/graphiql/i);
  });

  it('keeps an idle client connection open for KEEP_ALIVE_TIMEOUT_MS, then closes it', async () => {
    const { url } = await start({ NODE_ENV: 'development', KEEP_ALIVE_TIMEOUT_MS: '400' });
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    const answered = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(`GET /healthz HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`);
    await answered;
    const idleFrom = performance.now();
    await new Promise((resolve) => socket.once('close', resolve));
    const idleMs = performance.now() - idleFrom;
    // Closed by Junction (the client never ends it) once idle for the setting, not Node's 5 s.
    expect(idleMs).toBeGreaterThanOrEqual(390);
    expect(idleMs).toBeLessThan(2_000);
  });

  it('refuses to start in production without auth settings, naming the one to set', async () => {
    await expect(start({})).rejects.toThrow(/AUTH_JWKS_URL: not set; production needs AUTH_JWKS_URL/);
  });

  it('refuses to start on bad configuration, listing every problem', async () => {
    await expect(start({ PORT: 'eighty', UPSTREAM_TIMEOUT_MS: '0', NODE_ENV: 'development' })).rejects.toThrow(/\[CONFIG_INVALID\][\s\S]*PORT="eighty"[\s\S]*UPSTREAM_TIMEOUT_MS="0"/);
  });

  it('refuses a demo source\'s bad URL as the sources file\'s problem, naming the variable it came from', async () => {
    await expect(start({ MAPS_URL: 'not a url', NODE_ENV: 'development' })).rejects.toThrow(/\[SOURCES_FILE_INVALID\][\s\S]*\(maps\)[\s\S]*endpoint: must be an http\(s\) URL \(from MAPS_URL="not a url"\)/);
  });
});

describe('SIGTERM under load', () => {
  it('turns readiness to 503 at once, finishes every request in flight, and exits within DRAIN_MS', async () => {
    const { child, url } = await start({ NODE_ENV: 'development', DRAIN_MS: '5000', SHUTDOWN_DELAY_MS: '300' });
    const agent = new Agent({ keepAliveTimeout: 10_000, connections: 8 });
    const failures: string[] = [];
    let completed = 0;
    let signalled = false;
    // Each worker is a client behind a balancer: once readiness has gone 503 (the signal), it sends
    // nothing new, but every request it had in flight must complete.
    const worker = async () => {
      while (!signalled) {
        try {
          const response = await undiciFetch(`${url}/graphql`, {
            method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query: `{ merchant(id: "mer_x") { id } geocode(address: "Berlin") { id } }` }),
          });
          const body = await response.text();
          if (response.status !== 200) failures.push(`HTTP ${response.status}: ${body.slice(0, 100)}`);
          completed += 1;
        } catch (err) {
          failures.push(`${(err as { cause?: { code?: string } }).cause?.code ?? ''} ${(err as Error).message}`);
          return;
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    while (completed < 200) await new Promise((r) => setImmediate(r));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const signalledAt = Date.now();
    signalled = true;
    child.kill('SIGTERM');
    await Promise.all(workers);
    // Readiness says so as soon as the signal is handled (the listener is still open during
    // SHUTDOWN_DELAY_MS); on a busy machine the handler may run a few milliseconds late.
    let readiness = 0;
    for (let tries = 0; tries < 20 && readiness !== 503; tries++) {
      readiness = (await undiciFetch(`${url}/readyz`, { dispatcher: agent })).status;
      if (readiness !== 503) await new Promise((r) => setTimeout(r, 10));
    }
    expect(readiness).toBe(503);
    expect(await exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(5_000);
    expect(failures).toEqual([]);
    expect(completed).toBeGreaterThan(200);
    await agent.close();
  });

  it('resets no connection: keep-alive clients that ignore readiness get 200s through SIGTERM until the connection is refused, and it exits 0', async () => {
    // Anonymous callers' budget raised: the clients below send far more than 300 requests a minute.
    const { child, url } = await start({ NODE_ENV: 'development', DRAIN_MS: '5000', SHUTDOWN_DELAY_MS: '300', RATE_ANONYMOUS_PER_MIN: '1000000' });
    // Twenty clients, each with its own keep-alive connection, that never look at readiness: they
    // keep sending through the signal until the port refuses them. Refused (ECONNREFUSED) is a
    // clean "not taken"; a reset or a hang-up means a request may have been lost mid-flight.
    const agents = Array.from({ length: 20 }, () => new Agent({ keepAliveTimeout: 10_000, connections: 1 }));
    const failures: string[] = [];
    let completed = 0;
    let afterSignal = 0;
    let refused = 0;
    let signalled = false;
    const deadline = Date.now() + 8_000;
    const worker = async (agent: Agent) => {
      for (let i = 0; i < 5_000 && Date.now() < deadline; i++) {
        try {
          const response = await undiciFetch(`${url}/graphql`, {
            method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query: `{ __typename }` }),
          });
          const body = await response.text();
          if (response.status !== 200) failures.push(`HTTP ${response.status}: ${body.slice(0, 100)}`);
          completed += 1;
          if (signalled) afterSignal += 1;
        } catch (err) {
          const cause = (err as { cause?: { code?: string; message?: string } }).cause;
          if (cause?.code === 'ECONNREFUSED') refused += 1;
          else failures.push(`${signalled ? 'after' : 'before'} SIGTERM: ${cause?.code ?? ''} ${cause?.message ?? (err as Error).message}`);
          return;
        }
      }
      failures.push('still answered at the deadline: the listener never closed');
    };
    const workers = agents.map(worker);
    for (let waits = 0; completed < 100 && waits < 5_000; waits++) await new Promise((r) => setTimeout(r, 1));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    signalled = true;
    child.kill('SIGTERM');
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(refused).toBe(20);
    // The listener stayed open for SHUTDOWN_DELAY_MS: requests sent after the signal were answered.
    expect(afterSignal).toBeGreaterThan(20);
    expect(await exited).toBe(0);
    await Promise.all(agents.map((agent) => agent.close()));
  });

  it('answers connections already waiting in the kernel\'s accept queue when the signal comes, rather than resetting them', async () => {
    const { child, url } = await start({ NODE_ENV: 'development', DRAIN_MS: '5000', SHUTDOWN_DELAY_MS: '0' });
    const { hostname, port } = new URL(url);
    // One answered request first: the signal handlers are set up just after the URL is printed, and
    // a process stopped in between would die of the SIGTERM below instead of shutting down.
    const first = new Agent();
    const health = await undiciFetch(`${url}/healthz`, { dispatcher: first });
    await health.text();
    expect(health.status).toBe(200);
    await first.close();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Stopped, the process accepts nothing, but the kernel still completes each handshake and queues
    // the connection, request and all: a burst landing while the event loop is busy looks the same.
    child.kill('SIGSTOP');
    const body = JSON.stringify({ query: '{ __typename }' });
    const sockets = await Promise.all(Array.from({ length: 10 }, () => new Promise<Socket>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => resolve(socket));
      socket.once('error', reject);
    })));
    const answers = sockets.map((socket) => new Promise<string>((resolve) => {
      let received = '';
      socket.on('data', (chunk) => (received += chunk));
      socket.once('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
      socket.once('close', () => resolve(received.split('\r\n')[0] || 'closed without an answer'));
      socket.write(`POST /graphql HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    }));
    // SIGTERM is delivered on SIGCONT, with SHUTDOWN_DELAY_MS 0: the listener closes at once.
    child.kill('SIGTERM');
    child.kill('SIGCONT');
    expect(await Promise.all(answers)).toEqual(Array.from({ length: 10 }, () => 'HTTP/1.1 200 OK'));
    expect(await exited).toBe(0);
  });

  it('ends open subscriptions once the listener closes: SSE with a last SHUTTING_DOWN message, WebSocket with 1001; it exits well within DRAIN_MS', async () => {
    const { child, url } = await start({ NODE_ENV: 'development', DRAIN_MS: '8000', SHUTDOWN_DELAY_MS: '0' });
    const token = execFileSync(process.execPath, ['--import', 'tsx', 'gateway/auth/token-cli.ts', 'token', '--sub', 'e2e', '--scopes', 'payments:read'], { encoding: 'utf8' }).trim();
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'subscription { paymentUpdated { id } }' }),
    });
    const reader = response.body!.getReader();
    let text = '';
    const sse = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return 'ended';
          text += new TextDecoder().decode(value);
        }
      } catch {
        return 'cut';
      }
    })();
    const socket = new WebSocket(`${url.replace('http://', 'ws://')}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    // The first bytes (a keep-alive comment) say the stream is open.
    while (text === '') await new Promise((resolve) => setTimeout(resolve, 10));
    const started = performance.now();
    expect(await stop(child)).toBe(0);
    expect(performance.now() - started).toBeLessThan(4_000);
    expect(await sse).toBe('ended');
    expect(text).toContain('"code":"SHUTTING_DOWN"');
    expect(text).toMatch(/event: complete\n/);
    expect(await closed).toBe(1001);
  });
});
