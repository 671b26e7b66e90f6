import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { buildClientSchema, buildSchema, getIntrospectionQuery, type GraphQLSchema } from 'graphql';
import type { LoadedSource } from './types.ts';
import { rootFieldCount } from './common.ts';
import { graphqlExecutor } from '../../engine/graphql.ts';
import { createSourceRuntime, type RuntimeHooks, type SourceQuota } from '../../engine/runtime.ts';
import type { AuthConfig } from '../../engine/credentials.ts';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../../upstream/upstream-fetch.ts';

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
  /** A first-party backend: send who is calling (engine/identity.ts). Default false. */
  forwardIdentity?: boolean;
  /** The gateway's credentials for the backend (engine/credentials.ts). */
  auth?: AuthConfig;
  /** The provider's rate limit, kept by the gateway (engine/runtime.ts SourceQuota). */
  quota?: SourceQuota;
  /** What `/readyz` asks (GET); default the endpoint. */
  probe?: string;
  /** Largest answer read, in bytes. Default 5 MiB. */
  maxResponseBytes?: number;
  /** The gateway's hooks for every call (deadline, debug record, breaker settings). */
  hooks?: RuntimeHooks;
  fetch?: typeof globalThis.fetch;
}

/**
 * A GraphQL source: its schema from SDL (or introspection), and an HTTP executor that sends
 * each delegated document to the backend with the gateway's credentials.
 */
export async function loadGraphQLSource(options: GraphQLSourceOptions): Promise<LoadedSource> {
  const started = performance.now();
  const { name, endpoint, source, cwd = process.cwd(), operationHeaders = {}, timeoutMs = 5_000 } = options;
  const runtime = createSourceRuntime({
    name,
    url: options.probe ?? endpoint,
    timeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.quota ? { quota: options.quota } : {}),
    // Any GraphQL server answers this, and it costs it nothing; an entry's own `probe` URL is a GET.
    ...(options.probe ? {} : { probe: { method: 'POST' as const, body: '{"query":"{__typename}"}', headers: { 'content-type': 'application/json', ...operationHeaders } } }),
  }, { ...options.hooks, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const executor = graphqlExecutor(runtime, { endpoint, operationHeaders, forwardIdentity: options.forwardIdentity === true });
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
  return { name, kind: 'graphql', schema, executor, runtime, declaredOperations: exposed, exposedOperations: exposed, downgrades: [], buildMs: Math.round(performance.now() - started) };
}
