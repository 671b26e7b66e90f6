import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callCounts, startHarness, type Harness } from '../helpers/harness.ts';

/**
 * Regression tests for what an outside probe of 0.2.0 found (issue 14), each through the public
 * HTTP surface and named after the behaviour it protects. Production mode throughout.
 */

const post = (h: Harness, body: BodyInit, headers: Record<string, string> = {}) =>
  h.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers }, body })
    .then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }))
    .then((r) => ({ ...r, body: JSON.parse(r.text) as { data?: any; errors?: { message: string; path?: unknown[]; extensions?: Record<string, any> }[] } }));

/** Six levels of fragments, each spreading the one below `spreads` times: spreads^6 paths in about 1 KB. */
function fragmentFanOut(spreads: number, levels = 6): string {
  const fragments = Array.from({ length: levels }, (_, i) => i === levels - 1
    ? `fragment F${i} on Merchant { id name }`
    : `fragment F${i} on Merchant { ${`...F${i + 1} `.repeat(spreads)}}`);
  return `query($m: ID!) { merchant(id: $m) { ...F0 } } ${fragments.join(' ')}`;
}

describe('document walks', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  it('refuses fragments that spread each other many times over in milliseconds, without holding the event loop', async () => {
    const token = `Bearer ${await h.issuer.token()}`;
    for (const spreads of [20, 25]) {
      const query = fragmentFanOut(spreads);
      expect(query.length).toBeLessThan(1_100);
      const started = performance.now();
      const health = h.fetch('/healthz').then(() => performance.now() - started);
      const { status, body } = await post(h, JSON.stringify({ query, variables: { m: h.seed.merchants[0]!.id } }), { authorization: token });
      const elapsed = performance.now() - started;
      expect(status).toBe(400);
      expect(body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY', limit: 'MAX_SELECTIONS', maxSelections: 5_000 });
      expect(elapsed).toBeLessThan(100);
      expect(await health).toBeLessThan(100);
    }
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
  });

  it('answers fragments that spread each other a few times (486 selections written out)', async () => {
    const merchant = h.seed.merchants[0]!;
    const { status, body } = await post(h, JSON.stringify({ query: fragmentFanOut(3), variables: { m: merchant.id } }), { authorization: `Bearer ${await h.issuer.token()}` });
    expect(status).toBe(200);
    expect(body).toEqual({ data: { merchant: { id: merchant.id, name: merchant.name } } });
  });

  it('counts list sizes given by variables\' default values against the cost limit, as it counts literals', async () => {
    const token = { authorization: `Bearer ${await h.issuer.token()}` };
    const nested = (first: string, second: string) => `{ payments(first: ${first}) { edges { node { customer { payments(first: ${second}) { edges { node { id } } } } } } } }`;
    const literal = await post(h, JSON.stringify({ query: nested('100', '100') }), token);
    expect(literal.status).toBe(400);
    expect(literal.body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY' });
    const defaults = await post(h, JSON.stringify({ query: `query($a: Int = 100, $b: Int = 100) ${nested('$a', '$b')}` }), token);
    expect(defaults.status).toBe(400);
    expect(defaults.body.errors![0]!.extensions).toEqual(literal.body.errors![0]!.extensions);
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
  });
});
