import type { UpstreamCallRecord } from '../../upstream/upstream-fetch.ts';

/**
 * What each source did over the last few minutes, for the status page: calls, failures, refusals
 * and latencies in a ring of fixed time buckets, so that old calls fall out on their own and the
 * memory of a source never grows. A call costs a few additions into a typed array (no allocation):
 * this sits on the gateway's hot path, beside the metrics.
 *
 * Latencies go into a small histogram of fixed bounds per bucket, from which p50 and p99 are read
 * by linear interpolation inside a bound (as Prometheus' histogram_quantile does): a figure within
 * one bound's width of the true one, at a constant cost whatever the traffic.
 */

/** How far back the status page looks, in ms (5 minutes). */
export const STATUS_WINDOW_MS = 5 * 60_000;
/** The width of one bucket of the window, in ms (10 s): the window forgets a call 290 to 300 s after it. */
export const STATUS_BUCKET_MS = 10_000;
/** Most sources followed; sources are configured, so this only guards the memory against a bug. */
export const MAX_STATUS_SOURCES = 256;
/** Most outcome names counted per cache layer; further ones are counted as `other`. */
const MAX_CACHE_OUTCOMES = 8;
/** Most cache layers followed (the gateway has two: `response` and `entity`). */
const MAX_CACHE_LAYERS = 8;

/** Upper bounds of the latency histogram, in ms; a last, open bound catches the rest. */
export const LATENCY_BOUNDS_MS: readonly number[] = [0.5, 1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10_000];

// One bucket's layout in a source's array: its bucket number (time / bucket width), the counts, the
// latency maximum and minimum, then one count per histogram bound (the open one last).
const EPOCH = 0;
const CALLS = 1;
const ERRORS = 2;
const REJECTED = 3;
const COALESCED = 4;
const MAX_MS = 5;
const MIN_MS = 6;
const HIST = 7;
const BUCKET_SIZE = HIST + LATENCY_BOUNDS_MS.length + 1;

export interface SourceWindow {
  /** Calls that reached the backend (or failed trying): what its own counters see, retries aside. */
  calls: number;
  /** Calls that failed: status 500 or more, or no answer (network, timeout, breaker open). */
  errors: number;
  /** Calls the backend refused as the caller's error (4xx): not the backend's failure. */
  rejected: number;
  /** Reads that joined an identical one in flight instead of calling the backend. */
  coalesced: number;
  /** Calls per second over the window (or since start, when the gateway is younger). */
  ratePerSec: number;
  /** errors / calls, 0 to 1; 0 with no call. */
  errorRate: number;
  /** Latency quantiles and maximum, in ms; null with no call. */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Calls and errors per bucket, oldest first: the page's small chart. */
  series: { calls: number; errors: number }[];
}

export interface CacheWindow {
  /** Look-ups by outcome (hit, miss, stale, ...), over the window. */
  outcomes: Record<string, number>;
  /** hits / look-ups that could have hit (hit, miss, stale, error: a `bypass` could not), 0 to 1; null with none. */
  hitRatio: number | null;
}

export interface StatusWindow {
  /** Told about every backend call (the engine's `onCall` hook). */
  onCall(record: UpstreamCallRecord): void;
  /** Told about cache look-ups, by layer (`response`, `entity`) and outcome (`hit`, `miss`, `stale`, `bypass`, `error`); `count` at once. */
  onCache(layer: string, outcome: string, count?: number): void;
  /** Each source's figures over the window; `names` are listed even with no call. */
  sources(names?: readonly string[]): Record<string, SourceWindow>;
  caches(): Record<string, CacheWindow>;
  /** The window's length and bucket width, in ms, and how long this recorder has run. */
  span(): { windowMs: number; bucketMs: number; elapsedMs: number };
}

export interface StatusWindowOptions {
  /** Default STATUS_WINDOW_MS. */
  windowMs?: number;
  /** Default STATUS_BUCKET_MS. */
  bucketMs?: number;
  /** Wall-clock time in ms (tests pass their own). Default Date.now. */
  now?: () => number;
}

export function createStatusWindow({ windowMs = STATUS_WINDOW_MS, bucketMs = STATUS_BUCKET_MS, now = Date.now }: StatusWindowOptions = {}): StatusWindow {
  if (!(bucketMs > 0) || !(windowMs >= bucketMs)) throw new TypeError(`status window: windowMs (${windowMs}) must be at least bucketMs (${bucketMs}), and bucketMs above 0`);
  const slots = Math.ceil(windowMs / bucketMs);
  const started = now();
  const bySource = new Map<string, Float64Array>();
  const byLayer = new Map<string, { outcomes: Map<string, number>; counts: Float64Array }>();

  /** Where bucket `epoch` lives in `array`, emptied first when the place still holds an older bucket's counts. */
  const slotOf = (array: Float64Array, size: number, epoch: number): number => {
    const at = (epoch % slots) * size;
    if (array[at + EPOCH] !== epoch) {
      array.fill(0, at, at + size);
      array[at + EPOCH] = epoch;
    }
    return at;
  };
  /** Calls each live bucket, oldest first; `undefined` for a bucket with nothing in the window. */
  const eachLive = (array: Float64Array, size: number, visit: (at: number | undefined) => void) => {
    const current = Math.floor(now() / bucketMs);
    for (let epoch = current - slots + 1; epoch <= current; epoch += 1) {
      const at = (((epoch % slots) + slots) % slots) * size;
      visit(array[at + EPOCH] === epoch ? at : undefined);
    }
  };

  return {
    onCall(record) {
      // An entity cache's own records (development's debug trail) are not backend calls, and the
      // readiness probes (the engine's `probe` operation) show as each source's health instead.
      if (record.cached || record.operation === 'probe') return;
      let array = bySource.get(record.source);
      if (!array) {
        if (bySource.size >= MAX_STATUS_SOURCES) return;
        array = new Float64Array(slots * BUCKET_SIZE);
        // Every slot starts as no bucket at all (bucket numbers are never negative).
        for (let s = 0; s < slots; s += 1) array[s * BUCKET_SIZE + EPOCH] = -1;
        bySource.set(record.source, array);
      }
      const at = slotOf(array, BUCKET_SIZE, Math.floor(now() / bucketMs));
      if (record.coalesced) {
        array[at + COALESCED]! += 1;
        return;
      }
      const { status, durationMs } = record;
      array[at + CALLS]! += 1;
      if (status === undefined || status >= 500) array[at + ERRORS]! += 1;
      else if (status >= 400) array[at + REJECTED]! += 1;
      if (durationMs > array[at + MAX_MS]!) array[at + MAX_MS] = durationMs;
      if (array[at + CALLS] === 1 || durationMs < array[at + MIN_MS]!) array[at + MIN_MS] = durationMs;
      // The first bound at or above the duration (binary search), or the open one past them all.
      let low = 0;
      let high = LATENCY_BOUNDS_MS.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (durationMs > LATENCY_BOUNDS_MS[middle]!) low = middle + 1;
        else high = middle;
      }
      array[at + HIST + low]! += 1;
    },

    onCache(layer, outcome, count = 1) {
      let entry = byLayer.get(layer);
      if (!entry) {
        if (byLayer.size >= MAX_CACHE_LAYERS) return;
        entry = { outcomes: new Map(), counts: new Float64Array(slots * (1 + MAX_CACHE_OUTCOMES)) };
        for (let s = 0; s < slots; s += 1) entry.counts[s * (1 + MAX_CACHE_OUTCOMES)] = -1;
        byLayer.set(layer, entry);
      }
      let index = entry.outcomes.get(outcome);
      if (index === undefined) {
        // The last place is `other`, for outcome names past the first few.
        index = entry.outcomes.size < MAX_CACHE_OUTCOMES - 1 ? entry.outcomes.size : MAX_CACHE_OUTCOMES - 1;
        if (index < MAX_CACHE_OUTCOMES - 1) entry.outcomes.set(outcome, index);
      }
      const at = slotOf(entry.counts, 1 + MAX_CACHE_OUTCOMES, Math.floor(now() / bucketMs));
      entry.counts[at + 1 + index]! += count;
    },

    sources(names = []) {
      const elapsedSec = Math.max(Math.min(now() - started, windowMs), bucketMs) / 1000;
      const out: Record<string, SourceWindow> = {};
      for (const name of new Set([...names, ...bySource.keys()])) {
        const array = bySource.get(name);
        const hist = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
        const series: SourceWindow['series'] = [];
        let calls = 0, errors = 0, rejected = 0, coalesced = 0, maxMs = 0, minMs = Number.POSITIVE_INFINITY;
        if (array) {
          eachLive(array, BUCKET_SIZE, (at) => {
            if (at === undefined) {
              series.push({ calls: 0, errors: 0 });
              return;
            }
            calls += array[at + CALLS]!;
            errors += array[at + ERRORS]!;
            rejected += array[at + REJECTED]!;
            coalesced += array[at + COALESCED]!;
            maxMs = Math.max(maxMs, array[at + MAX_MS]!);
            if (array[at + CALLS]! > 0) minMs = Math.min(minMs, array[at + MIN_MS]!);
            for (let b = 0; b < hist.length; b += 1) hist[b]! += array[at + HIST + b]!;
            series.push({ calls: array[at + CALLS]!, errors: array[at + ERRORS]! });
          });
        } else {
          for (let s = 0; s < slots; s += 1) series.push({ calls: 0, errors: 0 });
        }
        out[name] = {
          calls, errors, rejected, coalesced,
          ratePerSec: round(calls / elapsedSec, 2),
          errorRate: calls === 0 ? 0 : round(errors / calls, 4),
          p50Ms: calls === 0 ? null : quantile(hist, calls, 0.5, minMs, maxMs),
          p99Ms: calls === 0 ? null : quantile(hist, calls, 0.99, minMs, maxMs),
          maxMs: calls === 0 ? null : round(maxMs, 1),
          series,
        };
      }
      return out;
    },

    caches() {
      const out: Record<string, CacheWindow> = {};
      for (const [layer, { outcomes: names, counts }] of byLayer) {
        const totals = new Array<number>(MAX_CACHE_OUTCOMES).fill(0);
        eachLive(counts, 1 + MAX_CACHE_OUTCOMES, (at) => {
          if (at !== undefined) for (let i = 0; i < MAX_CACHE_OUTCOMES; i += 1) totals[i]! += counts[at + 1 + i]!;
        });
        const outcomes: Record<string, number> = {};
        for (const [name, index] of names) outcomes[name] = totals[index]!;
        if (totals[MAX_CACHE_OUTCOMES - 1]! > 0) outcomes.other = totals[MAX_CACHE_OUTCOMES - 1]!;
        const hit = outcomes.hit ?? 0;
        const lookups = hit + (outcomes.miss ?? 0) + (outcomes.stale ?? 0) + (outcomes.error ?? 0);
        out[layer] = { outcomes, hitRatio: lookups === 0 ? null : round(hit / lookups, 4) };
      }
      return out;
    },

    span: () => ({ windowMs: slots * bucketMs, bucketMs, elapsedMs: now() - started }),
  };
}

/** The q-quantile of a histogram of `total` observations, interpolated inside its bound, within the smallest and largest seen. */
function quantile(hist: readonly number[], total: number, q: number, minMs: number, maxMs: number): number {
  const rank = q * total;
  let below = 0;
  for (let b = 0; b < hist.length; b += 1) {
    const count = hist[b]!;
    if (count > 0 && below + count >= rank) {
      const lower = Math.max(b === 0 ? 0 : LATENCY_BOUNDS_MS[b - 1]!, minMs);
      const upper = b < LATENCY_BOUNDS_MS.length ? Math.min(LATENCY_BOUNDS_MS[b]!, maxMs) : maxMs;
      return round(Math.min(lower + (upper - lower) * ((rank - below) / count), maxMs), 1);
    }
    below += count;
  }
  return round(maxMs, 1);
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
