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

const isSet = (env: Record<string, string | undefined>, key: string) => env[key] !== undefined && env[key] !== '';

/** The variables given for the sources file: `urlOf` says where each started backend listens (undefined: not started). */
function variablesFor({ env, mode }: EmbeddedOptions, credentials: SourceCredentials, urlOf: (name: SourceName) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SOURCE_NAMES) {
    const url = urlOf(name);
    if (url) {
      Object.assign(out, { [URL_VARIABLE[name]]: url }, credentialVariables(name, credentials));
      continue;
    }
    const variables = credentialVariables(name, DEMO_CREDENTIALS);
    if (mode === 'development' && Object.keys(variables).every((key) => !isSet(env, key))) Object.assign(out, variables);
  }
  return out;
}

/**
 * The variables `start` would give, without starting anything or opening a port: what `junction
 * check` reads the sources file with. A backend that would start gets the URL it would listen on.
 */
export function plan(options: EmbeddedOptions): Record<string, string> {
  const embedded = SOURCE_NAMES.filter((name) => !isSet(options.env, URL_VARIABLE[name]));
  const ports = Object.fromEntries(embedded.map((name) => [name, portOf(options.env, name)]));
  return variablesFor(options, randomCredentials(), (name) => (embedded.includes(name) ? `http://127.0.0.1:${ports[name]}` : undefined));
}

export async function start(options: EmbeddedOptions): Promise<Embedded> {
  const embedded = SOURCE_NAMES.filter((name) => !isSet(options.env, URL_VARIABLE[name]));
  const ports = Object.fromEntries(embedded.map((name) => [name, portOf(options.env, name)]));
  const credentials = randomCredentials();
  const backends = await startDemoBackends({ only: embedded, ports, credentials });
  return {
    env: variablesFor(options, credentials, (name) => backends[name]?.url),
    started: embedded.map((name) => ({ name, url: backends[name]!.url })),
    attach: (gatewayUrl) => {
      backends.payments?.setWebhookTarget?.(`${gatewayUrl}/webhooks/payments`);
      backends.messaging?.setWebhookTarget?.(`${gatewayUrl}/webhooks/messaging`);
    },
    close: async () => void (await Promise.allSettled(Object.values(backends).map((b) => b.close()))),
  };
}
