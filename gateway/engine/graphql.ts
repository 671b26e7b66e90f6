import { getOperationAST, GraphQLError, Kind, print, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { ExecutionRequest, ExecutionResult, Executor } from '@graphql-tools/utils';
import { UpstreamError } from '../upstream/upstream-error.ts';
import { headerRecord } from '../upstream/upstream-fetch.ts';
import type { Principal } from '../../schema/principal.ts';
import { identityHeaders } from './identity.ts';
import type { SourceRuntime } from './runtime.ts';

export interface GraphQLExecutionOptions {
  endpoint: string;
  operationHeaders?: Record<string, string>;
  forwardIdentity?: boolean;
}

/** Documents are printed once each: the same delegated document comes back on every request. */
const printed = new WeakMap<DocumentNode, string>();
function printOnce(document: DocumentNode): string {
  let text = printed.get(document);
  if (text === undefined) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

/**
 * Sends each document delegated to a GraphQL source through the source's runtime: pooled, within
 * the request's deadline, queries retried and coalesced (identical queries in flight share one
 * call), mutations never; the gateway's credentials, never the caller's. The backend's `errors`
 * come back as its own (catalogued at the source boundary); an answer that is not a GraphQL
 * response is SOURCE_BAD_RESPONSE, an HTTP failure without one SOURCE_ERROR.
 */
export function graphqlExecutor(runtime: SourceRuntime, options: GraphQLExecutionOptions): Executor {
  const { endpoint, operationHeaders = {}, forwardIdentity = false } = options;
  const base = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headerRecord(operationHeaders) };
  const executor = async (request: ExecutionRequest): Promise<ExecutionResult> => {
    const ast = getOperationAST(request.document, request.operationName);
    const operation = request.operationName ?? firstField(request.document) ?? 'graphql';
    const headers = forwardIdentity
      ? { ...base, ...identityHeaders((request.context as { principal?: Principal } | undefined)?.principal) }
      : base;
    const body = JSON.stringify({
      query: printOnce(request.document),
      ...(request.variables && Object.keys(request.variables).length > 0 ? { variables: request.variables } : {}),
      ...(request.operationName ? { operationName: request.operationName } : {}),
    });
    const batchSize = runtime.keyArgs.size > 0 && ast ? batchOf(ast, runtime.keyArgs, request.variables) : undefined;
    const response = await runtime.call({
      ...(request.context ? { context: request.context as object } : {}), operation, url: endpoint, init: { method: 'POST', headers, body }, read: ast?.operation === 'query', ...(batchSize !== undefined ? { batchSize } : {}),
    });
    let parsed: ExecutionResult | undefined;
    try {
      parsed = JSON.parse(response.text) as ExecutionResult;
    } catch {
      parsed = undefined;
    }
    const isResult = parsed && typeof parsed === 'object' && ('data' in parsed || 'errors' in parsed);
    if (isResult) {
      if (!Array.isArray(parsed!.errors)) return parsed!;
      // As GraphQLErrors, with the backend's path and extensions, for delegation and the catalogue.
      return { ...parsed!, errors: parsed!.errors.map((e) => asGraphQLError(e)) };
    }
    if (response.status < 200 || response.status >= 300) {
      throw new UpstreamError(`HTTP ${response.status}`, { source: runtime.name, operation, failure: 'http', status: response.status });
    }
    throw new UpstreamError(`${runtime.name} answered with something that is not a GraphQL response`, {
      source: runtime.name, operation, failure: 'bad_response', status: response.status,
    });
  };
  return executor as Executor;
}

/** How many keys the first root field's key argument (a declared link's `keysArg`) carries, inline or as a variable. */
function batchOf(ast: OperationDefinitionNode, keyArgs: ReadonlySet<string>, variables: Record<string, unknown> | undefined): number | undefined {
  const field = ast.selectionSet.selections[0];
  if (field?.kind !== Kind.FIELD) return undefined;
  for (const argument of field.arguments ?? []) {
    if (!keyArgs.has(argument.name.value)) continue;
    const { value } = argument;
    if (value.kind === Kind.LIST) return value.values.length;
    if (value.kind === Kind.VARIABLE) {
      const given = variables?.[value.name.value];
      if (Array.isArray(given)) return given.length;
    }
  }
  return undefined;
}

function asGraphQLError(error: unknown): GraphQLError {
  const e = (error && typeof error === 'object' ? error : {}) as { message?: unknown; path?: unknown; extensions?: unknown };
  return new GraphQLError(typeof e.message === 'string' ? e.message : 'Error', {
    ...(Array.isArray(e.path) ? { path: e.path as (string | number)[] } : {}),
    ...(e.extensions && typeof e.extensions === 'object' ? { extensions: e.extensions as Record<string, unknown> } : {}),
  });
}

/** The name of the first root field of a document's operation: the name its calls are counted by. */
export function firstField(document: DocumentNode): string | undefined {
  const ast = getOperationAST(document);
  const first = ast?.selectionSet.selections[0];
  return first?.kind === 'Field' ? first.name.value : undefined;
}
