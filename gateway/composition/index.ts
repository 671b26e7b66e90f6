import type { GraphQLSchema } from 'graphql';
import { mergeSchemas } from '@graphql-tools/schema';
import { buildPublicSchema, origins } from '../../schema/index.ts';
import { SOURCE_NAMES } from '../../sources/index.ts';
import { carryDescriptions, checkOrigins } from './carry-descriptions.ts';
import { DEFAULT_MESH_CONFIG, DEFAULT_MESH_DIR, loadSourceSchemas } from './source-schemas.ts';
import { readUserSources } from './byo/mesh-config.ts';
import type { LoadOptions } from './byo/index.ts';
import type { SourceReport } from './byo/report.ts';

export class ContractMismatch extends Error {
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
}

export interface GatewaySchema {
  schema: GraphQLSchema;
  /** One per user source: what its contract declared, what was exposed, what was lost. */
  reports: SourceReport[];
}

/**
 * What Junction serves: the curated contract, plus every other source in the config under its
 * own namespace (`Query.<source>`, types `<Source>_*`). The curated fields keep their direct
 * resolvers; only namespaced fields go through delegation.
 */
export async function buildGatewaySchema(options: GatewaySchemaOptions): Promise<GatewaySchema> {
  const { meshDir = DEFAULT_MESH_DIR, meshConfig = DEFAULT_MESH_CONFIG, env = process.env } = options;
  const curated = buildCuratedSchema(meshDir);
  const entries = readUserSources(meshConfig, SOURCE_NAMES, env);
  if (entries.length === 0) return { schema: curated, reports: [] };
  // The loaders (Mesh's OpenAPI engine, the SOAP handler, HTTP executors) cost tens of MB of
  // memory; a gateway with no user sources never loads them.
  const [{ loadUserSources }, { namespaceSource }, { reportSource }] = await Promise.all([
    import('./byo/index.ts'),
    import('./byo/namespace.ts'),
    import('./byo/report.ts'),
  ]);
  const loaded = await loadUserSources(entries, options);
  return {
    schema: mergeSchemas({ schemas: [curated, ...loaded.map(namespaceSource)] }),
    reports: loaded.map(reportSource),
  };
}
