import { readFileSync } from 'node:fs';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { createResolvers } from './resolvers.ts';
import type { ResolverDeps } from './resolvers.ts';

/** The contract, as written: the backend serves exactly this SDL, so it cannot drift from it. */
export function readMessagingSdl(): string {
  return readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
}

export function createMessagingSchema(deps: ResolverDeps): GraphQLSchema {
  return makeExecutableSchema({
    typeDefs: readMessagingSdl(),
    resolvers: createResolvers(deps),
    resolverValidationOptions: {
      // Every field with arguments is an operation; one without a resolver would silently answer null.
      requireResolversForArgs: 'error',
      requireResolversToMatchSchema: 'error',
    },
  });
}
