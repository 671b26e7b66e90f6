import type { Server } from 'node:http';
import type { Stats } from './stats.ts';
import type { Seed } from './seed.ts';
import type { SourceCredentials } from './credentials.ts';

/** A running demo backend. */
export interface DemoBackend {
  name: string;
  /** Base URL, e.g. http://127.0.0.1:4101 (REST and GraphQL paths are appended by clients). */
  url: string;
  stats: Stats;
  /** Backends that send webhooks (payments' events, messaging's status callbacks): where to, from now on. */
  setWebhookTarget?(url: string | undefined): void;
  /** Resolves once every webhook queued so far was delivered or given up. */
  webhooksIdle?(): Promise<void>;
  close(): Promise<void>;
}

export interface DemoBackendOptions {
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** Default 127.0.0.1: the demo backends are never exposed beyond loopback unless asked. */
  host?: string;
  /** Data to serve; default `createSeed()`. Pass one seed to all three so their data agree. */
  seed?: Seed;
  /** What the backends accept (each its own part); anything else is answered 401. Default DEMO_CREDENTIALS. */
  credentials?: SourceCredentials;
}

export { listen } from '../../gateway/index.ts';

/** Closes the server and any kept-alive connections, so tests never hang on close. */
export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
