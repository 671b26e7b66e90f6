import { ApiError, parameterInvalid } from './errors.ts';
import type { Params } from './params.ts';

/** Stripe's limit on an `Idempotency-Key`, in characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
/** Keys remembered before the oldest is forgotten. Default 10,000 (Stripe keeps them for 24 h). */
export const DEFAULT_IDEMPOTENCY_CAPACITY = 10_000;

interface SavedResult {
  fingerprint: string;
  status: number;
  body: unknown;
}

export type IdempotencyLookup =
  | { kind: 'new' }
  | { kind: 'replay'; status: number; body: unknown };

/**
 * Stripe's idempotent requests: the first answer to a key is saved and replayed for a retry
 * with the same parameters; the key with other parameters, or on another endpoint, is an
 * `idempotency_error`. Only successes are saved: like Stripe, a request rejected by
 * validation did not run, so retrying it with the key (after fixing it) is allowed.
 */
export interface IdempotencyStore {
  lookup(key: string, fingerprint: string): IdempotencyLookup;
  save(key: string, fingerprint: string, status: number, body: unknown): void;
}

export function createIdempotencyStore(capacity = DEFAULT_IDEMPOTENCY_CAPACITY): IdempotencyStore {
  // A Map iterates in insertion order, so its first key is the oldest.
  const saved = new Map<string, SavedResult>();
  return {
    lookup(key, fingerprint) {
      const result = saved.get(key);
      if (!result) return { kind: 'new' };
      if (result.fingerprint !== fingerprint) {
        throw new ApiError(400, 'idempotency_error', 'idempotency_key_in_use',
          `Keys for idempotent requests can only be used with the same parameters they were first used with. ` +
          `Try using a key other than '${key}' if you meant to execute a different request.`);
      }
      return { kind: 'replay', status: result.status, body: result.body };
    },
    save(key, fingerprint, status, body) {
      saved.set(key, { fingerprint, status, body });
      if (saved.size > capacity) saved.delete(saved.keys().next().value as string);
    },
  };
}

/** The `Idempotency-Key` header, validated; undefined when absent. */
export function readIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header.join(',') : header;
  if (key === '' || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw parameterInvalid(undefined,
      `Idempotency-Key must be between 1 and ${MAX_IDEMPOTENCY_KEY_LENGTH} characters long; got ${key.length}.`);
  }
  return key;
}

/** Same operation and same parameters, whatever their order or body encoding. */
export function fingerprint(operation: string, params: Params): string {
  const entries = [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([operation, entries]);
}
