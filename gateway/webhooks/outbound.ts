import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Principal } from '../../schema/principal.ts';
import type { SourceEvent } from '../../schema/contract.ts';
import { createAddressGuard, type Resolver } from './address-guard.ts';
import { createMemoryDeliveryStore, CLAIM_TTL_SEC, type DeliveryStore, type Registration } from './outbound-store.ts';
import { createSender, DEFAULT_DELIVERY_SETTINGS, realScheduler, type DeliveryOutcome, type DeliverySettings, type Scheduler, type Sender } from './outbound-delivery.ts';
import { messageId } from './outbound-signature.ts';
import { openRun, plainResult, principalFor, runningAs, type Enveloped, type Opened, type Suspension } from './outbound-run.ts';
import { createDeliveriesApi } from './outbound-api.ts';

/**
 * Webhooks out, for services: a service registers an HTTP endpoint for a subscription document
 * (outbound-api.ts), and Junction POSTs each of its events there, signed as Standard Webhooks sign
 * (outbound-signature.ts), in order, retried with backoff while a failure may pass, kept for
 * replay when it does not (outbound-delivery.ts), and never to an address the operator has not
 * allowed (address-guard.ts). The subscription runs in this process as the service
 * (outbound-run.ts).
 *
 * Here: which registrations this instance delivers. With Redis (outbound-store.ts) every instance
 * knows every registration; each round (SYNC_INTERVAL_MS) an instance reads them again when they
 * changed and takes or renews the lease of each it can. The holder of a registration's lease runs
 * its subscription and delivers its events, so they go out in order, one at a time; each event is
 * also claimed before it is resolved, so that two instances that both believe they hold a lease
 * (a moment of overlap) still send it once. An instance that stops keeps what it had not sent as
 * failed, and gives its leases back: another takes them over at its next round.
 *
 * A registration made with an API key runs with no more than the service's keys grant now
 * (outbound-run.ts `runningAs`), checked when an instance starts running it and at each round: a
 * registration whose scopes changed is opened again with them, and one whose service has no key
 * left is suspended (its holder keeps the lease, sends nothing, and runs it again once the service
 * has a key).
 */

/** Registrations one service may hold, across every instance. */
export const MAX_DELIVERIES_PER_SERVICE = 20;
/** How often an instance reads the registrations again and renews its leases, in ms. */
export const SYNC_INTERVAL_MS = 5_000;
/** How long a lease lasts unless renewed, in ms: another instance takes over a registration this long after its holder stops. */
export const LEASE_MS = 15_000;

export interface OutboundOptions {
  /** Where registrations and failed events are kept (Redis when main.ts has one). Default: this process's memory. */
  store?: DeliveryStore;
  /** Hosts (`host` or `host:port`) posted to although they resolve to refused addresses, or over http in production (DELIVERY_ALLOWED_HOSTS). */
  allowedHosts?: readonly string[];
  /** Name resolution for the address checks. Default: the system's. */
  resolve?: Resolver;
  /** Time for attempts, backoff and the instance's rounds. Default: real time. */
  scheduler?: Scheduler;
  /** Attempts, backoff and queue bounds over DEFAULT_DELIVERY_SETTINGS. */
  settings?: Partial<DeliverySettings>;
  /** Default MAX_DELIVERIES_PER_SERVICE. */
  maxPerService?: number;
  /** Default SYNC_INTERVAL_MS. */
  syncIntervalMs?: number;
  /** Default LEASE_MS. */
  leaseMs?: number;
}

export interface OutboundContext {
  mode: 'development' | 'production';
  logger: Logger;
  /** Largest request body (MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** The gateway's own: who sent a request, verified. */
  principalOf: (request: Request) => Promise<Principal>;
  actAs: (request: Request, principal: Principal) => void;
  enveloped: Enveloped;
  /**
   * The scopes a service's API keys grant now, or undefined when it has none (gateway/auth's
   * `serviceScopes`): what a registration made with an API key may still run with.
   */
  serviceScopes: (serviceId: string) => ReadonlySet<string> | undefined;
  /** Told about every outcome counted (metrics): counts that outlive a deleted registration's. */
  onOutcome?: (outcome: DeliveryOutcome) => void;
}

/** One registration's outcomes on this instance since start; `pending`: events waiting here now; `suspended`: why it is not run, while it is not. */
export type DeliveryStats = Partial<Record<DeliveryOutcome, number>> & { pending: number; suspended?: Suspension };

export interface OutboundDeliveries {
  plugin: Plugin;
  /** Reads the registrations and starts those this instance delivers; never throws. */
  start(): Promise<void>;
  /** Stops every delivery on this instance (what waits is kept as failed) and gives its leases back. */
  close(): Promise<void>;
  /** Outcomes by registration since start, and what each is doing on this instance now. */
  stats(): Record<string, DeliveryStats>;
}

interface Runner {
  registration: Registration;
  /** The scopes it runs with, sorted: a round opens it again when they change. */
  scopes: string[];
  sender: Sender;
  /** Where its subscription would resume: after the last event it handed over. */
  cursor(): string | undefined;
  stop(keep: boolean): Promise<void>;
}

export function createOutboundDeliveries(options: OutboundOptions & OutboundContext): OutboundDeliveries {
  const { logger, maxBodyBytes, principalOf, serviceScopes, scheduler = realScheduler } = options;
  const store = options.store ?? createMemoryDeliveryStore();
  const settings: DeliverySettings = { ...DEFAULT_DELIVERY_SETTINGS, ...options.settings };
  const maxPerService = options.maxPerService ?? MAX_DELIVERIES_PER_SERVICE;
  const syncIntervalMs = options.syncIntervalMs ?? SYNC_INTERVAL_MS;
  const leaseMs = options.leaseMs ?? LEASE_MS;
  const guard = createAddressGuard({
    allowedHosts: options.allowedHosts ?? [],
    requireHttps: options.mode === 'production',
    ...(options.resolve ? { resolve: options.resolve } : {}),
  });
  const run = { enveloped: options.enveloped, actAs: options.actAs };
  /** This instance, as a lease holder. */
  const holder = randomUUID();
  const runners = new Map<string, Runner>();
  /** Registrations this instance holds the lease of but does not run, and why. */
  const suspended = new Map<string, Suspension>();
  const counts = new Map<string, Partial<Record<DeliveryOutcome, number>>>();
  const count = (id: string, outcome: DeliveryOutcome) => {
    const entry = counts.get(id) ?? {};
    entry[outcome] = (entry[outcome] ?? 0) + 1;
    counts.set(id, entry);
    options.onOutcome?.(outcome);
  };
  // Registering, deleting and an instance's round each change which runners exist: one at a time,
  // so a round that read the list just before a registration never stops its fresh runner.
  let chain: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(task: () => Promise<T>): Promise<T> => {
    const next = chain.then(task);
    chain = next.catch(() => undefined);
    return next;
  };
  let warnedAt = Number.NEGATIVE_INFINITY;
  const warnStore = (err: unknown, what: string) => {
    if (scheduler.now() - warnedAt < 10_000) return;
    warnedAt = scheduler.now();
    logger.warn({ err: (err as Error).message }, `deliveries: the store failed (${what})`);
  };

  const claimFor = (registration: Registration) => async (event: SourceEvent) => {
    try {
      const claimed = await store.claim(registration.id, `${event.topic}:${event.id}`, CLAIM_TTL_SEC);
      if (claimed === 'gone') void exclusive(() => stopRunner(registration.id, false));
      return claimed === 'claimed';
    } catch (err) {
      // The lease already makes this instance the only one delivering: a store that cannot be
      // asked is no reason to lose the event.
      warnStore(err, 'claim');
      return true;
    }
  };

  function startRunner(registration: Registration, principal: Principal, opened?: Opened, resumeAfter?: string): Runner {
    const stopping = new AbortController();
    let stream: AsyncIterator<unknown> | undefined;
    let cursor = resumeAfter;
    const sender = createSender({ registration, store, guard, scheduler, settings, logger, count: (outcome) => count(registration.id, outcome) });
    const loop = async () => {
      let wait = settings.firstBackoffMs;
      let first = opened;
      while (!stopping.signal.aborted) {
        const current = first ?? await openRun(run, registration, principal, cursor, claimFor(registration));
        first = undefined;
        if (!('stream' in current)) {
          const why = 'errors' in current ? current.errors.map((e) => e.extensions?.code ?? e.message) : [`a ${current.operation}`];
          logger.warn({ delivery: registration.id, errors: why, retryInMs: wait }, 'delivery: its subscription cannot start now');
          await scheduler.sleep(wait, stopping.signal);
          wait = Math.min(wait * 2, settings.maxBackoffMs);
          continue;
        }
        if (stopping.signal.aborted) {
          await current.stream.return?.();
          break;
        }
        stream = current.stream;
        let seen = 0;
        try {
          for (;;) {
            const step = await current.stream.next();
            if (step.done) break;
            const handed = current.handed();
            if (!handed || handed.count === seen) {
              // The stream's own last word (it fell behind, its cursor expired): no event to send.
              const codes = step.value.errors?.map((e) => e.extensions?.code) ?? [];
              if (codes.includes('SUBSCRIPTION_CURSOR_EXPIRED')) cursor = undefined;
              logger.warn({ delivery: registration.id, errors: codes }, 'delivery: its subscription ended');
              continue;
            }
            seen = handed.count;
            if (handed.event.cursor !== undefined) cursor = handed.event.cursor;
            sender.enqueue({
              id: messageId(registration.id, handed.event.topic, handed.event.id),
              event: `${handed.event.topic}:${handed.event.id}`,
              body: JSON.stringify({ type: 'subscription.event', timestamp: new Date(scheduler.now()).toISOString(), data: plainResult(step.value) }),
            });
          }
        } catch (err) {
          logger.warn({ delivery: registration.id, err: (err as Error).message }, 'delivery: its subscription failed');
        }
        if (stopping.signal.aborted) break;
        // Opened again after the last event it handed over, where the topic's stream keeps it (an
        // event already claimed is not sent twice): at once when it had been delivering, after a
        // growing wait when it ended before its first event, so that it never spins.
        count(registration.id, 'restarted');
        if (seen > 0) wait = settings.firstBackoffMs;
        else {
          await scheduler.sleep(wait, stopping.signal);
          wait = Math.min(wait * 2, settings.maxBackoffMs);
        }
      }
    };
    void loop();
    return {
      registration,
      scopes: [...principal.scopes].sort(),
      sender,
      cursor: () => cursor,
      async stop(keep) {
        stopping.abort();
        await stream?.return?.();
        await sender.stop(keep);
      },
    };
  }

  const stopRunner = async (id: string, keep: boolean) => {
    const runner = runners.get(id);
    if (!runner) return;
    runners.delete(id);
    await runner.stop(keep);
  };

  /**
   * A registration this instance holds, run as the keys configured now allow: started, opened
   * again when its scopes changed, suspended when its service has no key left, run again when it
   * has one. Its subscription is open when this resolves (a round has started what it says).
   */
  const runHeld = async (registration: Registration) => {
    const { id } = registration;
    const as = runningAs(registration, serviceScopes);
    const runner = runners.get(id);
    if ('suspended' in as) {
      // What waits was resolved for a service that may no longer read it: it is not sent.
      await stopRunner(id, false);
      if (!suspended.has(id)) {
        suspended.set(id, as.suspended);
        logger.warn({ delivery: id, owner: registration.owner, reason: as.suspended }, 'delivery suspended: its service has no API key now; nothing is sent until it has one again');
      }
      return;
    }
    const scopes = [...as.scopes].sort();
    if (runner && runner.scopes.join(' ') === scopes.join(' ')) return;
    const resumed = suspended.delete(id);
    let cursor: string | undefined;
    if (runner) {
      // Opened again with its new scopes, after the last event it took. What waits was resolved
      // with the old ones: kept for replay (`interrupted`) when they only grew, dropped when some
      // were taken away, as the service may no longer read it.
      cursor = runner.cursor();
      await stopRunner(id, runner.scopes.every((scope) => as.scopes.has(scope)));
    }
    const opened = await openRun(run, registration, as, cursor, claimFor(registration));
    runners.set(id, startRunner(registration, as, opened, cursor));
    if (resumed) logger.info({ delivery: id, owner: registration.owner, scopes }, 'delivery resumed: its service has an API key again');
    else if (runner) logger.warn({ delivery: id, owner: registration.owner, scopes, was: runner.scopes }, 'delivery: its service\'s scopes changed; its subscription runs with them from now');
  };

  const pullReplays = async (id: string) => {
    const runner = runners.get(id);
    if (!runner) return;
    for (const entry of await store.takeReplays(id)) {
      count(id, 'replayed');
      runner.sender.enqueue({ id: entry.id, event: entry.event, body: entry.body });
    }
  };

  let knownVersion: string | undefined;
  let known: Registration[] = [];
  /** One round: the registrations read again when they changed, leases taken and renewed, runners started and stopped, replays taken. */
  const sync = async () => {
    try {
      const version = await store.version();
      if (version !== knownVersion) {
        known = await store.list();
        knownVersion = version;
      }
      const ids = new Set(known.map((r) => r.id));
      for (const id of [...runners.keys()]) if (!ids.has(id)) await stopRunner(id, false);
      for (const id of [...suspended.keys()]) if (!ids.has(id)) suspended.delete(id);
      for (const registration of known) {
        const held = await store.lease(registration.id, holder, leaseMs);
        if (!held) {
          await stopRunner(registration.id, true);
          suspended.delete(registration.id);
          continue;
        }
        await runHeld(registration);
        await pullReplays(registration.id);
      }
    } catch (err) {
      warnStore(err, 'round');
    }
  };
  const rounds = new AbortController();
  const roundLoop = async () => {
    while (!rounds.signal.aborted) {
      await scheduler.sleep(syncIntervalMs, rounds.signal);
      if (!rounds.signal.aborted) await exclusive(sync);
    }
  };

  const plugin = createDeliveriesApi({
    store,
    guard,
    principalOf,
    maxBodyBytes,
    maxPerService,
    scheduler,
    logger,
    onStoreError: (err) => warnStore(err, 'request'),
    runners: {
      register: (registration) => exclusive(async () => {
        // Started before it is kept: a document the service could not subscribe with (its
        // scopes, its cost, its syntax) is refused with what a subscription of it is told.
        const principal = principalFor(registration);
        const opened = await openRun(run, registration, principal, undefined, claimFor(registration));
        if (!('stream' in opened)) return opened;
        try {
          if ((await store.add(registration, maxPerService)) === 'limit') {
            await opened.stream.return?.();
            return 'limit';
          }
          await store.lease(registration.id, holder, leaseMs);
        } catch (err) {
          await opened.stream.return?.();
          throw err;
        }
        runners.set(registration.id, startRunner(registration, principal, opened));
        return 'added';
      }),
      remove: (registration) => exclusive(async () => {
        await stopRunner(registration.id, false);
        await store.remove(registration);
        counts.delete(registration.id);
        suspended.delete(registration.id);
      }),
      replayed: pullReplays,
      pending: (id) => runners.get(id)?.sender.pending() ?? 0,
      // As the keys of the instance answering say, whichever instance holds the registration.
      suspension: (registration) => {
        const as = runningAs(registration, serviceScopes);
        return 'suspended' in as ? as.suspended : undefined;
      },
    },
  });

  return {
    plugin,
    async start() {
      await exclusive(sync);
      void roundLoop();
    },
    async close() {
      rounds.abort();
      await exclusive(async () => {
        for (const id of [...runners.keys()]) {
          await stopRunner(id, true);
          await store.release(id, holder).catch(() => undefined);
        }
        for (const id of [...suspended.keys()]) {
          suspended.delete(id);
          await store.release(id, holder).catch(() => undefined);
        }
      });
    },
    stats() {
      const ids = new Set([...counts.keys(), ...runners.keys(), ...suspended.keys()]);
      return Object.fromEntries([...ids].map((id) => {
        const reason = suspended.get(id);
        return [id, { ...counts.get(id), pending: runners.get(id)?.sender.pending() ?? 0, ...(reason ? { suspended: reason } : {}) }];
      }));
    },
  };
}
