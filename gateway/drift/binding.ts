/**
 * How the public schema is bound to one source of the sources file: through the contract's
 * `origins` when the contract is served over it, else as the source's own schema after its
 * transforms. And what the contract check of start-up would say of the newer schema: a type or
 * field the contract maps onto that is gone stops start-up (CONTRACT_MISMATCH), which is worth
 * knowing before the newer spec is deployed.
 */
import type { GraphQLSchema } from 'graphql';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { Contract } from '../../schema/contract.ts';
import type { SourceEntry } from '../composition/byo/mesh-config.ts';
import { checkOrigins } from '../composition/carry-descriptions.ts';
import type { SourceBinding } from './diff.ts';

/** The contract's own types, built without its resolvers: only their names and shapes are read. */
export function contractTypes(contract: Contract): GraphQLSchema {
  return makeExecutableSchema({ typeDefs: [...contract.typeDefs] });
}

export function bindingFor(entry: SourceEntry, contract: Contract | undefined, publicSchema?: GraphQLSchema): SourceBinding {
  if (contract?.sources.includes(entry.name)) {
    return { kind: 'contract', source: entry.name, publicSchema: publicSchema ?? contractTypes(contract), origins: contract.origins ?? [] };
  }
  return {
    kind: 'served',
    served: {
      name: entry.name,
      transforms: entry.transforms,
      ...(entry.options.rename ? { rename: entry.options.rename } : {}),
      ...(entry.options.namespace ? { namespace: true } : {}),
    },
  };
}

/** What start-up's contract check would refuse in the newer schema (empty: it would start). */
export function contractProblems(binding: SourceBinding, newer: GraphQLSchema): string[] {
  if (binding.kind !== 'contract') return [];
  const origins = binding.origins.filter((o) => o.source === binding.source);
  return checkOrigins(origins, binding.publicSchema, new Map([[binding.source, newer]]));
}
