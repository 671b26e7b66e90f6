import { DEMO_HEADERS } from '../../demo/credentials.ts';
import type { StatsSnapshot } from '../../demo/stats.ts';

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

export async function readStats(baseUrl: string): Promise<StatsSnapshot> {
  return (await (await fetch(`${baseUrl}/_stats`)).json()) as StatsSnapshot;
}

/** Zeroes the counters and disarms every fault, so each test starts from a clean backend. */
export async function resetBackend(baseUrl: string): Promise<void> {
  await (await fetch(`${baseUrl}/_stats/reset`, { method: 'POST' })).text();
  await (await fetch(`${baseUrl}/_faults`, { method: 'DELETE' })).text();
}

export async function armFault(baseUrl: string, operation: string, count = 1): Promise<void> {
  const response = await fetch(`${baseUrl}/_faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ operation, count }),
  });
  if (response.status !== 200) throw new Error(`arming ${operation} answered ${response.status}`);
  await response.text();
}

/** The `extensions.code` of each error, in order. */
export function errorCodes(answer: GraphqlAnswer): unknown[] {
  return (answer.body.errors ?? []).map((e) => e.extensions?.['code']);
}
