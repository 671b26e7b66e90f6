import { UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import type { UpstreamResponse } from '../../gateway/upstream/upstream-fetch.ts';

export interface CallSite {
  source: string;
  operation: string;
}

interface GraphqlError {
  message?: unknown;
  extensions?: { code?: unknown };
}

/**
 * Reads a GraphQL-over-HTTP answer and returns its `data`, or throws the UpstreamError the
 * gateway expects: `http` for a non-2xx status, `graphql` for a 2xx answer carrying `errors`
 * (even with partial data: a half-answered batch is not an answer), `bad_response` for
 * anything that is not a GraphQL result.
 */
export function readGraphqlData(response: UpstreamResponse, site: CallSite): Record<string, unknown> {
  const { source, operation } = site;
  const { status } = response;
  const ok = status >= 200 && status < 300;
  let body: unknown;
  try {
    body = JSON.parse(response.text);
  } catch (cause) {
    if (!ok) throw new UpstreamError(`${source} answered ${operation} with HTTP ${status}`, { ...site, failure: 'http', status });
    throw new UpstreamError(`${source} answered ${operation} with a body that is not JSON`, {
      ...site, failure: 'bad_response', status, cause,
    });
  }
  const first = firstError(body);
  if (!ok) {
    const detail = first ? `: ${describe(first)}` : '';
    throw new UpstreamError(`${source} answered ${operation} with HTTP ${status}${detail}`, {
      ...site, failure: 'http', status, upstreamCode: codeOf(first),
    });
  }
  if (first) {
    throw new UpstreamError(describe(first), { ...site, failure: 'graphql', status, upstreamCode: codeOf(first) });
  }
  const data = isObject(body) ? body['data'] : undefined;
  if (!isObject(data)) {
    throw new UpstreamError(`${source} answered ${operation} without data or errors`, { ...site, failure: 'bad_response', status });
  }
  return data;
}

function firstError(body: unknown): GraphqlError | undefined {
  if (!isObject(body)) return undefined;
  const errors = body['errors'];
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const first: unknown = errors[0];
  return isObject(first) ? (first as GraphqlError) : {};
}

function describe(error: GraphqlError): string {
  return typeof error.message === 'string' && error.message !== '' ? error.message : 'GraphQL error without a message';
}

function codeOf(error: GraphqlError | undefined): string | undefined {
  const code = error?.extensions?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
