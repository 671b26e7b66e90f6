import { makeExecutableSchema } from '@graphql-tools/schema';
import type { IResolvers } from '@graphql-tools/utils';
import type { GraphQLSchema } from 'graphql';
import * as scalars from './scalars.ts';
import * as authorization from './authorization.ts';
import * as cacheControl from './cache-control.ts';
import * as rateLimit from './rate-limit.ts';
import * as payments from './payments.ts';
import * as maps from './maps.ts';
import * as messaging from './messaging.ts';
import * as customerAddressLocation from './links/customer-address-location.ts';
import * as merchantPlace from './links/merchant-place.ts';
import * as customerMessages from './links/customer-messages.ts';
import * as messageCustomer from './links/message-customer.ts';
import type { TypeOrigin } from './origins.ts';
import { applyAuthorization } from './authorization.ts';
import { applyRateLimits } from './rate-limit.ts';

/**
 * The public contract: one module per domain, one per cross-source link. A module is
 * `{ typeDefs, resolvers, origins? }`; adding a link means adding a file and a line here.
 */
const modules: { typeDefs: string; resolvers?: object; origins?: TypeOrigin[] }[] = [
  authorization,
  cacheControl,
  rateLimit,
  scalars,
  payments,
  maps,
  messaging,
  customerAddressLocation,
  merchantPlace,
  customerMessages,
  messageCustomer,
];

export const origins: readonly TypeOrigin[] = modules.flatMap((m) => m.origins ?? []);

export function buildPublicSchema(): GraphQLSchema {
  // Authorization wraps the rate limit: a denied call spends none of the caller's allowance.
  return applyAuthorization(applyRateLimits(makeExecutableSchema({
    typeDefs: modules.map((m) => m.typeDefs),
    resolvers: modules.map((m) => (m.resolvers ?? {}) as IResolvers),
  })));
}
