import type { MerchantRecord } from '../../sources/payments/records.ts';
import type { JunctionContext } from '../context.ts';

/** payments -> maps: a merchant's shop is a place in the maps service. */
export const typeDefs = /* GraphQL */ `
  extend type Merchant {
    "The merchant's shop, from the maps service."
    place: Place
  }
`;

export const resolvers = {
  Merchant: {
    place: (merchant: MerchantRecord, _: unknown, { loaders }: JunctionContext) => loaders.place.load(merchant.place),
  },
};
