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
  /**
   * How long one round of probes answers every readiness request, in ms (READY_CACHE_MS). Default
   * 1000. Probes are shared too: requests that arrive while a round is running wait for it.
   */
  cacheMs?: number;
}

export const DEFAULT_READY_CACHE_MS = 1_000;

export const DEFAULT_HEALTH_TIMEOUT_MS = 2_000;

/**
 * `GET /healthz`: the process is up. `GET /readyz`: 200 `ready` when every dependency answers,
 * 200 `degraded` when only non-critical ones (the backends: each failing source costs only its own
 * fields) do not, 503 when a critical one is down or the gateway is draining for shutdown. Each
 * dependency's status, latency and details are listed; error details stay in the log.
 */
export function useHealth(options: HealthOptions): Plugin {
  return createHealth(options).plugin;
}

export interface Health {
  /** Answers `/healthz` and `/readyz`. */
  plugin: Plugin;
  /** What `/readyz` answers now, as an object: the shared round of probes (never a round of its own), or `draining`. */
  readiness(): Promise<{ status: string; sources?: Record<string, unknown> }>;
}

/** The health endpoints, and their readiness for other views of the gateway (`/status`). */
export function createHealth({ checks, timeoutMs = DEFAULT_HEALTH_TIMEOUT_MS, now = () => performance.now(), draining = () => false, cacheMs = DEFAULT_READY_CACHE_MS }: HealthOptions): Health {
  // `/readyz` is open to anyone, and each round calls every backend: a flood of probes must cost
  // the backends one round per `cacheMs`, not one per request (1,000 probes made 609 calls).
  let round: { at: number; result: Promise<Readiness> } | undefined;
  const probeAll = async (): Promise<Readiness> => {
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
    const report = { status: !ready ? 'unready' : whole ? 'ready' : 'degraded', sources: Object.fromEntries(results.map(([n, r]) => [n, r])) };
    return { ready, report, body: JSON.stringify(report) };
  };
  const readiness = (): Promise<Readiness> => {
    // Wall-clock time (tests fake it), where latency figures use the monotonic `now`.
    const at = Date.now();
    // A round still running is joined; a finished one is reused while it is fresh.
    if (!round || at - round.at >= cacheMs) {
      const result = probeAll();
      round = { at, result };
      // Freshness counts from when the round finished, so a slow round is not stale on arrival.
      void result.then(() => {
        if (round?.result === result) round.at = Date.now();
      });
    }
    return round.result;
  };
  const plugin: Plugin = {
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
      const { ready, body } = await readiness();
      endResponse(new fetchAPI.Response(body, { status: ready ? 200 : 503, headers }));
    },
  };
  return {
    plugin,
    readiness: async () => (draining() ? { status: 'draining' } : (await readiness()).report),
  };
}

interface Readiness {
  ready: boolean;
  report: { status: string; sources: Record<string, unknown> };
  body: string;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
