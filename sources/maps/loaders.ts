import DataLoader from 'dataloader';
import { orderByKeys } from '../common/batch.ts';
import { MAPS_MAX_BATCH, type MapsClient, type Place } from './client.ts';

/** Per-request loaders over the maps service's batch operations (GeocodeBatch, GetPlaces). */
export function createMapsLoaders(client: MapsClient) {
  const options = { maxBatchSize: MAPS_MAX_BATCH };
  return {
    /** Places matching an address; an address the service does not know gives an empty list. */
    geocode: new DataLoader<string, Place[]>(async (addresses) => {
      const results = await client.geocodeBatch(addresses);
      return addresses.map((address) => results.get(address) ?? []);
    }, options),
    place: new DataLoader<string, Place | null>(
      async (ids) => orderByKeys(ids, await client.getPlaces(ids), (p) => p.id),
      options,
    ),
  };
}

export type MapsLoaders = ReturnType<typeof createMapsLoaders>;
