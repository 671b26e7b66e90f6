import { Agent, request } from 'undici';
import type { Logger } from 'pino';
import type { AddressGuard, Destination } from './address-guard.ts';
import type { DeliveryStore, FailedDelivery, Registration } from './outbound-store.ts';
import { signStandardWebhook } from './outbound-signature.ts';

/**
 * Sending one registration's events: in order, one at a time, each signed as Standard Webhooks
 * sign, retried with exponential backoff and jitter while the failure may pass, kept for replay
 * when it does not.
 */

/** Time, for the waits between attempts and an attempt's timeout: tests drive it by hand. */
export interface Scheduler {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** A number in [0, 1), for jitter. */
  random(): number;
}

export const realScheduler: Scheduler = {
  now: () => Date.now(),
  sleep: (ms, signal) => new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    // Unreferenced: a wait never keeps the process alive on its own.
    const timer = setTimeout(done, ms);
    timer.unref();
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  }),
  random: () => Math.random(),
};

export interface DeliverySettings {
  /** Longest one POST may take, connection and answer, in ms. */
  attemptTimeoutMs: number;
  /** POSTs of one event before it is kept as failed. */
  maxAttempts: number;
  /** Wait after the first failed attempt, in ms; doubled after each next one. */
  firstBackoffMs: number;
  /** Longest wait between two attempts, in ms (a `Retry-After` is honoured up to this too). */
  maxBackoffMs: number;
  /** Events waiting for one registration; past it, the oldest are kept as failed (`queue_full`). */
  maxPending: number;
  /** Bytes of the events waiting for one registration; past it, the same. */
  maxPendingBytes: number;
  /** Failed events kept per registration for replay, the newest. */
  maxFailed: number;
  /** Attempts kept per registration, the newest, for its owner to read. */
  attemptsKept: number;
}

export const DEFAULT_DELIVERY_SETTINGS: Readonly<DeliverySettings> = Object.freeze({
  attemptTimeoutMs: 10_000,
  maxAttempts: 6,
  firstBackoffMs: 1_000,
  maxBackoffMs: 300_000,
  maxPending: 1_000,
  maxPendingBytes: 16 * 1024 * 1024,
  maxFailed: 1_000,
  attemptsKept: 20,
});

/** One event, ready to send. */
export interface OutgoingEvent {
  /** `webhook-id`: the same for every attempt and replay of it. */
  id: string;
  /** `<topic>:<event id>`, for the owner to tell events apart. */
  event: string;
  body: string;
}

export type DeliveryOutcome = 'delivered' | 'retried' | 'failed' | 'queue_full' | 'url_refused' | 'interrupted' | 'replayed' | 'restarted';

export interface SenderOptions {
  registration: Registration;
  store: DeliveryStore;
  guard: AddressGuard;
  scheduler: Scheduler;
  settings: DeliverySettings;
  logger: Logger;
  count: (outcome: DeliveryOutcome) => void;
}

export interface Sender {
  enqueue(event: OutgoingEvent): void;
  /** Events waiting, and the one being sent. */
  pending(): number;
  /**
   * Stops at once: the attempt in flight is abandoned. What waits is dropped (the registration
   * was deleted, or its service may no longer read what was resolved) or, with `keep`, kept as
   * failed (`interrupted`: the instance is stopping, or another took the registration over), for
   * its owner to replay.
   */
  stop(keep: boolean): Promise<void>;
}

type Answer = { status: number; retryAfterMs?: number } | { error: string };

/** Longest part of an answer's body read (and dropped): an answer is its status. */
const ANSWER_BYTES = 64 * 1024;

/** A `Retry-After` in ms: delay-seconds, or an HTTP date. */
function retryAfterOf(value: string | string[] | undefined, now: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function createSender(options: SenderOptions): Sender {
  const { registration, store, guard, scheduler, settings, logger, count } = options;
  const queue: OutgoingEvent[] = [];
  let queuedBytes = 0;
  let inFlight = false;
  let working: Promise<void> | undefined;
  /** Set when stopping keeps what was not sent (the event in flight too) as failed. */
  let keeping = false;
  const stopping = new AbortController();
  // The connection goes to the address the guard checked for this attempt, never to one a second
  // lookup would give (DNS rebinding): the pool's lookup answers with it.
  let checked: Extract<Destination, { ok: true }> | undefined;
  const agent = new Agent({
    keepAliveTimeout: 4_000,
    connect: {
      lookup: (hostname: string, lookupOptions: { all?: boolean }, callback: (...args: unknown[]) => void) => {
        if (!checked || checked.hostname !== hostname) return callback(new Error(`${hostname} was not checked`));
        if (lookupOptions.all) callback(null, [{ address: checked.address, family: checked.family }]);
        else callback(null, checked.address, checked.family);
      },
    } as never,
  });

  const keepFailed = async (event: OutgoingEvent, entry: Omit<FailedDelivery, 'id' | 'event' | 'body' | 'failedAt'>) => {
    count(entry.reason === 'queue_full' || entry.reason === 'url_refused' || entry.reason === 'interrupted' ? entry.reason : 'failed');
    try {
      await store.fail(registration.id, { id: event.id, event: event.event, body: event.body, failedAt: scheduler.now(), ...entry }, settings.maxFailed);
    } catch (err) {
      logger.warn({ delivery: registration.id, webhookId: event.id, err: (err as Error).message }, 'delivery: a failed event could not be kept for replay');
    }
  };

  const post = async (destination: Extract<Destination, { ok: true }>, event: OutgoingEvent): Promise<Answer> => {
    const timeout = new AbortController();
    const signal = AbortSignal.any([timeout.signal, stopping.signal]);
    const ends = new AbortController();
    void scheduler.sleep(settings.attemptTimeoutMs, ends.signal).then(() => timeout.abort());
    const timestamp = Math.floor(scheduler.now() / 1000);
    checked = destination;
    try {
      const response = await request(destination.url, {
        method: 'POST',
        dispatcher: agent,
        signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Junction-Webhooks/1',
          'webhook-id': event.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signStandardWebhook(registration.secret, event.id, timestamp, event.body),
        },
        body: event.body,
      });
      await response.body.dump({ limit: ANSWER_BYTES }).catch(() => undefined);
      const retryAfterMs = retryAfterOf(response.headers['retry-after'], scheduler.now());
      return { status: response.statusCode, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    } catch (err) {
      if (timeout.signal.aborted) return { error: `no answer within ${settings.attemptTimeoutMs} ms` };
      const error = err as Error & { code?: string; cause?: { code?: string } };
      return { error: error.cause?.code ?? error.code ?? error.message };
    } finally {
      ends.abort();
    }
  };

  /** The guard's verdict, or `unresolvable` when name resolution takes longer than an attempt may. */
  const checkInTime = async (): Promise<Destination> => {
    const ends = new AbortController();
    const late: Destination = { ok: false, reason: 'unresolvable', message: `${new URL(registration.url).hostname} did not resolve within ${settings.attemptTimeoutMs} ms` };
    try {
      return await Promise.race([guard.check(registration.url), scheduler.sleep(settings.attemptTimeoutMs, ends.signal).then(() => late)]);
    } finally {
      ends.abort();
    }
  };

  /** The wait before attempt `attempt + 1`: doubled each time up to the cap, with jitter (half to all of it), or longer when the receiver asked. */
  const backoff = (attempt: number, retryAfterMs: number | undefined) => {
    const base = Math.min(settings.maxBackoffMs, settings.firstBackoffMs * 2 ** (attempt - 1));
    const jittered = Math.round(base / 2 + (scheduler.random() * base) / 2);
    return Math.min(settings.maxBackoffMs, Math.max(jittered, retryAfterMs ?? 0));
  };

  const deliver = async (event: OutgoingEvent) => {
    let attempt = 0;
    while (!stopping.signal.aborted) {
      attempt += 1;
      const destination = await checkInTime();
      // A host that now resolves where events are not posted is refused, whatever it resolved to at
      // registration; one that does not resolve at all may be a passing DNS failure, and is retried.
      if (!destination.ok && destination.reason !== 'unresolvable') {
        logger.warn({ delivery: registration.id, reason: destination.reason }, `delivery refused: ${destination.message}`);
        return keepFailed(event, { reason: 'url_refused', error: destination.message, attempts: attempt - 1 });
      }
      const started = scheduler.now();
      const answer: Answer = destination.ok ? await post(destination, event) : { error: destination.message };
      if (stopping.signal.aborted) break;
      const status = 'status' in answer ? answer.status : undefined;
      const delivered = status !== undefined && status >= 200 && status < 300;
      // 408, 429 and 5xx may pass, as may a failure to connect or a timeout; a redirect is not
      // followed (it could lead past the address checks), and any other status is the receiver's
      // final word.
      const mayPass = status === undefined || status === 408 || status === 429 || status >= 500;
      const final = !delivered && (!mayPass || attempt >= settings.maxAttempts);
      await store.attempt(registration.id, {
        id: event.id,
        attempt,
        at: started,
        outcome: delivered ? 'delivered' : final ? 'failed' : 'retrying',
        ...(status !== undefined ? { status } : {}),
        ...('error' in answer ? { error: answer.error } : {}),
        ms: scheduler.now() - started,
      }, settings.attemptsKept).catch(() => undefined);
      if (delivered) return count('delivered');
      if (final) {
        const reason = mayPass ? 'exhausted' : status !== undefined && status >= 300 && status < 400 ? 'redirected' : 'rejected';
        return keepFailed(event, { reason, attempts: attempt, ...(status !== undefined ? { status } : {}), ...('error' in answer ? { error: answer.error } : {}) });
      }
      count('retried');
      await scheduler.sleep(backoff(attempt, 'retryAfterMs' in answer ? answer.retryAfterMs : undefined), stopping.signal);
    }
    if (keeping) await keepFailed(event, { reason: 'interrupted', attempts: attempt });
  };

  const work = async () => {
    try {
      while (queue.length > 0 && !stopping.signal.aborted) {
        const event = queue.shift()!;
        queuedBytes -= event.body.length;
        inFlight = true;
        try {
          await deliver(event);
        } catch (err) {
          logger.error({ delivery: registration.id, webhookId: event.id, err: (err as Error).message }, 'delivery: unexpected failure');
        } finally {
          inFlight = false;
        }
      }
    } finally {
      working = undefined;
    }
  };

  return {
    enqueue(event) {
      if (stopping.signal.aborted) return;
      queue.push(event);
      queuedBytes += event.body.length;
      // A slow or dead receiver holds one registration's events, never the instance's memory.
      while (queue.length > settings.maxPending || (queuedBytes > settings.maxPendingBytes && queue.length > 1)) {
        const oldest = queue.shift()!;
        queuedBytes -= oldest.body.length;
        void keepFailed(oldest, { reason: 'queue_full', attempts: 0 });
      }
      working ??= work();
    },
    pending: () => queue.length + (inFlight ? 1 : 0),
    async stop(keep) {
      keeping = keep;
      stopping.abort();
      const waiting = queue.splice(0);
      queuedBytes = 0;
      // The attempt in flight ends at once (its request is aborted) and is kept first, then what
      // waited behind it, in order: a replay sends them as they would have gone.
      await working;
      if (keep) for (const event of waiting) await keepFailed(event, { reason: 'interrupted', attempts: 0 });
      else if (waiting.length > 0) logger.info({ delivery: registration.id, dropped: waiting.length }, 'delivery stopped with events waiting; they are not sent');
      await agent.destroy().catch(() => undefined);
    },
  };
}
