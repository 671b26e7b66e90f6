import type { GraphQLSchema } from 'graphql';
import { extractExtensionsFromSchema, makeExecutableSchema, mergeSchemas } from '@graphql-tools/schema';
import { getDocumentNodeFromSchema, getResolversFromSchema, type IResolvers } from '@graphql-tools/utils';
import type { Contract } from '../../schema/contract.ts';
import { applyAuthorization } from '../../schema/authorization.ts';
import { applyRateLimits } from '../../schema/rate-limit.ts';
import { carryDescriptions, checkOrigins } from './carry-descriptions.ts';
import { DEFAULT_MESH_CONFIG } from './source-schemas.ts';
import { readMeshConfig, type MeshConfig } from './byo/mesh-config.ts';
import type { SourceRuntime } from '../engine/runtime.ts';
import { sourceOperations, type OperationsFor } from '../engine/operations.ts';
import type { EntityCache } from '../upstream/entity-cache.ts';
import type { LoadOptions } from './byo/index.ts';
import type { SourceReport } from './byo/report.ts';
import type { LoadedSource } from './byo/types.ts';
import { importModule } from './modules.ts';

export class ContractMismatch extends Error {
  readonly code = 'CONTRACT_MISMATCH';
  override readonly name = 'ContractMismatch';
  constructor(readonly problems: string[]) {
    super(`The public schema no longer matches the backends' specs:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * A code contract's schema: its types and resolvers, with the policy its directives say
 * (authorization wraps the rate limit: a denied call spends none of the caller's allowance),
 * checked against the compiled contracts of the sources it is served over and documented with
 * the specs' words. A spec change that breaks the contract stops start-up with the reason.
 */
export function buildContractSchema(contract: Contract, sourceSchemas: Map<string, GraphQLSchema>): GraphQLSchema {
  const schema = applyAuthorization(applyRateLimits(makeExecutableSchema({
    typeDefs: [...contract.typeDefs],
    resolvers: contract.resolvers.map((r) => r as IResolvers),
  })));
  const origins = contract.origins ?? [];
  const problems = checkOrigins(origins, schema, sourceSchemas);
  if (problems.length > 0) throw new ContractMismatch(problems);
  return carryDescriptions(schema, origins, sourceSchemas);
}

/** The contract module the sources file names: its `contract` export (or default), checked for shape. */
export async function loadContract(path: string): Promise<Contract> {
  let module: Record<string, unknown>;
  try {
    module = await importModule(path);
  } catch (err) {
    throw new ContractMismatch([`the contract module ${path} could not be loaded: ${(err as Error).message}`]);
  }
  const contract = (module.contract ?? module.default) as Partial<Contract> | undefined;
  if (!contract || !Array.isArray(contract.sources) || !Array.isArray(contract.typeDefs) || !Array.isArray(contract.resolvers)) {
    throw new ContractMismatch([`${path} exports no contract: expected \`export const contract = { sources, typeDefs, resolvers }\``]);
  }
  return contract as Contract;
}

export interface GatewaySchemaOptions extends LoadOptions {
  /** The file that lists the sources. Default `.meshrc.yaml`. */
  meshConfig?: string;
  env?: Record<string, string | undefined>;
  /** The entity cache, for declared links that say `@cacheControl`. */
  entityCache?: EntityCache;
  /** The sources file, already read (createGateway reads it first, for its plugins). */
  sourcesFile?: MeshConfig;
}

export interface GatewaySchema {
  schema: GraphQLSchema;
  /** One per user source: what its contract declared, what was exposed, what was lost. */
  reports: SourceReport[];
  /** The code contract served, when the file names one (`contract:`). */
  contract?: Contract;
  /** The operations of each source the contract is served over, for its resolvers (`context.sources`). */
  operations: Map<string, OperationsFor>;
  /** Each user source's runtime: its probe for `/readyz` and its breaker. */
  runtimes: SourceRuntime[];
  /** Every source as loaded (its schema in its own names), for what calls them outside a request: polls. */
  sources: LoadedSource[];
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
 * What Junction serves, from the sources file (JUNCTION_CONFIG): every source it names, loaded and
 * run by the engine; a code contract (`contract:`) in place of the sources it is served over; and
 * every other source composed as GraphQL Mesh v0 composes them (compose.ts: merged at the root,
 * transforms, declared links), or under its own namespace where its entry says `namespace: true`.
 * Relative paths in the file are read from its folder.
 */
export async function buildGatewaySchema(options: GatewaySchemaOptions): Promise<GatewaySchema> {
  const { meshConfig = DEFAULT_MESH_CONFIG, env = process.env } = options;
  const config = options.sourcesFile ?? readMeshConfig(meshConfig, env);
  const contract = config.contract ? await loadContract(config.contract) : undefined;
  if (contract) {
    const named = new Set(config.entries.map((e) => e.name));
    const missing = contract.sources.filter((name) => !named.has(name));
    if (missing.length > 0) {
      throw new CuratedSourcesIncomplete(`${meshConfig}: the contract (${config.contract}) is served over ${contract.sources.join(', ')}, but the file names no source ${missing.join(', ')}`);
    }
  }
  if (config.entries.length === 0 && !contract) throw new CuratedSourcesIncomplete(`${meshConfig} names no source: nothing to serve`);
  // The loaders (Mesh's OpenAPI engine, the SOAP handler) are imported only when a file names sources.
  const [{ loadUserSources }, { namespaceSource }, { reportSource }, { composeSources }] = await Promise.all([
    import('./byo/index.ts'),
    import('./byo/namespace.ts'),
    import('./byo/report.ts'),
    import('./compose.ts'),
  ]);
  const loaded = await loadUserSources(config.entries, { ...options, cwd: config.baseDir });
  const underContract = new Set(contract?.sources ?? []);
  const contractSources = loaded.filter((s) => underContract.has(s.name));
  const served = loaded.filter((s) => !underContract.has(s.name));
  // A call carrying a loader's keys reports how many (`batchSize`) in the debug extension.
  for (const spec of Object.values(contract?.loaders ?? {})) {
    if (spec.keysArg) contractSources.find((s) => s.name === spec.source)?.runtime?.keyArgs.add(spec.keysArg);
  }
  const contractSchema = contract ? buildContractSchema(contract, new Map(contractSources.map((s) => [s.name, s.schema]))) : undefined;
  const transformsOf = new Map(config.entries.map((e) => [e.name, e.transforms]));
  const merged = served.filter((s) => !s.namespace);
  const namespaced = served.filter((s) => s.namespace);
  const composed = merged.length > 0 || config.resolvers.length > 0 || config.typeDefs.length > 0 || config.subscriptions.length > 0
    ? await composeSources({
      sources: merged.map((source) => ({ source, transforms: transformsOf.get(source.name) ?? [] })),
      namespaced,
      typeDefs: config.typeDefs,
      resolvers: config.resolvers,
      subscriptions: config.subscriptions,
      // Whether a topic's source is open to anonymous callers: its subscriptions are then too.
      publicTopics: new Set(config.entries.filter((e) => e.options.public === true).flatMap((e) => [...(e.options.webhooks ?? []), ...(e.options.polls ?? [])].map((w) => w.pubsubTopic))),
      baseDir: config.baseDir,
      ...(contractSchema ? { taken: contractSchema } : {}),
      ...(options.entityCache ? { entityCache: options.entityCache } : {}),
    })
    : undefined;
  const parts = [...(contractSchema ? [contractSchema] : []), ...(composed ? [composed.schema] : []), ...namespaced.map(namespaceSource)];
  return {
    schema: parts.length === 1 ? parts[0]! : mergeParts(parts),
    reports: served.map(reportSource),
    ...(contract ? { contract } : {}),
    operations: new Map(contractSources.map((s) => [s.name, sourceOperations(s)])),
    runtimes: loaded.flatMap((s) => (s.runtime ? [s.runtime] : [])),
    sources: loaded,
    context: composed?.context ?? {},
    ignored: config.ignored,
  };
}
