/**
 * Issue 9's soak: rounds of load on Junction (cache off) with Dashboard-pages' bodies, each
 * followed by a rest, to see whether its memory keeps growing. Junction's heap cannot be read
 * from outside without changing the gateway, so RSS stands for it: read after each rest, when the
 * requests of the round are finished and the garbage collector has had time to run, so that a
 * leak shows as a floor that keeps rising, and the peak during the load apart.
 */
import { runLoad, type Target } from './load.ts';
import { peakRssMb, resetPeakRss, rssMb, sleep } from './measures.ts';
import { fmt, grid } from './report.ts';

export interface SoakSettings {
  rounds: number;
  loadS: number;
  restS: number;
}

export interface SoakRound {
  round: number;
  /** 2xx responses received during the load. */
  requests: number;
  rps: number;
  /** Connection errors and timeouts, non-2xx answers, and 2xx answers carrying GraphQL errors. */
  errors: number;
  /** VmHWM, reset before the load and read after the rest: the requests left in flight when the load
   * stopped are finished during the rest, and what they take belongs to the load. */
  peakRssMb: number;
  rssAfterRestMb: number;
}

export interface Soak {
  settings: SoakSettings & { connections: number };
  rssBeforeMb: number;
  rounds: SoakRound[];
  rule: string;
  /** Undefined when there are too few rounds to judge. */
  steadyGrowth: boolean | undefined;
  verdict: string;
}

const GROWTH = 0.05;

const RULE = `steady growth = RSS after the rest rises in every round from round 2 to the last, and by more than ${GROWTH * 100}% in all; `
  + 'round 1 is left out (JIT, connection pools, the heap reaching its working size)';

export async function soak(target: Target, pid: number, settings: SoakSettings, onRound: (round: SoakRound) => void): Promise<Soak> {
  const rssBeforeMb = rssMb(pid);
  const rounds: SoakRound[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    resetPeakRss(pid);
    const run = await runLoad(target, settings.loadS);
    await sleep(settings.restS * 1000);
    const done: SoakRound = {
      round, requests: run.completed, rps: run.completed / (run.elapsedMs / 1000),
      errors: run.errors + run.non2xx + run.graphqlErrors, peakRssMb: peakRssMb(pid), rssAfterRestMb: rssMb(pid),
    };
    rounds.push(done);
    onRound(done);
  }
  const steadyGrowth = judge(rounds);
  return { settings: { ...settings, connections: target.connections }, rssBeforeMb, rounds, rule: RULE, steadyGrowth, verdict: verdict(rounds, steadyGrowth) };
}

/** The round (from 3 on) whose RSS after the rest did not rise above the one before, if any. */
function firstFall(judged: readonly SoakRound[]): SoakRound | undefined {
  return judged.find((r, i) => i > 0 && r.rssAfterRestMb <= judged[i - 1]!.rssAfterRestMb);
}

function judge(rounds: readonly SoakRound[]): boolean | undefined {
  const judged = rounds.slice(1);
  if (judged.length < 2) return undefined;
  return !firstFall(judged) && judged.at(-1)!.rssAfterRestMb > (1 + GROWTH) * judged[0]!.rssAfterRestMb;
}

// The reason is spelled out because the two ways to pass read differently: a round that fell back
// (growth that stops) or a rise too small to matter.
function verdict(rounds: readonly SoakRound[], steadyGrowth: boolean | undefined): string {
  if (steadyGrowth === undefined) return `not judged: ${rounds.length} round(s), the rule needs at least 3`;
  const [from, to] = [rounds[1]!, rounds.at(-1)!];
  const change = (to.rssAfterRestMb / from.rssAfterRestMb - 1) * 100;
  const fell = firstFall(rounds.slice(1));
  const why = steadyGrowth ? 'rising every round' : fell ? `round ${fell.round} no higher than round ${fell.round - 1}` : `at most ${GROWTH * 100}%`;
  return `${steadyGrowth ? 'STEADY GROWTH' : 'no steady growth'}: RSS after the rest ${fmt(from.rssAfterRestMb, 1)} MB in round ${from.round}, `
    + `${fmt(to.rssAfterRestMb, 1)} MB in round ${to.round} (${change >= 0 ? '+' : ''}${fmt(change, 1)}%; ${why})`;
}

export function soakLine(r: SoakRound): string {
  return `  round ${r.round}  ${String(r.requests).padStart(7)} requests  ${fmt(r.rps, 0).padStart(6)} req/s  peak ${fmt(r.peakRssMb, 0)} MB  `
    + `after the rest ${fmt(r.rssAfterRestMb, 1)} MB${r.errors > 0 ? `  ${r.errors} errors` : ''}`;
}

/** The table, the rule and the verdict: the same text on stdout and in BENCHMARKS.md. */
export function soakText(s: Soak): string {
  const table = grid(['round', 'requests', 'req/s', 'errors', 'peak RSS (load, rest) MB', 'RSS after rest MB'],
    s.rounds.map((r) => [String(r.round), String(r.requests), fmt(r.rps, 0), String(r.errors), fmt(r.peakRssMb, 0), fmt(r.rssAfterRestMb, 1)]), 1);
  return `${s.settings.rounds} rounds of ${s.settings.loadS} s load (${s.settings.connections} connections) and ${s.settings.restS} s rest; `
    + `RSS before the first: ${fmt(s.rssBeforeMb, 1)} MB.\n\n${table}\n\nRule: ${s.rule}.\n\nVerdict: ${s.verdict}.`;
}
