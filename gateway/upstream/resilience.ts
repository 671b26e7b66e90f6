import {
  BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { UpstreamError } from './upstream-error.ts';

/**
 * What keeps one failing backend from taking the gateway with it (the breaker is cockatiel's):
 *
 * - A circuit breaker per source: after `failureThreshold` failures in a row (no answer, a
 *   timeout, a 5xx that is not a refusal of the request) it opens and calls fail at once, for `halfOpenAfterMs`; then one probe is let
 *   through, and a success closes it.
 * - Retries of fast failures (no connection, a 5xx; never a timeout, which has used its time),
 *   for calls that are safe to repeat only: reads, and writes carrying an idempotency key the
 *   backend honours. Up to `maxRetries`, with exponential backoff and jitter, never past
 *   the request's deadline, and out of a budget that grows by `retryRatio` per call (at most
 *   `budgetCap`), so that retries stay a small share of the traffic when a backend is down.
 */
export interface ResilienceOptions {
  source: string;
  /** Failures in a row that open the breaker. Default 5. */
  failureThreshold?: number;
  /** Time the breaker stays open before a probe, in ms. Default 5000. */
  halfOpenAfterMs?: number;
  /** Retries of one call. Default 2. */
  maxRetries?: number;
  /** Retry tokens earned per call. Default 0.2 (retries at most ~20% of calls). */
  retryRatio?: number;
  /** Most retry tokens kept. Default 10. */
  budgetCap?: number;
}

export const RESILIENCE_DEFAULTS = Object.freeze({ failureThreshold: 5, halfOpenAfterMs: 5_000, maxRetries: 2, retryRatio: 0.2, budgetCap: 10 });

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

export interface SourceResilience {
  /** Runs one attempt-or-retries of `attempt`; `retryable` says whether this call may be repeated. */
  run<T extends { status: number; rejected?: boolean }>(attempt: () => Promise<T>, options: RunOptions): Promise<T>;
  state(): BreakerState;
}

export interface RunOptions {
  /** Whether this call may be repeated. */
  retryable: boolean;
  operation: string;
  /** The request's deadline (ms since the epoch): no retry starts past it. */
  deadline?: number;
  /** Told before each retry goes out (`tries` counts retries from 1), with what failed: the call's span records it. */
  onRetry?: (tries: number, reason: string) => void;
}

/** A failure that says the backend is unwell: it counts towards the breaker. */
function isBackendFailure(error: unknown): boolean {
  return error instanceof UpstreamError && (error.failure === 'unreachable' || error.failure === 'timeout');
}

/**
 * Worth another try: a failure that came fast (no connection, a reset). A timeout is not retried:
 * it has already used the time the caller was promised.
 */
function isFastFailure(error: unknown): boolean {
  return error instanceof UpstreamError && error.failure === 'unreachable';
}
/**
 * An answer that says the backend failed: a 5xx, unless the backend was refusing the request
 * itself (a SOAP Client fault travels as a 500): a caller's bad input must never open the breaker
 * that every other caller's calls go through.
 */
const isFailedAnswer = (result: unknown) => {
  const answer = result as { status?: unknown; rejected?: boolean } | undefined;
  return typeof answer?.status === 'number' && answer.status >= 500 && answer.rejected !== true;
};

/** Exponential backoff from 50 ms, capped at 1 s, with full jitter, never past the deadline. */
function backoff(tries: number, deadline: number | undefined): Promise<void> {
  const ceiling = Math.min(1_000, 50 * 2 ** tries, deadline === undefined ? Number.POSITIVE_INFINITY : Math.max(0, deadline - Date.now() - 50));
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

export function createResilience(options: ResilienceOptions): SourceResilience {
  const { source, failureThreshold, halfOpenAfterMs, maxRetries, retryRatio, budgetCap } = { ...RESILIENCE_DEFAULTS, ...options };
  const breaker: CircuitBreakerPolicy = circuitBreaker(handleWhen(isBackendFailure).orWhenResult(isFailedAnswer), {
    halfOpenAfter: halfOpenAfterMs,
    breaker: new ConsecutiveBreaker(failureThreshold),
  });
  let tokens = budgetCap;

  return {
    async run(attempt, { retryable, operation, deadline, onRetry }) {
      tokens = Math.min(budgetCap, tokens + retryRatio);
      const mayRetry = (tries: number) => retryable && tries < maxRetries && tokens >= 1 && (deadline === undefined || deadline - Date.now() > 50);
      // Written out rather than cockatiel's retry policy: that one would be built anew for every
      // call (its predicate depends on the call), and the budget and deadline are ours anyway.
      for (let tries = 0; ; tries++) {
        let result;
        try {
          result = await breaker.execute(() => attempt());
        } catch (error) {
          if (error instanceof BrokenCircuitError) {
            throw new UpstreamError(`${source} is failing; its circuit breaker is open, so ${operation} was not sent`, {
              source, operation, failure: 'unreachable', upstreamCode: 'circuit_open', cause: error,
            });
          }
          if (!(isFastFailure(error) && mayRetry(tries))) throw error;
          await backoff(tries, deadline);
          tokens -= 1;
          onRetry?.(tries + 1, (error as UpstreamError).failure);
          continue;
        }
        if (!(isFailedAnswer(result) && mayRetry(tries))) return result;
        await backoff(tries, deadline);
        tokens -= 1;
        onRetry?.(tries + 1, `status ${result.status}`);
      }
    },
    state() {
      switch (breaker.state) {
        case CircuitState.Closed: return 'closed';
        case CircuitState.Open: return 'open';
        case CircuitState.HalfOpen: return 'half-open';
        default: return 'isolated';
      }
    },
  };
}

