import { fileURLToPath } from 'node:url';
import { readMeshConfig } from '../../gateway/composition/byo/mesh-config.ts';
import { loadUserSources } from '../../gateway/composition/byo/index.ts';
import type { LoadedSource } from '../../gateway/composition/byo/types.ts';
import { createLoaders } from '../../gateway/engine/loaders.ts';
import { sourceOperations } from '../../gateway/engine/operations.ts';
import type { RuntimeHooks } from '../../gateway/engine/runtime.ts';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_UPSTREAM_TIMEOUT_MS } from '../../gateway/upstream/upstream-fetch.ts';
import type { SourceOperations } from '../../schema/contract.ts';
import type { JunctionContext } from '../../schema/context.ts';
import { ANONYMOUS } from '../../schema/principal.ts';
import { mapsLoaders } from '../../sources/maps/loaders.ts';
import { messagingLoaders } from '../../sources/messaging/loaders.ts';
import { paymentsLoaders } from '../../sources/payments/loaders.ts';
import { randomCredentials, type SourceCredentials } from '../../sources/demo/credentials.ts';
import { credentialVariables } from '../../sources/demo/embedded.ts';
import { SOURCE_NAMES, startDemoBackends, type SourceName } from '../../sources/demo/index.ts';
import { createSeed, type Seed } from '../../sources/demo/seed.ts';
import type { DemoBackend } from '../../sources/demo/server.ts';

/**
 * For the tests of the demo sources' loaders and operations: the sources as the gateway runs them,
 * without the gateway around them. Each is the entry .meshrc.yaml declares (read with the file's
 * own `{env.*}` variables, so its options are exactly the file's), loaded by the engine
 * (`loadUserSources`), reached through `sourceOperations` and the loaders `createLoaders` makes
 * from sources/<name>/loaders.ts, as gateway/create-gateway.ts does per request.
 */

const MESH_CONFIG = fileURLToPath(new URL('../../.meshrc.yaml', import.meta.url));
const URL_VARIABLE: Record<SourceName, string> = { payments: 'PAYMENTS_URL', maps: 'MAPS_URL', messaging: 'MESSAGING_URL' };
const TIMEOUT_VARIABLE: Record<SourceName, string> = { payments: 'PAYMENTS_TIMEOUT_MS', maps: 'MAPS_TIMEOUT_MS', messaging: 'MESSAGING_TIMEOUT_MS' };

/** Every loader the demo contract declares (schema/index.ts), by name. */
export const DEMO_LOADER_SPECS = { ...paymentsLoaders, ...mapsLoaders, ...messagingLoaders };

export type DemoLoaders = JunctionContext['loaders'];

export interface DemoSources {
  /** The sources as loaded, by name (their runtimes probe for `/readyz`). */
  loaded: Partial<Record<SourceName, LoadedSource>>;
  /** Each loaded source's operations, bound to a fresh request's context (an anonymous caller). */
  operations(): Partial<Record<SourceName, SourceOperations>>;
  /** One source's operations (throws when it was not loaded). */
  source(name: SourceName): SourceOperations;
  /** A fresh request's loaders: batching and de-duplication never cross two calls of this. */
  loaders(): DemoLoaders;
}

export interface LoadDemoSourcesOptions {
  /** Base URL of each source's backend (what `<NAME>_URL` holds); only these sources are loaded. */
  urls: Partial<Record<SourceName, string>>;
  /** What the gateway sends (`<NAME>_SECRET_KEY` and the like). */
  credentials: SourceCredentials;
  /** A source's own call timeout (`<NAME>_TIMEOUT_MS`). */
  timeoutMs?: Partial<Record<SourceName, number>>;
  /** The gateway's hooks for every call (deadline, debug record, resilience settings). Default none: the engine's defaults. */
  hooks?: RuntimeHooks;
}

/** Loads the demo sources named in `urls` from .meshrc.yaml, pointed at those URLs. */
export async function loadDemoSources(options: LoadDemoSourcesOptions): Promise<DemoSources> {
  const { urls, credentials, timeoutMs = {}, hooks = {} } = options;
  const env: Record<string, string> = {};
  for (const name of SOURCE_NAMES) {
    // Every entry is read (their credentials must be set); only the ones asked for are loaded.
    env[URL_VARIABLE[name]] = urls[name] ?? 'http://127.0.0.1:9';
    Object.assign(env, credentialVariables(name, credentials));
    const ms = timeoutMs[name];
    if (ms !== undefined) env[TIMEOUT_VARIABLE[name]] = String(ms);
  }
  const config = readMeshConfig(MESH_CONFIG, env);
  const entries = config.entries.filter((entry) => urls[entry.name as SourceName] !== undefined);
  const list = await loadUserSources(entries, {
    cwd: config.baseDir, timeoutMs: DEFAULT_UPSTREAM_TIMEOUT_MS, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES, hooks,
  });
  const loaded = Object.fromEntries(list.map((source) => [source.name, source])) as Partial<Record<SourceName, LoadedSource>>;
  // As the gateway does: a call carrying a loader's keys reports how many.
  for (const spec of Object.values(DEMO_LOADER_SPECS)) {
    if (spec.keysArg) loaded[spec.source as SourceName]?.runtime?.keyArgs.add(spec.keysArg);
  }
  const bound = list.map((source) => [source.name as SourceName, sourceOperations(source)] as const);
  const operations = () => Object.fromEntries(bound.map(([name, bind]) => [name, bind({ principal: ANONYMOUS })])) as Partial<Record<SourceName, SourceOperations>>;
  const specs = Object.fromEntries(Object.entries(DEMO_LOADER_SPECS).filter(([, spec]) => loaded[spec.source as SourceName] !== undefined));
  return {
    loaded,
    operations,
    source(name) {
      const found = operations()[name];
      if (!found) throw new Error(`the demo source ${name} was not loaded`);
      return found;
    },
    loaders: () => createLoaders(specs, operations() as Record<string, SourceOperations>) as unknown as DemoLoaders,
  };
}

export interface TestSources extends DemoSources {
  seed: Seed;
  credentials: SourceCredentials;
  backends: Partial<Record<SourceName, DemoBackend>>;
  /** The same sources loaded anew over the same backends: a fresh runtime (breaker, retry budget, pool). */
  reload(options?: Pick<LoadDemoSourcesOptions, 'timeoutMs' | 'hooks'>): Promise<DemoSources>;
  close(): Promise<void>;
}

/** Starts the demo backends named (fresh random credentials, one seed) and loads their sources over them. */
export async function startTestSources(only: readonly SourceName[] = SOURCE_NAMES, seed: Seed = createSeed()): Promise<TestSources> {
  const credentials = randomCredentials();
  const backends = await startDemoBackends({ only, seed, credentials });
  const urls = Object.fromEntries(Object.entries(backends).map(([name, backend]) => [name, backend.url]));
  const load = (options: Pick<LoadDemoSourcesOptions, 'timeoutMs' | 'hooks'> = {}) => loadDemoSources({ urls, credentials, ...options });
  let sources: DemoSources;
  try {
    sources = await load();
  } catch (err) {
    await Promise.allSettled(Object.values(backends).map((b) => b.close()));
    throw err;
  }
  return {
    ...sources,
    seed,
    credentials,
    backends,
    reload: load,
    close: async () => void (await Promise.allSettled(Object.values(backends).map((b) => b.close()))),
  };
}

export { readStats, credentialsSeen, resetBackend, armFault } from '../../sources/demo/test-surface.ts';
