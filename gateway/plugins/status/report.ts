import type { BreakerState } from '../../upstream/resilience.ts';
import type { DeliveryStats } from '../../webhooks/outbound.ts';
import type { PollStats } from '../../webhooks/poller.ts';
import type { WebhookDeliveryNote } from '../../webhooks/receiver.ts';
import type { CacheWindow, SourceWindow, StatusWindow } from './window.ts';

/**
 * The status page's figures, gathered once per view from what the gateway already keeps: the
 * window's counts, the breakers, the last round of readiness probes (never a round of its own),
 * the webhook and delivery counters. The page and its JSON form are both made from this.
 */

/** Error rate over the window from which a source shows as degraded (5%). */
export const DEGRADED_ERROR_RATE = 0.05;
/** Most rows of any list the page shows (registrations, topics): the page costs O(sources), not O(traffic). */
export const MAX_STATUS_ROWS = 50;

/** What a person should read first: `open` (breaker open or isolated: calls fail at once), `down` (its probe failed), `degraded` (failing calls, or a breaker trying again), `up`. */
export type SourceState = 'up' | 'degraded' | 'down' | 'open';

export interface SourceStatus extends SourceWindow {
  state: SourceState;
  breaker: BreakerState | 'unknown';
  /** The last readiness probe's verdict and time, in ms; `unknown` when none could be read. */
  health: 'up' | 'down' | 'unknown';
  healthLatencyMs: number | null;
}

export interface StatusReport {
  generatedAt: string;
  mode: 'development' | 'production';
  window: { windowMs: number; bucketMs: number; elapsedMs: number };
  /** As /readyz says: ready, degraded, unready, draining; `unknown` when it could not be read. */
  readiness: string;
  sources: Record<string, SourceStatus>;
  /** Readiness checks that are no source (Redis). */
  dependencies: Record<string, { status: string; latencyMs: number | null }>;
  caches: Record<string, CacheWindow>;
  requests: { inFlight: number; limit: number };
  subscriptions: Record<string, number>;
  webhooks: {
    /** Deliveries by endpoint path and outcome, since start. */
    received: Record<string, Record<string, number>>;
    /** The last few, newest first; `at` as an ISO time. */
    recent: { at: string; path: string; outcome: string }[];
  };
  /** Services' registrations delivered from this instance (at most MAX_STATUS_ROWS; `omitted` says how many more). */
  deliveries: { registrations: Record<string, DeliveryStats>; omitted: number };
  polls: Record<string, PollStats>;
}

export interface StatusInputs {
  mode: 'development' | 'production';
  window: StatusWindow;
  breakers(): Record<string, BreakerState>;
  /** The body of /readyz, as its last (cached) round of probes says. */
  readiness(): Promise<unknown>;
  shedding(): { inFlight: number; limit: number };
  subscriptions(): Record<string, number>;
  webhookStats(): Record<string, Record<string, number>>;
  recentWebhooks(): WebhookDeliveryNote[];
  deliveryStats(): Record<string, DeliveryStats>;
  pollStats(): Record<string, PollStats>;
  now?: () => number;
}

interface ReadinessBody {
  status?: unknown;
  sources?: Record<string, { status?: unknown; latencyMs?: unknown } | undefined>;
}

export async function statusReport(inputs: StatusInputs): Promise<StatusReport> {
  const readiness = await inputs.readiness().then((body) => body as ReadinessBody, () => undefined);
  const breakers = inputs.breakers();
  const names = Object.keys(breakers);
  const windows = inputs.window.sources(names);
  const checks = readiness?.sources ?? {};
  const sources: Record<string, SourceStatus> = {};
  for (const [name, figures] of Object.entries(windows)) {
    const check = checks[name];
    const health = check?.status === 'up' || check?.status === 'down' ? check.status : 'unknown';
    const breaker = breakers[name] ?? 'unknown';
    sources[name] = {
      state: stateOf(breaker, health, figures),
      breaker,
      health,
      healthLatencyMs: typeof check?.latencyMs === 'number' ? check.latencyMs : null,
      ...figures,
    };
  }
  const dependencies: StatusReport['dependencies'] = {};
  for (const [name, check] of Object.entries(checks).slice(0, MAX_STATUS_ROWS)) {
    if (name in sources || !check) continue;
    dependencies[name] = { status: String(check.status ?? 'unknown'), latencyMs: typeof check.latencyMs === 'number' ? check.latencyMs : null };
  }
  const allDeliveries = Object.entries(inputs.deliveryStats());
  return {
    generatedAt: new Date((inputs.now ?? Date.now)()).toISOString(),
    mode: inputs.mode,
    window: inputs.window.span(),
    readiness: typeof readiness?.status === 'string' ? readiness.status : 'unknown',
    sources,
    dependencies,
    caches: inputs.window.caches(),
    requests: inputs.shedding(),
    subscriptions: firstRows(inputs.subscriptions()),
    webhooks: {
      received: firstRows(inputs.webhookStats()),
      recent: inputs.recentWebhooks().map(({ at, path, outcome }) => ({ at: new Date(at).toISOString(), path, outcome })),
    },
    deliveries: { registrations: Object.fromEntries(allDeliveries.slice(0, MAX_STATUS_ROWS)), omitted: Math.max(0, allDeliveries.length - MAX_STATUS_ROWS) },
    polls: firstRows(inputs.pollStats()),
  };
}

function stateOf(breaker: BreakerState | 'unknown', health: SourceStatus['health'], figures: SourceWindow): SourceState {
  if (breaker === 'open' || breaker === 'isolated') return 'open';
  if (health === 'down') return 'down';
  if (breaker === 'half-open' || (figures.errors > 0 && figures.errorRate >= DEGRADED_ERROR_RATE)) return 'degraded';
  return 'up';
}

const firstRows = <T>(record: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(record).slice(0, MAX_STATUS_ROWS));
