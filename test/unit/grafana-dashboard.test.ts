import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { createMemoryStore } from '../../gateway/cache/store.ts';

/**
 * The Grafana dashboard shipped in docs/grafana cannot drift from the metrics: every metric name
 * in every panel's expression (and in the variables' queries) is one a real gateway exposes, and
 * every metric of Junction's own is on some panel. Names are read from the PromQL by regex: every
 * selector in the dashboard carries the `instance` matcher, so a name is always followed by `{`.
 */

interface Target { expr: string; datasource?: { uid?: string } }
interface Panel { type: string; title: string; id: number; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { uid?: string }; targets?: Target[] }
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

const dashboard = JSON.parse(readFileSync('docs/grafana/junction-dashboard.json', 'utf8')) as Dashboard;
const queries = dashboard.panels.filter((panel) => panel.type !== 'row');
const exprs = queries.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));

/** Metric names a PromQL expression selects: each name is followed by its label matchers. */
const metricsIn = (expr: string) => [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)].map((m) => m[1]!);

/** Every series name an exposition can hold: each family, and a histogram's or summary's own series. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

let h: Harness;
let exposed: Set<string>;
let families: string[];
beforeAll(async () => {
  h = await startHarness({ cacheStore: createMemoryStore() });
  const text = (await h.gateway.metrics()).body;
  exposed = exposedNames(text);
  families = [...text.matchAll(/^# TYPE (junction_\S+) /gm)].map((m) => m[1]!);
});
afterAll(() => h.close());

describe('docs/grafana/junction-dashboard.json', () => {
  it('is a Grafana 10 dashboard with a Prometheus data source variable and an instance variable', () => {
    expect(dashboard.uid).toBe('junction-gateway');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(38);
    const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variables.instance).toMatchObject({ type: 'query' });
    // Every panel and every query reads from the chosen data source.
    for (const panel of queries) {
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, panel.title).toBe('${datasource}');
    }
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { gridPos, title } of dashboard.panels) expect(gridPos.x + gridPos.w, title).toBeLessThanOrEqual(24);
  });

  it('has a query on every panel, each selector filtered by $instance', () => {
    expect(queries.length).toBeGreaterThanOrEqual(20);
    for (const panel of queries) expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    for (const { panel, expr } of exprs) {
      const selectors = [...expr.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*\s*\{([^}]*)\}/g)];
      expect(selectors.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const [, matchers] of selectors) expect(matchers, `${panel}: ${expr}`).toContain('instance=~"$instance"');
      // A selector without braces would escape the name check: none but function calls and keywords may be bare.
      const bare = expr.replace(/"[^"]*"/g, '').replace(/\{[^}]*\}/g, '{}').match(/\b(junction|process|nodejs)_[a-zA-Z0-9_:]*\b(?!\s*\{)/g);
      expect(bare, `${panel}: ${expr}`).toBeNull();
    }
  });

  it('names only metrics a real gateway exposes', () => {
    const used = [
      ...exprs.flatMap(({ panel, expr }) => metricsIn(expr).map((name) => ({ where: panel, name }))),
      ...dashboard.templating.list.flatMap((v) => {
        const query = typeof v.query === 'string' ? v.query : v.query.query;
        return [...query.matchAll(/label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/g)].map((m) => ({ where: `variable ${v.name}`, name: m[1]! }));
      }),
    ];
    expect(used.length).toBeGreaterThan(30);
    const missing = used.filter(({ name }) => !exposed.has(name)).map(({ where, name }) => `${where}: ${name}`);
    expect(missing).toEqual([]);
  });

  it('shows every metric of Junction\'s own on some panel', () => {
    const used = new Set(exprs.flatMap(({ expr }) => metricsIn(expr)).map((name) => name.replace(/_(bucket|sum|count)$/, '')));
    expect(families.length).toBeGreaterThanOrEqual(20);
    expect(families.filter((family) => !used.has(family))).toEqual([]);
  });
});
