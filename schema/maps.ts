import { junctionError } from './errors.ts';
import type { JunctionContext } from './context.ts';
import type { SourceEvent } from './contract.ts';
import type { Place } from '../sources/maps/loaders.ts';
import type { TypeOrigin } from './origins.ts';

/** The maps domain, served by the `maps` source (SOAP, sources/maps/service.wsdl). */
export const typeDefs = /* GraphQL */ `
  type Query {
    "Places matching a free-text address, best match first (at most 5); empty when none match, null only when the look-up failed (the error says why)."
    geocode(address: String!): [Place!]
    "A place by id, or null when there is none."
    place(id: ID!): Place
  }

  type Subscription {
    "A business's place as it changes (renamed, moved). The maps service cannot push: the gateway reads its places every MAPS_POLL_INTERVAL_SEC (default 30), so a change arrives within that. \`id\`: only that place's changes."
    placeUpdated(id: ID): Place
  }

  type Place @cacheControl(maxAge: 86400) {
    id: ID!
    name: String!
    formattedAddress: String!
    location: GeoPoint!
  }

  "A point on Earth in WGS 84 degrees."
  type GeoPoint {
    lat: Float!
    lng: Float!
  }
`;

export const origins: TypeOrigin[] = [
  { type: 'Place', source: 'maps', sourceType: 'Place' },
  { type: 'GeoPoint', source: 'maps', sourceType: 'GeoPoint' },
];

/** Characters XML 1.0 cannot carry: C0 controls but tab, CR and LF; lone surrogates; U+FFFE and U+FFFF. */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Longest address accepted, in characters: a bound on what one request can make the backend match. */
export const MAX_ADDRESS_LENGTH = 500;

export const resolvers = {
  Query: {
    geocode: (_: unknown, { address }: { address: string }, { loaders }: JunctionContext) => {
      const trimmed = address.trim();
      if (trimmed === '' || trimmed.length > MAX_ADDRESS_LENGTH) {
        throw junctionError('BAD_USER_INPUT', `"address" must be 1 to ${MAX_ADDRESS_LENGTH} characters.`, { argument: 'address' });
      }
      // What the maps service's XML cannot carry is the caller's error, not an empty answer.
      if (NOT_XML.test(trimmed)) throw junctionError('BAD_USER_INPUT', '"address" holds a character XML cannot carry.', { argument: 'address' });
      return loaders.geocode.load(trimmed);
    },
    place: (_: unknown, { id }: { id: string }, { loaders }: JunctionContext) => loaders.place.load(id),
  },

  Subscription: {
    placeUpdated: {
      subscribe: (_: unknown, { id }: { id?: string | null }, context: JunctionContext) => context.subscribe(PLACES_TOPIC, aboutPlace(id)),
      // The event carries the place as the service now answers it; its cached answers were dropped
      // before it was published (the poll's `invalidates`).
      resolve: (event: SourceEvent) => event.payload as Place,
    },
  },
};

/** The topic the maps entry's poll (`.meshrc.yaml`) publishes on. */
const PLACES_TOPIC = 'places';

/** Whether an event of the places topic is a place that changed (that one only, given an id); a place gone has nothing to show. */
const aboutPlace = (id: string | null | undefined) => (event: SourceEvent) =>
  event.type === 'changed' && (id === null || id === undefined || (event.payload as { id?: unknown } | null)?.id === id);
