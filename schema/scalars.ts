import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

// The description lives on the scalar below: makeExecutableSchema keeps the resolver's.
export const typeDefs = /* GraphQL */ `
  scalar DateTime
`;

/** Accepts what the backends send (unix seconds from payments, ISO strings from messaging). */
function toIso(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value * 1000).toISOString();
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
  throw new GraphQLError(`DateTime cannot represent ${JSON.stringify(value)}`);
}

export const resolvers = {
  DateTime: new GraphQLScalarType({
    name: 'DateTime',
    description: 'An instant in time, as an ISO 8601 string in UTC, e.g. 2026-01-01T00:00:00.000Z.',
    serialize: toIso,
    parseValue: toIso,
    parseLiteral(ast) {
      if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime must be an ISO 8601 string');
      return toIso(ast.value);
    },
  }),
};
