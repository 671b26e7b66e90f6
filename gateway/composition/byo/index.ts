import type { SourceEntry } from './mesh-config.ts';
import type { LoadedSource } from './types.ts';
import { loadOpenApiSource } from './load-openapi.ts';
import { loadGraphQLSource } from './load-graphql.ts';
import { loadSoapSource } from '../soap/index.ts';
import { unknownRenames } from './namespace.ts';
import type { RuntimeHooks } from '../../engine/runtime.ts';

export interface LoadOptions {
  /** Where relative spec paths are resolved. Default process.cwd(). */
  cwd?: string;
  /** Time allowed for one upstream call, in milliseconds, unless a source sets its own. */
  timeoutMs: number;
  /** Largest upstream response read, in bytes (SOAP sources). */
  maxResponseBytes: number;
  fetch?: typeof globalThis.fetch;
  /** The gateway's hooks for every call of every source (deadline, debug record, breaker settings). */
  hooks?: RuntimeHooks;
}

/** Most keys in one batched call of a declared link, unless a source's entry says `batchSize`. */
export const DEFAULT_BATCH_SIZE = 100;

export class SourceLoadError extends Error {
  readonly code = 'SOURCE_LOAD_FAILED';
  override readonly name = 'SourceLoadError';
  constructor(readonly source: string, cause: unknown) {
    super(`source "${source}" could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

function loadOne(entry: SourceEntry, options: LoadOptions): Promise<LoadedSource> {
  const { cwd = process.cwd(), fetch, hooks = {} } = options;
  const common = {
    name: entry.name, cwd, timeoutMs: entry.options.timeoutMs ?? options.timeoutMs, maxResponseBytes: options.maxResponseBytes, hooks,
    ...(fetch ? { fetch } : {}),
  };
  switch (entry.kind) {
    case 'openapi':
      return loadOpenApiSource({ ...entry.options, ...common });
    case 'graphql':
      return loadGraphQLSource({ ...entry.options, ...common });
    case 'soap':
      return loadSoapSource({ ...entry.options, ...common });
  }
}

/** Loads every user source at once; the first that fails stops start-up with its name and reason. */
export async function loadUserSources(entries: readonly SourceEntry[], options: LoadOptions): Promise<LoadedSource[]> {
  return Promise.all(
    entries.map(async (entry) => {
      let loaded: LoadedSource;
      try {
        loaded = await loadOne(entry, options);
      } catch (err) {
        throw new SourceLoadError(entry.name, err);
      }
      const access = { public: entry.options.public === true, namespace: entry.options.namespace === true, batchSize: entry.options.batchSize ?? DEFAULT_BATCH_SIZE, ...(entry.options.policy ? { policy: entry.options.policy } : {}),
        forwardIdentity: 'forwardIdentity' in entry.options && entry.options.forwardIdentity === true,
      };
      if (!entry.options.rename) return { ...loaded, ...access };
      const unknown = unknownRenames(loaded.schema, entry.options.rename);
      if (unknown.length > 0) throw new SourceLoadError(entry.name, new Error(`rename names what the source does not have: ${unknown.join(', ')}`));
      return { ...loaded, ...access, rename: entry.options.rename };
    }),
  );
}
