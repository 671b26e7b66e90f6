import {
  getNamedType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import type { Downgrade, LoadedSource } from './types.ts';

/** Scalars that mean "the converter could not type this": whatever is behind them is untyped JSON. */
const UNTYPED = new Set(['JSON', 'JSONObject', 'ObjMap', 'Any', 'AnyScalar']);

const isUntyped = (type: GraphQLNamedType) => isScalarType(type) && UNTYPED.has(type.name);

/**
 * Every field, argument and input field of a built schema whose type is untyped JSON: the places
 * where the contract said more than GraphQL could, and clients get no type checking.
 */
export function findUntypedFields(schema: GraphQLSchema): Downgrade[] {
  const found: Downgrade[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (isUntyped(getNamedType(field.type))) found.push({ location: `${type.name}.${field.name}`, reason: 'typed as JSON: no GraphQL type could express it' });
        for (const arg of field.args) {
          if (isUntyped(getNamedType(arg.type))) found.push({ location: `${type.name}.${field.name}(${arg.name})`, reason: 'argument typed as JSON: no GraphQL input type could express it' });
        }
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (isUntyped(getNamedType(field.type))) found.push({ location: `${type.name}.${field.name}`, reason: 'input field typed as JSON: no GraphQL input type could express it' });
      }
    }
  }
  return found;
}

export interface SourceReport {
  name: string;
  kind: LoadedSource['kind'];
  declaredOperations: number;
  exposedOperations: number;
  /** Exposed / declared, 0 to 1 (1 when the contract declares none). */
  coverage: number;
  buildMs: number;
  downgrades: Downgrade[];
}

/** The loader's own downgrades plus every untyped field of the built schema, de-duplicated. */
export function reportSource(source: LoadedSource): SourceReport {
  const seen = new Set<string>();
  const downgrades = [...source.downgrades, ...findUntypedFields(source.schema)].filter((d) => {
    const key = `${d.location}\u0000${d.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return {
    name: source.name,
    kind: source.kind,
    declaredOperations: source.declaredOperations,
    exposedOperations: source.exposedOperations,
    coverage: source.declaredOperations === 0 ? 1 : Math.min(1, source.exposedOperations / source.declaredOperations),
    buildMs: source.buildMs,
    downgrades,
  };
}

/** A table for the terminal, one line per source. */
export function formatReport(reports: readonly SourceReport[]): string {
  const header = 'source               kind     operations  exposed  coverage  downgrades  build';
  const lines = reports.map((r) =>
    [
      r.name.padEnd(20),
      r.kind.padEnd(8),
      String(r.declaredOperations).padStart(10),
      String(r.exposedOperations).padStart(8),
      `${(r.coverage * 100).toFixed(0)}%`.padStart(9),
      String(r.downgrades.length).padStart(11),
      `${r.buildMs} ms`.padStart(8),
    ].join(' '),
  );
  return [header, ...lines].join('\n');
}
