/**
 * The Mesh v0 configuration of bench/mesh-v0/.meshrc.yaml, as the benchmark and
 * record-expected.ts run it: the environment it reads, `mesh build` and `mesh start` over it (as
 * for the baseline: Mesh's own CLI script under node, a free port since `mesh start` takes no port
 * 0, SIGKILL to stop it), and the queries of test/fixtures/mesh-v0/. The config itself is plain
 * YAML with stock handlers and transforms only, so nothing here touches the build's output.
 */
import { readFileSync } from 'node:fs';
import { basicAuth, DEMO_CREDENTIALS } from '../../sources/demo/credentials.ts';
import { MESH_BIN } from '../baseline.ts';
import { runToEnd, type Proc, type ProcessSet } from '../processes.ts';

export const MESH_V0_DIR = 'bench/mesh-v0';
/** What Junction is pointed at with JUNCTION_CONFIG. */
export const MESH_V0_CONFIG = `${MESH_V0_DIR}/.meshrc.yaml`;
export const MESH_V0_FIXTURES = 'test/fixtures/mesh-v0';
/** The queries of test/fixtures/mesh-v0/, one `<name>.graphql` each, in the order recorded. */
export const MESH_V0_QUERIES = ['PaymentCustomerMessages', 'RestPayment', 'GraphqlMessages', 'UnmatchedKey'] as const;
export type MeshV0QueryName = (typeof MESH_V0_QUERIES)[number];
/** The MeshV0 scenario's load: links three levels deep. */
export const MESH_V0_LOAD: MeshV0QueryName = 'PaymentCustomerMessages';
/** Printed by `mesh start` once it listens. */
export const MESH_SERVING = /Serving GraphQL Mesh/;

/** A query's document as stored (comments and all). */
export function meshV0Query(name: MeshV0QueryName): string {
  return readFileSync(new URL(`../../${MESH_V0_FIXTURES}/${name}.graphql`, import.meta.url), 'utf8');
}

/** `{ operationName, query[, variables] }` as JSON, the POST body the scenario and the recording send. */
export function meshV0Body(name: MeshV0QueryName, variables?: Record<string, unknown>): string {
  return JSON.stringify({ operationName: name, query: meshV0Query(name), ...(variables ? { variables } : {}) });
}

/** The variables `{env.NAME}` in the config reads: the backends' URLs and the demo credentials. */
export function meshV0Env(urls: { payments: string; messaging: string }): Record<string, string> {
  const { payments, messaging } = DEMO_CREDENTIALS;
  return {
    PAYMENTS_URL: urls.payments,
    PAYMENTS_SECRET_KEY: payments.secretKey,
    MESSAGING_URL: urls.messaging,
    MESSAGING_AUTHORIZATION: basicAuth(messaging.accountSid, messaging.authToken),
  };
}

/** `mesh build --dir bench/mesh-v0` (writes bench/mesh-v0/.mesh/, git-ignored). */
export async function buildMeshV0(set: ProcessSet, env: NodeJS.ProcessEnv): Promise<void> {
  await runToEnd(set, 'mesh build (mesh-v0)', process.execPath, [MESH_BIN, 'build', '--dir', MESH_V0_DIR], { env });
}

/** `mesh start --dir bench/mesh-v0 --port <port>`; it prints MESH_SERVING when it listens. */
export function startMeshV0(set: ProcessSet, env: NodeJS.ProcessEnv, port: number, cpu?: number): Proc {
  return set.start('mesh-v0 (mesh start)', process.execPath, [MESH_BIN, 'start', '--dir', MESH_V0_DIR, '--port', String(port)], {
    env: { ...env, PORT: String(port) }, cpu, hardStop: true,
  });
}
