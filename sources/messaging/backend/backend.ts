import { createServer } from 'node:http';
import { createYoga } from 'graphql-yoga';
import { createFaults, handleFaultsRoute } from '../../demo/faults.ts';
import { basicAuth, DEMO_CREDENTIALS } from '../../demo/credentials.ts';
import { createSeed } from '../../demo/seed.ts';
import { closeServer, listen } from '../../demo/server.ts';
import type { DemoBackend, DemoBackendOptions } from '../../demo/server.ts';
import { createStats, handleStatsRoute, sendJson } from '../../demo/stats.ts';
import { createMessageStore } from './message-store.ts';
import { createMessagingSchema } from './schema.ts';
import { createDelivery, handleStatusesRoute } from './delivery.ts';
import { createStatusCallbacks } from './status-callbacks.ts';

export const MESSAGING_BACKEND_NAME = 'messaging';
/** Where the GraphQL endpoint is served, below the base URL. */
export const MESSAGING_GRAPHQL_PATH = '/graphql';

export interface MessagingBackendOptions extends DemoBackendOptions {
  /** How long a sent message stays queued, then sent, before its next status. Default 1000 ms. */
  statusDelayMs?: number;
  /** Wait before a failed status callback's first retry, doubled for each next. Default 100 ms. */
  retryDelayMs?: number;
}

/**
 * The messaging demo backend: a GraphQL service standing in for Twilio's Messages API.
 * `GET /` is its probe, `/_stats`, `/_faults` and `/_statuses` are the test controls, and
 * everything else goes to GraphQL Yoga at /graphql. A message it sends moves from queued to sent
 * to delivered, and each step is POSTed, as Twilio's signed status callback, to the webhook target.
 */
export async function startMessagingBackend(options: MessagingBackendOptions = {}): Promise<DemoBackend> {
  const { port = 0, host = '127.0.0.1', seed = createSeed(), credentials = DEMO_CREDENTIALS, statusDelayMs, retryDelayMs } = options;
  const accepted = basicAuth(credentials.messaging.accountSid, credentials.messaging.authToken);
  const stats = createStats();
  const faults = createFaults();
  const store = createMessageStore(seed.messages);
  const callbacks = createStatusCallbacks({
    accountSid: credentials.messaging.accountSid, authToken: credentials.messaging.authToken, stats, ...(retryDelayMs === undefined ? {} : { retryDelayMs }),
  });
  const delivery = createDelivery({ store, callbacks, ...(statusDelayMs === undefined ? {} : { statusDelayMs }) });
  const yoga = createYoga({
    schema: createMessagingSchema({ store, stats, faults, onSent: (id) => delivery.accepted(id) }),
    graphqlEndpoint: MESSAGING_GRAPHQL_PATH,
    // Masking stays on: our GraphQLErrors (codes, Twilio numbers) pass through unchanged, while a
    // bug's stack trace never reaches a caller, as with a real hosted service.
    maskedErrors: true,
    graphiql: false,
    landingPage: false,
    logging: false,
  });

  const server = createServer((req, res) => {
    if (handleStatsRoute(req, res, stats) || handleFaultsRoute(req, res, faults) || handleStatusesRoute(req, res, delivery)) return;
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      req.resume();
      sendJson(res, 200, { service: MESSAGING_BACKEND_NAME });
      return;
    }
    // As Twilio: HTTP Basic with the account id and auth token, checked before GraphQL runs.
    const presented = req.headers.authorization ?? '';
    stats.sawCredential(presented);
    if (presented !== accepted) {
      req.resume();
      sendJson(res, 401, { errors: [{ message: 'Authenticate with your account id and auth token (HTTP Basic).', extensions: { code: 'UNAUTHENTICATED' } }] },
        { 'www-authenticate': 'Basic realm="messaging"' });
      return;
    }
    yoga.requestListener(req, res);
  });

  const url = await listen(server, port, host);
  return {
    name: MESSAGING_BACKEND_NAME,
    url,
    stats,
    setWebhookTarget: (target) => callbacks.setTarget(target),
    webhooksIdle: () => callbacks.idle(),
    close: () => {
      delivery.stop();
      callbacks.stop();
      return closeServer(server);
    },
  };
}
