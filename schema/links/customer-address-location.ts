import { formatAddress, type AddressRecord } from '../../sources/payments/records.ts';
import type { JunctionContext } from '../context.ts';

/** payments -> maps: a customer's address is geocoded by the maps service. */
export const typeDefs = /* GraphQL */ `
  extend type Address {
    "Where the address is, geocoded by the maps service; null when it cannot be geocoded."
    location: GeoPoint
  }
`;

export const resolvers = {
  Address: {
    location: async (address: AddressRecord, _: unknown, { loaders }: JunctionContext) => {
      const [best] = await loaders.geocode.load(formatAddress(address));
      return best?.location ?? null;
    },
  },
};
