import { junctionError } from './errors.ts';

/** Largest page a connection field serves. */
export const MAX_PAGE_SIZE = 100;

const CURSOR_PREFIX = 'cursor:';

/**
 * Cursors are opaque to clients: base64url of the backend's own position (a Stripe-style
 * `starting_after` id), so the backend's paging scheme can change without breaking clients.
 */
export function encodeCursor(position: string): string {
  return Buffer.from(CURSOR_PREFIX + position, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined, argument = 'after'): string | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const decoded = /^[A-Za-z0-9_-]{1,400}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!decoded.startsWith(CURSOR_PREFIX) || decoded.length === CURSOR_PREFIX.length) {
    throw junctionError('BAD_USER_INPUT', `"${argument}" is not a cursor this API issued.`, { argument });
  }
  return decoded.slice(CURSOR_PREFIX.length);
}

export function checkPageSize(first: number, argument = 'first', max = MAX_PAGE_SIZE): number {
  if (!Number.isInteger(first) || first < 1 || first > max) {
    throw junctionError('BAD_USER_INPUT', `"${argument}" must be between 1 and ${max}; got ${first}.`, { argument });
  }
  return first;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export function toConnection<T extends { id: string }>(items: T[], hasMore: boolean): Connection<T> {
  const edges = items.map((node) => ({ cursor: encodeCursor(node.id), node }));
  return { edges, pageInfo: { hasNextPage: hasMore, endCursor: edges.at(-1)?.cursor ?? null } };
}
