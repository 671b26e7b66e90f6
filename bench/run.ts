/**
 * `npm run bench`: issue 5's benchmark, and issue 7's cached Dashboard. Starts the demo backends,
 * Junction (cache off), the Mesh baseline and the limit server, and for Dashboard-cached Junction
 * with its cache and the static server (each its own process), checks once that the systems of
 * each scenario answer alike, then measures every scenario with autocannon, systems in turns, and
 * reports medians (stdout tables, bench/results/latest.json, BENCHMARKS.md), the cached scenario
 * apart; last, issue 9's soak of Junction (soak.ts). A benchmark, not a test: nothing here fails
 * on timing.
 *
 * Env: BENCH_DURATION (s per round, 4), BENCH_WARMUP (s before each round, 1), BENCH_ROUNDS (3),
 * BENCH_ONLY (comma-separated scenario names, Overload and Soak among them; MeshV0 for the Mesh v0 config
 * alone: BENCH_ONLY=MeshV0), OVERLOAD_S (8), BENCH_CPU_PROF=1 (both Junctions
 * run with --cpu-prof; the profiles land in bench/results/ when they stop), SOAK_ROUNDS (5),
 * SOAK_LOAD_S (8), SOAK_REST_S (4), BENCH_JUNCTION_NODE_FLAGS (Node flags for the Junctions only).
 * Realtime (issue 17's real-time section, realtime.ts) runs last; BENCH_ONLY=Realtime runs it alone
 * and merges it into the last run's latest.json and BENCHMARKS.md, whose other figures it keeps.
 * Issue 19's two modes, both in one run by default: end-to-end (the above), then the scenarios
 * against recorded backend replies (bench/replay/mode.ts), written as latest.json's `replay` key and
 * their own BENCHMARKS.md section. BENCH_BACKENDS=replay runs the replayed mode alone,
 * BENCH_BACKENDS=live the end-to-end mode alone; either keeps the other's last figures. Last in the
 * replayed mode, issue 20's ScaleOut (bench/scale-out.ts): one, two and three instances over a Redis
 * Cluster behind a balancer (`scaleOut` key, own section); BENCH_ONLY=ScaleOut runs it alone.
 */
import { writeBenchmarksMd, writeRealtimeSection, writeRunsHeader } from './benchmarks-md.ts';
import { measureRound, warmUp, type Target as LoadTarget } from './load.ts';
import { machine, rssMb } from './measures.ts';
import { hasTaskset, pinSelf, ProcessSet, stop } from './processes.ts';
import { cacheSummary, cachedText, uncached } from './cached-report.ts';
import { observations, previousReport, summarize, table, targetList, targets, writeJson, type Report, type RoundRecord } from './report.ts';
import { readSeeds, scenarios, type Scenario, type SystemName } from './scenarios.ts';
import { soak, soakLine, soakText, type Soak } from './soak.ts';
import { overload, overloadText, type Overload } from './overload.ts';
import { checkResponses, readyMeshV0, startSystems, systemOf, waitAnswering, type Check, type Running } from './systems.ts';
import { runRealtime, realtimeText, type Realtime } from './realtime.ts';
import { replayText, replays, runReplay, writeReplaySection, type Replayed } from './replay/mode.ts';
import { scaleOutText, writeScaleOutSection } from './scale-out.ts';
import { HIVE_LEFT_OUT, HIVE_SCENARIOS } from './hive/hive.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 4);
const WARMUP_S = Number(process.env.BENCH_WARMUP ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
const SOAK = { rounds: Number(process.env.SOAK_ROUNDS ?? 5), loadS: Number(process.env.SOAK_LOAD_S ?? 8), restS: Number(process.env.SOAK_REST_S ?? 4) };
const OVERLOAD = { durationS: Number(process.env.OVERLOAD_S ?? 8), factor: 2 };
const RESULTS = 'bench/results/latest.json';

/** Which modes run: both by default (end-to-end, then replayed), or one (BENCH_BACKENDS=live, =replay). */
function benchModes(value: string | undefined): { live: boolean; replay: boolean } {
  if (value === undefined || value === '' || value === 'both') return { live: true, replay: true };
  if (value === 'replay') return { live: false, replay: true };
  if (value === 'live' || value === 'real') return { live: true, replay: false };
  throw new Error(`BENCH_BACKENDS=${value}: expected live, replay or both (the default)`);
}
const MODES = benchModes(process.env.BENCH_BACKENDS);

const log = (line: string) => process.stdout.write(`${line}\n`);

function loudly(lines: string[]): void {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n${lines.map((l) => `!! ${l}`).join('\n')}\n${bar}\n\n`);
}

function target(running: Running, scenario: Scenario, system: SystemName): LoadTarget {
  const { url, headers } = systemOf(running, system);
  return scenario.path
    ? { url: `${url}${scenario.path}`, method: 'GET', connections: scenario.connections, headers }
    : { url, method: 'POST', body: scenario.body, bodies: scenario.bodies, connections: scenario.connections, headers };
}

function reportChecks(checks: readonly Check[], when: string): void {
  for (const c of checks) {
    log(`  ${c.scenario.padEnd(16)} ${c.system.padEnd(15)} ${c.verdict.padEnd(30)} ${c.upstreamCalls} upstream call(s) ${JSON.stringify(c.upstreamOperations)}`);
  }
  const differ = checks.filter((c) => c.verdict === 'DIFFERENT');
  if (differ.length > 0) {
    loudly([`${when}: answers DIFFER from the scenario's first system's:`, ...differ.map((c) => `${c.scenario} / ${c.system} (HTTP ${c.status}): ${c.sample ?? ''}`)]);
  }
}

// Pinned first, so every thread this process makes later (autocannon's included) inherits CPU 1.
const pinned = hasTaskset() && pinSelf(1);
const cpus = pinned ? { sut: 0, side: 1 } : {};
const set = new ProcessSet(pinned);

/** Issue 17's real-time section; it fails the run, after its figures are written, when a subscriber missed or doubled an event. */
async function realtime(urls?: Running['urls']): Promise<Realtime> {
  log(`\nReal time (issue 17): two Junctions over one Redis, SSE subscribers, webhook deliveries to one`);
  const measured = await runRealtime(set, cpus, { log, ...(urls ? { urls } : {}) });
  log(`\n${realtimeText(measured)}`);
  if (!measured.exactlyOnce) loudly(['Real time: NOT every subscriber received every acknowledged event exactly once:', ...measured.problems]);
  return measured;
}

const failIfLost = (measured: Realtime | undefined) => {
  if (measured && !measured.exactlyOnce) throw new Error(`real time: subscribers did not each receive every event once (${measured.problems.join('; ')})`);
};

async function main(): Promise<void> {
  if (ONLY && ONLY.length > 0 && ONLY.every((name) => name === 'Realtime')) {
    try {
      const measured = await realtime();
      writeJson(RESULTS, { ...previousReport(RESULTS), realtime: measured } as Report);
      writeRealtimeSection('BENCHMARKS.md', measured);
      log(`\nWrote the real-time section into ${RESULTS} and BENCHMARKS.md; their other figures are the last full run's.`);
      failIfLost(measured);
    } finally {
      await set.stopAll();
    }
    return;
  }
  // End-to-end first, then replayed: each starts and stops its own processes. A real-time loss
  // fails the run only once both are written.
  const realtimeMeasured = MODES.live ? await endToEnd() : undefined;
  if (MODES.replay && replays(ONLY)) await replayed();
  else if (MODES.replay) log(`\nBENCH_ONLY names no replayed scenario: the replayed mode did not run.`);
  failIfLost(realtimeMeasured);
}

/** Where Hive Gateway ran and why not elsewhere, for the report's notes. */
function hiveNote(): string {
  return `Hive Gateway (hive) ran in ${HIVE_SCENARIOS.join(', ')} only; not in ${Object.entries(HIVE_LEFT_OUT).map(([s, why]) => `${s} (${why})`).join(', ')}.`;
}

/** The replayed mode (bench/replay/mode.ts): its own key of latest.json and section of BENCHMARKS.md. */
async function replayed(): Promise<void> {
  try {
    if (MODES.live) log('\n\nCheap backends (replayed): the same scenarios again, the backends replaced by recorded replies\n');
    const measured = await runReplay(set, { cpus, pinned, only: ONLY, durationS: DURATION_S, warmupS: WARMUP_S, rounds: ROUNDS, log });
    log(`\nCheap backends (replayed), medians of ${ROUNDS} round(s):\n\n${replayText(measured)}\n\nReplay misses: ${measured.misses} (of ${measured.recorded} recorded)`);
    const { scaleOut, ...replay } = measured;
    if (scaleOut) log(`\nSeveral instances over a Redis Cluster (issue 20):\n\n${scaleOutText(scaleOut)}`);
    // A run without ScaleOut keeps the last one measured; a run of ScaleOut alone keeps the last replayed scenarios.
    writeJson(RESULTS, { ...previousReport(RESULTS), ...(replay.rows.length > 0 ? { replay } : {}), ...(scaleOut ? { scaleOut } : {}) } as Report);
    if (replay.rows.length > 0) writeReplaySection('BENCHMARKS.md', replay);
    if (scaleOut) writeScaleOutSection('BENCHMARKS.md', scaleOut);
    writeRunsHeader('BENCHMARKS.md', previousReport(RESULTS));
    log(`\nWrote the replayed section into ${RESULTS} (key replay) and BENCHMARKS.md${MODES.live ? '' : "; their other figures are the last end-to-end run's"}.`);
    if (measured.misses > 0) throw new Error(`replay: ${measured.misses} upstream request(s) were never recorded; the figures are invalid`);
  } finally {
    await set.stopAll();
  }
}

/** The end-to-end mode: every scenario against the demo backends, then Overload, Soak and Realtime. */
async function endToEnd(): Promise<Realtime | undefined> {
  const started = performance.now();
  const notes: string[] = [];
  if (!pinned) notes.push('taskset is not available (or failed): nothing was pinned; every process shared every CPU.');
  const rounds: RoundRecord[] = [];
  try {
    log(`Junction benchmark: ${ROUNDS} rounds x ${DURATION_S} s (after ${WARMUP_S} s warm-up) per system and scenario${pinned ? '; systems under test on CPU 0, backends and load on CPU 1' : ''}`);
    const running = await startSystems(set, cpus, {
      ...(process.env.BENCH_CPU_PROF === '1' ? { cpuProfileDir: 'bench/results' } : {}),
      cached: !ONLY || ONLY.includes('Dashboard-cached'),
      meshV0: !ONLY || ONLY.includes('MeshV0'),
      overhead: !ONLY || ONLY.some((name) => name.startsWith('Overhead')),
      hive: !ONLY || ONLY.some((name) => HIVE_SCENARIOS.includes(name)),
    });
    if (running.artifactFixes.length > 0) {
      notes.push(`Mesh's generated .mesh/index.ts imported custom handlers/transforms from the wrong folder; fixed after the build: ${running.artifactFixes.join('; ')}.`);
    }
    const seeds = await readSeeds(running.urls.payments);
    const dashboard = scenarios(seeds)[0]!;
    for (const system of ['junction', 'baseline', 'limit'] as const) await waitAnswering(running.systems[system], dashboard.body!, 60_000);
    if (running.systems.hive) await waitAnswering(running.systems.hive, scenarios(seeds).find((s) => s.name === 'Payment')!.body!, 60_000);
    if (running.systems.hive) notes.push(hiveNote());
    const meshV0 = scenarios(seeds).find((s) => s.name === 'MeshV0')!;
    const meshV0Warning = await readyMeshV0(running, meshV0.body ?? meshV0.bodies![0]!);
    const warnings = [...running.warnings, ...(meshV0Warning ? [meshV0Warning] : [])];
    if (warnings.length > 0) {
      loudly(warnings);
      notes.push(...warnings);
    }
    // A scenario runs when its first system (the reference answer) runs, with those of its systems that do.
    const present = (system: SystemName) => Boolean(running.systems[system]);
    const runnable = scenarios(seeds).filter((s) => present(s.systems[0]!)).map((s) => ({ ...s, systems: s.systems.filter(present) }));
    const all = runnable.filter((s) => !ONLY || ONLY.includes(s.name));
    const startRssMb = Object.fromEntries(Object.entries(running.systems).map(([s, system]) => [s, rssMb(system.proc.pid)]));
    log(`Started in ${((performance.now() - started) / 1000).toFixed(1)} s. Seeds: payment ${seeds.paymentId}, address "${seeds.address}". `
      + `RSS before load: ${Object.entries(startRssMb).map(([s, mb]) => `${s} ${mb.toFixed(0)} MB`).join(', ')}.`);

    log('Checking once, before any load, that the systems of each scenario answer like its first:');
    const checks = await checkResponses(running, runnable);
    reportChecks(checks, 'Before the load');

    const upstreamUrls = Object.values(running.urls);
    for (const scenario of all) {
      log(`\n${scenario.name}: ${scenario.what} (${scenario.connections} connection${scenario.connections > 1 ? 's' : ''})`);
      for (const system of scenario.systems) await warmUp(target(running, scenario, system), WARMUP_S); // first contact: JIT, pools
      for (let round = 1; round <= ROUNDS; round++) {
        const order = scenario.systems.map((_, i) => scenario.systems[(i + round - 1) % scenario.systems.length]!);
        for (const system of order) {
          const result = await measureRound(target(running, scenario, system), {
            durationS: DURATION_S, warmupS: WARMUP_S, sutPid: systemOf(running, system).proc.pid, backendsPid: running.backends.pid, upstreamUrls,
          });
          rounds.push({ scenario: scenario.name, system, round, connections: scenario.connections, ...result });
          log(`  round ${round} ${system.padEnd(15)} ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms  `
            + `${result.upstreamPerRequest.toFixed(2)} upstream/req  ${result.cpuSecondsPer1k.toFixed(2)} CPU s/1k  ${result.peakRssMb.toFixed(0)} MB`
            + `${result.errors + result.non2xx + result.graphqlErrors > 0 ? `  ${result.errors} errors, ${result.non2xx} non-2xx, ${result.graphqlErrors} with GraphQL errors ${JSON.stringify(result.errorCodes)}` : ''}`);
        }
      }
    }

    // Before the soak: its heap snapshots leave Junction's process larger.
    let overloaded: Overload | undefined;
    if (!ONLY || ONLY.includes('Overload')) {
      const pages = runnable.find((s) => s.name === 'Dashboard-pages')!;
      log(`\nOverload (hardening): junction, Dashboard-pages at saturation (${pages.connections} connections), then offered ${OVERLOAD.factor}x that rate, ${OVERLOAD.durationS} s each`);
      overloaded = await overload(target(running, pages, 'junction'), { sut: running.systems.junction.proc.pid, backends: running.backends.pid }, OVERLOAD);
      log(`  ${overloaded.verdict}`);
    }

    let soaked: Soak | undefined;
    if (!ONLY || ONLY.includes('Soak')) {
      const pages = runnable.find((s) => s.name === 'Dashboard-pages')!;
      log(`\nSoak (issue 9): junction, ${SOAK.rounds} rounds of ${SOAK.loadS} s Dashboard-pages load (${pages.connections} connections) and ${SOAK.restS} s rest`);
      const { proc, snapshotDir } = running.systems.junction;
      if (!snapshotDir) throw new Error('junction was started without a heap snapshot folder');
      soaked = await soak(target(running, pages, 'junction'), { pid: proc.pid, snapshotDir, backendsPid: running.backends.pid }, SOAK, (round) => log(soakLine(round)));
    }

    // Last: its own two Junctions and Redis; the systems above are idle meanwhile.
    const realtimeMeasured = !ONLY || ONLY.includes('Realtime') ? await realtime(running.urls) : undefined;

    log('\nChecking again after the load:');
    const checksAfterLoad = await checkResponses(running, runnable.filter((s) => s.name.startsWith('Dashboard')));
    reportChecks(checksAfterLoad, 'After the load');

    const rows = summarize(rounds);
    const goals = targets(rows, checks);
    const cache = cacheSummary(rows);
    notes.push(...observations(rows));
    if (checks.some((c) => c.verdict === 'same data, different key order')) {
      notes.push('The Mesh baseline answers with the same data as Junction but not always with the fields in the order the query asks for (GraphQL requires query order).');
    }
    const elapsedS = (performance.now() - started) / 1000;
    // A run that leaves the real-time section out keeps the last one measured (it says when).
    const realtimeKept = realtimeMeasured ?? previousReport(RESULTS)?.realtime;
    const report: Report = {
      machine: machine(pinned), settings: { durationS: DURATION_S, warmupS: WARMUP_S, rounds: ROUNDS, pinned: pinned ? 'SUT CPU 0; backends + load CPU 1' : 'none' },
      elapsedS, startRssMb, checks, checksAfterLoad, rows, targets: goals, cache, ...(overloaded ? { overload: overloaded } : {}), ...(soaked ? { soak: soaked } : {}),
      ...(realtimeKept ? { realtime: realtimeKept } : {}),
      notes, rounds,
    };
    log(`\nMedians of ${ROUNDS} rounds (peak RSS: highest round):\n\n${table(uncached(rows))}\n\nIssue 5 targets:\n${targetList(goals)}`);
    if (cache.rows.length > 0) log(`\nCached (issue 7):\n\n${cachedText(cache)}`);
    if (overloaded) log(`\nOverload (hardening):\n\n${overloadText(overloaded)}`);
    if (soaked) log(`\nSoak (issue 9):\n\n${soakText(soaked)}`);
    for (const note of notes) log(`note: ${note}`);
    if (process.env.BENCH_CPU_PROF === '1') { // stopping writes the profiles
      await Promise.all([running.systems.junction, running.systems['junction-cached']].map((system) => system && stop(system.proc, 10_000)));
    }
    const keptReplay = (previousReport(RESULTS) as { replay?: Replayed } | undefined)?.replay;
    writeJson(RESULTS, keptReplay ? { ...report, replay: keptReplay } as Report : report);
    writeBenchmarksMd('BENCHMARKS.md', report);
    if (keptReplay) writeReplaySection('BENCHMARKS.md', keptReplay); // the last replayed run's section
    writeRunsHeader('BENCHMARKS.md', previousReport(RESULTS));
    log(`\nWrote ${RESULTS} and BENCHMARKS.md (${elapsedS.toFixed(0)} s in all).`);
    return realtimeMeasured;
  } finally {
    await set.stopAll();
  }
}

/** Interrupted, or failed outside main's promise chain: stop every process started, then exit. */
function abort(why: string, code: number): void {
  process.stderr.write(`\n${why}: stopping every process the benchmark started\n`);
  void set.stopAll(1000).finally(() => process.exit(code));
}
process.once('SIGINT', () => abort('SIGINT', 130));
process.once('SIGTERM', () => abort('SIGTERM', 143));
process.once('uncaughtException', (err) => abort(`uncaught ${err.stack ?? err.message}`, 1));

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
