import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { basicAuth } from '../../sources/demo/credentials.ts';

/**
 * bench/mesh-v0/.meshrc.yaml, a configuration written for GraphQL Mesh v0 (no TypeScript),
 * served by Junction unchanged: every answer equals GraphQL Mesh's own (recorded by
 * bench/mesh-v0/record-expected.ts in test/fixtures/mesh-v0/expected.json), at the same cost in
 * backend calls, batch sizes included.
 */
const FIXTURES = 'test/fixtures/mesh-v0';
const expected = JSON.parse(readFileSync(`${FIXTURES}/expected.json`, 'utf8')) as {
  queries: Record<string, { response: unknown; upstream: Record<'payments' | 'messaging', { total: number; operations: Record<string, number>; batchSizes: Record<string, number[]> }> }>;
};

/** The same data, whatever the order of keys Mesh wrote it in. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]));
  return value;
}

describe('a GraphQL Mesh v0 configuration, served unchanged', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      meshConfig: 'bench/mesh-v0/.meshrc.yaml',
      env: (b, c) => ({
        PAYMENTS_URL: b.payments.url,
        PAYMENTS_SECRET_KEY: c.payments.secretKey,
        MESSAGING_URL: b.messaging.url,
        MESSAGING_AUTHORIZATION: basicAuth(c.messaging.accountSid, c.messaging.authToken),
      }),
    });
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  for (const name of Object.keys(expected.queries)) {
    it(`answers ${name} exactly as Mesh does, with the same backend calls`, async () => {
      const { body } = await h.query(readFileSync(`${FIXTURES}/${name}.graphql`, 'utf8'));
      const want = expected.queries[name]!;
      expect(sortedKeys(body)).toEqual(sortedKeys(want.response));
      const stats = await h.stats();
      for (const backend of ['payments', 'messaging'] as const) {
        expect({ total: stats[backend].total, operations: stats[backend].operations }, backend).toEqual({
          total: want.upstream[backend].total,
          operations: want.upstream[backend].operations,
        });
      }
      expect(stats.maps.total).toBe(0);
    });
  }
});
