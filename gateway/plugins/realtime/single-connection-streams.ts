import { randomBytes } from 'node:crypto';
import { print, type StreamMessage } from 'graphql-sse';
import type { Logger } from 'pino';
import type { Relayed } from './relay.ts';

/** How long a reservation waits for its connection, in ms; unconnected by then, it is gone. */
export const STREAM_RESERVATION_MS = 30_000;
/** Event streams (reserved or connected) one instance holds at a time; more are refused with OVERLOADED. */
export const MAX_EVENT_STREAMS = 10_000;

export interface EventStreamsOptions {
  /** Streams one budget (a caller; anonymous callers: an address) holds at a time (MAX_SUBSCRIPTIONS_PER_CALLER). */
  maxPerCaller: number;
  /** The keep-alive comment's interval, in ms (KEEPALIVE_MS). */
  keepAliveMs: number;
  logger: Logger;
  /** Default STREAM_RESERVATION_MS. */
  reservationMs?: number;
  /** Default MAX_EVENT_STREAMS. */
  maxStreams?: number;
}

/** One reservation, and once connected, its event stream. */
export interface EventStream {
  readonly token: string;
  /** Who reserved it (a principal's kind and id). */
  readonly owner: string;
  /** Whose budget of streams it counts against. */
  readonly budget: string;
  state: 'reserved' | 'open' | 'closed';
  /** Its operations by id: null while the pipeline has not yet answered. */
  readonly operations: Map<string, Relayed | null>;
  controller?: ReadableStreamDefaultController<Uint8Array>;
  expiry?: NodeJS.Timeout;
  ping?: NodeJS.Timeout;
  /** Resolves the client's read that waits for bytes: set while the client wants more. */
  wanted?: () => void;
  /** Operations waiting for the client to want more. */
  waiting: (() => void)[];
}

/**
 * The event streams of graphql-sse's single connection mode on one instance: reservations, each
 * its owner's, forgotten when not connected in time; one connection each; the operations each
 * carries, multiplexed as `event: next` with `data: { id, payload }` and `event: complete` with
 * `data: { id }`.
 *
 * A stream writes only as fast as its client reads: an operation's next message is read from the
 * pipeline only once the client has taken the previous bytes, so a slow client's subscriptions
 * fall behind in the pipeline, where MAX_EVENTS_QUEUED bounds them, and not in a queue here.
 */
export function createEventStreams(options: EventStreamsOptions) {
  const { maxPerCaller, keepAliveMs, logger, reservationMs = STREAM_RESERVATION_MS, maxStreams = MAX_EVENT_STREAMS } = options;
  const encoder = new TextEncoder();
  const streams = new Map<string, EventStream>();
  const byBudget = new Map<string, number>();

  const write = (stream: EventStream, text: string) => {
    if (stream.state !== 'open') return;
    stream.controller!.enqueue(encoder.encode(text));
    const wanted = stream.wanted;
    stream.wanted = undefined;
    wanted?.();
  };
  const send = (stream: EventStream, message: StreamMessage<true, 'next'> | StreamMessage<true, 'complete'>) => write(stream, print(message));
  const wake = (stream: EventStream) => {
    for (const resume of stream.waiting.splice(0)) resume();
  };
  /** Resolves once the client wants more bytes, or the stream is gone. */
  const room = (stream: EventStream) =>
    stream.wanted || stream.state === 'closed' ? Promise.resolve() : new Promise<void>((resolve) => stream.waiting.push(resolve));

  /** Ends a stream and every operation on it, and forgets its token. */
  const close = (stream: EventStream) => {
    if (stream.state === 'closed') return;
    stream.state = 'closed';
    clearTimeout(stream.expiry);
    clearInterval(stream.ping);
    streams.delete(stream.token);
    const held = byBudget.get(stream.budget)! - 1;
    if (held > 0) byBudget.set(stream.budget, held);
    else byBudget.delete(stream.budget);
    const running = [...stream.operations.values()];
    stream.operations.clear();
    wake(stream);
    for (const operation of running) void operation?.return();
  };

  /** Carries one operation's messages onto its stream, one at a time as the client reads, then its `complete`. */
  const pump = async (stream: EventStream, id: string, results: Relayed) => {
    try {
      for (;;) {
        await room(stream);
        if (stream.operations.get(id) !== results) break;
        const step = await results.next();
        if (step.done || stream.operations.get(id) !== results) break;
        send(stream, { event: 'next', data: { id, payload: step.value } });
      }
    } catch (err) {
      logger.warn({ err: (err as Error).message, operationId: id }, 'event stream: an operation\'s messages could not be read');
    } finally {
      if (stream.operations.get(id) === results) stream.operations.delete(id);
      // However it ended here, it ends on the gateway too.
      void results.return();
      send(stream, { event: 'complete', data: { id } });
    }
  };

  return {
    /** A new reservation of `owner`'s, counted against `budget`; or why none is made. */
    reserve(owner: string, budget: string): EventStream | { refused: 'caller'; held: number } | { refused: 'instance' } {
      const held = byBudget.get(budget) ?? 0;
      if (held >= maxPerCaller) return { refused: 'caller', held };
      if (streams.size >= maxStreams) return { refused: 'instance' };
      const stream: EventStream = { token: randomBytes(24).toString('base64url'), owner, budget, state: 'reserved', operations: new Map(), waiting: [] };
      stream.expiry = setTimeout(() => {
        if (stream.state === 'reserved') close(stream);
      }, reservationMs).unref();
      streams.set(stream.token, stream);
      byBudget.set(budget, held + 1);
      return stream;
    },
    /** The stream of this token when `owner` reserved it; another's is as unknown as one that never was. */
    find(token: string, owner: string): EventStream | undefined {
      const stream = streams.get(token);
      return stream?.owner === owner ? stream : undefined;
    },
    /**
     * Connects a reservation: the body of its response, with a first comment at once and one every
     * `keepAliveMs`. The stream ends when the client cancels it or its request is aborted.
     */
    connect(stream: EventStream, Stream: typeof ReadableStream, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
      stream.state = 'open';
      clearTimeout(stream.expiry);
      // A client that leaves is heard at once, not at the next write to it.
      signal?.addEventListener('abort', () => close(stream), { once: true });
      return new Stream<Uint8Array>({
        start(controller) {
          stream.controller = controller;
          // Some clients wait for a byte before they call the stream open.
          controller.enqueue(encoder.encode(':\n\n'));
          stream.ping = setInterval(() => {
            // 0 or less: the client is not reading (this ping is skipped).
            if ((controller.desiredSize ?? 0) > 0) write(stream, ':\n\n');
          }, keepAliveMs);
          stream.ping.unref();
        },
        // Pending until something is written: the stream asks again only once the client has read it.
        pull: () => new Promise<void>((resolve) => {
          stream.wanted = resolve;
          wake(stream);
        }),
        cancel: () => close(stream),
      });
    },
    /** Takes an operation id on its stream before the operation runs; false when the id already runs there. */
    claim(stream: EventStream, id: string): boolean {
      if (stream.operations.has(id)) return false;
      stream.operations.set(id, null);
      return true;
    },
    /**
     * Starts carrying a claimed operation's messages; false when it was stopped, or its stream
     * closed, while the pipeline answered (its results are then stopped here).
     */
    start(stream: EventStream, id: string, results: Relayed): boolean {
      if (stream.operations.get(id) !== null) {
        void results.return();
        return false;
      }
      stream.operations.set(id, results);
      void pump(stream, id, results);
      return true;
    },
    /** Gives back an id claimed for an operation the pipeline refused. */
    release(stream: EventStream, id: string): void {
      if (stream.operations.get(id) === null) stream.operations.delete(id);
    },
    /** Stops one operation (nothing when none runs with this id). */
    async stop(stream: EventStream, id: string): Promise<void> {
      const operation = stream.operations.get(id);
      stream.operations.delete(id);
      await operation?.return();
    },
  };
}

export type EventStreams = ReturnType<typeof createEventStreams>;
