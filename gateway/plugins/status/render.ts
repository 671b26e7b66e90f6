import type { SourceState, SourceStatus, StatusReport } from './report.ts';

/**
 * The status page as one self-contained HTML document: inline CSS and inline SVG, no script and
 * no asset from anywhere (it works offline, and its content security policy forbids the rest). It
 * reloads itself every REFRESH_SEC seconds. Every text that comes from configuration or traffic
 * (source names, paths, topics, registration ids) goes through `escape`.
 */

/** How often the page reloads itself, in seconds. */
export const REFRESH_SEC = 5;

const STATE_LABEL: Record<SourceState, string> = { up: 'up', degraded: 'degraded', down: 'down', open: 'breaker open' };

export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' })[c]!);
}

const ms = (value: number | null) => (value === null ? '–' : value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value >= 100 ? Math.round(value) : value.toFixed(1)} ms`);
const percent = (ratio: number | null) => (ratio === null ? '–' : `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.01 ? 2 : 1)}%`);
const rate = (value: number) => `${value >= 100 ? Math.round(value) : value.toFixed(value >= 10 ? 1 : 2)}/s`;
const time = (iso: string) => iso.slice(11, 19);

/** Calls per bucket as bars, errors in red at their foot: the window's shape at a glance. */
function sparkline(series: SourceStatus['series']): string {
  const width = 300;
  const height = 36;
  const step = width / Math.max(series.length, 1);
  const top = Math.max(1, ...series.map((b) => b.calls));
  const bars = series.map((bucket, i) => {
    const x = (i * step).toFixed(1);
    const w = Math.max(step - 1, 1).toFixed(1);
    const all = (bucket.calls / top) * height;
    const bad = (bucket.errors / top) * height;
    return (all > 0 ? `<rect x="${x}" y="${(height - all).toFixed(1)}" width="${w}" height="${all.toFixed(1)}" class="ok"/>` : '')
      + (bad > 0 ? `<rect x="${x}" y="${(height - bad).toFixed(1)}" width="${w}" height="${bad.toFixed(1)}" class="bad"/>` : '');
  }).join('');
  return `<svg class="spark" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" aria-label="calls per interval"><line x1="0" y1="${height - 0.5}" x2="${width}" y2="${height - 0.5}" class="axis"/>${bars}</svg>`;
}

function sourceCard(name: string, s: SourceStatus, minutes: number): string {
  const figure = (label: string, value: string, warn = false) => `<div class="fig${warn ? ' warn' : ''}"><span class="v">${escape(value)}</span><span class="l">${label}</span></div>`;
  return `<section class="card ${s.state}" data-source="${escape(name)}">
<header><span class="badge ${s.state}">${STATE_LABEL[s.state]}</span><h3>${escape(name)}</h3></header>
<div class="figs">${figure('calls', rate(s.ratePerSec))}${figure('p50', ms(s.p50Ms))}${figure('p99', ms(s.p99Ms))}${figure('errors', percent(s.calls === 0 ? null : s.errorRate), s.errors > 0)}</div>
${sparkline(s.series)}<div class="axis-labels"><span>${minutes} min ago</span><span>now</span></div>
<p class="meta">${s.calls} call${s.calls === 1 ? '' : 's'} · ${s.errors} failed · ${s.rejected} refused (4xx) · ${s.coalesced} shared · breaker ${escape(s.breaker)} · probe ${escape(s.health)}${s.healthLatencyMs !== null ? ` (${s.healthLatencyMs} ms)` : ''}</p>
</section>`;
}

function table(headings: readonly string[], rows: readonly (readonly string[])[], empty: string): string {
  if (rows.length === 0) return `<p class="empty">${escape(empty)}</p>`;
  return `<table><thead><tr>${headings.map((h) => `<th>${escape(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((row) => `<tr>${row.map((cell) => `<td>${escape(cell)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

const outcomes = (counts: Record<string, number | undefined>) => Object.entries(counts).filter(([, n]) => (n ?? 0) > 0).map(([name, n]) => `${name} ${n}`).join(', ') || '–';

const CSS = `
:root{--up:#1a7f37;--degraded:#b35900;--down:#cf222e;--open:#8b0a50;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:1200px;margin:0 auto;padding:16px 20px 32px}
h1{font-size:20px;margin:0}h2{font-size:15px;margin:24px 0 8px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
h3{font-size:17px;margin:0;overflow-wrap:anywhere}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:12px 20px}.top .meta{color:var(--muted)}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;color:#fff;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em;white-space:nowrap}
.badge.up,.badge.ready{background:var(--up)}.badge.degraded{background:var(--degraded)}.badge.down,.badge.unready,.badge.draining{background:var(--down)}.badge.open{background:var(--open)}.badge.unknown{background:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.card{background:#fff;border:1px solid var(--line);border-left:6px solid var(--up);border-radius:8px;padding:12px 14px}
.card.degraded{border-left-color:var(--degraded)}.card.down{border-left-color:var(--down)}.card.open{border-left-color:var(--open)}
.card header{display:flex;align-items:center;gap:10px;margin-bottom:8px}
.figs{display:flex;gap:6px;justify-content:space-between}.fig{display:flex;flex-direction:column;min-width:0}
.fig .v{font-size:20px;font-weight:650;font-variant-numeric:tabular-nums;white-space:nowrap}.fig .l{font-size:11px;color:var(--muted);text-transform:uppercase}
.fig.warn .v{color:var(--down)}
.spark{display:block;width:100%;height:36px;margin:8px 0 0}.spark .ok{fill:#8fb8e8}.spark .bad{fill:var(--down)}.spark .axis{stroke:var(--line)}
.meta{margin:0;color:var(--muted);font-size:12px}.axis-labels{display:flex;justify-content:space-between;color:var(--muted);font-size:10px;margin:-2px 0 4px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:0 24px}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);border-radius:6px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);font-variant-numeric:tabular-nums;overflow-wrap:anywhere}th{font-size:12px;color:var(--muted);font-weight:600}
.empty{color:var(--muted);margin:4px 0}
.bar{height:10px;background:var(--line);border-radius:5px;overflow:hidden;margin:4px 0}.bar span{display:block;height:100%;background:var(--up)}
`;

export function renderStatusPage(report: StatusReport): string {
  const minutes = Math.round(report.window.windowMs / 60_000);
  const cards = Object.entries(report.sources).map(([name, s]) => sourceCard(name, s, minutes)).join('\n');
  const caches = Object.entries(report.caches).map(([layer, c]) => `<div><h3>${escape(layer)} cache: ${percent(c.hitRatio)} hits</h3><div class="bar"><span style="width:${((c.hitRatio ?? 0) * 100).toFixed(1)}%"></span></div><p class="meta">${escape(outcomes(c.outcomes))}</p></div>`).join('');
  const dependencies = Object.entries(report.dependencies).map(([name, d]) => `<span class="badge ${d.status === 'up' ? 'up' : 'down'}">${escape(name)} ${escape(d.status)}</span>`).join(' ');
  const readiness = ['ready', 'degraded', 'unready', 'draining'].includes(report.readiness) ? report.readiness : 'unknown';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="${REFRESH_SEC}">
<title>Junction status: ${escape(report.readiness)}</title><style>${CSS}</style></head>
<body><main>
<div class="top"><h1>Junction status</h1><span class="badge ${readiness}">${escape(report.readiness)}</span>${dependencies}
<span class="meta">${escape(report.mode)} · last ${minutes} min · ${report.requests.inFlight} request${report.requests.inFlight === 1 ? '' : 's'} in flight (of ${report.requests.limit}) · ${escape(time(report.generatedAt))} UTC · refreshes every ${REFRESH_SEC} s</span></div>
<h2>Sources</h2>
<div class="cards">${cards || '<p class="empty">No source.</p>'}</div>
<h2>Caches (last ${minutes} min)</h2>
${caches ? `<div class="grid2">${caches}</div>` : '<p class="empty">No cache look-up in the window (no cache store, or no traffic).</p>'}
<div class="grid2">
<div><h2>Webhooks received (since start)</h2>
${table(['path', 'outcomes'], Object.entries(report.webhooks.received).map(([path, counts]) => [path, outcomes(counts)]), 'No webhook delivery yet.')}
<h2>Recent deliveries</h2>
${table(['time (UTC)', 'path', 'outcome'], report.webhooks.recent.map((d) => [time(d.at), d.path, d.outcome]), 'None yet.')}</div>
<div><h2>Outbound deliveries (this instance)</h2>
${table(['registration', 'pending', 'delivered', 'failed', 'state'], Object.entries(report.deliveries.registrations).map(([id, d]) => [id, String(d.pending), String(d.delivered ?? 0), String(d.failed ?? 0), d.suspended ? `suspended: ${d.suspended}` : 'running']), 'No registration delivered from this instance.')}
${report.deliveries.omitted > 0 ? `<p class="meta">and ${report.deliveries.omitted} more</p>` : ''}
<h2>Polls</h2>
${table(['topic', 'polls', 'events', 'failed', 'standby'], Object.entries(report.polls).map(([topic, p]) => [topic, String(p.polls), String(p.events), String(p.failed), String(p.standby)]), 'No poll configured.')}
<h2>Subscriptions open</h2>
${table(['topic', 'open'], Object.entries(report.subscriptions).map(([topic, n]) => [topic, String(n)]), 'None open.')}</div>
</div>
</main></body></html>
`;
}
