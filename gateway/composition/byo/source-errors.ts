import { GraphQLError } from 'graphql';
import { createDefaultExecutor } from '@graphql-tools/delegate';
import type { ExecutionRequest, ExecutionResult, Executor } from '@graphql-tools/utils';
import { fromSourceFailure, junctionError, relocated, UpstreamError } from '../../errors.ts';
import type { LoadedSource } from './types.ts';
import { restErrorDetail as restBodyDetail } from '../../engine/rest.ts';

/**
 * The boundary between a user source and the public schema. Whatever a source's engine reports
 * when its backend fails (GraphQL Mesh's REST engine attaches the upstream URL, headers and body;
 * a remote GraphQL API sends its own error codes; Junction's SOAP handler throws UpstreamError)
 * becomes the same catalogued error every other path gives: SOURCE_* with the source's name
 * and the backend's own code, and nothing else. The backend's HTTP status never becomes ours.
 */

type Extensions = Record<string, any>;

const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/** The backend's own error code and message from a REST error body, as text or parsed. */
function restErrorDetail(body: unknown): { code?: string; message?: string } {
  return restBodyDetail(typeof body === 'string' ? safeJson(body) : body);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function classify(source: LoadedSource, error: GraphQLError | Error): UpstreamError | undefined {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof UpstreamError) return original;
  const ext: Extensions = error instanceof GraphQLError ? error.extensions : {};
  const operation = str(ext.request?.method) && str(ext.request?.url)
    ? `${ext.request.method} ${new URL(ext.request.url).pathname}`
    : String((error as GraphQLError).path?.[0] ?? 'a request');
  const base = { source: source.name, operation };
  const status = typeof ext.response?.status === 'number' ? (ext.response.status as number) : undefined;
  if (status !== undefined && (status < 200 || status >= 300)) {
    const detail = restErrorDetail(ext.response.body);
    return new UpstreamError(detail.message ?? `HTTP ${status}`, { ...base, failure: 'http', status, ...(detail.code ? { upstreamCode: detail.code } : {}) });
  }
  const message = `${error.message} ${original instanceof Error ? `${original.name} ${original.message}` : ''}`;
  if (/TimeoutError|AbortError|aborted|timed? ?out/i.test(message)) return new UpstreamError('timeout', { ...base, failure: 'timeout' });
  if (/fetch failed|ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|socket hang up/i.test(message)) {
    return new UpstreamError('unreachable', { ...base, failure: 'unreachable' });
  }
  if (status !== undefined || /^Unexpected response/.test(error.message)) return new UpstreamError('unreadable', { ...base, failure: 'bad_response', ...(status ? { status } : {}) });
  if (source.kind === 'graphql') {
    const code = str(ext.code);
    return new UpstreamError(error.message, { ...base, failure: 'graphql', ...(code ? { upstreamCode: code } : {}) });
  }
  return undefined;
}

/** The catalogued error for one error a source produced; anything unrecognised is masked. */
export function toCatalogueError(source: LoadedSource, error: GraphQLError | Error): GraphQLError {
  const original = error instanceof GraphQLError ? error.originalError : error;
  const mapped = fromSourceFailure(original)
    ?? fromSourceFailure(classify(source, error))
    ?? junctionError('INTERNAL_SERVER_ERROR', 'Unexpected error.', { source: source.name });
  return relocated(mapped, error instanceof GraphQLError ? error : undefined);
}

/** The source's executor (or one over its own schema), with every error mapped at the boundary. */
export function catalogueExecutor(source: LoadedSource): Executor {
  // graphql-tools packages each carry their own copy of utils' types; the call shape is the same.
  const inner = (source.executor ?? createDefaultExecutor(source.schema)) as unknown as (request: ExecutionRequest) => Promise<unknown>;
  const executor = async (request: ExecutionRequest) => {
    let result: unknown;
    try {
      result = await inner(request);
    } catch (err) {
      return { errors: [toCatalogueError(source, err as Error)] };
    }
    if (Symbol.asyncIterator in (result as object)) return result;
    const single = result as ExecutionResult;
    if (!single.errors?.length) return single;
    return { ...single, errors: single.errors.map((e) => toCatalogueError(source, e as GraphQLError)) };
  };
  return executor as Executor;
}
