import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { readPath } from '../composition/filter-by.ts';
import type { SourceEvent } from '../../schema/contract.ts';
import type { Poll } from './poll-reads.ts';
import type { PollStore } from './poll-store.ts';
import { DEFAULT_STREAM_LENGTH, tagsOf } from './receiver.ts';
import type { WebhookStore } from './store.ts';

/**
 * Polls: a source that cannot push (a SOAP service, most of them) feeds a topic all the same. Every
 * interval one instance (the holder of the topic's lease) reads the entry's operation as the gateway
 * itself (poll-reads.ts), and publishes one event per item that is new or changed since the last
 * read (and, when the entry asks, one per item gone); an item that did not change publishes
 * nothing. Events are kept in the topic's stream, make the cached answers they name stale, and are
 * published, as a webhook's are.
 */

/** The type of an event for an item that is no longer in the result (`removals: true`). */
export const REMOVED_TYPE = 'removed';
/**
 * Most items one result may hold: a larger one is a failed poll. The state is one hash field per
 * item, read whole each round: 10,000 items took 48 ms to read from Redis here, half the command
 * timeout (COMMAND_TIMEOUT_MS).
 */
export const MAX_POLL_ITEMS = 5_000;
/** A failing poll logs one line when it starts failing, then at most one per interval, and never more often than this (ms). */
const LOG_EVERY_MS = 10_000;

/** Runs a poll's next round after `delayMs`; returns what cancels it. Tests pass one they drive by hand. */
export interface PollScheduler {
  schedule(run: () => Promise<void>, delayMs: number): () => void;
}

/** Real timers. A poll never keeps the process alive on its own: the server does. */
export const timerScheduler: PollScheduler = {
  schedule(run, delayMs) {
    const timer = setTimeout(() => void run(), delayMs);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** One topic's rounds since start. */
export interface PollStats {
  /** Reads of the operation (rounds this instance held the lease). */
  polls: number;
  /** Events published. */
  events: number;
  /** Rounds that published nothing because the read, its result or a store failed; the last state is kept. */
  failed: number;
  /** Rounds another instance held the lease. */
  standby: number;
  /** Items left out: no key where `key` says, or a key already seen in the same result. */
  skipped: number;
}

export interface PollerOptions {
  polls: readonly Poll[];
  store: PollStore;
  /** The topics' streams (the webhook store): each event is kept there before it is published. */
  events: Pick<WebhookStore, 'append'>;
  publish: (topic: string, event: SourceEvent) => void;
  /** Drops cached entities and responses carrying these tags. */
  invalidate?: (tags: readonly string[]) => Promise<void>;
  /** Runs one read as the gateway itself, within one request's deadline (create-gateway.ts). */
  run: (read: Poll['read']) => Promise<unknown>;
  /** The longest a read may take (the deadline `run` gives): a lease outlasts two intervals by this much. */
  deadlineMs: number;
  logger: Logger;
  /** Default: real timers. */
  scheduler?: PollScheduler;
  /** Who holds a lease, as the store shows it. Default: host, process id and a random part. */
  instanceId?: string;
  now?: () => number;
}

export interface Poller {
  stats(): Record<string, PollStats>;
  /** Stops every poll, waits for a round under way, and gives up the leases this instance holds. */
  close(): Promise<void>;
}

/**
 * Starts every poll: its first round at once, each next one an interval after the previous ended
 * (rounds of one topic never overlap). The first round ever of a topic only records a baseline:
 * nothing is published until there is a state to compare with.
 */
export function createPoller(options: PollerOptions): Poller {
  const { store, events, publish, invalidate, run, deadlineMs, logger, scheduler = timerScheduler, now = () => Date.now() } = options;
  const instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  let closed = false;
  const topics = options.polls.map((poll) => ({
    poll,
    stats: { polls: 0, events: 0, failed: 0, standby: 0, skipped: 0 } satisfies PollStats,
    warnedAt: Number.NEGATIVE_INFINITY,
    failing: false,
    cancel: undefined as (() => void) | undefined,
    running: undefined as Promise<void> | undefined,
  }));
  type Topic = (typeof topics)[number];

  const round = async (topic: Topic, stage: { at: string }) => {
    const { poll, stats } = topic;
    // Long enough to outlast a round that takes its whole deadline: the holder renews it first thing each round.
    if (!(await store.lease(poll.topic, instanceId, 2 * poll.intervalMs + deadlineMs))) {
      stats.standby += 1;
      return;
    }
    stage.at = 'read';
    stats.polls += 1;
    const current = itemsOf(await run(poll.read), poll, stats);
    stage.at = 'state';
    const previous = await store.state(poll.topic);
    const set = new Map<string, string>();
    const found: SourceEvent[] = [];
    for (const [key, { item, hash }] of current) {
      if (previous?.get(key) === hash) continue;
      set.set(key, hash);
      if (previous) found.push(eventOf(poll, key, poll.type, item, now()));
    }
    const removed = previous ? [...previous.keys()].filter((key) => !current.has(key)) : [];
    if (poll.removals) for (const key of removed) found.push(eventOf(poll, key, REMOVED_TYPE, keyed(poll.key, key), now()));
    if (set.size === 0 && removed.length === 0 && previous) return;
    // Written only while this instance holds the lease: one that lost it mid-round publishes nothing.
    if (!(await store.commit(poll.topic, instanceId, set, removed))) {
      stats.standby += 1;
      return;
    }
    if (!previous) return;
    stage.at = 'events';
    try {
      for (const event of found) event.cursor = await events.append(poll.topic, JSON.stringify(event), DEFAULT_STREAM_LENGTH);
    } catch (err) {
      // Not kept, so not published: the state goes back, and the next round finds the same changes.
      const back = new Map(removed.map((key) => [key, previous.get(key)!]));
      for (const key of set.keys()) if (previous.has(key)) back.set(key, previous.get(key)!);
      await store.commit(poll.topic, instanceId, back, [...set.keys()].filter((key) => !previous.has(key))).catch(() => undefined);
      throw err;
    }
    // Before subscribers hear of it, so that one who asks again right away never reads the old state.
    const stale = [...new Set(found.flatMap((event) => tagsOf(poll.invalidates, event.payload)))];
    if (invalidate && stale.length > 0) {
      await invalidate(stale).catch((err: unknown) => logger.warn({ source: poll.source, topic: poll.topic, err: (err as Error).message }, 'poll: cache invalidation failed'));
    }
    for (const event of found) publish(poll.topic, event);
    stats.events += found.length;
  };

  const once = async (topic: Topic) => {
    const { poll, stats } = topic;
    const stage = { at: 'lease' };
    try {
      await round(topic, stage);
      if (topic.failing) logger.info({ source: poll.source, topic: poll.topic }, 'poll succeeded again');
      topic.failing = false;
    } catch (err) {
      stats.failed += 1;
      topic.failing = true;
      if (now() - topic.warnedAt < Math.max(poll.intervalMs, LOG_EVERY_MS)) return;
      topic.warnedAt = now();
      logger.warn({ source: poll.source, topic: poll.topic, stage: stage.at, failed: stats.failed, err: (err as Error).message }, 'poll failed: nothing published, the last state kept');
    }
  };

  for (const topic of topics) {
    const tick = async () => {
      topic.running = once(topic);
      await topic.running;
      topic.running = undefined;
      if (!closed) topic.cancel = scheduler.schedule(tick, topic.poll.intervalMs);
    };
    topic.cancel = scheduler.schedule(tick, 0);
  }

  return {
    stats: () => Object.fromEntries(topics.map(({ poll, stats }) => [poll.topic, { ...stats }])),
    async close() {
      closed = true;
      for (const topic of topics) topic.cancel?.();
      await Promise.all(topics.map((topic) => topic.running));
      await Promise.all(topics.map(({ poll }) => store.release(poll.topic, instanceId).catch(() => undefined)));
    },
  };
}

/** The result's items by key, each with the hash of its content; items without a usable key are counted and left out. */
function itemsOf(result: unknown, poll: Poll, stats: PollStats): Map<string, { item: unknown; hash: string }> {
  const list = poll.items ? readPath(result, poll.items) : result;
  if (!Array.isArray(list)) {
    throw new Error(poll.items ? `the result has no list at ${poll.items.join('.')}` : 'the result is not a list (`items` says where the list is)');
  }
  if (list.length > MAX_POLL_ITEMS) throw new Error(`the result holds ${list.length} items, more than ${MAX_POLL_ITEMS}`);
  const items = new Map<string, { item: unknown; hash: string }>();
  for (const item of list) {
    const value = readPath(item, poll.key);
    const key = typeof value === 'string' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : '';
    if (key === '' || items.has(key)) {
      stats.skipped += 1;
      continue;
    }
    items.set(key, { item, hash: createHash('sha256').update(canonicalJson(item)).digest('hex').slice(0, 32) });
  }
  return items;
}

/**
 * An event as a webhook's: its id is the item's key and 12 hex digits new for each change. Not drawn
 * from the item's content: an item that changes back to a state it had before (stored, lost, stored,
 * lost) is a new event, and an id it had already would be taken for a copy of the earlier one
 * (a registration's delivery claims events by id, and its receiver deduplicates on the
 * `webhook-id` made from it).
 */
function eventOf(poll: Poll, key: string, type: string, payload: unknown, at: number): SourceEvent {
  const nonce = randomBytes(6).toString('hex');
  const id = type === REMOVED_TYPE ? `${key}:${REMOVED_TYPE}:${nonce}` : `${key}:${nonce}`;
  return { source: poll.source, topic: poll.topic, id, type, payload, receivedAt: at };
}

/** What a removed item's event carries: only its key, where the item had it (`{ id: "p1" }`). */
function keyed(path: readonly string[], key: string): Record<string, unknown> {
  return path.reduceRight<unknown>((value, part) => ({ [part]: value }), key) as Record<string, unknown>;
}

/** JSON with every object's keys in order: the same content hashes the same whatever order the source wrote it in. */
function canonicalJson(value: unknown): string {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return canonicalJson((value as { toJSON: () => unknown }).toJSON());
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const fields = Object.keys(record).sort()
      .filter((k) => record[k] !== undefined && typeof record[k] !== 'function')
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
