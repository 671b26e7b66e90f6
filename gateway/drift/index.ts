/**
 * Contract drift: a source's current spec compared with a newer one (a file or a URL), each change
 * classed breaking, dangerous or safe and mapped to the public fields it affects. Used by
 * `junction diff` (command.ts) and by the gateway at start and on a schedule (monitor.ts, from an
 * entry's `drift:`). Drift is reported, never enforced: the spec the gateway serves is the one it
 * loaded, and a newer spec only matters once it is deployed.
 */
import type { GraphQLSchema } from 'graphql';
import type { Contract } from '../../schema/contract.ts';
import type { SourceEntry } from '../composition/byo/mesh-config.ts';
import { bindingFor, contractProblems } from './binding.ts';
import { compileSpec, type CompileOptions } from './compile.ts';
import { diffSource, type DriftReport } from './diff.ts';

export { DRIFT_LEVELS, emptyCounts, type DriftChange, type DriftLevel, type DriftReport } from './diff.ts';
export { compileSpec, fetchSpec, DriftSpecError, DRIFT_FETCH_TIMEOUT_MS, DRIFT_MAX_SPEC_BYTES, isUrl } from './compile.ts';
export { contractTypes } from './binding.ts';

export interface CompareOptions extends CompileOptions {
  entry: SourceEntry;
  /** The source's schema as served (start-up compiled it), or as its current spec compiles. */
  current: GraphQLSchema;
  /** The newer spec: a path (read from `baseDir`) or an http(s) URL. */
  against: string;
  contract?: Contract;
  /** The contract's types, built once (contractTypes) when several sources are compared. */
  publicSchema?: GraphQLSchema;
}

/** The drift of one source from its current schema to what `against` compiles into. */
export async function compareSource(options: CompareOptions): Promise<DriftReport> {
  const { entry, current, against, contract, publicSchema, ...compile } = options;
  const newer = await compileSpec(entry, against, compile);
  const binding = bindingFor(entry, contract, publicSchema);
  const report = await diffSource({ current, newer, binding, against });
  return { ...report, contractMismatch: contractProblems(binding, newer) };
}
