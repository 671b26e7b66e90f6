import type { GraphQLSchema } from 'graphql';
import { extractExtensionsFromSchema, mergeSchemas } from '@graphql-tools/schema';
import { getDocumentNodeFromSchema, getResolversFromSchema } from '@graphql-tools/utils';
import { buildPublicSchema, origins } from '../../schema/index.ts';
import { DEMO_CONTRACTS, SOURCE_NAMES } from '../../sources/index.ts';
import { carryDescriptions, checkOrigins } from './carry-descriptions.ts';
import { DEFAULT_MESH_CONFIG, DEFAULT_MESH_DIR, loadSourceSchemas } from './source-schemas.ts';
import { readMeshConfig, type MeshConfig } from './byo/mesh-config.ts';
import type { SourceRuntime } from '../engine/runtime.ts';
import type { EntityCache } from '../upstream/entity-cache.ts';
import type { LoadOptions } from './byo/index.ts';
import type { SourceReport } from './byo/report.ts';

export class ContractMismatch extends Error {
  readonly code = 'CONTRACT_MISMATCH';
  override readonly name = 'ContractMismatch';
  constructor(readonly problems: string[]) {
    super(`The public schema no longer matches the backends' specs:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * The curated public contract (schema/), checked against the source schemas GraphQL Mesh built
 * from the specs, and documented with the specs' words. A spec change that breaks the contract
 * stops start-up (and the tests) with the reason.
 */
export function buildCuratedSchema(meshDir = DEFAULT_MESH_DIR): GraphQLSchema {
  const publicSchema = buildPublicSchema();
  const sourceSchemas = loadSourceSchemas(SOURCE_NAMES, meshDir);
  const problems = checkOrigins(origins, publicSchema, sourceSchemas);
  if (problems.length > 0) throw new ContractMismatch(problems);
  return carryDescriptions(publicSchema, origins, sourceSchemas);
}

export interface GatewaySchemaOptions extends LoadOptions {
  meshDir?: string;
  /** The file that lists the sources. Default `.meshrc.yaml`. */
  meshConfig?: string;
  env?: Record<string, string | undefined>;
  /** The entity cache, for declared links that say `@cacheControl`. */
  entityCache?: EntityCache;
  /** The sources file, already read (main.ts reads it first, to know which demo backends to start). */
  sourcesFile?: MeshConfig;
}

export interface GatewaySchema {
  schema: GraphQLSchema;
  /** One per user source: what its contract declared, what was exposed, what was lost. */
  reports: SourceReport[];
  /** Whether the curated demo contract is served (the file names the demo sources). */
  curated: boolean;
  /** Each user source's runtime: its probe for `/readyz` and its breaker. */
  runtimes: SourceRuntime[];
  /** Put on every request's context (the in-context SDK that declared links call). */
  context: Record<string, unknown>;
  /** Top-level keys of the file that Junction leaves to Mesh (serve, cache, ...). */
  ignored: string[];
}

/**
 * The parts served side by side, each with every resolver it has. `mergeSchemas({ schemas })`
 * leaves out `defaultMergedResolver`, the one that reads a delegated field by its alias: every
 * aliased field of a declared source answered null (and the response cache aliases `id` in every
 * document it runs).
 */
function mergeParts(parts: GraphQLSchema[]): GraphQLSchema {
  return mergeSchemas({
    typeDefs: parts.map((s) => getDocumentNodeFromSchema(s)),
    resolvers: parts.map((s) => getResolversFromSchema(s, true)),
    schemaExtensions: parts.map((s) => extractExtensionsFromSchema(s)),
  });
}

export class CuratedSourcesIncomplete extends Error {
  readonly code = 'DEMO_SOURCES_INCOMPLETE';
  override readonly name = 'CuratedSourcesIncomplete';
}

/**
 * What Junction serves, from the sources file (JUNCTION_CONFIG): the curated demo contract when
 * the file names the demo sources, and every other source composed as GraphQL Mesh v0 composes
 * them (compose.ts: merged at the root, transforms, declared links), or under its own namespace
 * where its entry says `namespace: true`. Relative paths in the file are read from its folder.
 */
export async function buildGatewaySchema(options: GatewaySchemaOptions): Promise<GatewaySchema> {
  const { meshDir = DEFAULT_MESH_DIR, meshConfig = DEFAULT_MESH_CONFIG, env = process.env } = options;
  const config = options.sourcesFile ?? readMeshConfig(meshConfig, DEMO_CONTRACTS, env);
  if (config.curated.length > 0 && config.curated.length < SOURCE_NAMES.length) {
    const missing = SOURCE_NAMES.filter((name) => !config.curated.includes(name));
    throw new CuratedSourcesIncomplete(`${meshConfig} names the demo source(s) ${config.curated.join(', ')} but not ${missing.join(', ')}: the curated contract links all three, so name all or none`);
  }
  const curated = config.curated.length > 0 ? buildCuratedSchema(meshDir) : undefined;
  const nothing = { reports: [], runtimes: [], context: {}, ignored: config.ignored };
  if (config.entries.length === 0) {
    if (!curated) throw new CuratedSourcesIncomplete(`${meshConfig} names no source: nothing to serve`);
    return { schema: curated, curated: true, ...nothing };
  }
  // The loaders (Mesh's OpenAPI engine, the SOAP handler) cost tens of MB of memory; a gateway
  // with no user sources never loads them.
  const [{ loadUserSources }, { namespaceSource }, { reportSource }, { composeSources }] = await Promise.all([
    import('./byo/index.ts'),
    import('./byo/namespace.ts'),
    import('./byo/report.ts'),
    import('./compose.ts'),
  ]);
  const loaded = await loadUserSources(config.entries, { ...options, cwd: config.baseDir });
  const transformsOf = new Map(config.entries.map((e) => [e.name, e.transforms]));
  const merged = loaded.filter((s) => !s.namespace);
  const namespaced = loaded.filter((s) => s.namespace);
  const composed = merged.length > 0 || config.resolvers.length > 0 || config.typeDefs.length > 0
    ? await composeSources({
      sources: merged.map((source) => ({ source, transforms: transformsOf.get(source.name) ?? [] })),
      namespaced,
      typeDefs: config.typeDefs,
      resolvers: config.resolvers,
      baseDir: config.baseDir,
      ...(curated ? { taken: curated } : {}),
      ...(options.entityCache ? { entityCache: options.entityCache } : {}),
    })
    : undefined;
  const parts = [...(curated ? [curated] : []), ...(composed ? [composed.schema] : []), ...namespaced.map(namespaceSource)];
  return {
    schema: parts.length === 1 ? parts[0]! : mergeParts(parts),
    reports: loaded.map(reportSource),
    curated: curated !== undefined,
    runtimes: loaded.flatMap((s) => (s.runtime ? [s.runtime] : [])),
    context: composed?.context ?? {},
    ignored: config.ignored,
  };
}
