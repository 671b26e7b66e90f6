/**
 * How many GraphQL requests one instance takes at a time. Never more than MAX_IN_FLIGHT (a bound on
 * memory), and fewer while the instance's own CPU is the bottleneck: then every request taken
 * beyond what the CPU gets through only waits in the event loop, and makes every other request
 * wait with it.
 *
 * The signal is the event loop's delay: how late a timer fires. It grows with the work queued on
 * this process and with nothing else, so a slow backend (whose requests sit idle, waiting on a
 * socket) never makes the instance refuse work; timeouts and breakers deal with that. The limit
 * moves like TCP's window: cut by a tenth of the requests actually running whenever the delay is
 * over its target, grown back by a twentieth (at least one) on every sample under it, between
 * MIN_CONCURRENCY and the cap.
 */
export const MIN_CONCURRENCY = 8;

/** How often the event loop is sampled. */
export const SAMPLE_MS = 10;

const DECREASE = 0.9;
const INCREASE = 0.05;

export interface ConcurrencyLimitOptions {
  /** MAX_IN_FLIGHT. */
  max: number;
  /** MAX_EVENT_LOOP_DELAY_MS: a sample over it lowers the limit. */
  targetDelayMs: number;
}

export class ConcurrencyLimit {
  #current: number;

  constructor(private readonly options: ConcurrencyLimitOptions) {
    this.#current = options.max;
  }

  /** Requests the instance takes at a time, now. */
  get current(): number {
    return this.#current;
  }

  /** One sample: the event loop's delay, and how many requests were in flight when it was taken. */
  observe(delayMs: number, inFlight: number): void {
    const { max, targetDelayMs } = this.options;
    const floor = Math.min(MIN_CONCURRENCY, max);
    if (delayMs > targetDelayMs) {
      // From what is running, not from the limit: after a quiet spell the limit is at the cap, far
      // above the requests whose work is making the loop late.
      this.#current = Math.max(floor, Math.floor(Math.min(this.#current, inFlight) * DECREASE));
    } else {
      this.#current = Math.min(max, this.#current + Math.max(1, Math.floor(this.#current * INCREASE)));
    }
  }
}

/**
 * Samples the event loop's delay every SAMPLE_MS into `limit`. The timer does not keep the
 * process alive; the returned function stops it.
 */
export function watchEventLoop(limit: ConcurrencyLimit, inFlight: () => number): () => void {
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    limit.observe(Math.max(0, now - last - SAMPLE_MS), inFlight());
    last = now;
  }, SAMPLE_MS);
  timer.unref();
  return () => clearInterval(timer);
}
