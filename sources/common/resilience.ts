import {
  BrokenCircuitError, CircuitState, ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, retry, wrap,
  type CircuitBreakerPolicy, type IPolicy,
} from 'cockatiel';
import { UpstreamError } from './upstream-error.ts';

/**
 * What keeps one failing backend from taking the gateway with it (cockatiel underneath):
 *
 * - A circuit breaker per source: after `failureThreshold` failures in a row (no answer, a
 *   timeout, a 5xx) it opens and calls fail at once, for `halfOpenAfterMs`; then one probe is let
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
  run<T extends { status: number }>(attempt: () => Promise<T>, options: { retryable: boolean; operation: string; deadline?: number }): Promise<T>;
  state(): BreakerState;
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
const isFailedAnswer = (result: unknown) => typeof (result as { status?: number })?.status === 'number' && (result as { status: number }).status >= 500;

export function createResilience(options: ResilienceOptions): SourceResilience {
  const { source, failureThreshold, halfOpenAfterMs, maxRetries, retryRatio, budgetCap } = { ...RESILIENCE_DEFAULTS, ...options };
  const breaker: CircuitBreakerPolicy = circuitBreaker(handleWhen(isBackendFailure).orWhenResult(isFailedAnswer), {
    halfOpenAfter: halfOpenAfterMs,
    breaker: new ConsecutiveBreaker(failureThreshold),
  });
  let tokens = budgetCap;

  return {
    async run(attempt, { retryable, operation, deadline }) {
      tokens = Math.min(budgetCap, tokens + retryRatio);
      const mayRetry = () => retryable && tokens >= 1 && (deadline === undefined || deadline - Date.now() > 50);
      const retries = retry(
        handleWhen((error) => isFastFailure(error) && mayRetry()).orWhenResult((result) => isFailedAnswer(result) && mayRetry()),
        { maxAttempts: maxRetries, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 }) },
      );
      retries.onRetry(() => {
        tokens -= 1;
      });
      const policy: IPolicy = wrap(retries, breaker);
      try {
        return await policy.execute(() => attempt());
      } catch (error) {
        if (error instanceof BrokenCircuitError) {
          throw new UpstreamError(`${source} is failing; its circuit breaker is open, so ${operation} was not sent`, {
            source, operation, failure: 'unreachable', upstreamCode: 'circuit_open', cause: error,
          });
        }
        throw error;
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

