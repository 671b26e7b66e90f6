import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { attachWebSocket } from '../../gateway/websocket.ts';
import { listen } from '../../gateway/index.ts';
import type { JunctionEventTarget, JunctionPubSub } from '../../gateway/create-gateway.ts';
import type { WebhookEvent } from '../../gateway/webhooks/receiver.ts';
import type { Harness } from './harness.ts';

/**
 * What tests of webhooks and subscriptions together need: deliveries signed as Stripe signs them,
 * a subscription read over Server-Sent Events, what a topic publishes collected, waiting until the
 * gateway (and Redis) listen, the gateway on a real port for WebSocket clients, and a redis-server
 * a test can kill and start again at the same address.
 */

export interface Delivery {
  /** The event's id (what deduplicates it). */
  id: string;
  body: string;
  headers: Record<string, string>;
}

/** A Stripe event of `type` about `object`, signed with `secret` now (`Stripe-Signature: t=..,v1=..`). */
export function stripeDelivery(secret: string, type: string, object: unknown, id = `evt_${randomBytes(8).toString('hex')}`): Delivery {
  const body = JSON.stringify({ id, object: 'event', type, data: { object } });
  const t = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return { id, body, headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${signature}` } };
}

export interface SseEvent {
  /** The message's `id:` (the cursor of its event), where it has one. */
  id?: string;
  event: string;
  data: any;
}

export interface SseStream {
  response: Response;
  /** The next message that is not a keep-alive comment; rejects once the stream has ended, or after `timeoutMs` without one. */
  next(timeoutMs?: number): Promise<SseEvent>;
  /** Resolves once `count` keep-alive comments have arrived since the stream opened; rejects as next() does. */
  commentsArrived(count: number, timeoutMs?: number): Promise<void>;
  /** Leaves as a client closing its connection does (the body cancelled, the request aborted): the server ends the stream. */
  close(): void;
}

/**
 * Opens a subscription over SSE (`Accept: text/event-stream`), with extra `headers` (authorization,
 * Last-Event-ID) and the request's `extensions` (a cursor) where given; its messages are read as
 * the test asks for them.
 */
export async function subscribeSse(
  h: Pick<Harness, 'fetch'>,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  extensions?: Record<string, unknown>,
): Promise<SseStream> {
  const controller = new AbortController();
  const response = await h.fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables, ...(extensions ? { extensions } : {}) }),
    signal: controller.signal,
  });
  // The body's own reader, not one through a TextDecoderStream: a pipe cancels its source only once
  // a read in flight completes, which for an idle subscription is the next keep-alive, seconds away.
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const queue: SseEvent[] = [];
  let comments = 0;
  let buffer = '';
  // One read at a time, kept across calls: a call that gave up waiting leaves its read to the next.
  let reading: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  const read = () => {
    if (!reading) {
      reading = reader.read();
      // A read that no call waits for any more may fail (the stream errored) without failing the run.
      reading.catch(() => undefined);
    }
    return reading;
  };
  // The first read at once, as a server writing the answer to its socket does: the server's stream
  // starts the subscription only once its opening comment is taken, and a subscription never
  // started is not ended by its client leaving (its iterators were never entered).
  void read();
  /** Reads until `enough` holds; rejects once the stream has ended, or after `timeoutMs`. */
  const readUntil = async (enough: () => boolean, timeoutMs: number, what: string): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    try {
      while (!enough()) {
        const chunk = await Promise.race([read(), late]);
        if (chunk === 'late') throw new Error(`no ${what} within ${timeoutMs} ms`);
        reading = undefined;
        if (chunk.done) throw new Error('the stream ended');
        buffer += decoder.decode(chunk.value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const lines = buffer.slice(0, end).split('\n').filter((l) => !l.startsWith(':'));
          buffer = buffer.slice(end + 2);
          // A block of comment lines only is a keep-alive.
          if (lines.length === 0) {
            comments++;
            continue;
          }
          const field = (name: string) => lines.find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1).trim();
          const id = field('id');
          const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          queue.push({ ...(id !== undefined ? { id } : {}), event: field('event') ?? 'message', data: data ? JSON.parse(data) : null });
        }
      }
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    response,
    async next(timeoutMs = 5_000) {
      await readUntil(() => queue.length > 0, timeoutMs, 'message');
      return queue.shift()!;
    },
    commentsArrived: (count, timeoutMs = 5_000) => readUntil(() => comments >= count, timeoutMs, `${count} keep-alive comments`),
    close() {
      // Both at once: cancelling waits on the server's stream to end, which a read it is serving
      // holds up; the aborted request ends the subscription regardless.
      void reader.cancel().catch(() => undefined);
      controller.abort();
    },
  };
}

/** Polls `check` every few ms until it holds; fails after `timeoutMs` saying what was awaited. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`still not ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Resolves once the gateway's open subscriptions on `topic` number `count` (a client leaving
 * reaches the server a moment later: an aborted stream is cancelled asynchronously).
 */
export const subscriptionsOpen = (h: Pick<Harness, 'gateway'>, topic: string, count: number): Promise<void> =>
  eventually(() => (h.gateway.subscriptions()[topic] ?? 0) === count, `${count} subscriptions on ${topic}`);

/** Resolves once the gateway listens on `topic` for at least one subscriber. */
export const listening = (h: Pick<Harness, 'gateway'>, topic: string): Promise<void> =>
  eventually(() => (h.gateway.subscriptions()[topic] ?? 0) > 0, `listening on ${topic}`);

/** Collects what `pubsub` publishes on `channel` (`webhook:<topic>`) from now on, until stopped. */
export function collectPublished(pubsub: JunctionPubSub, channel: string): { received: WebhookEvent[]; stop(): Promise<void> } {
  const received: WebhookEvent[] = [];
  const iterator = pubsub.subscribe(channel)[Symbol.asyncIterator]();
  let stopped = false;
  const pump = (async () => {
    while (!stopped) {
      const next = await iterator.next();
      if (next.done) break;
      received.push(next.value);
    }
  })();
  return {
    received,
    async stop() {
      stopped = true;
      await iterator.return?.();
      await pump;
    },
  };
}

/**
 * Resolves once Redis has at least `count` connections subscribed to `channel` (each instance's
 * SUBSCRIBE has arrived). `admin` may still be reconnecting (a restarted server): asked again.
 */
export const redisSubscribers = (admin: Redis, channel: string, count: number): Promise<void> =>
  eventually(async () => {
    const numsub = await admin.pubsub('NUMSUB', channel).catch(() => [channel, 0]) as [string, number];
    return Number(numsub[1]) >= count;
  }, `${count} Redis subscribers on ${channel}`);

/**
 * An event target whose topics are `<prefix><topic>` in `inner`: tests that share one Redis keep
 * their pub/sub channels apart (the webhook store's keys are kept apart with the client's
 * `keyPrefix`, which ioredis does not apply to channels).
 */
export function prefixedTopics(inner: JunctionEventTarget, prefix: string): JunctionEventTarget {
  type Listener = Parameters<JunctionEventTarget['addEventListener']>[1];
  const wrapped = new Map<Listener, Listener>();
  const target = {
    addEventListener(type: string, listener: Listener) {
      if (!listener) return;
      const call = typeof listener === 'function' ? listener : listener.handleEvent.bind(listener);
      const renamed = ((event: CustomEvent) => call(new CustomEvent(type, { detail: event.detail }) as never)) as unknown as Listener;
      wrapped.set(listener, renamed);
      inner.addEventListener(`${prefix}${type}` as never, renamed);
    },
    removeEventListener(type: string, listener: Listener) {
      const renamed = wrapped.get(listener);
      if (!renamed) return;
      wrapped.delete(listener);
      inner.removeEventListener(`${prefix}${type}` as never, renamed);
    },
    dispatchEvent(event: CustomEvent) {
      return inner.dispatchEvent(new CustomEvent(`${prefix}${event.type}`, { detail: event.detail }) as never);
    },
  };
  return target as unknown as JunctionEventTarget;
}

export interface Served {
  /** `ws://127.0.0.1:<port>/graphql` */
  wsUrl: string;
  close(): Promise<void>;
}

/** The harness's gateway on a real port, with GraphQL over WebSocket on /graphql (as main.ts serves it). */
export async function serveWebSocket(h: Pick<Harness, 'gateway'>): Promise<Served> {
  const server = createServer(h.gateway.yoga);
  const closeSockets = attachWebSocket(server, h.gateway);
  const url = await listen(server);
  return {
    wsUrl: `${url.replace('http://', 'ws://')}/graphql`,
    async close() {
      await closeSockets();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Whether a Redis server answers PING on the unix socket at `path`. */
function pong(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(String(data).startsWith('+PONG')));
  });
}

export interface RestartableRedis {
  /** The unix socket it listens on, the same after every restart. */
  path: string;
  /** SIGKILL, resolved once the process is gone: everything it held in memory is lost. */
  kill(): Promise<void>;
  /** A new, empty server at the same address (nothing is kept on disk). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A redis-server of the test's own, on a unix socket, keeping nothing on disk, that the test can
 * kill and start again at the same address. A socket rather than a TCP port: no other process can
 * take the address while the server is down.
 */
export async function startRestartableRedis(): Promise<RestartableRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'junction-redis-'));
  const path = join(dir, 'redis.sock');
  let server: ChildProcess | undefined;
  const start = async () => {
    rmSync(path, { force: true });
    server = spawn('redis-server', ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    // The socket file appears a moment before the server accepts on it: wait for an answer.
    await eventually(() => existsSync(path) && pong(path), 'answering PING (redis-server)');
  };
  const kill = async () => {
    const running = server;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    path,
    kill,
    restart: start,
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
