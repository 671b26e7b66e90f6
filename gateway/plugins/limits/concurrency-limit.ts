/**
 * How many GraphQL requests one instance takes at a time. Never more than MAX_IN_FLIGHT (a bound on
 * memory), and, while the instance's own CPU is saturated, no more than it finishes in
 * MAX_QUEUE_MS at the rate it finished them while saturated (Little's law: requests in flight over
 * requests finished per second is how long each one takes). Beyond that, a request taken only
 * waits for the CPU, and makes every other request wait with it; refusing it at once lets a
 * balancer or the client's retry send it elsewhere.
 *
 * Saturated means the event loop was busy for at least SATURATED of the last window
 * (`performance.eventLoopUtilization`). That depends on this process's own work and nothing else,
 * so requests waiting on a slow backend (idle, on a socket) never make the instance refuse work;
 * timeouts and breakers deal with those. The event loop's delay is not used: Node runs the
 * callbacks of hundreds of requests in iterations of bounded length, so the delay stays short
 * while the queue grows (measured with bench/overload.ts: shedding above a 150 ms delay let
 * through nearly every request offered at twice the saturation rate, and they waited up to 8 s).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export const SATURATED = 0.9;

/** How often utilisation and the finishing rate are sampled. */
export const WINDOW_MS = 100;

/** Saturated windows in a row before the limit applies. */
export const SETTLE = 5;

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
  /** Requests finished per second while saturated, smoothed: what the CPU gets through. */
  #rate: number | undefined;
  /** Saturated windows in a row. */
  #saturatedFor = 0;

  constructor(private readonly options: ConcurrencyLimitOptions) {
    this.#current = options.max;
  }

  /** Requests the instance takes at a time, now. */
  get current(): number {
    return this.#current;
  }

  observe(sample: LoadSample): void {
    const { max, maxQueueMs } = this.options;
    if (sample.utilization < SATURATED) {
      this.#saturatedFor = 0;
      this.#current = max;
      return;
    }
    // Only saturated windows measure what the CPU gets through; a quiet spell says nothing of it.
    const rate = (sample.finished * 1000) / sample.windowMs;
    this.#rate = this.#rate === undefined ? rate : SMOOTHING * rate + (1 - SMOOTHING) * this.#rate;
    this.#saturatedFor += 1;
    // A burst that saturates the loop for less than SETTLE windows is let through: the first
    // windows of a burst finish little of what they started.
    if (this.#saturatedFor >= SETTLE) this.#current = Math.min(max, Math.max(1, Math.floor((this.#rate * maxQueueMs) / 1000)));
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
