import type { GeoPoint, PlaceRecord } from '../../demo/seed.ts';
import { haversineMeters } from './geo.ts';

/** Most places one geocode answers with, like a geocoder's candidate list. */
export const MAX_GEOCODE_MATCHES = 5;

/**
 * The lookups the maps operations need over a fixed set of places. Built once per backend;
 * the demo data is small (a few hundred places), so linear scans are fast enough and keep
 * matching easy to reason about.
 */
export interface PlaceIndex {
  /** Places whose formatted address contains every word of `address`, exact match first, at most 5. */
  geocode(address: string): PlaceRecord[];
  /** The place nearest to `point` when it lies within `withinMeters`, else undefined. */
  nearest(point: GeoPoint, withinMeters: number): PlaceRecord | undefined;
  get(id: string): PlaceRecord | undefined;
  /** Every place of `kind` (every place when absent), in seed order. */
  list(kind?: PlaceRecord['kind']): PlaceRecord[];
  /**
   * Changes a place as its owner would (a business renamed, moved): the new record answers every
   * operation from now on. Undefined for an unknown id. The seed's own record is left as it was.
   */
  update(id: string, change: Partial<Pick<PlaceRecord, 'name' | 'formattedAddress' | 'location'>>): PlaceRecord | undefined;
}

/**
 * Lowercases, turns punctuation into spaces and collapses whitespace, so "12 Linden St.," and
 * "12  linden st" compare equal. NFKC folds look-alike code points (full-width digits, ligatures).
 */
export function normalizeAddress(address: string): string {
  return address.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

interface IndexedPlace {
  place: PlaceRecord;
  normalized: string;
  tokens: Set<string>;
  order: number;
}

export function createPlaceIndex(places: readonly PlaceRecord[]): PlaceIndex {
  const byId = new Map<string, IndexedPlace>();
  const entryOf = (place: PlaceRecord, order: number): IndexedPlace => {
    const normalized = normalizeAddress(place.formattedAddress);
    return { place, normalized, tokens: new Set(normalized.split(' ')), order };
  };
  const indexed: IndexedPlace[] = places.map((place, order) => {
    const entry = entryOf(place, order);
    byId.set(place.id, entry);
    return entry;
  });

  return {
    geocode(address) {
      const normalized = normalizeAddress(address);
      // An empty query would match every place vacuously; a geocoder answers "nothing found".
      if (normalized === '') return [];
      const queryTokens = normalized.split(' ');
      const matches = indexed.filter((entry) => queryTokens.every((token) => entry.tokens.has(token)));
      // Exact address first, then the most specific (fewest extra words), then seed order for stability.
      matches.sort((a, b) =>
        Number(b.normalized === normalized) - Number(a.normalized === normalized)
        || a.tokens.size - b.tokens.size
        || a.order - b.order);
      return matches.slice(0, MAX_GEOCODE_MATCHES).map((entry) => entry.place);
    },
    nearest(point, withinMeters) {
      let best: PlaceRecord | undefined;
      let bestMeters = Infinity;
      for (const { place } of indexed) {
        const meters = haversineMeters(point, place.location);
        if (meters < bestMeters) {
          best = place;
          bestMeters = meters;
        }
      }
      return bestMeters <= withinMeters ? best : undefined;
    },
    get(id) {
      return byId.get(id)?.place;
    },
    list(kind) {
      return indexed.filter((entry) => kind === undefined || entry.place.kind === kind).map((entry) => entry.place);
    },
    update(id, change) {
      const entry = byId.get(id);
      if (!entry) return undefined;
      const changed = entryOf({ ...entry.place, ...change, location: { ...(change.location ?? entry.place.location) } }, entry.order);
      indexed[entry.order] = changed;
      byId.set(id, changed);
      return changed.place;
    },
  };
}
