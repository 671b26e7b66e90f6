import type { GraphQLSchema } from 'graphql';
import { buildPublicSchema, origins } from '../../schema/index.ts';
import { SOURCE_NAMES } from '../../sources/index.ts';
import { carryDescriptions, checkOrigins } from './carry-descriptions.ts';
import { DEFAULT_MESH_DIR, loadSourceSchemas } from './source-schemas.ts';

export class ContractMismatch extends Error {
  override readonly name = 'ContractMismatch';
  constructor(readonly problems: string[]) {
    super(`The public schema no longer matches the backends' specs:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * The schema Junction serves: the curated public contract (schema/), checked against the
 * source schemas GraphQL Mesh built from the specs, and documented with the specs' words.
 * A spec change that breaks the contract stops start-up (and the tests) with the reason.
 */
export function buildGatewaySchema(meshDir = DEFAULT_MESH_DIR): GraphQLSchema {
  const publicSchema = buildPublicSchema();
  const sourceSchemas = loadSourceSchemas(SOURCE_NAMES, meshDir);
  const problems = checkOrigins(origins, publicSchema, sourceSchemas);
  if (problems.length > 0) throw new ContractMismatch(problems);
  return carryDescriptions(publicSchema, origins, sourceSchemas);
}
