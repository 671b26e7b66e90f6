import DataLoader from 'dataloader';
import { orderByKeys } from '../../gateway/upstream/batch.ts';
import { ENTITY_STALE_MS, ENTITY_TTL_MS, NO_CACHE, type EntityCache } from '../../gateway/upstream/entity-cache.ts';
import { MAPS_MAX_BATCH, MAPS_SOURCE, type MapsClient, type Place } from './client.ts';

/**
 * The geocode cache key: the address as the maps service compares it (Unicode NFKC, case and
 * punctuation ignored, as its contract says), so "12 Orchard Way, Berlin" and "12 orchard way berlin"
 * share one entry.
 */
export function geocodeKey(address: string): string {
  return address.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

/**
 * Per-request loaders over the maps service's batch operations (GeocodeBatch, GetPlaces), through
 * the entity cache when there is one: maps look-ups cost money per call and change rarely.
 */
export function createMapsLoaders(client: MapsClient, cache: EntityCache = NO_CACHE) {
  const options = { maxBatchSize: MAPS_MAX_BATCH };
  return {
    /** Places matching an address; an address the service does not know gives an empty list. */
    geocode: new DataLoader<string, Place[]>(
      cache.batch({ source: MAPS_SOURCE, namespace: 'geocode', ttlMs: ENTITY_TTL_MS.geocode, staleMs: ENTITY_STALE_MS, keyOf: geocodeKey }, async (addresses) => {
        const results = await client.geocodeBatch(addresses);
        return addresses.map((address) => results.get(address) ?? []);
      }),
      options,
    ),
    place: new DataLoader<string, Place | null>(
      cache.batch(
        { source: MAPS_SOURCE, namespace: 'place', ttlMs: ENTITY_TTL_MS.place, staleMs: ENTITY_STALE_MS, keyOf: (id) => id, tagsOf: (p: Place | null) => (p ? [`Place:${p.id}`] : []) },
        async (ids) => orderByKeys(ids, await client.getPlaces(ids), (p) => p.id),
      ),
      options,
    ),
  };
}

export type MapsLoaders = ReturnType<typeof createMapsLoaders>;
