/**
 * The `embedded:` module of .meshrc.yaml: what lets `npm start` on a fresh clone serve the demo
 * with nothing else running. The gateway calls `start` before it reads the sources file; every
 * variable it returns fills the file's `{env.*}` references.
 *
 * - A demo source without its URL (`PAYMENTS_URL`, `MAPS_URL`, `MESSAGING_URL`) gets its backend
 *   started in this process, on `PAYMENTS_PORT` (4101), `MAPS_PORT` (4102), `MESSAGING_PORT` (4103)
 *   or 0 for a free port, with fresh random credentials known only to this process.
 * - A demo source given by URL without any of its credentials gets, in development only, the demo
 *   credentials that `npm run backends` accepts; production must set them (the file's references
 *   then stop start-up, naming the variable).
 */
import { DEMO_CREDENTIALS, randomCredentials, type SourceCredentials } from './credentials.ts';
import { DEMO_PORTS, SOURCE_NAMES, startDemoBackends, type SourceName } from './index.ts';

const URL_VARIABLE: Record<SourceName, string> = { payments: 'PAYMENTS_URL', maps: 'MAPS_URL', messaging: 'MESSAGING_URL' };
const PORT_VARIABLE: Record<SourceName, string> = { payments: 'PAYMENTS_PORT', maps: 'MAPS_PORT', messaging: 'MESSAGING_PORT' };

/** Each source's credentials as the variables .meshrc.yaml reads. */
export function credentialVariables(name: SourceName, credentials: SourceCredentials): Record<string, string> {
  switch (name) {
    case 'payments':
      return { PAYMENTS_SECRET_KEY: credentials.payments.secretKey, PAYMENTS_WEBHOOK_SECRET: credentials.payments.webhookSecret };
    case 'maps':
      return { MAPS_USERNAME: credentials.maps.username, MAPS_API_KEY: credentials.maps.apiKey };
    case 'messaging':
      // Twilio signs its status callbacks with the account's auth token: the webhook's secret is the same value.
      return { MESSAGING_ACCOUNT_SID: credentials.messaging.accountSid, MESSAGING_AUTH_TOKEN: credentials.messaging.authToken, MESSAGING_WEBHOOK_SECRET: credentials.messaging.authToken };
  }
}

export interface EmbeddedOptions {
  /** The variables the gateway reads the sources file with. */
  env: Record<string, string | undefined>;
  mode: 'development' | 'production';
}

export interface Embedded {
  /** Variables for the sources file: the started backends' URLs and credentials. */
  env: Record<string, string>;
  /**
   * Told the gateway's URL once it listens: the payments backend then sends its events to
   * `/webhooks/payments`, and the messaging backend its status callbacks to `/webhooks/messaging`.
   */
  attach(gatewayUrl: string): void;
  /** The sources whose backend runs in this process, and where. */
  started: { name: string; url: string }[];
  close(): Promise<void>;
}

/** A bad `*_PORT`: start-up stops with CONFIG_INVALID. */
export class EmbeddedConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

function portOf(env: Record<string, string | undefined>, name: SourceName): number {
  const raw = env[PORT_VARIABLE[name]];
  if (raw === undefined || raw === '') return DEMO_PORTS[name];
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65_535) throw new EmbeddedConfigError(`${PORT_VARIABLE[name]}=${JSON.stringify(raw)}: must be a port number (0-65535)`);
  return port;
}

export async function start({ env, mode }: EmbeddedOptions): Promise<Embedded> {
  const set = (key: string) => env[key] !== undefined && env[key] !== '';
  const embedded = SOURCE_NAMES.filter((name) => !set(URL_VARIABLE[name]));
  const ports = Object.fromEntries(embedded.map((name) => [name, portOf(env, name)]));
  const credentials = randomCredentials();
  const backends = await startDemoBackends({ only: embedded, ports, credentials });
  const out: Record<string, string> = {};
  for (const name of SOURCE_NAMES) {
    const backend = backends[name];
    if (backend) {
      Object.assign(out, { [URL_VARIABLE[name]]: backend.url }, credentialVariables(name, credentials));
      continue;
    }
    const variables = credentialVariables(name, DEMO_CREDENTIALS);
    if (mode === 'development' && Object.keys(variables).every((key) => !set(key))) Object.assign(out, variables);
  }
  return {
    env: out,
    started: embedded.map((name) => ({ name, url: backends[name]!.url })),
    attach: (gatewayUrl) => {
      backends.payments?.setWebhookTarget?.(`${gatewayUrl}/webhooks/payments`);
      backends.messaging?.setWebhookTarget?.(`${gatewayUrl}/webhooks/messaging`);
    },
    close: async () => void (await Promise.allSettled(Object.values(backends).map((b) => b.close()))),
  };
}
