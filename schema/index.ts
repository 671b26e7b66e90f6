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
import type { Contract } from './contract.ts';
import { EXAMPLE_QUERY } from './example-query.ts';
import { paymentsLoaders } from '../sources/payments/loaders.ts';
import { mapsLoaders } from '../sources/maps/loaders.ts';
import { messagingLoaders } from '../sources/messaging/loaders.ts';

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

/** Every scope the demo contract asks for (`@requiresScopes`): what a demo caller with full access holds. */
export const DEMO_SCOPES: readonly string[] = Object.freeze(['messages:read', 'messages:send', 'payments:read', 'payments:write']);

/**
 * The demo's public contract, served over the payments (REST), maps (SOAP) and messaging (GraphQL)
 * sources that .meshrc.yaml declares (`contract: ./schema/index.ts`). The engine loads, runs and
 * guards those sources as it does any other; only this contract's fields are public.
 */
export const contract: Contract = {
  sources: ['payments', 'maps', 'messaging'],
  typeDefs: modules.map((m) => m.typeDefs),
  resolvers: modules.map((m) => m.resolvers ?? {}),
  origins: modules.flatMap((m) => m.origins ?? []),
  loaders: { ...paymentsLoaders, ...mapsLoaders, ...messagingLoaders },
  exampleQuery: EXAMPLE_QUERY,
};
