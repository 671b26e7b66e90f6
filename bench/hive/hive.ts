/**
 * Hive Gateway, issue 19's second Node peer beside `mesh start`: `mesh-compose` (GraphQL Mesh v1's
 * composition CLI) over bench/hive/mesh.config.ts writes a supergraph at every bench start, and
 * `hive-gateway supergraph` serves it, one process (no fork), as its CLI runs by default. Both are
 * started as their packages' bin scripts under node, so the process measured is the gateway itself.
 *
 * The supergraph is build output, written to bench/hive/.supergraph/ (git-ignored), never committed.
 * Hive has no SOAP loader here: it serves the scenarios that need no maps call (HIVE_SCENARIOS).
 */
import { mkdirSync } from 'node:fs';
import { runToEnd, type Proc, type ProcessSet } from '../processes.ts';

const COMPOSE_BIN = 'node_modules/@graphql-mesh/compose-cli/esm/bin.js';
const GATEWAY_BIN = 'node_modules/@graphql-hive/gateway/dist/bin.js';
export const HIVE_CONFIG = 'bench/hive/mesh.config.ts';
const SUPERGRAPH_DIR = 'bench/hive/.supergraph';
export const SUPERGRAPH = `${SUPERGRAPH_DIR}/supergraph.graphql`;
/** Printed by `hive-gateway` once it listens (in colour, terminal or not). */
export const HIVE_SERVING = /Listening on http:/;

/** The scenarios Hive serves (the others need the maps source, SOAP, which it cannot load here). */
export const HIVE_SCENARIOS: readonly string[] = ['Payment'];
/** Why Hive is not in the others that compare gateways, for the reports. */
export const HIVE_LEFT_OUT: Record<string, string> = {
  Dashboard: 'needs maps (SOAP): places and geocoding',
  'Dashboard-pages': 'needs maps (SOAP)',
  Geocode: 'a SOAP field',
  Latency: 'the Dashboard: needs maps (SOAP)',
  MeshV0: 'the Mesh v0 file is served unchanged by Mesh and Junction; Hive reads no v0 file',
};

/** `mesh-compose -c bench/hive/mesh.config.ts -o bench/hive/.supergraph/supergraph.graphql`: local files only. */
export async function composeHive(set: ProcessSet, env: NodeJS.ProcessEnv): Promise<void> {
  mkdirSync(SUPERGRAPH_DIR, { recursive: true });
  await runToEnd(set, 'mesh-compose (hive)', process.execPath, [COMPOSE_BIN, '-c', HIVE_CONFIG, '-o', SUPERGRAPH], { env });
}

/** `hive-gateway supergraph <file> --host 127.0.0.1 --port <port>` with NODE_ENV=production; it prints HIVE_SERVING. */
export function startHive(set: ProcessSet, env: NodeJS.ProcessEnv, port: number, cpu?: number): Proc {
  return set.start('hive (hive-gateway)', process.execPath, [GATEWAY_BIN, 'supergraph', SUPERGRAPH, '--host', '127.0.0.1', '--port', String(port)], {
    env: { ...env, NODE_ENV: 'production' }, cpu,
  });
}
