/**
 * Issue 7's part of the report, kept apart from the uncached scenarios so that no cached figure
 * is read as what computing an answer costs: Dashboard-cached's rows (junction-cached and
 * static), their ratios, issue 7's targets, and the response cache's hit ratio as the upstream
 * calls let one estimate it.
 */
import { figures, FIGURES, fmt, grid, targetList, type Row, type Target } from './report.ts';

const CACHED = 'Dashboard-cached';
/** Upstream calls one Dashboard makes when nothing is cached (the limit's and uncached Junction's). */
const DASHBOARD_CALLS = 6;

export interface CacheSummary {
  rows: Row[];
  /** junction-cached req/s ÷ junction's on Dashboard-pages (uncached). */
  vsUncached: number | undefined;
  /** junction-cached req/s ÷ static's. */
  vsStatic: number | undefined;
  /** 1 - junction-cached's upstream calls per request ÷ DASHBOARD_CALLS. */
  hitRatio: number | undefined;
  targets: Target[];
}

export function uncached(rows: readonly Row[]): Row[] {
  return rows.filter((r) => r.scenario !== CACHED);
}

export function cacheSummary(all: readonly Row[]): CacheSummary {
  const rows = all.filter((r) => r.scenario === CACHED);
  const cached = rows.find((r) => r.system === 'junction-cached');
  const ceiling = rows.find((r) => r.system === 'static');
  const computed = all.find((r) => r.scenario === 'Dashboard-pages' && r.system === 'junction');
  const vsUncached = cached && computed ? cached.rps / computed.rps : undefined;
  const vsStatic = cached && ceiling ? cached.rps / ceiling.rps : undefined;
  const targets: Target[] = [];
  if (vsUncached !== undefined) {
    targets.push({ target: 'Dashboard cached: junction-cached req/s >= 5x junction uncached (Dashboard-pages)', measured: `${fmt(vsUncached, 2)}x`, met: vsUncached >= 5 });
  }
  if (vsStatic !== undefined) {
    targets.push({ target: 'Dashboard cached: junction-cached req/s >= 0.7x static', measured: `${fmt(vsStatic, 2)}x`, met: vsStatic >= 0.7 });
  }
  return { rows, vsUncached, vsStatic, hitRatio: cached && 1 - cached.upstreamPerRequest / DASHBOARD_CALLS, targets };
}

/** The table, the ratios, issue 7's targets and the hit ratio: the same text on stdout and in BENCHMARKS.md. */
export function cachedText(cache: CacheSummary): string {
  const table = grid(['system', ...FIGURES, 'SUT CPU %', 'load tool CPU %', 'errors'],
    cache.rows.map((r) => [r.system, ...figures(r), fmt(r.sutCpuPct, 0), fmt(r.loaderCpuPct, 0), String(r.errors)]), 1);
  const hits = cache.hitRatio === undefined ? '' : `\n- response cache hit ratio, estimated as 1 - upstream calls per request ÷ ${DASHBOARD_CALLS}: `
    + `${fmt(cache.hitRatio * 100, 1)}% (at most: a miss can make fewer than ${DASHBOARD_CALLS} calls, its entities cached or its calls shared in flight)`;
  return `${table}\n\nRatios: junction-cached req/s = ${fmt(cache.vsUncached, 2)}x junction uncached (Dashboard-pages), ${fmt(cache.vsStatic, 2)}x static.`
    + `${loadBound(cache.rows)}\n\nIssue 7 targets:\n${targetList(cache.targets)}${hits}`;
}

/** Static needs so little CPU that the load tool, on the other core, may be what stops it: then say so. */
function loadBound(rows: readonly Row[]): string {
  const cached = rows.find((r) => r.system === 'junction-cached');
  const ceiling = rows.find((r) => r.system === 'static');
  if (!cached || !ceiling || ceiling.sutCpuPct >= 80) return '';
  return ` Static used ${fmt(ceiling.sutCpuPct, 0)}% of its core while the load tool used ${fmt(ceiling.loaderCpuPct, 0)}% of the other: `
    + 'the load tool set static\'s rate, so "x static" is a ratio to what the load tool could send, and static\'s own ceiling is higher. '
    + `CPU per request leaves the load tool out: junction-cached ${fmt(cached.cpuSecondsPer1k, 2)} ms, static ${fmt(ceiling.cpuSecondsPer1k, 2)} ms `
    + `(${fmt(cached.cpuSecondsPer1k / ceiling.cpuSecondsPer1k, 0)}x).`;
}
