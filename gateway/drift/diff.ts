/**
 * Contract drift of one source: its current spec and a newer one, each compiled into the GraphQL
 * schema start-up builds from it (the same loaders: OpenAPI, WSDL, SDL), compared with
 * graphql-inspector, and each change mapped to the public fields it affects (contract-fields.ts
 * for a source under the contract, served-fields.ts for one served as it is). Comparing compiled
 * schemas is what lets one tool serve all three kinds: no WSDL diff tool exists, and what matters
 * to callers is the GraphQL the spec becomes, not its text.
 */
import type { GraphQLSchema } from 'graphql';
import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';
import { contractFieldsMapper } from './contract-fields.ts';
import { servedFieldsMapper, type ServedSource } from './served-fields.ts';
import type { TypeOrigin } from '../../schema/origins.ts';

export const DRIFT_LEVELS = ['breaking', 'dangerous', 'safe'] as const;
export type DriftLevel = (typeof DRIFT_LEVELS)[number];

export interface DriftChange {
  level: DriftLevel;
  /** graphql-inspector's words: "Field 'amount_refunded' was removed from object type 'Payment'". */
  message: string;
  /** Where, in the source's own GraphQL names: `Payment.amount_refunded`. */
  path: string | null;
  /** graphql-inspector's change type: `FIELD_REMOVED`, `ENUM_VALUE_ADDED`, ... */
  type: string;
  /** Public coordinates (`Payment.amountRefunded`) it affects, sorted; empty: internal to the source. */
  publicFields: string[];
}

export interface DriftReport {
  source: string;
  /** What the current spec was compared with: a path or a URL. */
  against: string;
  /** Breaking first, then dangerous, then safe; in graphql-inspector's order within a level. */
  changes: DriftChange[];
  counts: Record<DriftLevel, number>;
  /**
   * Under a contract: what start-up's contract check would refuse in the newer schema (a type or
   * field the contract maps onto, gone: CONTRACT_MISMATCH). Empty: it would start.
   */
  contractMismatch: string[];
}

/** How the public schema is bound to the source. */
export type SourceBinding =
  | { kind: 'contract'; source: string; publicSchema: GraphQLSchema; origins: readonly TypeOrigin[] }
  | { kind: 'served'; served: ServedSource };

const LEVEL: Record<CriticalityLevel, DriftLevel> = {
  [CriticalityLevel.Breaking]: 'breaking',
  [CriticalityLevel.Dangerous]: 'dangerous',
  [CriticalityLevel.NonBreaking]: 'safe',
};

export function emptyCounts(): Record<DriftLevel, number> {
  return { breaking: 0, dangerous: 0, safe: 0 };
}

/** The changes from `current` to `newer`, classed and mapped to public fields. */
export async function diffSource(options: { current: GraphQLSchema; newer: GraphQLSchema; binding: SourceBinding; against: string }): Promise<DriftReport> {
  const { current, newer, binding, against } = options;
  const changes: Change[] = await diff(current, newer);
  const schemas = [current, newer];
  const publicFields: (path: string, changeType: string) => string[] = binding.kind === 'contract'
    ? contractFieldsMapper(binding, schemas)
    : servedFieldsMapper(binding.served, schemas);
  const mapped: DriftChange[] = changes.map((change) => ({
    level: LEVEL[change.criticality.level],
    message: change.message,
    path: change.path ?? null,
    type: String(change.type),
    publicFields: change.path ? publicFields(change.path, String(change.type)) : [],
  }));
  mapped.sort((a, b) => DRIFT_LEVELS.indexOf(a.level) - DRIFT_LEVELS.indexOf(b.level));
  const counts = emptyCounts();
  for (const change of mapped) counts[change.level] += 1;
  return { source: binding.kind === 'contract' ? binding.source : binding.served.name, against, changes: mapped, counts, contractMismatch: [] };
}
