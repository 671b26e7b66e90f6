/**
 * The public names of a source served as it is (not under the contract): its own types and fields
 * after its entry's `rename`, its Mesh transforms (prefix, rename, filterSchema) and, with
 * `namespace: true`, its `<Name>_` prefix. Rather than re-deriving what each transform does, every
 * type, field, argument and enum value is tagged with its source coordinate (in its description),
 * the very transforms start-up applies are applied, and the tags are read back under their new
 * names: a field a filter drops has no public name, so a change to it affects no public field.
 */
import {
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLInterfaceType,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLUnionType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  specifiedScalarTypes,
  type GraphQLFieldConfigArgumentMap,
  type GraphQLNamedType,
  type GraphQLSchema,
  type GraphQLType,
} from 'graphql';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { applySchemaTransforms } from '@graphql-tools/delegate';
import { wrapTransforms, type MeshTransform } from '../composition/transforms.ts';
import { namespaceTransforms, renameTransforms, typePrefix } from '../composition/byo/namespace.ts';
import type { Rename } from '../composition/byo/types.ts';

/** Marks a description as a tag; nothing a spec writes starts with a NUL. */
const TAG = '\u0000drift:';
const BUILT_IN = new Set(specifiedScalarTypes.map((t) => t.name));

function tagArgs(args: GraphQLFieldConfigArgumentMap | undefined, at: string): GraphQLFieldConfigArgumentMap | undefined {
  if (!args) return args;
  return Object.fromEntries(Object.entries(args).map(([name, arg]) => [name, { ...arg, description: `${TAG}${at}.${name}` }]));
}

function retag(type: GraphQLNamedType): GraphQLNamedType {
  const description = `${TAG}${type.name}`;
  if (isObjectType(type)) return new GraphQLObjectType({ ...type.toConfig(), description });
  if (isInterfaceType(type)) return new GraphQLInterfaceType({ ...type.toConfig(), description });
  if (isInputObjectType(type)) return new GraphQLInputObjectType({ ...type.toConfig(), description });
  if (isEnumType(type)) return new GraphQLEnumType({ ...type.toConfig(), description });
  if (type instanceof GraphQLUnionType) return new GraphQLUnionType({ ...type.toConfig(), description });
  if (type instanceof GraphQLScalarType && !BUILT_IN.has(type.name)) return new GraphQLScalarType({ ...type.toConfig(), description });
  return type;
}

/** The schema with every coordinate's description replaced by its tag. */
function tagged(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.TYPE]: retag,
    [MapperKind.COMPOSITE_FIELD]: (config, fieldName, typeName) => ({ ...config, description: `${TAG}${typeName}.${fieldName}`, args: tagArgs(config.args, `${typeName}.${fieldName}`) ?? {} }),
    [MapperKind.INPUT_OBJECT_FIELD]: (config, fieldName, typeName) => ({ ...config, description: `${TAG}${typeName}.${fieldName}` }),
    [MapperKind.ENUM_VALUE]: (config, typeName, _schema, externalValue) => ({ ...config, description: `${TAG}${typeName}.${externalValue}` }),
  });
}

const untag = (description: string | null | undefined) => (description?.startsWith(TAG) ? description.slice(TAG.length) : undefined);

export interface ServedSource {
  name: string;
  transforms: readonly MeshTransform[];
  rename?: Rename;
  /** Under its own namespace (`namespace: true`): types `<Name>_*`, roots `<Name>_Query`. */
  namespace?: boolean;
}

/**
 * Source coordinate -> public coordinate, for every type (`Customer` -> `Ledger_Client`), field
 * (`Query.getCustomer` -> `Ledger_Query.client`), argument (kept on its field:
 * `Query.listCustomers.limit` -> `Query.pay_listCustomers`) and enum value the public schema has.
 */
export function servedNames(schema: GraphQLSchema, served: ServedSource): { names: Map<string, string>; usedBy: Map<string, string[]> } {
  const source = tagged(schema);
  const prefix = typePrefix(served.name);
  const transforms = served.namespace
    ? namespaceTransforms(served.rename, prefix)
    : [...renameTransforms(served.rename), ...wrapTransforms(served.transforms, served.name)];
  const shown = applySchemaTransforms(source, { schema: source, transforms });
  const names = new Map<string, string>();
  const usedBy = new Map<string, string[]>();
  const use = (typeName: string, coordinate: string) => usedBy.set(typeName, [...(usedBy.get(typeName) ?? []), coordinate]);
  for (const type of Object.values(shown.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    const from = untag(type.description);
    if (from) names.set(from, type.name);
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values<{ name: string; type: GraphQLType }>(type.getFields())) use(getNamedType(field.type).name, `${type.name}.${field.name}`);
    }
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        for (const arg of field.args) use(getNamedType(arg.type).name, `${type.name}.${field.name}`);
        const at = untag(field.description);
        if (!at) continue;
        names.set(at, `${type.name}.${field.name}`);
        for (const arg of field.args) {
          const argAt = untag(arg.description);
          if (argAt) names.set(argAt, `${type.name}.${field.name}`);
        }
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        const at = untag(field.description);
        if (at) names.set(at, `${type.name}.${field.name}`);
      }
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) {
        const at = untag(value.description);
        if (at) names.set(at, `${type.name}.${value.name}`);
      }
    }
  }
  return { names, usedBy };
}

/**
 * A mapper for a source served as it is: a change's path -> the public coordinate it has (or, for
 * an argument or a nested path, its field's; for a whole type, the public fields of that type), from
 * the current schema's names, then the newer's (a field only the newer has). Nothing when its
 * transforms leave it out.
 */
export function servedFieldsMapper(served: ServedSource, schemas: readonly GraphQLSchema[]) {
  const views = schemas.map((schema) => servedNames(schema, served));
  return (path: string): string[] => {
    const parts = path.split('.');
    for (const { names, usedBy } of views) {
      if (parts.length === 1) {
        const type = names.get(path);
        if (type) return [...new Set(usedBy.get(type) ?? [type])].sort();
        continue;
      }
      // An argument or a deeper path falls back to its field, never to a whole type.
      for (let length = parts.length; length >= 2; length -= 1) {
        const found = names.get(parts.slice(0, length).join('.'));
        if (found) return [found];
      }
    }
    return [];
  };
}
