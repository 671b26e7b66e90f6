import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import { defaultFieldResolver, type GraphQLFieldConfig, type GraphQLSchema } from 'graphql';
import { junctionError } from './errors.ts';

/**
 * `@rateLimit(max, window, identityArgs)`: the directive graphql-rate-limit's users know, with an
 * engine that holds (gateway/plugins/limits/rate-limits.ts). At most `max` calls of the field per
 * `window` ("30s", "1m", "1h") per caller, and per value of the arguments named in
 * `identityArgs` when given. Over it, the field is null with RATE_LIMITED (`retryAfter` in
 * seconds) and its resolver, so its backend, is not called.
 */
export const typeDefs = /* GraphQL */ `
  "At most \`max\` calls of this field per \`window\` (e.g. \\"1m\\") per caller, and per value of the arguments in \`identityArgs\`."
  directive @rateLimit(max: Int!, window: String!, identityArgs: [String!]) on FIELD_DEFINITION
`;

export function applyRateLimits(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field: GraphQLFieldConfig<unknown, { rateLimit?: FieldRateLimit }>, fieldName, typeName) => {
      const spec = getDirective(schema, field, 'rateLimit')?.[0] as { max: number; window: string; identityArgs?: string[] } | undefined;
      if (!spec) return field;
      const windowSec = windowSeconds(spec.window);
      const coordinate = `${typeName}.${fieldName}`;
      const resolve = field.resolve ?? defaultFieldResolver;
      return {
        ...field,
        description: `${field.description ?? ''}\n\nRate limited: ${spec.max} per ${spec.window} per caller${spec.identityArgs?.length ? ` and ${spec.identityArgs.join(', ')}` : ''}.`.trim(),
        async resolve(source, args, context, info) {
          const argsKey = JSON.stringify((spec.identityArgs ?? []).map((name) => (args as Record<string, unknown>)[name] ?? null));
          const refused = await context.rateLimit?.(coordinate, argsKey, spec.max, windowSec);
          if (refused) {
            throw junctionError('RATE_LIMITED', `${coordinate} allows ${spec.max} calls per ${spec.window}; retry in ${refused.retryAfterSec} s.`, {
              extensions: { retryAfter: refused.retryAfterSec },
            });
          }
          return resolve(source, args, context, info);
        },
      };
    },
  });
}

/** What a field's `@rateLimit` check needs from the request (the gateway's useRateLimits puts it on the context). */
export type FieldRateLimit = (coordinate: string, argsKey: string, max: number, windowSec: number) => Promise<{ retryAfterSec: number } | undefined>;

/** "30s", "1m", "2h", "1d" in seconds; graphql-rate-limit's window strings. */
export function windowSeconds(window: string): number {
  const match = /^\s*(\d+)\s*(ms|s|m|h|d)\s*$/.exec(window);
  if (!match) throw new TypeError(`@rateLimit window must look like "30s", "1m", "2h" or "1d"; got ${JSON.stringify(window)}`);
  const n = Number(match[1]);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.max(1, Math.ceil(n * unit));
}
