/**
 * Issue 20's scale-out figures, in the replayed mode of `npm run bench` (BENCH_ONLY=ScaleOut alone):
 * the Dashboard with cheap backends through a round-robin balancer (bench/balancer.ts, a process of
 * its own) in front of one, two and three Junction instances sharing a Redis Cluster (three
 * primaries, three replicas: test/helpers/redis-cluster.ts), and, for what Redis costs, one instance
 * without Redis behind the same balancer. Every instance is Junction as shipped (dist, the Node flags
 * of `start:prod`), with its cache off, as `junction` runs in the other scenarios: with REDIS_URL its
 * per-request use of Redis is the whole-endpoint rate limit (one script per request, counted across
 * the instances). Instance n runs on CPU n-1 (modulo the CPUs): on two CPUs the second shares the
 * load tool's and the replay process's, the third the first's; the balancer (a TCP proxy: connection
 * round-robin) and Redis are not pinned.
 */
import { writeSection } from './benchmarks-md.ts';
import { runLoad, warmUp, type Target } from './load.ts';
import { CLK_TCK, cpuTicks, machine, percentile, waitIdle } from './measures.ts';
import { stop, waitForOutput, type Proc, type ProcessSet } from './processes.ts';
import { fmt, grid } from './report.ts';
import type { Scenario } from './scenarios.ts';
import type { Running } from './systems.ts';
import { startRedisCluster, type RedisClusterBed } from '../test/helpers/redis-cluster.ts';

export interface ScaleOutRow {
  system: string;
  instances: number;
  redis: boolean;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** rps over the same with one instance on Redis. */
  scaling: number;
  /** CPU ms per request: the instances together, the Redis nodes together, the balancer. */
  instancesCpuMs: number;
  redisCpuMs: number;
  balancerCpuMs: number;
  /** Percent of one core, summed over the instances. */
  instancesCpuPct: number;
  errors: number;
  /** Answers with GraphQL errors, by their first error's code, over every round. */
  errorCodes: Record<string, number>;
  rounds: number[];
}

export interface ScaleOut {
  date: string;
  machine: ReturnType<typeof machine>;
  scenario: string;
  connections: number;
  settings: { durationS: number; warmupS: number; rounds: number };
  cpus: number;
  rows: ScaleOutRow[];
}

interface Options {
  durationS: number;
  warmupS: number;
  rounds: number;
  log: (line: string) => void;
}

const GRAPHQL_LINE = /GraphQL\s+(http:\/\/\S+)\/graphql/;

/** Load sent to each instance before the rounds, in seconds. */
const WARM_S = 10;

const ticksOf = (pids: readonly number[]) => pids.reduce((sum, pid) => {
  try {
    return sum + cpuTicks(pid);
  } catch {
    return sum; // a process that has gone
  }
}, 0);

export async function runScaleOut(set: ProcessSet, running: Running, scenario: Scenario, o: Options): Promise<ScaleOut> {
  const { log } = o;
  let cluster: RedisClusterBed | undefined;
  const started: Proc[] = [];
  try {
    cluster = await startRedisCluster();
    const redisPids = cluster.nodes.map((n) => n.process.pid!);
    const { env, flags, headers } = running.junctionStart;
    // Instance n on CPU n-1 modulo the CPUs: the first alone on the systems' CPU (0), the second on
    // the load tool's (1), the third back on 0.
    const cpuCount = machine(false).nproc;
    const startJunction = (name: string, extraEnv: Record<string, string>, cpu: number) => {
      const proc = set.start(name, process.execPath, [...flags, 'dist/gateway/main.js'], { env: { ...env, ...extraEnv }, cpu: cpu % cpuCount });
      started.push(proc);
      return proc;
    };
    const withRedis = [1, 2, 3].map((n) => startJunction(`scale-${n}`, { REDIS_URL: cluster!.url }, n - 1));
    const alone = startJunction('scale-no-redis', {}, 0);
    const urlOf = async (proc: Proc) => (await waitForOutput(proc, GRAPHQL_LINE, 60_000))[1]!;
    const urls = await Promise.all(withRedis.map(urlOf));
    const aloneUrl = await urlOf(alone);
    const startBalancer = async (name: string, targets: string[]) => {
      const proc = set.start(name, process.execPath, ['--import', 'tsx', 'bench/balancer.ts'], { env: { ...process.env, BALANCER_TARGETS: targets.join(',') } });
      started.push(proc);
      return { proc, url: (await waitForOutput(proc, /BALANCER (\S+)/, 30_000))[1]! };
    };
    const configs = [
      { system: '1 instance, no Redis', instances: [alone], redis: false, balancer: await startBalancer('balancer-0', [aloneUrl]) },
      ...[1, 2, 3].map((n) => ({ system: `${n} instance${n > 1 ? 's' : ''}`, instances: withRedis.slice(0, n), redis: true, balancer: undefined as unknown as { proc: Proc; url: string } })),
    ];
    for (const [i, config] of configs.entries()) if (!config.balancer) config.balancer = await startBalancer(`balancer-${i}`, urls.slice(0, config.instances.length));

    type Round = { rps: number; latencies: number[]; instances: number; redis: number; balancer: number; sent: number; seconds: number; errors: number; codes: Record<string, number> };
    const targetOf = (config: (typeof configs)[number]): Target => ({ url: `${config.balancer.url}/graphql`, method: 'POST', body: scenario.body, bodies: scenario.bodies, connections: scenario.connections, headers });
    log(`\nScaleOut (replayed backends): ${scenario.name} through a round-robin balancer, ${scenario.connections} connections; Redis Cluster of 3 primaries + 3 replicas`);
    // Fresh processes: V8 compiles the hot paths for many seconds (a first round measured 40% below a
    // third). Each instance is warmed alone first (through its own one-instance balancer where it has
    // one), then the configurations are measured in turns, each round in another order.
    for (const config of configs.filter((c) => c.instances.length === 1)) await warmUp(targetOf(config), WARM_S);
    for (const url of urls.slice(1)) {
      await warmUp({ url: `${url}/graphql`, method: 'POST', body: scenario.body, bodies: scenario.bodies, connections: scenario.connections, headers }, WARM_S);
    }
    const rounds = new Map(configs.map((c) => [c, [] as Round[]]));
    for (let round = 1; round <= o.rounds; round++) {
      const order = configs.map((_, i) => configs[(i + round - 1) % configs.length]!);
      for (const config of order) {
        const target = targetOf(config);
        const instancePids = config.instances.map((p) => p.pid);
        if (o.warmupS > 0) await warmUp(target, o.warmupS);
        for (const pid of instancePids) await waitIdle(pid);
        const before = { instances: ticksOf(instancePids), redis: ticksOf(redisPids), balancer: ticksOf([config.balancer.proc.pid]) };
        const run = await runLoad(target, o.durationS);
        for (const pid of instancePids) await waitIdle(pid);
        const after = { instances: ticksOf(instancePids), redis: ticksOf(redisPids), balancer: ticksOf([config.balancer.proc.pid]) };
        const seconds = run.elapsedMs / 1000;
        const last: Round = {
          rps: run.completed / seconds, latencies: run.latencies, sent: run.sent, seconds, errors: run.errors + run.non2xx + run.graphqlErrors, codes: run.errorCodes,
          instances: (after.instances - before.instances) / CLK_TCK, redis: (after.redis - before.redis) / CLK_TCK, balancer: (after.balancer - before.balancer) / CLK_TCK,
        };
        rounds.get(config)!.push(last);
        log(`  round ${round} ${config.system.padEnd(21)} ${last.rps.toFixed(0).padStart(6)} req/s  instances ${(last.instances / last.sent * 1000).toFixed(2)} CPU ms/req  `
          + `Redis ${(last.redis / last.sent * 1000).toFixed(3)}  balancer ${(last.balancer / last.sent * 1000).toFixed(3)}${last.errors > 0 ? `  ${last.errors} errors ${JSON.stringify(last.codes)}` : ''}`);
      }
    }
    const rows: ScaleOutRow[] = configs.map((config) => {
      const measured = rounds.get(config)!;
      // The median round by rps stands for the configuration.
      const median = [...measured].sort((a, b) => a.rps - b.rps)[Math.floor(measured.length / 2)]!;
      const sorted = [...median.latencies].sort((a, b) => a - b);
      return {
        system: config.system, instances: config.instances.length, redis: config.redis, rps: median.rps,
        p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), scaling: 0,
        instancesCpuMs: (median.instances / median.sent) * 1000, redisCpuMs: (median.redis / median.sent) * 1000, balancerCpuMs: (median.balancer / median.sent) * 1000,
        instancesCpuPct: (median.instances / median.seconds) * 100, errors: measured.reduce((sum, r) => sum + r.errors, 0),
        errorCodes: measured.reduce<Record<string, number>>((all, r) => {
          for (const [code, n] of Object.entries(r.codes)) all[code] = (all[code] ?? 0) + n;
          return all;
        }, {}),
        rounds: measured.map((r) => r.rps),
      };
    });
    const one = rows.find((r) => r.redis && r.instances === 1)!;
    for (const row of rows) row.scaling = row.rps / one.rps;
    return {
      date: new Date().toISOString(), machine: machine(false), scenario: scenario.name, connections: scenario.connections,
      settings: { durationS: o.durationS, warmupS: o.warmupS, rounds: o.rounds }, cpus: machine(false).nproc, rows,
    };
  } finally {
    await Promise.all(started.map((proc) => stop(proc, 5_000)));
    await cluster?.close();
  }
}

export function scaleOutText(s: ScaleOut): string {
  return grid(['system', 'req/s', 'vs 1 instance', 'p50 ms', 'p99 ms', 'instances CPU ms/req', 'instances CPU %', 'Redis CPU ms/req', 'balancer CPU ms/req', 'errors'],
    s.rows.map((r) => [r.system, fmt(r.rps, 0), fmt(r.scaling, 2), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.instancesCpuMs, 2), fmt(r.instancesCpuPct, 0), fmt(r.redisCpuMs, 3), fmt(r.balancerCpuMs, 3),
      r.errors > 0 ? `${r.errors} ${Object.entries(r.errorCodes).map(([code, n]) => `${code} ${n}`).join(', ')}` : '0']), 1);
}

const START = '<!-- scale-out: written by bench/scale-out.ts -->';
const END = '<!-- scale-out: end -->';

function section(s: ScaleOut): string {
  const row = (n: number) => s.rows.find((r) => r.redis && r.instances === n);
  const alone = s.rows.find((r) => !r.redis);
  const [one, two, three] = [row(1), row(2), row(3)];
  const summary = one && two && three && alone
    ? `Two instances did ${fmt(two.scaling, 2)}x one instance's requests per second, three ${fmt(three.scaling, 2)}x, on ${s.cpus} CPUs shared by`
      + ` everything in the run (linear would be 2x and 3x only with a core per instance and the load elsewhere). The shared Redis cost`
      + ` ${fmt(one.redisCpuMs - alone.redisCpuMs, 3)} CPU ms per request in its own processes (${fmt(one.redisCpuMs, 3)} measured with one instance on it, less`
      + ` the ${fmt(alone.redisCpuMs, 3)} the idle cluster spends on its own, per request of the run without Redis), and one instance spent`
      + ` ${fmt(one.instancesCpuMs, 2)} CPU ms per request with it against ${fmt(alone.instancesCpuMs, 2)} without`
      + ` (${fmt(((one.instancesCpuMs - alone.instancesCpuMs) / alone.instancesCpuMs) * 100, 0)}%: within this machine's noise).`
    : '';
  return `${START}
## Several instances (issue 20)

${s.scenario} with the backends replayed (as in the section above), sent with ${s.connections} connections to a round-robin
balancer (bench/balancer.ts) in front of one, two and three Junction instances
sharing a Redis Cluster of three primaries and three replicas (\`REDIS_URL=redis+cluster://...\`); one instance without
Redis behind the same balancer for comparison. Junction as shipped, cache off: with Redis, each request's use of it is
the whole-endpoint rate limit, counted across the instances. Instance n runs on CPU n-1 modulo the machine's ${s.cpus}
CPUs: the second shares the load tool's and the replay process's CPU, the third the first's. The balancer is a TCP proxy
(each connection to the next instance: the HTTP balancer of the scale-out tests cost more CPU than an instance's
share of the work) and, like Redis, is not pinned. Each instance is warmed with 10 s of load first; then ${s.settings.rounds} round(s) x ${s.settings.durationS} s per configuration, the configurations in turns
(each round in another order; the median round by req/s stands); run on ${s.date}.
Run alone: \`BENCH_BACKENDS=replay BENCH_ONLY=ScaleOut npm run bench\`.

${summary}

${scaleOutText(s)}
${END}
`;
}

export function writeScaleOutSection(path: string, s: ScaleOut): void {
  writeSection(path, START, END, section(s));
}
