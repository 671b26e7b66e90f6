/**
 * Issue 19's replayed mode of `npm run bench` (after the end-to-end mode; alone with
 * BENCH_BACKENDS=replay): the scenarios measured against cheap backends. The demo backends start as
 * in the end-to-end mode, but behind bench/replay/server.ts, which records every distinct upstream
 * request while each scenario's requests are sent once to each of its systems (Junction, the Mesh
 * baseline, the limit server, Hive Gateway; Mesh and Junction over the Mesh v0 file), then replays
 * them from memory after BENCH_REPLAY_DELAY_MS (1) with the real backends stopped. The backends then
 * cost little CPU, so rps and CPU per request measure the systems under test; both are given as
 * ratios to the limit server's (MeshV0's, to Mesh's: it has no limit server). It writes its own key
 * (`replay`) in bench/results/latest.json and its own section of BENCHMARKS.md.
 */
import { writeSection } from '../benchmarks-md.ts';
import { measureRound, warmUp, type Target as LoadTarget } from '../load.ts';
import { machine } from '../measures.ts';
import { stop, type ProcessSet } from '../processes.ts';
import { fmt, grid, summarize, type RoundRecord, type Row } from '../report.ts';
import { readSeeds, scenarios, type Scenario, type SystemName } from '../scenarios.ts';
import { checkResponses, post, readyMeshV0, startSystems, systemOf, waitAnswering, type Check, type Cpus, type Running } from '../systems.ts';
import { HIVE_LEFT_OUT, HIVE_SCENARIOS } from '../hive/hive.ts';
import { runScaleOut, type ScaleOut } from '../scale-out.ts';

/** The scenarios replayed; the others, and why not. */
const REPLAYED: readonly Scenario['name'][] = ['Dashboard', 'Dashboard-pages', 'Payment', 'Geocode', 'Latency', 'MeshV0'];
export const NOT_REPLAYED: Record<string, string> = {
  Direct: 'it measures the payments backend itself, which replay replaces',
  'Dashboard-cached': 'Junction answers from its cache: the backends are not asked under load',
  'Overhead-Payment': 'compares two Junctions with each other; the end-to-end mode measures it',
  'Overhead-Dashboard-pages': 'compares two Junctions with each other; the end-to-end mode measures it',
  Overload: 'end-to-end mode only', Soak: 'end-to-end mode only', Realtime: 'end-to-end mode only: it starts its own backends',
};

/** Whether a BENCH_ONLY list (none: every scenario) names a replayed scenario, i.e. whether this mode has anything to run. */
export function replays(only: readonly string[] | undefined): boolean {
  return !only || only.some((name) => (REPLAYED as readonly string[]).includes(name) || name === SCALE_OUT);
}

/** Issue 20's figures (bench/scale-out.ts): one, two and three instances over a Redis Cluster, after the replayed scenarios. */
export const SCALE_OUT = 'ScaleOut';
/** The scenario it sends. */
const SCALE_OUT_SCENARIO = 'Dashboard';

export interface Replayed {
  date: string;
  machine: ReturnType<typeof machine>;
  settings: { durationS: number; warmupS: number; rounds: number; delayMs: number; pinned: string };
  /** Distinct upstream requests recorded, and requests that found no recording during the load (must be 0). */
  recorded: number;
  misses: number;
  missed: string[];
  checks: Check[];
  rows: Row[];
  skipped: Record<string, string>;
  /** Scenarios that compare gateways but ran without Hive Gateway, and why (absent in runs before it was added). */
  hiveLeftOut?: Record<string, string>;
  /** Systems started but left out of their scenario (junction-v0 not answering the Mesh v0 file, say). */
  warnings?: string[];
  rounds: RoundRecord[];
  /** Issue 20: absent when BENCH_ONLY left it out (the last measured is kept in latest.json's `scaleOut`). */
  scaleOut?: ScaleOut;
}

interface Options {
  cpus: Cpus;
  pinned: boolean;
  only: string[] | undefined;
  durationS: number;
  warmupS: number;
  rounds: number;
  log: (line: string) => void;
}

function target(running: Running, scenario: Scenario, system: SystemName): LoadTarget {
  const { url, headers } = systemOf(running, system);
  return { url, method: 'POST', body: scenario.body, bodies: scenario.bodies, connections: scenario.connections, headers };
}

async function replayState(url: string): Promise<{ recorded: number; misses: number; missed: string[] }> {
  return (await (await fetch(`${url}/_replay`)).json()) as { recorded: number; misses: number; missed: string[] };
}

export async function runReplay(set: ProcessSet, o: Options): Promise<Replayed> {
  const { log } = o;
  const delayMs = Number(process.env.BENCH_REPLAY_DELAY_MS ?? 1);
  const profiled = process.env.BENCH_CPU_PROF === '1';
  const wanted = (name: string) => !o.only || o.only.includes(name);
  const running = await startSystems(set, o.cpus, {
    replay: true, meshV0: wanted('MeshV0'), hive: HIVE_SCENARIOS.some(wanted), ...(profiled ? { cpuProfileDir: 'bench/results' } : {}),
  });
  const seeds = await readSeeds(running.urls.payments);
  const all = scenarios(seeds);
  const dashboard = all[0]!;
  for (const system of ['junction', 'baseline', 'limit'] as const) await waitAnswering(running.systems[system], dashboard.body!, 60_000);
  if (running.systems.hive) await waitAnswering(running.systems.hive, all.find((s) => s.name === 'Payment')!.body!, 60_000);
  const meshV0 = all.find((s) => s.name === 'MeshV0')!;
  const meshV0Warning = await readyMeshV0(running, meshV0.bodies![0]!);
  const warnings = [...running.warnings, ...(meshV0Warning ? [meshV0Warning] : [])];
  for (const warning of warnings) log(`!! ${warning}`);
  // As in the end-to-end mode: a scenario runs with those of its systems that were started and answer.
  const present = (system: SystemName) => Boolean(running.systems[system]);
  const list = all.filter((s) => REPLAYED.includes(s.name) && wanted(s.name) && present(s.systems[0]!))
    .map((s) => ({ ...s, systems: s.systems.filter(present) }));
  const skipped = { ...NOT_REPLAYED };
  // Recording: every request of every scenario once to each system (each Dashboard page too), and
  // the scale-out's scenario once to Junction.
  for (const scenario of list) {
    for (const system of scenario.systems) {
      for (const body of scenario.bodies ?? [scenario.body!]) await post(systemOf(running, system), body);
    }
  }
  const scaleOutScenario = wanted(SCALE_OUT) ? all.find((s) => s.name === SCALE_OUT_SCENARIO)! : undefined;
  for (const body of scaleOutScenario?.bodies ?? (scaleOutScenario ? [scaleOutScenario.body!] : [])) await post(running.systems.junction, body);
  const frozen = (await (await fetch(`${running.urls.payments}/_replay/freeze`, { method: 'POST' })).json()) as { recorded: number };
  // From here nothing can reach the real backends.
  if (running.realBackends) await stop(running.realBackends);
  log(`Recorded ${frozen.recorded} distinct upstream requests; replaying them after ${delayMs} ms, the demo backends stopped.`);
  const checks = await checkResponses(running, list);
  for (const c of checks) log(`  ${c.scenario.padEnd(16)} ${c.system.padEnd(11)} ${c.verdict.padEnd(30)} HTTP ${c.status} ${c.upstreamCalls} upstream call(s)`);

  const rounds: RoundRecord[] = [];
  const upstreamUrls = Object.values(running.urls);
  for (const scenario of list) {
    log(`\n${scenario.name} (replayed backends): ${scenario.what} (${scenario.connections} connection${scenario.connections > 1 ? 's' : ''})`);
    for (const system of scenario.systems) await warmUp(target(running, scenario, system), o.warmupS);
    for (let round = 1; round <= o.rounds; round++) {
      const order = scenario.systems.map((_, i) => scenario.systems[(i + round - 1) % scenario.systems.length]!);
      for (const system of order) {
        const result = await measureRound(target(running, scenario, system), {
          durationS: o.durationS, warmupS: o.warmupS, sutPid: systemOf(running, system).proc.pid, backendsPid: running.backends.pid, upstreamUrls,
        });
        rounds.push({ scenario: scenario.name, system, round, connections: scenario.connections, ...result });
        log(`  round ${round} ${system.padEnd(11)} ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.p50Ms.toFixed(2)} ms  ${result.cpuSecondsPer1k.toFixed(3)} CPU s/1k  `
          + `backends ${result.backendsCpuPct.toFixed(0)}% CPU${result.errors + result.non2xx + result.graphqlErrors > 0 ? `  ${result.errors} errors, ${result.non2xx} non-2xx, ${result.graphqlErrors} with GraphQL errors` : ''}`);
      }
    }
  }
  const scaleOut = scaleOutScenario ? await runScaleOut(set, running, scaleOutScenario, o) : undefined;
  const state = await replayState(running.urls.payments);
  if (profiled) { // stopping writes the profiles
    await Promise.all([running.systems.junction, running.systems['junction-v0']].map((system) => system && stop(system.proc, 10_000)));
  }
  if (state.misses > 0) log(`\n!! ${state.misses} upstream request(s) had no recorded reply (answered 599): the replayed figures are INVALID. First: ${state.missed[0]}`);
  return {
    date: new Date().toISOString(), machine: machine(o.pinned),
    settings: { durationS: o.durationS, warmupS: o.warmupS, rounds: o.rounds, delayMs, pinned: o.pinned ? 'SUT CPU 0; replay backends + load CPU 1' : 'none' },
    recorded: state.recorded, misses: state.misses, missed: state.missed, checks, rows: summarize(rounds), skipped,
    hiveLeftOut: HIVE_LEFT_OUT, warnings, rounds, ...(scaleOut ? { scaleOut } : {}),
  };
}

/**
 * The table: each system's rps and CPU per request, both as ratios to the limit server's, and rps
 * as a ratio to Mesh's (the baseline; mesh-v0 in MeshV0, which has no limit server).
 */
export function replayText(r: Replayed): string {
  const lines = r.rows.map((row) => {
    const limit = r.rows.find((l) => l.scenario === row.scenario && l.system === 'limit');
    return [row.scenario, row.system, fmt(row.rps, 0), fmt(row.rpsVsLimit, 2), fmt(row.cpuSecondsPer1k, 3),
      limit && limit.cpuSecondsPer1k > 0 ? fmt(row.cpuSecondsPer1k / limit.cpuSecondsPer1k, 2) : '-', fmt(row.rpsVsBaseline, 2),
      fmt(row.p50Ms, 2), fmt(row.upstreamPerRequest, 2), fmt(row.sutCpuPct, 0), fmt(row.backendsCpuPct, 0), String(row.errors)];
  });
  return grid(['scenario', 'system', 'req/s', 'req/s vs limit', 'CPU s/1k req', 'CPU/req vs limit', 'req/s vs Mesh', 'p50 ms', 'upstream calls/req', 'SUT CPU %', 'backends CPU %', 'errors'], lines, 2);
}

const START = '<!-- replay: written by bench/replay/mode.ts -->';
const END = '<!-- replay: end -->';

function section(r: Replayed): string {
  const skipped = Object.entries(r.skipped).map(([name, why]) => `${name} (${why})`).join('; ');
  const hiveLeftOut = Object.entries(r.hiveLeftOut ?? {}).map(([name, why]) => `${name} (${why})`).join('; ');
  return `${START}
## Cheap backends (replayed)

The same scenarios with the demo backends replaced by recorded replies (bench/replay/): each distinct
upstream request (method, path and query, body: a SOAP envelope's operation and arguments) is recorded
once from the real backends while each scenario's requests go once through each of its systems
(Junction, the baseline, the limit server, Hive Gateway; for MeshV0, Mesh and Junction over the Mesh v0
file); then, the real backends stopped, one Node process answers them over HTTP (REST, SOAP, GraphQL
as before) by writing the recorded bytes after ${r.settings.delayMs} ms (\`BENCH_REPLAY_DELAY_MS\`).
Request headers (the systems' credentials among them) are not checked in this mode. The backends then
cost little, so these ratios measure the systems under test. A miss (a request never recorded) answers
599; this run had **${r.misses} miss${r.misses === 1 ? '' : 'es'}** of ${r.recorded} recorded requests${r.misses > 0 ? ' — its figures are INVALID' : ''}.
${r.settings.rounds} round(s) x ${r.settings.durationS} s per system (medians); pinning: ${r.settings.pinned}; run on ${r.date}.
"req/s vs Mesh": to the baseline's (\`mesh start\`), in MeshV0 to mesh-v0's (it has no limit server).
Not replayed: ${skipped || 'none'}.${hiveLeftOut ? ` Hive Gateway is left out of: ${hiveLeftOut}.` : ''}${(r.warnings ?? []).length > 0 ? ` Warnings: ${r.warnings!.join('; ')}.` : ''}
Run: \`npm run bench\` (after the end-to-end mode), or \`BENCH_BACKENDS=replay npm run bench\` alone (its own section and \`replay\` key; the others keep the last end-to-end figures).

${replayText(r)}
${END}
`;
}

/** Writes the section in place of the one there, else before "Same answers", else at the end. */
export function writeReplaySection(path: string, r: Replayed): void {
  writeSection(path, START, END, section(r));
}
