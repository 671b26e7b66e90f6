import {
  GraphQLEnumType,
  GraphQLObjectType,
  GraphQLScalarType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isObjectType,
  isScalarType,
  specifiedScalarTypes,
  type GraphQLEnumValueConfig,
  type GraphQLFieldConfig,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import type { TypeOrigin } from '../../schema/origins.ts';

const BUILT_IN = new Set(specifiedScalarTypes.map((t) => t.name));

const snakeCase = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A field's own description, else its type's, when that type was generated from the spec. */
function describe(field: { description?: string | null | undefined; type: Parameters<typeof getNamedType>[0] }): string | undefined {
  if (field.description) return field.description;
  const named: GraphQLNamedType | undefined = getNamedType(field.type);
  if (!named) return undefined;
  return !BUILT_IN.has(named.name) && !isObjectType(named) ? (named.description ?? undefined) : undefined;
}

interface OriginField {
  description: string | undefined;
}

function findSourceType(origin: TypeOrigin, sources: Map<string, GraphQLSchema>) {
  return sources.get(origin.source)?.getType(origin.sourceType);
}

function sourceFieldFor(origin: TypeOrigin, publicField: string, sources: Map<string, GraphQLSchema>): OriginField | undefined {
  const type = findSourceType(origin, sources);
  if (!type || !(isObjectType(type) || isInputObjectType(type))) return undefined;
  const fields = type.getFields();
  const name = origin.fields?.[publicField] ?? (fields[publicField] ? publicField : snakeCase(publicField));
  const field = fields[name];
  return field ? { description: describe(field) } : undefined;
}

/**
 * Problems with the origins: a source or source type that the built schemas do not have, or an
 * explicit field mapping to a field the source type lacks. An empty list means the public
 * contract still lines up with the specs.
 */
export function checkOrigins(origins: readonly TypeOrigin[], publicSchema: GraphQLSchema, sources: Map<string, GraphQLSchema>): string[] {
  const problems: string[] = [];
  for (const origin of origins) {
    if (!publicSchema.getType(origin.type)) problems.push(`public type ${origin.type} does not exist`);
    if (!sources.has(origin.source)) {
      problems.push(`${origin.type}: source "${origin.source}" was not built`);
      continue;
    }
    const type = findSourceType(origin, sources);
    if (!type) {
      problems.push(`${origin.type}: source "${origin.source}" has no type ${origin.sourceType}`);
      continue;
    }
    for (const [publicField, sourceField] of Object.entries(origin.fields ?? {})) {
      if (!sourceFieldFor(origin, publicField, sources)) {
        problems.push(`${origin.type}.${publicField}: ${origin.source} type ${origin.sourceType} has no field ${sourceField}`);
      }
    }
  }
  return problems;
}

/**
 * Gives every public type and field that has no description of its own the one its origin
 * has in the spec, so GraphiQL documents the public schema with the backends' own words.
 */
export function carryDescriptions(publicSchema: GraphQLSchema, origins: readonly TypeOrigin[], sources: Map<string, GraphQLSchema>): GraphQLSchema {
  const byType = new Map(origins.map((o) => [o.type, o]));
  const fieldMapper = (config: GraphQLFieldConfig<unknown, unknown>, fieldName: string, typeName: string) => {
    const origin = byType.get(typeName);
    if (config.description || !origin) return config;
    const description = sourceFieldFor(origin, fieldName, sources)?.description;
    return description ? { ...config, description } : config;
  };
  return mapSchema(publicSchema, {
    [MapperKind.TYPE]: (type) => {
      const origin = byType.get(type.name);
      if (!origin || type.description) return type;
      const description = findSourceType(origin, sources)?.description;
      if (!description) return type;
      if (isObjectType(type)) return new GraphQLObjectType({ ...type.toConfig(), description });
      if (isEnumType(type)) return new GraphQLEnumType({ ...type.toConfig(), description });
      if (isScalarType(type)) return new GraphQLScalarType({ ...type.toConfig(), description });
      return type;
    },
    [MapperKind.OBJECT_FIELD]: fieldMapper,
    [MapperKind.ENUM_VALUE]: (config: GraphQLEnumValueConfig, typeName: string, _schema, externalValue: string) => {
      const origin = byType.get(typeName);
      if (config.description || !origin) return config;
      const sourceType = findSourceType(origin, sources);
      const description = isEnumType(sourceType) ? sourceType.getValue(externalValue)?.description : undefined;
      return description ? { ...config, description } : config;
    },
  });
}
