import { DEMO_HEADERS } from '../../demo/credentials.ts';

/** Helpers for this folder's tests: they talk to a backend over HTTP only, like the gateway does. */

export interface GraphqlAnswer {
  status: number;
  body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}

export async function postGraphql(baseUrl: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = DEMO_HEADERS.messaging): Promise<GraphqlAnswer> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphqlAnswer['body'] };
}

/** The `extensions.code` of each error, in order. */
export function errorCodes(answer: GraphqlAnswer): unknown[] {
  return (answer.body.errors ?? []).map((e) => e.extensions?.['code']);
}

export { readStats, resetBackend, armFault, setAutomaticStatuses, advanceMessage } from '../../demo/test-surface.ts';
