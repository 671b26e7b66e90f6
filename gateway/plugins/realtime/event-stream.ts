import { junctionError } from '../../errors.ts';
import type { SourceEvent } from '../../../schema/contract.ts';

/**
 * A topic's events as one subscription reads them: what it missed since its cursor (read from the
 * topic's stream, in pages, as the subscriber asks for them), then every event published from now
 * on, into a queue of at most `maxQueued`. The live listener is on from the moment it subscribes, so
 * nothing published while the missed events are read is lost: an event the stream already gave is
 * recognised by its cursor and skipped.
 */

/** A stream id (`<ms>-<sequence>`, Redis's own form): where a subscriber has got to in its topic. */
export type Cursor = string;

const CURSOR = /^(\d{1,16})-(\d{1,16})$/;

export const isCursor = (value: string): boolean => CURSOR.test(value);

/** Orders two cursors: negative when `a` came first. */
export function compareCursors(a: Cursor, b: Cursor): number {
  const [, am = '0', as = '0'] = CURSOR.exec(a) ?? [];
  const [, bm = '0', bs = '0'] = CURSOR.exec(b) ?? [];
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}

/** The events after a cursor, and whether some of them are no longer kept (the stream was trimmed past it). */
export interface MissedPage {
  events: { id: Cursor; event: string }[];
  expired: boolean;
}

export interface EventStreamOptions {
  /** Which events the subscriber takes. */
  accept?: (event: SourceEvent) => boolean;
  /** Told as each event is handed over (the contract's loaders are renewed for it). */
  onEvent: (event: SourceEvent) => void;
  /** Told once, when the stream ends, however it ends. */
  onClose: (overflowed: boolean) => void;
  /** Events one subscriber may have waiting (MAX_EVENTS_QUEUED): one that falls further behind is ended. */
  maxQueued: number;
  /** Resume after this cursor: what the topic's stream holds after it comes first. */
  resumeAfter?: Cursor;
  /** Reads up to `count` events after a cursor from the topic's stream. */
  readAfter?: (cursor: Cursor, count: number) => Promise<MissedPage>;
}

/** Events read from the stream per page while a subscriber catches up. */
const PAGE = 100;

export interface EventTargetLike {
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
}

/**
 * Listens on the event target itself (yoga's pubsub.subscribe queues in a repeater that throws
 * past 1,024 unread events, inside the publisher's dispatch: one subscriber that stopped reading
 * killed the process). Filtered here, and ended at once by `return()`: a subscriber who leaves
 * stops the listening. A subscriber that falls more than `maxQueued` behind, or whose cursor is
 * older than what the stream keeps, gets a catalogued error from `next()`; the subscription's
 * result stream turns it into a last message (use-subscription-results.ts).
 */
/** A subscription's events, which the gateway may also end with an error of its own (shutting down). */
export type EventStream = AsyncIterableIterator<SourceEvent> & { fail(err: Error): void };

export function eventStream(target: EventTargetLike, type: string, options: EventStreamOptions): EventStream {
  const { accept, onEvent, onClose, maxQueued, readAfter } = options;
  const queue: SourceEvent[] = [];
  let waiting: { resolve: (result: IteratorResult<SourceEvent>) => void; reject: (err: unknown) => void } | undefined;
  let ended = false;
  let failure: Error | undefined;
  // Catching up: the cursor reached in the stream, the events of the page read and not yet handed over.
  let after = options.resumeAfter !== undefined && readAfter ? options.resumeAfter : undefined;
  let page: SourceEvent[] = [];
  // While catching up, live events beyond the queue's bound are not lost: the stream holds them,
  // and it is read once more before the subscriber goes live.
  let liveDropped = false;
  // The newest event read from the stream while catching up. An event is kept in the stream a
  // moment before it is published (the receiver confirms its id and drops stale cache entries in
  // between; across instances, Redis relays it), so one the catch-up already read may still
  // arrive live afterwards: it is not handed over twice.
  let replayed: Cursor | undefined;

  const takes = (event: SourceEvent) => !accept || accept(event);
  const hand = (event: SourceEvent): IteratorResult<SourceEvent> => {
    onEvent(event);
    return { done: false, value: event };
  };
  const listener = (event: Event) => {
    const value = (event as CustomEvent<SourceEvent>).detail;
    if (ended) return;
    // A filter that throws ends its own subscription only: thrown here, it would reach the event
    // target's dispatch (in process, an uncaught exception; over Redis, inside the connection's
    // reader, skipping the topic's other listeners).
    let taken: boolean;
    try {
      taken = takes(value);
    } catch (err) {
      fail(err as Error);
      return;
    }
    if (!taken) return;
    if (replayed !== undefined && value.cursor !== undefined && compareCursors(value.cursor, replayed) <= 0) return;
    if (waiting && after === undefined) {
      const { resolve } = waiting;
      waiting = undefined;
      resolve(hand(value));
      return;
    }
    if (queue.push(value) <= maxQueued) return;
    if (after !== undefined) {
      queue.length = 0;
      liveDropped = true;
      return;
    }
    fail(junctionError('SUBSCRIPTION_TOO_SLOW', `This subscriber fell more than ${maxQueued} events behind (MAX_EVENTS_QUEUED); its subscription is ended. Subscribe again with the cursor of the last event it read.`, { extensions: { limit: maxQueued } }), true);
  };
  const end = (overflowed: boolean) => {
    if (ended) return;
    ended = true;
    queue.length = 0;
    page = [];
    target.removeEventListener(type, listener);
    onClose(overflowed);
  };
  /** Ends the stream; the subscriber's next read (or the one waiting) gets the error. */
  const fail = (err: Error, overflowed = false) => {
    failure = err;
    end(overflowed);
    if (waiting) {
      const { reject } = waiting;
      waiting = undefined;
      reject(err);
    }
  };

  /** The next event from the stream while catching up; undefined once caught up (live from then on). */
  const catchUp = async (): Promise<SourceEvent | undefined> => {
    while (after !== undefined && !ended) {
      if (page.length > 0) return page.shift();
      const read = await readAfter!(after, PAGE);
      if (ended) return undefined;
      if (read.expired) {
        throw junctionError('SUBSCRIPTION_CURSOR_EXPIRED', 'Events after this cursor are no longer kept (the topic keeps its newest events only); read the current state again, then subscribe without a cursor.');
      }
      for (const { id, event } of read.events) {
        const parsed = { ...(JSON.parse(event) as SourceEvent), cursor: id };
        if (takes(parsed)) page.push(parsed);
      }
      if (read.events.length > 0) after = replayed = read.events.at(-1)!.id;
      if (read.events.length < PAGE && page.length === 0) {
        if (liveDropped) {
          // Live events were dropped while this page was read: they are in the stream, read on.
          liveDropped = false;
          continue;
        }
        // Caught up: live from here, without what the stream already gave.
        const reached = after;
        after = undefined;
        const fresh = queue.filter((event) => event.cursor === undefined || compareCursors(event.cursor, reached) > 0);
        queue.length = 0;
        queue.push(...fresh);
      }
    }
    return undefined;
  };

  target.addEventListener(type, listener);
  return {
    async next() {
      if (failure) {
        const err = failure;
        failure = undefined;
        throw err;
      }
      if (ended) return { done: true, value: undefined };
      if (after !== undefined) {
        try {
          const missed = await catchUp();
          if (missed) return hand(missed);
        } catch (err) {
          end(false);
          throw err;
        }
        if (ended) return this.next();
      }
      if (queue.length > 0) return hand(queue.shift()!);
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    async return() {
      end(false);
      if (waiting) {
        const { resolve } = waiting;
        waiting = undefined;
        resolve({ done: true, value: undefined });
      }
      return { done: true, value: undefined };
    },
    fail: (err: Error) => fail(err),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
