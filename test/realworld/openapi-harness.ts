import { afterAll, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import yaml from 'js-yaml';
import { graphql, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { mergeSchemas } from '@graphql-tools/schema';
import { buildPublicSchema } from '../helpers/public-schema.ts';
import { loadOpenApiSource } from '../../gateway/composition/byo/load-openapi.ts';
import { namespaceSource } from '../../gateway/composition/byo/namespace.ts';
import { reportSource, type SourceReport } from '../../gateway/composition/byo/report.ts';
import type { LoadedSource } from '../../gateway/composition/byo/types.ts';
import { corpusFile, writeResult } from './corpus.ts';
import { startOpenApiStandIn, type OpenApiStandIn, type RecordedRequest, type StandInOptions } from './openapi-stand-in.ts';

export interface OpenApiCase {
  /** Path inside the corpus: openapi/stripe/spec3.yaml. */
  file: string;
  /** Source name: the namespace field and type prefix (`stripe` -> `Query.stripe`, `Stripe_*`). */
  name: string;
  operationHeaders?: Record<string, string>;
  queryParams?: Record<string, string>;
  /** Answer from openapi/stripe/fixtures3.json where the document has no example. */
  stripeFixtures?: boolean;
  /** Operation parameters that carry credentials, never client arguments (the entry's `credentialParams`). */
  credentialParams?: string[];
  /** The stand-in's answers to some requests, instead of the document's (openapi-stand-in.ts). */
  respond?: StandInOptions['respond'];
}

export interface OpenApiSetup {
  source: LoadedSource;
  report: SourceReport;
  standIn: OpenApiStandIn;
  curated: GraphQLSchema;
  namespaced: GraphQLSchema;
  /** The curated contract with the source beside it, as the gateway serves them. */
  merged: GraphQLSchema;
}

export const readCorpusDocument = (file: string) => yaml.load(readFileSync(corpusFile(file), 'utf8'), { json: true }) as Record<string, any>;

/** Stand-in first (its URL is the source's endpoint), then the source, then the merge. */
export async function setUpOpenApi(c: OpenApiCase): Promise<OpenApiSetup> {
  const fixtures = c.stripeFixtures ? readCorpusDocument('openapi/stripe/fixtures3.json').resources : undefined;
  const standIn = await startOpenApiStandIn(readCorpusDocument(c.file), { fixtures, ...(c.respond ? { respond: c.respond } : {}) });
  const source = await loadOpenApiSource({
    name: c.name,
    source: corpusFile(c.file),
    endpoint: standIn.endpoint,
    ...(c.operationHeaders ? { operationHeaders: c.operationHeaders } : {}),
    ...(c.queryParams ? { queryParams: c.queryParams } : {}),
    ...(c.credentialParams ? { credentialParams: c.credentialParams } : {}),
  });
  const curated = buildPublicSchema();
  const namespaced = namespaceSource(source);
  return { source, report: reportSource(source), standIn, curated, namespaced, merged: mergeSchemas({ schemas: [curated, namespaced] }) };
}

const SHARED = new Set(['Query', 'Mutation', 'Subscription', 'String', 'Int', 'Float', 'Boolean', 'ID']);

/** Type names both schemas define, other than the roots and built-in scalars: each one a collision. */
export function collisions(curated: GraphQLSchema, namespaced: GraphQLSchema): string[] {
  const ours = new Set(Object.keys(curated.getTypeMap()));
  return Object.keys(namespaced.getTypeMap()).filter((name) => ours.has(name) && !SHARED.has(name) && !name.startsWith('__'));
}

/** The context of a verified caller: user sources answer no anonymous caller unless configured public. */
export const SIGNED_IN = Object.freeze({ principal: Object.freeze({ kind: 'user' as const, id: 'realworld', scopes: new Set<string>(), via: 'jwt' as const }) });

/** Runs one document on the merged schema, as a verified caller, and returns the result with the requests the backend saw. */
export async function execute(
  setup: OpenApiSetup,
  source: string,
  variableValues?: Record<string, unknown>,
): Promise<{ result: ExecutionResult; requests: RecordedRequest[] }> {
  setup.standIn.requests.length = 0;
  const result = await graphql({ schema: setup.merged, source, contextValue: SIGNED_IN, ...(variableValues ? { variableValues } : {}) });
  return { result, requests: [...setup.standIn.requests] };
}

/** A form-urlencoded body as ordered [name, value] pairs, names decoded (`address[city]`). */
export const formPairs = (body: string) => [...new URLSearchParams(body)];

/** Build time and peak memory of one document loaded in a process of its own (build-one.ts). */
export function buildInOwnProcess(file: string): { buildMs: number; peakRssMb: number } {
  const stdout = execFileSync(process.execPath, ['--import', 'tsx', 'test/realworld/build-one.ts', corpusFile(file)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { buildMs: number; peakRssMb: number };
}

export function recordResult(
  c: OpenApiCase,
  setup: OpenApiSetup,
  operation: string,
  request: RecordedRequest,
  checked: Record<string, unknown>,
  peakRssMb?: number,
): void {
  writeResult({
    file: c.file,
    kind: 'openapi',
    declaredOperations: setup.report.declaredOperations,
    exposedOperations: setup.report.exposedOperations,
    downgrades: setup.report.downgrades,
    buildMs: setup.report.buildMs,
    ...(peakRssMb === undefined ? {} : { peakRssMb }),
    executed: { operation, request: { method: request.method, path: request.path, contentType: request.contentType ?? null, ...checked } },
  });
}

/** The case set up once for a describe block (stand-in closed after it), read in its tests. */
export function useSetup(c: OpenApiCase): () => OpenApiSetup {
  let setup: OpenApiSetup | undefined;
  beforeAll(async () => {
    setup = await setUpOpenApi(c);
  });
  afterAll(() => setup?.standIn.close());
  return () => setup!;
}
