import { createSeed, type Seed } from './demo/seed.ts';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import type { SourceClientOptions } from '../gateway/upstream/upstream-fetch.ts';
import type { DemoBackend, DemoBackendOptions } from './demo/server.ts';
import { credentialHeaders, type SourceCredentials } from './demo/credentials.ts';
import type { EntityCache } from '../gateway/upstream/entity-cache.ts';
import { createPaymentsClient, type PaymentsClient } from './payments/client.ts';
import { createMapsClient, type MapsClient } from './maps/client.ts';
import { createMessagingClient, type MessagingClient } from './messaging/client.ts';
import { createPaymentsLoaders } from './payments/loaders.ts';
import { createMapsLoaders } from './maps/loaders.ts';
import { createMessagingLoaders } from './messaging/loaders.ts';

/**
 * The registry of backends: adding one means a folder under sources/ and an entry here (and in
 * .meshrc.yaml). Everything else reaches sources through this module.
 */
export const SOURCE_NAMES = ['payments', 'maps', 'messaging'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/**
 * Each demo source's contract, as a path from the repository's root: a sources-file entry is the
 * demo source (served by the curated contract) only when it has the demo's name *and* this
 * contract. A user's own source that happens to be called `payments` is theirs.
 */
export const DEMO_CONTRACTS: Readonly<Record<SourceName, string>> = Object.freeze({
  payments: fileURLToPath(new URL('./payments/openapi.yaml', import.meta.url)),
  maps: fileURLToPath(new URL('./maps/service.wsdl', import.meta.url)),
  messaging: fileURLToPath(new URL('./messaging/schema.graphql', import.meta.url)),
});

/** Where `npm start` and `npm run backends` put the demo backends unless told otherwise. */
export const DEMO_PORTS: Readonly<Record<SourceName, number>> = Object.freeze({ payments: 4101, maps: 4102, messaging: 4103 });

export interface SourceClients {
  payments: PaymentsClient;
  maps: MapsClient;
  messaging: MessagingClient;
}

export type UpstreamOptions = Omit<SourceClientOptions, 'url'>;

/**
 * One client per backend. Each has its own map of reads in flight, so identical reads made at
 * the same time, by any requests, reach its backend once (see `inFlight` in upstream-fetch.ts).
 */
export function createSourceClients(
  urls: Record<SourceName, string>,
  credentials: SourceCredentials,
  upstream: UpstreamOptions = {},
  /** Options of one source over the common ones: its timeout, quota, breaker. */
  perSource: Partial<Record<SourceName, Partial<UpstreamOptions>>> = {},
): SourceClients {
  // One keep-alive pool per backend (idle connections closed after 10 s), one 429 backoff each.
  const options = (name: SourceName, headers?: Record<string, string>) => ({
    inFlight: new Map(),
    dispatcher: new Agent({ keepAliveTimeout: 10_000 }),
    backoff: { until: 0 },
    ...upstream,
    url: urls[name],
    ...(headers ? { headers } : {}),
    ...perSource[name],
  });
  const headers = credentialHeaders(credentials);
  return {
    payments: createPaymentsClient(options('payments', headers.payments)),
    maps: createMapsClient(options('maps'), credentials.maps),
    messaging: createMessagingClient(options('messaging', headers.messaging)),
  };
}

/**
 * Fresh loaders for one request: batching and de-duplication never cross requests (or users).
 * The entity cache behind some of them is shared (gateway/upstream/entity-cache.ts says why that is safe).
 */
export function createLoaders(clients: SourceClients, cache?: EntityCache) {
  return {
    payments: createPaymentsLoaders(clients.payments, cache),
    maps: createMapsLoaders(clients.maps, cache),
    messaging: createMessagingLoaders(clients.messaging),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;

// Loaded only when started: a gateway pointed at real backends never loads the demo servers
// (the soap server package alone is tens of MB).
const DEMO_BACKENDS: Record<SourceName, (options: DemoBackendOptions) => Promise<DemoBackend>> = {
  payments: async (options) => (await import('./payments/backend/backend.ts')).startPaymentsBackend(options),
  maps: async (options) => (await import('./maps/backend/backend.ts')).startMapsBackend(options),
  messaging: async (options) => (await import('./messaging/backend/backend.ts')).startMessagingBackend(options),
};

export interface StartDemoBackendsOptions {
  /** Which backends to start. Default: all. */
  only?: readonly SourceName[];
  /** Port per backend; default 0 (a free port). */
  ports?: Partial<Record<SourceName, number>>;
  /** Default 127.0.0.1. */
  host?: string;
  /** One seed for all, so their data agree. Default `createSeed()`. */
  seed?: Seed;
  /** What they accept. Default DEMO_CREDENTIALS. */
  credentials?: SourceCredentials;
}

/** Starts demo backends; if one fails to start, the ones already started are closed. */
export async function startDemoBackends(options: StartDemoBackendsOptions = {}): Promise<Partial<Record<SourceName, DemoBackend>>> {
  const { only = SOURCE_NAMES, ports = {}, host, seed = createSeed(), credentials } = options;
  const started: Partial<Record<SourceName, DemoBackend>> = {};
  try {
    for (const name of only) {
      started[name] = await DEMO_BACKENDS[name]({ port: ports[name] ?? 0, host, seed, ...(credentials ? { credentials } : {}) });
    }
  } catch (err) {
    await Promise.allSettled(Object.values(started).map((b) => b.close()));
    throw err;
  }
  return started;
}
