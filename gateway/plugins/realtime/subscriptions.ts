import type { Logger } from 'pino';
import { junctionError } from '../../errors.ts';
import { ANONYMOUS, type Principal } from '../../../schema/principal.ts';
import { limitIdentity } from '../limits/rate-limits.ts';
import type { SourceEvent } from '../../../schema/contract.ts';
import type { WebhookStore } from '../../webhooks/store.ts';
import { eventStream, isCursor, type Cursor, type EventTargetLike } from './event-stream.ts';

/**
 * Subscriptions to source topics (webhooks, polls) as the contract's `context.subscribe` opens
 * them: counted per caller (MAX_SUBSCRIPTIONS_PER_CALLER) and per topic, resumed from a cursor
 * when the client gives one (`Last-Event-ID`, or `extensions.cursor`), and each event handed over
 * with its cursor, which the subscription's message carries (use-subscription-results.ts).
 */
export interface SubscriptionsOptions {
  /** Where events are published (Redis's event target across instances): `webhook:<topic>`. */
  eventTarget: EventTargetLike;
  /** The topics' streams, read to resume a subscriber; absent: no resumption. */
  store?: Pick<WebhookStore, 'readAfter'>;
  maxPerCaller: number;
  maxQueued: number;
  /** Proxies whose `x-forwarded-for` tells anonymous subscribers apart (TRUSTED_PROXIES). */
  trustedProxies: ReadonlySet<string>;
  logger: Logger;
}

/** What a subscription's context holds that this module reads and writes. */
interface SubscriberContext {
  principal?: Principal;
  request?: Request;
  /** The server's request (its socket's address): yoga merges it into the context. */
  req?: { socket?: { remoteAddress?: string } };
  params?: { extensions?: Record<string, unknown> | null };
}

/** The cursor of the event each subscription's context is resolving now. */
const cursors = new WeakMap<object, Cursor>();

/** The cursor of the event a subscription resolves now (for its message's `extensions.cursor`). */
export const currentCursor = (context: object): Cursor | undefined => cursors.get(context);

/** The cursor a client resumes from: `Last-Event-ID` (an EventSource reconnecting) or `extensions.cursor`. */
function resumeCursorOf(context: SubscriberContext): Cursor | undefined {
  const fromHeader = context.request?.headers.get('last-event-id') ?? undefined;
  const fromExtensions = context.params?.extensions?.cursor;
  const given = fromHeader ?? fromExtensions;
  if (given === undefined || given === null || given === '') return undefined;
  if (typeof given !== 'string' || !isCursor(given)) {
    const shown = JSON.stringify(given).slice(0, 60);
    throw junctionError('BAD_USER_INPUT', `"${fromHeader !== undefined ? 'Last-Event-ID' : 'extensions.cursor'}" must be the cursor of an event this subscription sent (extensions.cursor, or the SSE id); got ${shown}.`);
  }
  return given;
}

export function createSubscriptions(options: SubscriptionsOptions) {
  const { eventTarget, store, maxPerCaller, maxQueued, trustedProxies, logger } = options;
  const byTopic = new Map<string, number>();
  const byCaller = new Map<string, number>();
  /** Every open stream, ended by `endAll` when the instance shuts down or its configuration is reloaded. */
  const open = new Set<{ fail: (err: Error) => void }>();
  return {
    /** Subscriptions open on this instance, by topic. */
    counts: (): Record<string, number> => Object.fromEntries([...byTopic].filter(([, n]) => n > 0)),
    /**
     * A topic's events for one subscription. `onEvent` is told before each event is resolved (the
     * engine renews the contract's loaders there: what a loader fetched for one event is not the
     * truth for the next).
     */
    open(context: object, topic: string, accept: ((event: SourceEvent) => boolean) | undefined, onEvent: () => void): AsyncIterable<SourceEvent> {
      const { principal = ANONYMOUS, request, req } = context as SubscriberContext;
      // As rate limits count: a verified caller by who it is, an anonymous one by its address, so
      // one anonymous client cannot hold every anonymous subscriber's budget.
      const caller = request ? limitIdentity(principal, request, req?.socket?.remoteAddress, trustedProxies) : `${principal.kind}:${principal.id}`;
      const held = byCaller.get(caller) ?? 0;
      if (held >= maxPerCaller) {
        throw junctionError('SUBSCRIPTION_LIMIT', `This caller has ${held} subscriptions open, the most it may (MAX_SUBSCRIPTIONS_PER_CALLER); end one first.`, { extensions: { limit: maxPerCaller } });
      }
      const resumeAfter = resumeCursorOf(context as SubscriberContext);
      byCaller.set(caller, held + 1);
      byTopic.set(topic, (byTopic.get(topic) ?? 0) + 1);
      const stream = eventStream(eventTarget, `webhook:${topic}`, {
        ...(accept ? { accept } : {}),
        maxQueued,
        ...(resumeAfter !== undefined && store ? { resumeAfter, readAfter: (cursor: Cursor, count: number) => store.readAfter(topic, cursor, count) } : {}),
        onEvent: (event) => {
          if (event.cursor !== undefined) cursors.set(context, event.cursor);
          else cursors.delete(context);
          onEvent();
        },
        onClose: (overflowed) => {
          byTopic.set(topic, byTopic.get(topic)! - 1);
          const left = byCaller.get(caller)! - 1;
          if (left > 0) byCaller.set(caller, left);
          else byCaller.delete(caller);
          if (overflowed) logger.warn({ topic, caller, queued: maxQueued }, 'subscription ended: its subscriber fell more than MAX_EVENTS_QUEUED events behind');
          open.delete(stream);
        },
      });
      open.add(stream);
      return stream;
    },
    /**
     * Ends every open subscription with a last message saying why (the instance is shutting down):
     * each client hears it, with the cursor it had, and resumes elsewhere, instead of its
     * connection being cut when the drain time is up.
     */
    endAll(why: 'SHUTTING_DOWN' | 'GATEWAY_RELOADED' = 'SHUTTING_DOWN'): void {
      const last = why === 'SHUTTING_DOWN'
        ? junctionError('SHUTTING_DOWN', 'This instance is shutting down; subscribe again (with the cursor of the last event, to miss nothing).')
        : junctionError('GATEWAY_RELOADED', 'The gateway\'s configuration was reloaded; subscribe again (with the cursor of the last event, to miss nothing).');
      for (const stream of [...open]) stream.fail(last);
    },
  };
}
