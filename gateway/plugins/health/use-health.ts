import type { Plugin } from 'graphql-yoga';

export interface HealthCheck {
  name: string;
  /** Resolves when the dependency answers; throws (any error) when it does not. */
  probe(): Promise<void>;
  /** A failing non-critical check is reported (status "degraded") but does not make the gateway unready. Default true. */
  critical?: boolean;
  /** More to report about the dependency, e.g. its circuit breaker's state. */
  details?: () => Record<string, unknown>;
}

export interface HealthOptions {
  checks: readonly HealthCheck[];
  /** Longest a readiness probe waits for one dependency, in milliseconds. Default 2000. */
  timeoutMs?: number;
  /** Injected clock for latency figures. Default performance.now. */
  now?: () => number;
  /** True once shutdown has begun: readiness is 503 at once, so load balancers stop sending. */
  draining?: () => boolean;
}

export const DEFAULT_HEALTH_TIMEOUT_MS = 2_000;

/**
 * `GET /healthz`: the process is up. `GET /readyz`: 200 `ready` when every dependency answers,
 * 200 `degraded` when only non-critical ones (the backends: each failing source costs only its own
 * fields) do not, 503 when a critical one is down or the gateway is draining for shutdown. Each
 * dependency's status, latency and details are listed; error details stay in the log.
 */
export function useHealth({ checks, timeoutMs = DEFAULT_HEALTH_TIMEOUT_MS, now = () => performance.now(), draining = () => false }: HealthOptions): Plugin {
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      if (url.pathname === '/healthz') {
        endResponse(Response.json({ status: 'ok' }));
        return;
      }
      if (url.pathname !== '/readyz') return;
      const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
      if (draining()) {
        endResponse(new fetchAPI.Response(JSON.stringify({ status: 'draining' }), { status: 503, headers }));
        return;
      }
      const results = await Promise.all(
        checks.map(async (check) => {
          const started = now();
          try {
            await withTimeout(check.probe(), timeoutMs);
            return [check.name, { status: 'up', latencyMs: Math.round(now() - started), ...check.details?.() }, check] as const;
          } catch {
            return [check.name, { status: 'down', latencyMs: Math.round(now() - started), ...check.details?.() }, check] as const;
          }
        }),
      );
      const ready = results.every(([, r, check]) => r.status === 'up' || check.critical === false);
      const whole = results.every(([, r]) => r.status === 'up');
      endResponse(
        new fetchAPI.Response(
          JSON.stringify({ status: !ready ? 'unready' : whole ? 'ready' : 'degraded', sources: Object.fromEntries(results.map(([n, r]) => [n, r])) }),
          { status: ready ? 200 : 503, headers },
        ),
      );
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
