/**
 * The baseline's code resolvers: the parts of the public shape a declarative Mesh link cannot
 * express. Both call the raw operations through Mesh's in-context SDK (`context.<source>.Query`),
 * as stack.md describes; Address.location batches with one DataLoader per request.
 */
import DataLoader from 'dataloader';
import type { GraphQLResolveInfo } from 'graphql';

interface RawAddress { line1: string; postal_code: string; city: string; country: string }
interface RawPlace { location?: { lat: number; lng: number } | null }
interface GeocodeResult { query: string; place?: RawPlace[] | null }

type SdkCall = (options: {
  root: unknown; args: Record<string, unknown>; context: unknown; info: GraphQLResolveInfo; selectionSet: string;
}) => Promise<unknown>;

interface MeshContext {
  payments: { Query: Record<string, SdkCall> };
  maps: { Query: Record<string, SdkCall> };
}

const PAYMENT_FIELDS = '{ ... on Payments_PaymentList { data { id amount currency status customer merchant } } }';

/** One geocode loader per request (the context object lives exactly one request). */
const geocoders = new WeakMap<object, DataLoader<string, RawPlace[]>>();

function geocoder(context: MeshContext, info: GraphQLResolveInfo): DataLoader<string, RawPlace[]> {
  let loader = geocoders.get(context);
  if (!loader) {
    loader = new DataLoader<string, RawPlace[]>(async (addresses) => {
      const results = (await context.maps.Query.Maps_geocodeBatch!({
        root: {}, args: { address: [...addresses] }, context, info,
        selectionSet: '{ query place { location { lat lng } } }',
      })) as GeocodeResult[] | null;
      const byQuery = new Map((results ?? []).map((r) => [r.query, r.place ?? []]));
      return addresses.map((a) => byQuery.get(a) ?? []);
    }, { maxBatchSize: 100 });
    geocoders.set(context, loader);
  }
  return loader;
}

export const resolvers = {
  // The API's statuses are lower case; the public enum is upper case, as Junction's.
  PaymentStatus: { PENDING: 'pending', SUCCEEDED: 'succeeded', FAILED: 'failed', REFUNDED: 'refunded' },
  // Read the raw value as is: stitching's default resolver would parse it with the public enum
  // first (which knows no 'succeeded') when the payment came through a declarative link.
  Payment: { status: (payment: { status: string }) => payment.status },
  Query: {
    payments: async (root: unknown, args: { first: number; after?: string | null }, context: MeshContext, info: GraphQLResolveInfo) => {
      // Cursors as Junction issues them: base64url of `cursor:<payment id>`.
      const startingAfter = args.after ? Buffer.from(args.after, 'base64url').toString('utf8').replace(/^cursor:/, '') : undefined;
      const page = (await context.payments.Query.Payments_listPayments!({
        root, args: { limit: args.first, ...(startingAfter ? { starting_after: startingAfter } : {}) }, context, info, selectionSet: PAYMENT_FIELDS,
      })) as { data?: unknown[] } | null;
      return { edges: (page?.data ?? []).map((node) => ({ node })) };
    },
  },
  Address: {
    location: {
      selectionSet: '{ line1 postal_code city country }',
      resolve: async (address: RawAddress, _args: unknown, context: MeshContext, info: GraphQLResolveInfo) => {
        const key = `${address.line1}, ${address.postal_code} ${address.city}, ${address.country}`;
        const [best] = await geocoder(context, info).load(key);
        return best?.location ?? null;
      },
    },
  },
};
