import {
  GraphQLObjectType,
  GraphQLSchema,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  type GraphQLFieldConfigMap,
} from 'graphql';
import { wrapSchema, RenameInputObjectFields, RenameInterfaceFields, RenameObjectFields, RenameRootTypes, RenameTypes } from '@graphql-tools/wrap';
import type { LoadedSource, Rename } from './types.ts';
import { catalogueExecutor } from './source-errors.ts';
import { junctionError } from '../../errors.ts';
import { ANONYMOUS, type Principal } from '../../../schema/principal.ts';

/** Rename entries naming a type or field the source's schema does not have. */
export function unknownRenames(schema: GraphQLSchema, rename: Rename): string[] {
  const unknown = Object.keys(rename.types ?? {}).filter((name) => !schema.getType(name));
  for (const key of Object.keys(rename.fields ?? {})) {
    const [typeName, fieldName] = key.split('.') as [string, string];
    const type = schema.getType(typeName);
    const fields = type && (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) ? type.getFields() : {};
    if (!fields[fieldName]) unknown.push(key);
  }
  return unknown;
}

/** The user's overrides first (they are written in the source's own names), then the prefix. */
export function renameTransforms(rename: Rename | undefined) {
  if (!rename) return [];
  const fields = rename.fields ?? {};
  const types = rename.types ?? {};
  const field = (typeName: string, fieldName: string) => fields[`${typeName}.${fieldName}`] ?? fieldName;
  return [
    new RenameObjectFields(field),
    new RenameInterfaceFields(field),
    new RenameInputObjectFields(field),
    new RenameTypes((name) => types[name] ?? name, { renameBuiltins: false, renameScalars: true }),
  ];
}

/**
 * Puts a source behind its own namespace so that it can never collide with the contract
 * or another source: its root fields move under `Query.<name>` / `Mutation.<name>`, and every
 * type it defines is renamed `<Name>_<Type>` (GitHub's `Node` and SWAPI's `Node` become
 * `Github_Node` and `Swapi_Node`). The demo contract has no underscores in its type names (a
 * test holds it to that), so no prefixed name can ever equal one of its own.
 */
export function typePrefix(sourceName: string): string {
  const pascal = sourceName
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
  return `${/^[A-Za-z]/.test(pascal) ? pascal : `S${pascal}`}_`;
}

/** A GraphQL field name for the namespace: `my-stripe` -> `myStripe`. */
export function namespaceField(sourceName: string): string {
  const camel = sourceName.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''));
  const field = camel[0] ? camel[0].toLowerCase() + camel.slice(1) : camel;
  return /^[A-Za-z]/.test(field) ? field : `s${field}`;
}

/**
 * The source's schema with every type prefixed, root types included (`Github_Query`: GitHub's
 * mutation payloads have a `query: Query!` field, so the root is also an ordinary type there),
 * executed by delegation to the source's executor, or to its own resolvers when it has none.
 */
function prefixed(source: LoadedSource, prefix: string): GraphQLSchema {
  return wrapSchema({
    schema: source.schema,
    // Every error leaving the source is made a catalogued one here, once, whatever its engine.
    executor: catalogueExecutor(source),
    transforms: namespaceTransforms(source.rename, prefix),
  });
}

/**
 * What `namespace: true` does to a source's schema: its own renames, then every type prefixed,
 * root types included. `junction diff` finds public names through the same list.
 */
export function namespaceTransforms(rename: Rename | undefined, prefix: string) {
  return [
    ...renameTransforms(rename),
    new RenameRootTypes((name) => `${prefix}${name}`),
    new RenameTypes((name) => `${prefix}${name}`, { renameBuiltins: false, renameScalars: true }),
  ];
}

/**
 * The namespaced schema: `Query { <field>: <Prefix>Query }` and `Mutation { <field>: <Prefix>Mutation }`,
 * where the prefixed roots keep their delegating resolvers. The namespace field resolves to an
 * empty object; each field under it delegates to the source on its own.
 *
 * Unless its entry says `public: true`, a source answers verified callers only: it is called with
 * the gateway's own credentials, and a source added with them answered anonymous clients,
 * mutations included. An anonymous caller gets UNAUTHENTICATED at the namespace field, before any
 * call, and the rest of the query answers (the field is nullable for that).
 */
export function namespaceSource(source: LoadedSource): GraphQLSchema {
  const prefix = typePrefix(source.name);
  const field = namespaceField(source.name);
  const wrapped = prefixed(source, prefix);
  const queryNs = wrapped.getQueryType();
  const mutationNs = wrapped.getMutationType();
  const rootField = (type: GraphQLObjectType, kind: string): GraphQLFieldConfigMap<unknown, { principal?: Principal }> => ({
    [field]: {
      type,
      description: `${kind} of the ${source.name} source (${source.kind}), in its own names prefixed ${prefix}.${source.public ? '' : ' Needs a signed-in caller.'}`,
      resolve: (_root, _args, context, info) => {
        if (!source.public && (context.principal ?? ANONYMOUS).kind === 'anonymous') {
          throw junctionError('UNAUTHENTICATED', `${info.parentType.name}.${info.fieldName} needs a signed-in caller.`);
        }
        return {};
      },
    },
  });
  return new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: queryNs ? rootField(queryNs, 'Queries') : {} }),
    ...(mutationNs ? { mutation: new GraphQLObjectType({ name: 'Mutation', fields: rootField(mutationNs, 'Mutations') }) } : {}),
    types: Object.values(wrapped.getTypeMap()).filter((t) => !t.name.startsWith('__')),
  });
}
