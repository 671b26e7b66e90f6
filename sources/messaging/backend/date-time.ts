import { GraphQLError, Kind } from 'graphql';
import type { ValueNode } from 'graphql';

/**
 * Behaviour of the `DateTime` scalar. A plain object rather than a GraphQLScalarType so the
 * description and @specifiedBy URL stay the ones written in schema.graphql.
 */
export const dateTimeScalar = {
  serialize(value: unknown): string {
    if (value instanceof Date) return checkDate(value, 'Cannot serialize an invalid Date').toISOString();
    if (typeof value === 'string') return parseDateTime(value, `Cannot serialize ${JSON.stringify(value)} as DateTime`);
    throw new GraphQLError(`DateTime cannot represent ${typeof value}`);
  },
  parseValue(value: unknown): string {
    if (typeof value !== 'string') throw new GraphQLError('DateTime must be an ISO 8601 string');
    return parseDateTime(value, `${JSON.stringify(value)} is not an ISO 8601 date-time`);
  },
  parseLiteral(node: ValueNode): string {
    if (node.kind !== Kind.STRING) throw new GraphQLError('DateTime must be an ISO 8601 string', { nodes: node });
    return parseDateTime(node.value, `${JSON.stringify(node.value)} is not an ISO 8601 date-time`);
  },
};

// A date and a time with an explicit offset: Date.parse alone would also take "2026" or "Jan 1".
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Normalises to UTC with milliseconds, the one form this service ever sends. */
function parseDateTime(text: string, problem: string): string {
  if (!RFC3339.test(text)) throw new GraphQLError(problem);
  return checkDate(new Date(text), problem).toISOString();
}

function checkDate(date: Date, problem: string): Date {
  if (Number.isNaN(date.getTime())) throw new GraphQLError(problem);
  return date;
}
