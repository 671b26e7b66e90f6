import type { StatsSnapshot } from './stats.ts';

/**
 * What tests ask of a demo backend over HTTP: its counters (`GET /_stats`), the credentials it
 * was sent (`GET /_stats/credentials`), a reset, and faults (`POST /_faults`). Every answer's body
 * is read to its end, so no connection is left half-read.
 */
export async function readStats(baseUrl: string): Promise<StatsSnapshot> {
  return (await (await fetch(`${baseUrl}/_stats`)).json()) as StatsSnapshot;
}

export async function credentialsSeen(baseUrl: string): Promise<string[]> {
  return (await (await fetch(`${baseUrl}/_stats/credentials`)).json()) as string[];
}

/** Zeroes the counters and disarms every fault, so each test starts from a clean backend. */
export async function resetBackend(baseUrl: string): Promise<void> {
  await (await fetch(`${baseUrl}/_stats/reset`, { method: 'POST' })).arrayBuffer();
  await (await fetch(`${baseUrl}/_faults`, { method: 'DELETE' })).arrayBuffer();
}

/** Makes the next `count` calls of `operation` fail (-1: until reset). */
export async function armFault(baseUrl: string, operation: string, count = 1): Promise<void> {
  const response = await fetch(`${baseUrl}/_faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ operation, count }),
  });
  if (response.status !== 200) throw new Error(`arming ${operation} answered ${response.status}`);
  await response.arrayBuffer();
}

/** The messaging backend: whether sent messages move on by themselves (`POST /_statuses`). */
export async function setAutomaticStatuses(baseUrl: string, automatic: boolean): Promise<void> {
  const response = await fetch(`${baseUrl}/_statuses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ automatic }),
  });
  if (response.status !== 200) throw new Error(`setting automatic statuses answered ${response.status}`);
  await response.arrayBuffer();
}

/** The messaging backend: moves a message one status on now, sending its callback; resolves to the new status. */
export async function advanceMessage(baseUrl: string, id: string): Promise<string> {
  const response = await fetch(`${baseUrl}/_statuses/advance`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id }),
  });
  const body = (await response.json()) as { status?: string; error?: string };
  if (response.status !== 200 || !body.status) throw new Error(`advancing ${id} answered ${response.status}: ${body.error}`);
  return body.status;
}
