/**
 * Junction's SOAP source handler: WSDL 1.1 (+ XSD) -> executable GraphQL schema.
 *
 * Pipeline: wsdl-reader (documents, imports) -> xsd-types (type model) -> operations (bindings,
 * messages) -> schema-builder (GraphQL types, root fields) ; at run time caller -> envelope
 * (+ ws-security) -> callUpstream -> reply.
 *
 * Naming, Query/Mutation split and type mapping are documented in naming.ts, builtins.ts and
 * model.ts (`ArrayOfX` wrappers are flattened to lists everywhere; see `shapeOf`).
 */
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { LoadedSource } from '../byo/types.ts';
import { callUpstream } from '../../upstream/upstream-fetch.ts';
import { createInvoker } from './caller.ts';
import type { OperationModel } from './model.ts';
import { buildOperations } from './operations.ts';
import { SchemaBuilder } from './schema-builder.ts';
import { readWsdl, type DocumentLoader, type WsdlDocument } from './wsdl-reader.ts';
import type { TokenEnvironment } from '../../upstream/ws-security.ts';
import { XsdModeler } from './xsd-types.ts';
import { createSourceRuntime, type RuntimeHooks, type SourceQuota, type SourceRuntime } from '../../engine/runtime.ts';
import type { AuthConfig } from '../../engine/credentials.ts';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_UPSTREAM_TIMEOUT_MS } from '../../upstream/upstream-fetch.ts';

export interface SoapSourceOptions {
  /** The source name, used in errors and as `UpstreamError.source`. */
  name: string;
  /** WSDL file path (relative to `cwd`) or http(s) URL. Imports and includes resolve relative to it. */
  source: string;
  /** Directory a relative `source` is read from. Default: `process.cwd()`. */
  cwd?: string;
  /** Overrides every port's `soap:address` (set it per environment). Default: the WSDL's address. */
  endpoint?: string;
  /** Binding used when a port type has both a SOAP 1.1 and a SOAP 1.2 binding. Default '1.1'. */
  soapVersion?: '1.1' | '1.2';
  /** Extra HTTP headers on every call (credentials, API keys). Content-Type and SOAPAction are always the protocol's. Default none. */
  operationHeaders?: Record<string, string>;
  /** Raw XML header blocks put inside `<soap:Header>` verbatim (trusted configuration, never user input). Default none. */
  soapHeaders?: string[];
  /** WS-Security UsernameToken on every call. Default none. */
  security?: { username: string; password: string; passwordType?: 'PasswordText' | 'PasswordDigest' };
  /** Operation names forced into Query (default: by name prefix, see naming.ts QUERY_PREFIXES). */
  queries?: string[];
  /** Operation names forced into Mutation. */
  mutations?: string[];
  /** Time for one call (and for fetching a remote WSDL/XSD), headers and body. Default 5000 ms. */
  timeoutMs?: number;
  /** Largest reply (and remote WSDL/XSD) read. Default 5 MiB. */
  maxResponseBytes?: number;
  /** Injected fetch. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Clock and nonce for WS-Security, for tests. Default: real time, random nonce. */
  tokenEnvironment?: TokenEnvironment;
  /** The gateway's hooks for every call (deadline, debug record, breaker settings); given, the source gets a runtime. */
  hooks?: RuntimeHooks;
  /** HTTP credentials besides WS-Security (engine/credentials.ts). */
  auth?: AuthConfig;
  /** The provider's rate limit, kept by the gateway (engine/runtime.ts SourceQuota). */
  quota?: SourceQuota;
  /** What `/readyz` asks (GET); default the endpoint. */
  probe?: string;
}

const isUrl = (location: string): boolean => /^https?:\/\//i.test(location);

function documentLoader(options: SoapSourceOptions): DocumentLoader {
  return async (location) => {
    if (!isUrl(location)) return readFile(location, 'utf8');
    const response = await callUpstream({ source: options.name, operation: 'wsdl', url: location, init: { method: 'GET' } }, {
      url: location, timeoutMs: options.timeoutMs, maxResponseBytes: options.maxResponseBytes, fetch: options.fetch,
    });
    if (response.status !== 200) throw new Error(`${options.name}: GET ${location} answered HTTP ${response.status}`);
    return response.text;
  };
}

export interface SoapModel {
  document: WsdlDocument;
  operations: OperationModel[];
  declared: number;
  downgrades: LoadedSource['downgrades'];
}

/** Reads the WSDL and its schemas into the operation model, without building a schema. */
export async function loadSoapModel(options: Pick<SoapSourceOptions, 'name' | 'source' | 'cwd' | 'soapVersion' | 'timeoutMs' | 'maxResponseBytes' | 'fetch'>): Promise<SoapModel> {
  const location = isUrl(options.source) ? options.source : resolvePath(options.cwd ?? process.cwd(), options.source);
  const document = await readWsdl(location, documentLoader(options));
  const { operations, declared, downgrades } = buildOperations(document, new XsdModeler(document.schemas), options.soapVersion ?? '1.1');
  return { document, operations, declared, downgrades };
}

export async function loadSoapSource(options: SoapSourceOptions): Promise<LoadedSource> {
  const started = performance.now();
  let model: SoapModel;
  try {
    model = await loadSoapModel(options);
  } catch (error) {
    throw new Error(`SOAP source ${options.name} (${options.source}) could not be read: ${(error as Error).message}`, { cause: error });
  }
  const url = options.endpoint ?? model.operations.find((op) => op.address)?.address;
  const runtime: SourceRuntime | undefined = options.hooks && url
    ? createSourceRuntime({
      name: options.name,
      url: options.probe ?? url,
      timeoutMs: options.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS,
      maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      ...(options.auth ? { auth: options.auth } : {}),
      ...(options.quota ? { quota: options.quota } : {}),
    }, { ...options.hooks, ...(options.fetch ? { fetch: options.fetch } : {}) })
    : undefined;
  const invoke = createInvoker({
    ...(runtime ? { runtime } : {}),
    source: options.name,
    endpoint: options.endpoint,
    operationHeaders: options.operationHeaders,
    soapHeaders: options.soapHeaders,
    security: options.security,
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes,
    fetch: options.fetch,
    tokenEnvironment: options.tokenEnvironment,
  });
  const built = new SchemaBuilder().build(model.operations, invoke, {
    queries: options.queries, mutations: options.mutations, description: model.document.doc,
  });
  return {
    name: options.name,
    kind: 'soap',
    schema: built.schema,
    ...(runtime ? { runtime } : {}),
    declaredOperations: model.declared,
    exposedOperations: built.fields.size,
    downgrades: [...model.downgrades, ...built.downgrades],
    buildMs: Math.round(performance.now() - started),
  };
}

export { UpstreamError } from '../../upstream/upstream-error.ts';
export { usernameTokenHeader, passwordDigest } from '../../upstream/ws-security.ts';
export type { Downgrade, LoadedSource } from '../byo/types.ts';
