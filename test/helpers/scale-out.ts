import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoBackends, type SourceName } from '../../sources/demo/index.ts';
import type { DemoBackend } from '../../sources/demo/server.ts';
import { startBalancer, type Balancer } from './balancer.ts';
import { startGatewayProcess, stopProcess, type GatewayProcess } from './gateway-process.ts';
import { startRedisCluster, type RedisClusterBed, type RedisClusterOptions } from './redis-cluster.ts';
import { createTestIssuer, TEST_AUTH, type TestIssuer } from './test-issuer.ts';

/**
 * The scale-out test bed: a Redis Cluster of its own (three primaries, three replicas), one set of
 * demo backends, and `instances` Junction processes (`gateway/main.ts`, as `npm start` runs it)
 * sharing both, behind a round-robin balancer on loopback. Everything is stopped by `close`.
 */
export interface ScaleOutBed {
  cluster: RedisClusterBed;
  backends: Partial<Record<SourceName, DemoBackend>>;
  balancer: Balancer;
  /** The instances now (a restart replaces one). */
  instances: GatewayProcess[];
  issuer: TestIssuer;
  /** POST /graphql through the balancer (or to one instance with `at`). */
  query(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>, at?: string): Promise<{ status: number; body: any }>;
  /** A token of the test issuer's, for `sub`. */
  bearer(sub?: string): Promise<Record<string, string>>;
  /** SIGTERM for instance `index` (it drains), then a new one in its place, in the balancer once ready. */
  restart(index: number): Promise<void>;
  /** Every backend's call count, summed. */
  backendCalls(): Promise<Record<SourceName, number>>;
  close(): Promise<void>;
}

export interface ScaleOutOptions {
  instances?: number;
  cluster?: RedisClusterOptions;
  /** More variables for every instance. */
  env?: Record<string, string>;
}

export async function startScaleOutBed(options: ScaleOutOptions = {}): Promise<ScaleOutBed> {
  const { instances: count = 3 } = options;
  const dir = mkdtempSync(join(tmpdir(), 'junction-scale-out-'));
  const running: import('node:child_process').ChildProcess[] = [];
  let cluster: RedisClusterBed | undefined;
  let backends: Partial<Record<SourceName, DemoBackend>> = {};
  let balancer: Balancer | undefined;
  const close = async () => {
    await balancer?.close();
    await Promise.all(running.map((child) => stopProcess(child)));
    await Promise.all(Object.values(backends).map((b) => b.close()));
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const issuer = await createTestIssuer();
    const jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify(issuer.jwks));
    [cluster, backends] = await Promise.all([startRedisCluster(options.cluster), startDemoBackends()]);
    const env: Record<string, string> = {
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      REDIS_URL: cluster.url,
      PAYMENTS_URL: backends.payments!.url,
      MAPS_URL: backends.maps!.url,
      MESSAGING_URL: backends.messaging!.url,
      AUTH_JWKS_FILE: jwksFile,
      AUTH_ISSUER: TEST_AUTH.issuer!,
      AUTH_AUDIENCE: TEST_AUTH.audience!,
      AUTH_SERVICE_AUDIENCE: TEST_AUTH.serviceAudience!,
      TRUSTED_PROXIES: '127.0.0.1',
      // SHUTDOWN_DELAY_MS as shipped (2 s): readiness says 503 that long before the listener closes,
      // for a balancer asking every 100 ms from the test's own process. Under the whole suite's load
      // the rolling restart has now and then seen a few new connections reset (ECONNRESET, "socket
      // hang up") by an instance whose last probe had answered 200 a moment before: not a draining
      // one, and not explained yet. The balancer's 502 says what and when; DEBUG_BED=1 logs each
      // restart's steps (see restart below).
      // The load's callers are few and fast: their whole-endpoint budgets (1,200 a minute) are
      // not what these tests measure. Field limits (@rateLimit) stay as declared.
      RATE_USER_PER_MIN: '1000000',
      ...options.env,
    };
    const start = () => startGatewayProcess(env, running);
    const instances = await Promise.all(Array.from({ length: count }, start));
    balancer = await startBalancer(instances.map((i) => i.url));
    const through = balancer;
    const bed: ScaleOutBed = {
      cluster,
      backends,
      balancer,
      instances,
      issuer,
      async query(query, variables = {}, headers = {}, at = through.url) {
        const response = await fetch(`${at}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
          body: JSON.stringify({ query, variables }),
        });
        const text = await response.text();
        let body: any;
        try {
          body = JSON.parse(text);
        } catch {
          body = { raw: text };
        }
        return { status: response.status, body };
      },
      bearer: async (sub = 'user-1') => ({ authorization: `Bearer ${await issuer.token({ sub })}` }),
      async restart(index) {
        const old = instances[index]!;
        if (process.env.DEBUG_BED) console.log('BED SIGTERM', Date.now(), old.url);
        await stopProcess(old.child);
        if (process.env.DEBUG_BED) console.log('BED exited', Date.now(), old.url);
        const fresh = await start();
        instances[index] = fresh;
        through.setTargets(instances.map((i) => i.url));
        if (process.env.DEBUG_BED) console.log('BED started', Date.now(), fresh.url);
        // In the rotation once its /readyz says 200.
        for (let i = 0; i < 200; i++) {
          const ready = await fetch(`${fresh.url}/readyz`).then((r) => r.status === 200, () => false);
          if (ready) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await new Promise((r) => setTimeout(r, 150));
      },
      async backendCalls() {
        const out = {} as Record<SourceName, number>;
        for (const [name, backend] of Object.entries(backends) as [SourceName, DemoBackend][]) {
          const stats = await (await fetch(`${backend.url}/_stats`)).json() as { total: number };
          out[name] = stats.total;
        }
        return out;
      },
      close,
    };
    return bed;
  } catch (err) {
    await close();
    throw err;
  }
}
