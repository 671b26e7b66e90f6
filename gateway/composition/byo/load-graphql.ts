import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { buildClientSchema, buildSchema, getIntrospectionQuery, type GraphQLSchema } from 'graphql';
import { buildHTTPExecutor } from '@graphql-tools/executor-http';
import type { Executor } from '@graphql-tools/utils';
import type { LoadedSource } from './types.ts';
import { identityHeaders, rootFieldCount, timedFetch } from './common.ts';
import type { Principal } from '../../auth/principal.ts';

export interface GraphQLSourceOptions {
  name: string;
  /** The backend's GraphQL endpoint, e.g. https://api.github.com/graphql. */
  endpoint: string;
  /**
   * The backend's schema: an SDL file (relative to `cwd`). Without it the schema is introspected
   * from `endpoint` at start, which needs the backend up and introspection allowed.
   */
  source?: string;
  cwd?: string;
  /** HTTP headers sent with every call: the gateway's own credentials for this backend. */
  operationHeaders?: Record<string, string>;
  /** Time allowed for one call, headers and body, in milliseconds. Default 5000. */
  timeoutMs?: number;
  /** A first-party backend: send who is calling (common.ts identityHeaders). Default false. */
  forwardIdentity?: boolean;
  fetch?: typeof globalThis.fetch;
}

/**
 * A GraphQL source: its schema from SDL (or introspection), and an HTTP executor that sends
 * each delegated document to the backend with the gateway's credentials.
 */
export async function loadGraphQLSource(options: GraphQLSourceOptions): Promise<LoadedSource> {
  const started = performance.now();
  const { name, endpoint, source, cwd = process.cwd(), operationHeaders = {}, timeoutMs = 5_000 } = options;
  const doFetch = timedFetch(options.fetch ?? globalThis.fetch, timeoutMs);
  const executor = buildHTTPExecutor({
    endpoint,
    headers: options.forwardIdentity
      ? (request) => ({ ...operationHeaders, ...identityHeaders((request?.context as { principal?: Principal } | undefined)?.principal) })
      : operationHeaders,
    fetch: doFetch,
  });
  let schema: GraphQLSchema;
  if (source) {
    // Custom directives (GitHub's @requiredCapabilities) are declared in the SDL; a vendor's
    // SDL is taken as valid rather than re-validated on every start.
    schema = buildSchema(await readFile(resolve(cwd, source), 'utf8'), { assumeValidSDL: true });
  } else {
    const { parse } = await import('graphql');
    const result = (await executor({ document: parse(getIntrospectionQuery()) })) as { data?: any; errors?: unknown[] };
    if (!result.data) throw new Error(`introspecting ${endpoint} for source "${name}" failed: ${JSON.stringify(result.errors)}`);
    schema = buildClientSchema(result.data);
  }
  const exposed = rootFieldCount(schema);
  // executor-http is typed against its own copy of @graphql-tools/utils; the call shape is the same.
  return { name, kind: 'graphql', schema, executor: executor as unknown as Executor, declaredOperations: exposed, exposedOperations: exposed, downgrades: [], buildMs: Math.round(performance.now() - started) };
}
