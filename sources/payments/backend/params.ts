import { parameterInvalid, parameterMissing, parameterUnknown } from './errors.ts';
import { MAX_AMOUNT } from './store.ts';

/** Most ids one `ids=` (or `payment=`) batch may ask for, like Stripe's largest list page. */
export const MAX_BATCH_IDS = 100;
/** Stripe's list page size bounds and default. */
export const MAX_LIMIT = 100;
export const DEFAULT_LIMIT = 10;
const MAX_DESCRIPTION = 1000;

/**
 * Request parameters, from a query string or a body, as strings: a form body only has
 * strings, so JSON bodies are brought to the same shape and validated by the same code.
 */
export type Params = Map<string, string>;

/**
 * Reads a query string, refusing parameters the operation does not take (Stripe's
 * `parameter_unknown`) and repeated ones, so a gateway bug shows up as an error, not as a
 * silently ignored filter.
 */
export function readQuery(search: URLSearchParams, allowed: readonly string[]): Params {
  const params: Params = new Map();
  for (const [name, value] of search) {
    if (!allowed.includes(name)) throw parameterUnknown(name);
    if (params.has(name)) throw parameterInvalid(name, `The parameter ${name} was given more than once.`);
    params.set(name, value);
  }
  return params;
}

/** Refuses body parameters the operation does not take. */
export function checkKnown(params: Params, allowed: readonly string[]): void {
  for (const name of params.keys()) if (!allowed.includes(name)) throw parameterUnknown(name);
}

/** How many ids a raw comma-separated batch asks for, before any validation (for /_stats). */
export function countIds(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  return raw === '' ? 0 : raw.split(',').length;
}

/** A comma-separated batch of 1..100 ids; duplicates are answered once. */
export function readIds(params: Params, name: string): string[] | undefined {
  const raw = params.get(name);
  if (raw === undefined) return undefined;
  const ids = raw.split(',').map((id) => id.trim());
  if (ids.some((id) => id === '')) throw parameterInvalid(name, `${name} must be a comma-separated list of ids with no empty entries.`);
  if (ids.length > MAX_BATCH_IDS) {
    throw parameterInvalid(name, `${name} accepts at most ${MAX_BATCH_IDS} ids; ${ids.length} were given.`);
  }
  return [...new Set(ids)];
}

export function readLimit(params: Params): number {
  const raw = params.get('limit');
  if (raw === undefined) return DEFAULT_LIMIT;
  const limit = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) {
    throw parameterInvalid('limit', `Invalid integer: ${raw}. limit must be between 1 and ${MAX_LIMIT}.`);
  }
  return limit;
}

/** A batch answers in one page, so paging parameters alongside it are a caller's mistake. */
export function refuseWithBatch(params: Params, batchParam: string, others: readonly string[]): void {
  for (const other of others) {
    if (params.has(other)) throw parameterInvalid(other, `${other} cannot be combined with ${batchParam}.`);
  }
}

export function readRequiredString(params: Params, name: string, maxLength = 255): string {
  const value = params.get(name);
  if (value === undefined || value === '') throw parameterMissing(name);
  if (value.length > maxLength) throw parameterInvalid(name, `${name} must be at most ${maxLength} characters.`);
  return value;
}

/** A positive integer amount in minor units; undefined when absent and not required. */
export function readAmount(params: Params, name: string, required: boolean): number | undefined {
  const raw = params.get(name);
  if (raw === undefined || raw === '') {
    if (required) throw parameterMissing(name);
    return undefined;
  }
  const amount = /^\d{1,8}$/.test(raw) ? Number(raw) : NaN;
  if (!(amount >= 1 && amount <= MAX_AMOUNT)) {
    throw parameterInvalid(name, `Invalid ${name}: ${raw}. It must be a positive integer in the currency's smallest unit, at most ${MAX_AMOUNT}.`);
  }
  return amount;
}

/** Three letters, stored lowercase like Stripe (which accepts `EUR` and answers `eur`). */
export function readCurrency(params: Params): string {
  const raw = params.get('currency');
  if (raw === undefined || raw === '') throw parameterMissing('currency');
  if (!/^[A-Za-z]{3}$/.test(raw)) throw parameterInvalid('currency', `Invalid currency: ${raw}. Use a three-letter ISO 4217 code.`);
  return raw.toLowerCase();
}

/** Optional free text; empty means none, as in Stripe's form API. */
export function readDescription(params: Params): string | null {
  const raw = params.get('description');
  if (raw === undefined || raw === '') return null;
  if (raw.length > MAX_DESCRIPTION) {
    throw parameterInvalid('description', `description must be at most ${MAX_DESCRIPTION} characters.`);
  }
  return raw;
}
