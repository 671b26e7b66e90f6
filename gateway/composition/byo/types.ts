import type { GraphQLSchema } from 'graphql';
import type { Executor } from '@graphql-tools/utils';
import type { SourceRuntime } from '../../engine/runtime.ts';
import type { SourcePolicy } from './mesh-config.ts';

/**
 * Sources: every entry of the sources file is loaded by the loader of its kind; one a contract is
 * served over is reached through the contract only; the others are composed as GraphQL Mesh v0
 * composes sources (compose.ts: merged at the root, its transforms applied), or namespaced
 * (`Query.<name>`, types `<Name>_*`) where its entry says `namespace: true`, and merged into the
 * public schema next to the contract.
 */
export type SourceKind = 'openapi' | 'soap' | 'graphql';

/** Something the contract says that GraphQL (or the converter) could not express faithfully. */
export interface Downgrade {
  /** Where, in the source's own GraphQL names: `Type.field`, `Type.field(arg)`, `Query.op`. */
  location: string;
  /** Why, in a sentence: "anyOf of string and object: typed as JSON". */
  reason: string;
}

export interface LoadedSource {
  name: string;
  kind: SourceKind;
  /** The source's schema in its own names, before namespacing. Executable unless `executor` is set. */
  schema: GraphQLSchema;
  /** For remote GraphQL sources: how to send a document to the backend. */
  executor?: Executor;
  /** Pool, breaker, credentials and probe of the source's backend (engine/runtime.ts). */
  runtime?: SourceRuntime;
  /** Operations the contract declares (OpenAPI path+method pairs, WSDL operations, root fields). */
  declaredOperations: number;
  /** Operations that became root fields. */
  exposedOperations: number;
  /** What was lost; JSON-typed fields found in the built schema are added to this by the report. */
  downgrades: Downgrade[];
  /** Milliseconds the load took. */
  buildMs: number;
  /** The user's naming overrides, in the source's own names. */
  rename?: Rename;
  /** Anonymous callers may use it (`public: true` in its entry); otherwise only verified callers. */
  public?: boolean;
  /** Served under its own namespace (`namespace: true`), not merged at the root. */
  namespace?: boolean;
  /** Most keys in one batched call into it (`batchSize`); more are split into several calls. */
  batchSize?: number;
  /** Told who calls (`forwardIdentity`): what it answers may depend on the caller. */
  forwardIdentity?: boolean;
  /** Policy for its root fields that say none of their own (`policy` in its entry). */
  policy?: SourcePolicy;
}

export interface Rename {
  /** Source type name -> name to show (before the `<Name>_` prefix). */
  types?: Record<string, string>;
  /** `Type.field` (source names, roots included: `Query.GetCustomersCustomer`) -> field name to show. */
  fields?: Record<string, string>;
}
