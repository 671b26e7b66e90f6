/**
 * Issue 9's soak: rounds of load on Junction (cache off) with Dashboard-pages' bodies, each
 * followed by a rest, to see whether its memory keeps growing. After each rest (and once before
 * the first round) Junction writes a heap snapshot on SIGUSR2 (heap-snapshot.ts): its live objects
 * counted by class after a full garbage collection, so that a leak shows as a class whose count
 * rises round after round, and which class it is. RSS is read too, before each census: the floor it
 * reaches after the rest, and the peak during the load. Writing a snapshot takes memory of its own
 * (some 90 MB here) that the allocator keeps, so from round 1 on RSS stands that much higher than in
 * a soak without snapshots.
 */
import { takeCensus, type HeapCensus } from './heap-snapshot.ts';
import { runLoad, snapshot, type Target } from './load.ts';
import { CLK_TCK, peakRssMb, resetPeakRss, rssMb, sleep } from './measures.ts';
import { fmt, grid } from './report.ts';

export interface SoakSettings {
  rounds: number;
  loadS: number;
  restS: number;
}

/** The process soaked: Junction, started with --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=<snapshotDir>. */
export interface Soaked {
  pid: number;
  snapshotDir: string;
  /** The demo backends' process: its CPU per request tells a slower machine from a slower Junction. */
  backendsPid: number;
}

export interface SoakRound {
  round: number;
  /** 2xx responses received during the load. */
  requests: number;
  rps: number;
  /** Connection errors and timeouts, non-2xx answers, and 2xx answers carrying GraphQL errors. */
  errors: number;
  /** CPU per answered request during the load, ms: Junction's, and the backends' (the same work
   * every round, so it rises only when the machine is slower). */
  sutCpuMsPerRequest: number;
  backendsCpuMsPerRequest: number;
  /** VmHWM, reset before the load and read after the rest: the requests left in flight when the load
   * stopped are finished during the rest, and what they take belongs to the load. */
  peakRssMb: number;
  rssAfterRestMb: number;
  /** Self sizes of every object in the snapshot taken after the rest (after a full GC). */
  heapMb: number;
  /** The part of heapMb in no class: compiled code and V8's hidden nodes (where the heap grew). */
  codeMb: number;
}

/** One class's live objects in each snapshot: before round 1, then after each round's rest. */
export interface ClassSeries {
  name: string;
  counts: number[];
  mb: number[];
}

export interface Judgement {
  rule: string;
  /** Undefined when there are too few rounds to judge. */
  steadyGrowth: boolean | undefined;
  verdict: string;
}

export interface Soak {
  settings: SoakSettings & { connections: number };
  rssBeforeMb: number;
  heapBeforeMb: number;
  rounds: SoakRound[];
  /** By class: what issue 9 passes on. */
  heap: Judgement & {
    /** The classes that grow every round, the largest rise first. */
    growing: ClassSeries[];
    /** The largest rises that were steady but under the floor: how near the rest came. */
    belowFloor: ClassSeries[];
  };
  rss: Judgement;
}

const MB = 1024 * 1024;
const SHOWN = 10;

const FROM_ROUND = 'round 1 is left out (JIT, connection pools, caches and the heap reaching their working size)';

// The floor for a class, from six soaks with the census as it is now (two snapshots a census): no
// class of the program rose in every round by more than 11 objects from round 2 to 5, and none but
// the strings (some 52,000, which moved by up to 173) jumped by more than 84 in one round; one
// object kept per request would add some 800 a round on this machine.
const CLASS_GROWTH = 0.01;
const CLASS_MIN_OBJECTS = 100;

const HEAP_RULE = `a class grows every round = its live objects (after a full GC), counted after the rest, rise in every round from round 2 to the last, `
  + `and from round 2 to the last by more than ${CLASS_GROWTH * 100}% and by more than ${CLASS_MIN_OBJECTS} objects; ${FROM_ROUND}; `
  + 'a class = the constructor for objects, the function name for closures, the kind of array, the native class; '
  + 'strings, hidden classes (object shapes), regexps, heap numbers, symbols and bigints each one class; '
  + 'V8\'s compiled code and its metadata (the JIT kept adding to it in every run), and its hidden and synthetic nodes, left out';

const RSS_GROWTH = 0.05;

const RSS_RULE = `steady growth = RSS after the rest rises in every round from round 2 to the last, and by more than ${RSS_GROWTH * 100}% in all; ${FROM_ROUND}`;

export async function soak(target: Target, soaked: Soaked, settings: SoakSettings, onRound: (round: SoakRound) => void): Promise<Soak> {
  const { pid, snapshotDir } = soaked;
  const rssBeforeMb = rssMb(pid);
  const censuses: HeapCensus[] = [await takeCensus(pid, snapshotDir)];
  const rounds: SoakRound[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    resetPeakRss(pid);
    const before = snapshot(pid, soaked.backendsPid);
    const run = await runLoad(target, settings.loadS);
    const after = snapshot(pid, soaked.backendsPid);
    const cpuMs = (ticks: number) => (ticks / CLK_TCK) * 1000 / Math.max(1, run.completed);
    await sleep(settings.restS * 1000);
    const [peak, rss] = [peakRssMb(pid), rssMb(pid)];
    const census = await takeCensus(pid, snapshotDir);
    censuses.push(census);
    const done: SoakRound = {
      round, requests: run.completed, rps: run.completed / (run.elapsedMs / 1000),
      errors: run.errors + run.non2xx + run.graphqlErrors,
      sutCpuMsPerRequest: cpuMs(after.sutTicks - before.sutTicks), backendsCpuMsPerRequest: cpuMs(after.backendsTicks - before.backendsTicks),
      peakRssMb: peak, rssAfterRestMb: rss,
      heapMb: census.bytes / MB, codeMb: census.uncountedBytes / MB,
    };
    rounds.push(done);
    onRound(done);
  }
  return {
    settings: { ...settings, connections: target.connections }, rssBeforeMb, heapBeforeMb: censuses[0]!.bytes / MB, rounds,
    heap: judgeClasses(censuses), rss: judgeRss(rounds),
  };
}

/** Round numbers as indexes of the censuses: 0 is the one before round 1. */
function judgeClasses(censuses: readonly HeapCensus[]): Soak['heap'] {
  const last = censuses.length - 1;
  if (last < 3) return { rule: HEAP_RULE, steadyGrowth: undefined, verdict: notJudged(last), growing: [], belowFloor: [] };
  const steady: { series: ClassSeries; rise: number; meaningful: boolean }[] = [];
  for (const name of censuses[last]!.classes.keys()) { // a class that rose in the last round is in it
    const counts = censuses.map((c) => c.classes.get(name)?.count ?? 0);
    if (!counts.every((n, round) => round <= 2 || n > counts[round - 1]!)) continue;
    const rise = counts[last]! - counts[2]!;
    const series = { name, counts, mb: censuses.map((c) => (c.classes.get(name)?.bytes ?? 0) / MB) };
    steady.push({ series, rise, meaningful: rise > CLASS_MIN_OBJECTS && rise > CLASS_GROWTH * counts[2]! });
  }
  steady.sort((a, b) => b.rise - a.rise);
  const growing = steady.filter((s) => s.meaningful).map((s) => s.series);
  const belowFloor = steady.filter((s) => !s.meaningful).slice(0, SHOWN).map((s) => s.series);
  const [from, to] = [censuses[2]!.bytes / MB, censuses[last]!.bytes / MB];
  const heap = `heap after GC ${fmt(from, 1)} MB after round 2, ${fmt(to, 1)} MB after round ${last}`;
  const nearest = belowFloor[0];
  const verdict = growing.length > 0
    ? `${growing.length} CLASS${growing.length > 1 ? 'ES' : ''} GROW${growing.length > 1 ? '' : 'S'} EVERY ROUND: ${growing.slice(0, SHOWN).map((s) => `${s.name} ${rise(s, last)}`).join(', ')}`
      + `${growing.length > SHOWN ? ` and ${growing.length - SHOWN} more` : ''} (${heap})`
    : `no class grows every round (${heap}${nearest ? `; the largest steady rise, under the floor: ${nearest.name} ${rise(nearest, last)}` : ''})`;
  return { rule: HEAP_RULE, steadyGrowth: growing.length > 0, verdict, growing, belowFloor };
}

function rise(s: ClassSeries, last: number): string {
  const [from, to] = [s.counts[2]!, s.counts[last]!];
  return `${from} -> ${to} objects (+${to - from}${from > 0 ? `, +${fmt((to / from - 1) * 100, 2)}%` : ''})`;
}

function notJudged(rounds: number): string {
  return `not judged: ${rounds} round(s), the rule needs at least 3`;
}

/** The round (from 3 on) whose RSS after the rest did not rise above the one before, if any. */
function firstFall(judged: readonly SoakRound[]): SoakRound | undefined {
  return judged.find((r, i) => i > 0 && r.rssAfterRestMb <= judged[i - 1]!.rssAfterRestMb);
}

// The reason is spelled out because the two ways to pass read differently: a round that fell back
// (growth that stops) or a rise too small to matter.
function judgeRss(rounds: readonly SoakRound[]): Judgement {
  const judged = rounds.slice(1);
  if (judged.length < 2) return { rule: RSS_RULE, steadyGrowth: undefined, verdict: notJudged(rounds.length) };
  const [from, to] = [judged[0]!, judged.at(-1)!];
  const fell = firstFall(judged);
  const steadyGrowth = !fell && to.rssAfterRestMb > (1 + RSS_GROWTH) * from.rssAfterRestMb;
  const change = (to.rssAfterRestMb / from.rssAfterRestMb - 1) * 100;
  const why = steadyGrowth ? 'rising every round' : fell ? `round ${fell.round} no higher than round ${fell.round - 1}` : `at most ${RSS_GROWTH * 100}%`;
  const verdict = `${steadyGrowth ? 'STEADY GROWTH' : 'no steady growth'}: RSS after the rest ${fmt(from.rssAfterRestMb, 1)} MB in round ${from.round}, `
    + `${fmt(to.rssAfterRestMb, 1)} MB in round ${to.round} (${change >= 0 ? '+' : ''}${fmt(change, 1)}%; ${why})`;
  return { rule: RSS_RULE, steadyGrowth, verdict };
}

export function soakLine(r: SoakRound): string {
  return `  round ${r.round}  ${String(r.requests).padStart(7)} requests  ${fmt(r.rps, 0).padStart(6)} req/s  peak ${fmt(r.peakRssMb, 0)} MB  `
    + `CPU/req ${fmt(r.sutCpuMsPerRequest, 2)} ms (backends ${fmt(r.backendsCpuMsPerRequest, 2)})  after the rest ${fmt(r.rssAfterRestMb, 1)} MB, heap after GC ${fmt(r.heapMb, 1)} MB (code and V8 internals ${fmt(r.codeMb, 1)})${r.errors > 0 ? `  ${r.errors} errors` : ''}`;
}

/** Live objects of each class in each snapshot, and the rise the rule judges. */
function classTable(list: readonly ClassSeries[], last: number): string {
  return grid(['class', 'before', ...Array.from({ length: last }, (_, i) => `round ${i + 1}`), `round 2 -> ${last}`, `MB after round ${last}`],
    list.slice(0, SHOWN).map((s) => [s.name, ...s.counts.map(String), `+${s.counts[last]! - s.counts[2]!}`, fmt(s.mb[last], 2)]), 1);
}

/** The tables, the rules and the verdicts: the same text on stdout and in BENCHMARKS.md. */
export function soakText(s: Soak): string {
  const table = grid(['round', 'requests', 'req/s', 'errors', 'Junction CPU ms/req', 'backends CPU ms/req', 'peak RSS (load, rest) MB', 'RSS after rest MB', 'heap after GC MB', 'of it code and V8 internals MB'],
    s.rounds.map((r) => [String(r.round), String(r.requests), fmt(r.rps, 0), String(r.errors), fmt(r.sutCpuMsPerRequest, 2), fmt(r.backendsCpuMsPerRequest, 2),
      fmt(r.peakRssMb, 0), fmt(r.rssAfterRestMb, 1), fmt(r.heapMb, 1), fmt(r.codeMb, 1)]), 1);
  const n = s.rounds.length;
  const classes = s.heap.growing.length > 0
    ? `Live objects of the classes that grow every round${s.heap.growing.length > SHOWN ? ` (the first ${SHOWN} of ${s.heap.growing.length})` : ''}:\n\n${classTable(s.heap.growing, n)}`
    : s.heap.belowFloor.length > 0 ? `The largest steady rises, all under the floor:\n\n${classTable(s.heap.belowFloor, n)}` : '';
  return `${s.settings.rounds} rounds of ${s.settings.loadS} s load (${s.settings.connections} connections) and ${s.settings.restS} s rest; `
    + `before the first: RSS ${fmt(s.rssBeforeMb, 1)} MB, heap after GC ${fmt(s.heapBeforeMb, 1)} MB.\n\n${table}\n\n`
    + `Rule (heap): ${s.heap.rule}.\n\nVerdict (heap): ${s.heap.verdict}.\n\n${classes ? `${classes}\n\n` : ''}`
    + `Rule (RSS): ${s.rss.rule}.\n\nVerdict (RSS): ${s.rss.verdict}.`;
}
