import type { GraphQLSchema } from 'graphql';
import { contract } from '../../schema/index.ts';
import { buildContractSchema } from '../../gateway/composition/index.ts';
import { loadSourceSchemas } from '../../gateway/composition/source-schemas.ts';

/**
 * The demo's public schema as the gateway serves it, without starting anything: the contract
 * (schema/index.ts) built and checked against the sources' specs as `mesh build` compiled them.
 */
export function buildPublicSchema(): GraphQLSchema {
  return buildContractSchema(contract, loadSourceSchemas(contract.sources));
}
