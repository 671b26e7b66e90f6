/**
 * How many GraphQL requests one instance takes at a time. Never more than MAX_IN_FLIGHT (a bound on
 * memory), and, while the instance's own CPU is saturated, no more than it finishes in
 * MAX_QUEUE_MS at the rate its CPU gets through them (Little's law: requests in flight over
 * requests finished per second is how long each one takes). Beyond that, a request taken only
 * waits for the CPU, and makes every other request wait with it; refusing it at once lets a
 * balancer or the client's retry send it elsewhere.
 *
 * Saturated means the event loop was busy for at least SATURATED of a window
 * (`performance.eventLoopUtilization`); the limit applies from the first saturated window once the
 * rate is known (SETTLE), and is lifted after RELEASE windows in a row that were not saturated.
 * That depends on this process's own work and nothing else, so requests waiting on a slow backend
 * (idle, on a socket) never make the instance refuse work; timeouts and breakers deal with those.
 * The event loop's delay is not used: Node runs the callbacks of hundreds of requests in
 * iterations of bounded length, so the delay stays short while the queue grows (measured with
 * bench/overload.ts: shedding above a 150 ms delay let through nearly every request offered at
 * twice the saturation rate, and they waited up to 8 s).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export const SATURATED = 0.9;

/** How often utilisation and the finishing rate are sampled. */
export const WINDOW_MS = 100;

/**
 * Busy windows (utilisation >= MEASURED) the instance must have seen, in all, before its rate is
 * trusted: 3 s of busy time. A new process is slow for its first seconds (code not yet compiled),
 * and the first windows of a burst finish little of what they started; so the rate starts as the
 * plain mean of the first windows (an average started from the first window alone put the limit
 * at 1 and took 5 s to climb back, refusing a steady 32 connections), and is not used until then
 * (after 10 windows a new process under 32 connections still refused 60 of 560 requests). From
 * then on one saturated window applies the limit. (Asking for several saturated windows in a row,
 * as an earlier version did, waited ~900 ms at the start of an overload, a single dip resetting the
 * count, while requests in flight climbed to twice the limit; they waited over 1.5 s.)
 */
export const SETTLE = 30;

/**
 * Windows in a row below SATURATED before the limit is lifted. Under overload, with the limit
 * holding requests back, single windows dip below it (the loop waits a moment on the backends, or
 * on the GC's helper threads on the same core): measured with bench/overload.ts, runs of up to 3.
 * Lifting the limit on each of them let in-flight requests climb from ~50 to 250, and those
 * waited seconds.
 */
export const RELEASE = 10;

/** Windows busier than this measure the rate (below it, too little finishes to tell). */
const MEASURED = 0.5;

/** Weight of the newest window in the finishing rate: about the last second counts. */
const SMOOTHING = 0.1;

export interface ConcurrencyLimitOptions {
  /** MAX_IN_FLIGHT. */
  max: number;
  /** MAX_QUEUE_MS. */
  maxQueueMs: number;
}

/** One window: the event loop's utilisation (0 to 1), requests finished, and its length. */
export interface LoadSample {
  utilization: number;
  finished: number;
  windowMs: number;
}

export class ConcurrencyLimit {
  #current: number;
  /**
   * Requests finished per second of the event loop's busy time, smoothed: what the CPU gets
   * through when it is saturated. Measured in every busy window (not only saturated ones) and
   * scaled by its utilisation, so the windows that dip below SATURATED still count.
   */
  #rate: number | undefined;
  /** Windows that measured the rate, in all; windows in a row that were not saturated. */
  #measured = 0;
  #calmFor = 0;
  #limited = false;

  constructor(private readonly options: ConcurrencyLimitOptions) {
    this.#current = options.max;
  }

  /** Requests the instance takes at a time, now. */
  get current(): number {
    return this.#current;
  }

  /** Requests finished per second of busy time, as measured so far (undefined before any busy window). */
  get rate(): number | undefined {
    return this.#rate;
  }

  observe(sample: LoadSample): void {
    const { max, maxQueueMs } = this.options;
    if (sample.utilization >= MEASURED) {
      const rate = (sample.finished * 1000) / (sample.utilization * sample.windowMs);
      this.#measured += 1;
      // The mean of the windows so far, then a moving average once there are 1 / SMOOTHING of them.
      const before = this.#rate ?? 0;
      this.#rate = before + (rate - before) * Math.max(SMOOTHING, 1 / this.#measured);
    }
    if (sample.utilization >= SATURATED) {
      this.#calmFor = 0;
      if (this.#measured >= SETTLE) this.#limited = true;
    } else {
      this.#calmFor += 1;
      if (this.#calmFor >= RELEASE) this.#limited = false;
    }
    this.#current = this.#limited && this.#rate !== undefined
      ? Math.min(max, Math.max(1, Math.floor((this.#rate * maxQueueMs) / 1000)))
      : max;
  }
}

/** Node's cumulative event-loop utilisation (`performance.eventLoopUtilization`). */
export type LoopClock = () => EventLoopUtilization;

/**
 * Samples the event loop's utilisation every WINDOW_MS into `limit`, with the requests finished
 * meanwhile; the window's length is the idle plus active time the loop reports. The timer does
 * not keep the process alive; the returned function stops it.
 */
export function watchEventLoop(limit: ConcurrencyLimit, finished: () => number, clock: LoopClock = () => performance.eventLoopUtilization()): () => void {
  let last = clock();
  let lastFinished = finished();
  const timer = setInterval(() => {
    const now = clock();
    const done = finished();
    const windowMs = now.idle + now.active - (last.idle + last.active);
    const utilization = windowMs > 0 ? (now.active - last.active) / windowMs : 0;
    limit.observe({ utilization, finished: done - lastFinished, windowMs: Math.max(windowMs, 1) });
    [last, lastFinished] = [now, done];
  }, WINDOW_MS);
  timer.unref();
  return () => clearInterval(timer);
}
