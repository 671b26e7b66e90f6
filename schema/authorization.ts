import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import { defaultFieldResolver, getNamedType, type GraphQLFieldConfig, type GraphQLNamedType, type GraphQLSchema } from 'graphql';
import { junctionError } from './errors.ts';
import { ANONYMOUS, type Principal } from './principal.ts';

/**
 * Field authorization, declared in the schema with the directives Apollo and Hive use:
 * `@authenticated` (any verified caller) and `@requiresScopes(scopes: [[String!]!]!)` (the outer
 * list is OR, each inner list AND). On a type, they guard every field that returns the type; a
 * field's own directives replace its type's, so `sendMessage @requiresScopes(scopes:
 * [["messages:send"]])` may return a `Message` to a sender that cannot read messages otherwise.
 *
 * The check runs in the field's resolver before it does anything, so no loader is asked and no
 * backend is called for a denied field. The field becomes null with an UNAUTHENTICATED
 * (anonymous caller) or FORBIDDEN error at its path, and the rest of the query answers, which is
 * why guarded fields are nullable in the schema.
 */
export const typeDefs = /* GraphQL */ `
  "Only a caller with a verified identity (a bearer token or an API key) may read this."
  directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE
  "Only a caller holding every scope of at least one of the lists may read this: [[a, b], [c]] means (a and b) or c."
  directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE
`;

/** What a field needs: any verified caller, or one of these scope sets. */
interface Requirement {
  authenticated: boolean;
  anyOf: readonly (readonly string[])[];
}

function requirementOf(schema: GraphQLSchema, node: Parameters<typeof getDirective>[1]): Requirement | undefined {
  const authenticated = getDirective(schema, node, 'authenticated') !== undefined;
  const scopes = getDirective(schema, node, 'requiresScopes')?.[0]?.scopes as string[][] | undefined;
  if (!authenticated && !scopes) return undefined;
  return { authenticated: authenticated || scopes !== undefined, anyOf: scopes ?? [] };
}

export function isAllowed(requirement: Requirement, principal: Principal): 'yes' | 'unauthenticated' | 'forbidden' {
  if (principal.kind === 'anonymous') return 'unauthenticated';
  if (requirement.anyOf.length === 0) return 'yes';
  return requirement.anyOf.some((all) => all.every((scope) => principal.scopes.has(scope))) ? 'yes' : 'forbidden';
}

const describe = (r: Requirement) =>
  r.anyOf.length === 0 ? 'Needs a signed-in caller.' : `Needs scope ${r.anyOf.map((all) => all.join(' and ')).join(', or ')}.`;

/** Wraps the resolvers of every guarded field with its check, and says what it needs in its description. */
export function applyAuthorization(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field: GraphQLFieldConfig<unknown, { principal?: Principal }>) => {
      const returned = getNamedType(field.type) as GraphQLNamedType;
      const requirement = requirementOf(schema, field) ?? requirementOf(schema, returned);
      if (!requirement) return field;
      const resolve = field.resolve ?? defaultFieldResolver;
      const check = (context: { principal?: Principal }, info: { parentType: { name: string }; fieldName: string }) => {
        const verdict = isAllowed(requirement, context.principal ?? ANONYMOUS);
        if (verdict === 'unauthenticated') {
          throw junctionError('UNAUTHENTICATED', `${info.parentType.name}.${info.fieldName} needs a signed-in caller.`);
        }
        if (verdict === 'forbidden') {
          throw junctionError('FORBIDDEN', `${info.parentType.name}.${info.fieldName} needs scope ${requirement.anyOf.map((all) => all.join(' and ')).join(', or ')}.`, {
            extensions: { requiredScopes: requirement.anyOf },
          });
        }
      };
      const { subscribe } = field;
      return {
        ...field,
        description: field.description ? `${field.description}\n\n${describe(requirement)}` : describe(requirement),
        // A subscription is refused before it starts, and each event is checked again.
        ...(subscribe ? {
          subscribe(source: unknown, args: Record<string, unknown>, context: { principal?: Principal }, info: Parameters<typeof resolve>[3]) {
            check(context, info);
            return subscribe(source, args, context, info);
          },
        } : {}),
        resolve(source, args, context, info) {
          check(context, info);
          return resolve(source, args, context, info);
        },
      };
    },
  });
}

/** Every scope any field or type of the schema asks for (`@requiresScopes`): what a developer's token carries in GraphiQL. */
export function scopesOf(schema: GraphQLSchema): string[] {
  const found = new Set<string>();
  const add = (node: Parameters<typeof getDirective>[1]) => {
    for (const set of (getDirective(schema, node, 'requiresScopes')?.[0]?.scopes as string[][] | undefined) ?? []) for (const scope of set) found.add(scope);
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    add(type);
    if ('getFields' in type) for (const field of Object.values(type.getFields())) if ('args' in field) add(field);
  }
  return [...found].sort();
}
