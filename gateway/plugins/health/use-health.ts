import type { Plugin } from 'graphql-yoga';

export interface HealthCheck {
  name: string;
  /** Resolves when the dependency answers; throws (any error) when it does not. */
  probe(): Promise<void>;
  /** A failing non-critical check is reported but does not make the gateway unready. Default true. */
  critical?: boolean;
}

export interface HealthOptions {
  checks: readonly HealthCheck[];
  /** Longest a readiness probe waits for one dependency, in milliseconds. Default 2000. */
  timeoutMs?: number;
  /** Injected clock for latency figures. Default performance.now. */
  now?: () => number;
}

export const DEFAULT_HEALTH_TIMEOUT_MS = 2_000;

/**
 * `GET /healthz`: the process is up. `GET /readyz`: 200 when every critical dependency answers,
 * 503 otherwise, with each one's status and latency. Error details stay in the log: the body
 * names which dependency failed, not how to reach it.
 */
export function useHealth({ checks, timeoutMs = DEFAULT_HEALTH_TIMEOUT_MS, now = () => performance.now() }: HealthOptions): Plugin {
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      if (url.pathname === '/healthz') {
        endResponse(Response.json({ status: 'ok' }));
        return;
      }
      if (url.pathname !== '/readyz') return;
      const results = await Promise.all(
        checks.map(async (check) => {
          const started = now();
          try {
            await withTimeout(check.probe(), timeoutMs);
            return [check.name, { status: 'up', latencyMs: Math.round(now() - started) }, check] as const;
          } catch {
            return [check.name, { status: 'down', latencyMs: Math.round(now() - started) }, check] as const;
          }
        }),
      );
      const ready = results.every(([, r, check]) => r.status === 'up' || check.critical === false);
      endResponse(
        new fetchAPI.Response(
          JSON.stringify({ status: ready ? 'ready' : 'unready', sources: Object.fromEntries(results.map(([n, r]) => [n, r])) }),
          { status: ready ? 200 : 503, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } },
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
