import { createSeed, type Seed } from './seed.ts';
import type { DemoBackend, DemoBackendOptions } from './server.ts';
import type { SourceCredentials } from './credentials.ts';

/**
 * The demo backends: stand-ins for a payments provider (REST), a maps service (SOAP) and a
 * messaging provider (GraphQL), each a real HTTP server under sources/<name>/backend/. The gateway
 * knows none of them: .meshrc.yaml declares the three sources, and embedded.ts starts these
 * backends for a development gateway that is given no URL for them.
 */
export const SOURCE_NAMES = ['payments', 'maps', 'messaging'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/** Where `npm start` and `npm run backends` put the demo backends unless told otherwise. */
export const DEMO_PORTS: Readonly<Record<SourceName, number>> = Object.freeze({ payments: 4101, maps: 4102, messaging: 4103 });

// Loaded only when started: a gateway pointed at real backends never loads the demo servers
// (the soap server package alone is tens of MB).
const DEMO_BACKENDS: Record<SourceName, (options: DemoBackendOptions) => Promise<DemoBackend>> = {
  payments: async (options) => (await import('../payments/backend/backend.ts')).startPaymentsBackend(options),
  maps: async (options) => (await import('../maps/backend/backend.ts')).startMapsBackend(options),
  messaging: async (options) => (await import('../messaging/backend/backend.ts')).startMessagingBackend(options),
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
