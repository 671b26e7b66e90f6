import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import yaml from 'js-yaml';
import { loadGraphQLSchemaFromOpenAPI } from '@omnigraph/openapi';
import type { LoadedSource } from './types.ts';
import { rootFieldCount, timedFetch } from './common.ts';

export interface OpenApiSourceOptions {
  name: string;
  /** OpenAPI 3 or Swagger 2.0 document: a file path (relative to `cwd`) or an http(s) URL. */
  source: string;
  /** Default process.cwd(). */
  cwd?: string;
  /** Base URL calls go to. Default: the document's first `servers` entry (`host`+`basePath` for Swagger). */
  endpoint?: string;
  /** HTTP headers sent with every call: the gateway's own credentials for this backend. */
  operationHeaders?: Record<string, string>;
  /** Query parameters added to every call (APIs that take their key in the query, like Google Maps). */
  queryParams?: Record<string, string>;
  /** Time allowed for one call, headers and body, in milliseconds. Default 5000. */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

async function readDocument(source: string, cwd: string, doFetch: typeof globalThis.fetch): Promise<Record<string, any>> {
  const text = /^https?:\/\//.test(source) ? await (await doFetch(source)).text() : await readFile(resolve(cwd, source), 'utf8');
  return yaml.load(text, { json: true }) as Record<string, any>;
}

/** The operations a document declares: one per path and HTTP method. */
export function countOperations(document: Record<string, any>): number {
  let count = 0;
  for (const item of Object.values<Record<string, unknown>>(document.paths ?? {})) {
    for (const method of Object.keys(item ?? {})) if (METHODS.has(method)) count++;
  }
  return count;
}

/**
 * Loads a REST source with GraphQL Mesh's OpenAPI engine (@omnigraph/openapi): one root field
 * per operation named after its operationId, unions for oneOf/anyOf, reversible enum names,
 * form-encoded and deepObject bodies, Swagger 2.0. The schema it returns executes by calling
 * the backend directly.
 */
export async function loadOpenApiSource(options: OpenApiSourceOptions): Promise<LoadedSource> {
  const started = performance.now();
  const { name, source, cwd = process.cwd(), endpoint, operationHeaders, queryParams, timeoutMs = 5_000 } = options;
  const doFetch = timedFetch(options.fetch ?? globalThis.fetch, timeoutMs);
  const document = await readDocument(source, cwd, doFetch);
  const schema = await loadGraphQLSchemaFromOpenAPI(name, {
    source: /^https?:\/\//.test(source) ? source : resolve(cwd, source),
    cwd,
    fetch: doFetch,
    ...(endpoint ? { endpoint } : {}),
    ...(operationHeaders ? { operationHeaders } : {}),
    ...(queryParams ? { queryParams } : {}),
  });
  return {
    name,
    kind: 'openapi',
    schema,
    declaredOperations: countOperations(document),
    exposedOperations: rootFieldCount(schema),
    downgrades: [],
    buildMs: Math.round(performance.now() - started),
  };
}
