/**
 * Regenerates test/fixtures/mesh-v0/expected.json: what GraphQL Mesh v0 itself answers to each
 * query of test/fixtures/mesh-v0/ (one `<name>.graphql` each) over bench/mesh-v0/.meshrc.yaml,
 * and how many calls each answer cost each backend. It is the reference Junction's answers over
 * the same file (JUNCTION_CONFIG=bench/mesh-v0/.meshrc.yaml) are held to.
 *
 *   node --import tsx bench/mesh-v0/record-expected.ts
 *
 * (about 15 s). It starts the payments and messaging demo backends in this process on free ports,
 * with the test harness's data (createSeed() with its default seed, 42, given here explicitly), and the
 * demo credentials; runs `mesh build --dir bench/mesh-v0` and `mesh start` on a free port; then, for
 * each query: resets the backends' counters (POST /_stats/reset), sends the query, reads the
 * counters (GET /_stats), and does it all a second time, refusing to write anything unless both
 * runs agree (answers and counts) and no answer carries GraphQL errors. Everything it started is
 * stopped at the end. Run it again after changing the config, a query, the seed or Mesh's version.
 *
 * expected.json: `meta` (how it was made), and `queries.<name>`:
 * - `response`: Mesh's JSON answer as parsed, keys in the order Mesh wrote them (Mesh does not
 *   always keep the query's order around a linked field: compare as data, not as text);
 * - `upstream.<backend>`: `total` calls, calls per `operations` name, and `batchSizes` (ids per
 *   batch call, in arrival order), as the demo backend's /_stats counts them (payments serves the
 *   config's `billing` source, messaging its `sms` source). Only those two run; a gateway that
 *   also has maps must make no maps call for these queries.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { startDemoBackends } from '../../sources/demo/index.ts';
import { createSeed } from '../../sources/demo/seed.ts';
import type { StatsSnapshot } from '../../sources/demo/stats.ts';
import { freePort, ProcessSet, waitForOutput } from '../processes.ts';
import { post, waitAnswering } from '../systems.ts';
import {
  buildMeshV0, MESH_SERVING, MESH_V0_CONFIG, MESH_V0_FIXTURES, MESH_V0_QUERIES, meshV0Body, meshV0Env, startMeshV0, type MeshV0QueryName,
} from './mesh-v0.ts';

/** The test harness's seed (test/helpers/harness.ts calls createSeed() with its defaults). */
const SEED = 42;
const BACKENDS = ['payments', 'messaging'] as const;
type Backend = (typeof BACKENDS)[number];
const OUT = `${MESH_V0_FIXTURES}/expected.json`;

interface Upstream {
  total: number;
  operations: Record<string, number>;
  batchSizes: Record<string, number[]>;
}

interface Recorded {
  response: unknown;
  upstream: Record<Backend, Upstream>;
}

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const set = new ProcessSet(false);
  const backends = await startDemoBackends({ only: BACKENDS, seed: createSeed({ seed: SEED }) });
  try {
    const urls = { payments: backends.payments!.url, messaging: backends.messaging!.url };
    const env = { ...process.env, ...meshV0Env(urls) };
    delete env.NODE_OPTIONS;
    log(`backends: payments ${urls.payments}, messaging ${urls.messaging} (seed ${SEED})`);
    await buildMeshV0(set, env);
    const port = await freePort();
    const mesh = startMeshV0(set, env, port);
    await waitForOutput(mesh, MESH_SERVING, 60_000);
    const system = { url: `http://127.0.0.1:${port}/graphql`, headers: {} };
    // Mesh loads its sources on the first request.
    await waitAnswering(system, meshV0Body('GraphqlMessages'), 60_000);

    const resetStats = () => Promise.all(BACKENDS.map(async (b) => (await fetch(`${urls[b]}/_stats/reset`, { method: 'POST' })).arrayBuffer()));
    const readStats = async (): Promise<Record<Backend, Upstream>> => {
      const entries = await Promise.all(BACKENDS.map(async (b) => {
        const { total, operations, batchSizes } = (await (await fetch(`${urls[b]}/_stats`)).json()) as StatsSnapshot;
        return [b, { total, operations, batchSizes }] as const;
      }));
      return Object.fromEntries(entries) as Record<Backend, Upstream>;
    };
    const once = async (name: MeshV0QueryName): Promise<Recorded> => {
      await resetStats();
      const answer = await post(system, meshV0Body(name));
      const upstream = await readStats();
      if (answer.status !== 200) throw new Error(`${name}: Mesh answered HTTP ${answer.status}: ${answer.text.slice(0, 300)}`);
      const response = JSON.parse(answer.text) as { errors?: unknown };
      if (response.errors) throw new Error(`${name}: Mesh answered with errors: ${answer.text.slice(0, 600)}`);
      return { response, upstream };
    };

    const queries: Record<string, Recorded> = {};
    for (const name of MESH_V0_QUERIES) {
      const first = await once(name);
      const second = await once(name);
      if (JSON.stringify(first) !== JSON.stringify(second)) {
        throw new Error(`${name}: two runs differ:\n${JSON.stringify(first).slice(0, 400)}\n${JSON.stringify(second).slice(0, 400)}`);
      }
      queries[name] = first;
      log(`${name.padEnd(24)} ${String(Buffer.byteLength(JSON.stringify(first.response))).padStart(6)} bytes  `
        + BACKENDS.map((b) => `${b} ${first.upstream[b].total} ${JSON.stringify(first.upstream[b].operations)}`).join('  '));
    }

    const version = (JSON.parse(readFileSync('node_modules/@graphql-mesh/cli/package.json', 'utf8')) as { version: string }).version;
    const expected = {
      meta: {
        about: 'GraphQL Mesh v0\'s own answers to test/fixtures/mesh-v0/<name>.graphql over the config below, and the upstream calls each cost; regenerate with the script.',
        script: 'node --import tsx bench/mesh-v0/record-expected.ts',
        config: MESH_V0_CONFIG,
        mesh: `@graphql-mesh/cli ${version}`,
        seed: `createSeed({ seed: ${SEED} }) (the test harness's data), demo credentials`,
        backends: [...BACKENDS],
        upstream: 'queries.<name>.upstream.<backend>: what each demo backend counted (GET /_stats) for one request: payments serves the file\'s `billing` source, messaging its `sms` source',
      },
      queries,
    };
    writeFileSync(OUT, `${JSON.stringify(expected, null, 2)}\n`);
    log(`wrote ${OUT}`);
  } finally {
    await set.stopAll();
    await Promise.allSettled(Object.values(backends).map((b) => b.close()));
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`record-expected failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
