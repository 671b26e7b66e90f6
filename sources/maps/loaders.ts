import type { BatchSpec, SourceOperations } from '../../schema/contract.ts';
import { junctionError } from '../../schema/errors.ts';
import type { PlaceRecord } from './records.ts';
import { MAPS_MAX_BATCH } from './contract.ts';

/** Geocoding and places change rarely and cost money per call: kept a day, served stale an hour past that while maps is down. */
const DAY_MS = 86_400_000;
const STALE_MS = 3_600_000;

/** A place as the contract serves it. */
export type Place = Omit<PlaceRecord, 'kind'> & { kind: string };

/**
 * The geocode cache key: the address as the maps service compares it (Unicode NFKC, case and
 * punctuation ignored, as its contract says), so "12 Orchard Way, Berlin" and "12 orchard way berlin"
 * share one entry.
 */
export function geocodeKey(address: string): string {
  return address.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

/**
 * One GeocodeBatch call for many addresses. The service trims what it reads, so trimmed addresses
 * are sent and matched; blank ones match nothing and are not sent at all. Every address sent must
 * come back as a result's query: an answer that drops one cannot be trusted.
 */
async function geocodeBatch(addresses: readonly string[], maps: SourceOperations): Promise<Place[][]> {
  const sent = [...new Set(addresses.map((a) => a.trim()).filter((a) => a !== ''))];
  if (sent.length === 0) return addresses.map(() => []);
  const results = await maps.call<{ query?: string | null; place?: Place[] | null }[] | null>('geocodeBatch', { address: sent });
  const byQuery = new Map((results ?? []).map((r) => [r.query, r.place ?? []]));
  const lost = sent.find((address) => !byQuery.has(address));
  if (lost !== undefined) {
    throw junctionError('SOURCE_BAD_RESPONSE', 'The maps service sent an unreadable answer.', { source: 'maps', originalError: new Error(`no result for the query ${JSON.stringify(lost)}`) });
  }
  return addresses.map((address) => byQuery.get(address.trim()) ?? []);
}

/** The maps source's batched look-ups (GeocodeBatch, GetPlaces), through the entity cache when there is one. */
export const mapsLoaders = {
  /** Places matching an address, best first; an address the service does not know gives an empty list. */
  geocode: {
    source: 'maps', maxBatch: MAPS_MAX_BATCH, empty: [], load: geocodeBatch, keysArg: 'address',
    cache: { namespace: 'geocode', ttlMs: DAY_MS, staleMs: STALE_MS, key: geocodeKey },
  } satisfies BatchSpec<string, Place[]>,
  place: {
    source: 'maps', operation: 'getPlaces', keysArg: 'id', keyField: 'id', maxBatch: MAPS_MAX_BATCH,
    cache: { namespace: 'place', ttlMs: DAY_MS, staleMs: STALE_MS, key: (id: string) => id, tags: (p: Place | null) => (p ? [`Place:${p.id}`] : []) },
  } satisfies BatchSpec<string, Place | null>,
};
