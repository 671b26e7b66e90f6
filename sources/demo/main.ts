/**
 * `npm run backends`: starts only the three demo backends and prints their URLs, so a gateway
 * elsewhere can be pointed at them (PAYMENTS_URL, MAPS_URL, MESSAGING_URL).
 * Ports: PAYMENTS_PORT (4101), MAPS_PORT (4102), MESSAGING_PORT (4103); HOST (127.0.0.1).
 * PAYMENTS_WEBHOOK_URL: where payments sends its Stripe-signed events (a gateway's /webhooks/payments).
 * MESSAGING_WEBHOOK_URL: where messaging sends its Twilio-signed status callbacks (a gateway's /webhooks/messaging).
 */
import { DEMO_CREDENTIALS } from './credentials.ts';
import { DEMO_PORTS, SOURCE_NAMES, startDemoBackends } from './index.ts';

function portFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write(`${name}=${JSON.stringify(raw)}: must be a port number (0-65535)\n`);
    process.exit(1);
  }
  return port;
}

const backends = await startDemoBackends({
  host: process.env.HOST || '127.0.0.1',
  ports: {
    payments: portFrom('PAYMENTS_PORT', DEMO_PORTS.payments),
    maps: portFrom('MAPS_PORT', DEMO_PORTS.maps),
    messaging: portFrom('MESSAGING_PORT', DEMO_PORTS.messaging),
  },
});

// Where payments sends its signed events (a gateway's /webhooks/payments), and messaging its
// status callbacks (a gateway's /webhooks/messaging), when told.
if (process.env.PAYMENTS_WEBHOOK_URL) backends.payments?.setWebhookTarget?.(process.env.PAYMENTS_WEBHOOK_URL);
if (process.env.MESSAGING_WEBHOOK_URL) backends.messaging?.setWebhookTarget?.(process.env.MESSAGING_WEBHOOK_URL);

const envNames = { payments: 'PAYMENTS_URL', maps: 'MAPS_URL', messaging: 'MESSAGING_URL' } as const;
process.stdout.write('Demo backends are up. Point a gateway at them with:\n');
for (const name of SOURCE_NAMES) process.stdout.write(`  ${envNames[name]}=${backends[name]?.url}\n`);
const { payments, maps, messaging } = DEMO_CREDENTIALS;
process.stdout.write('They accept only the demo credentials (what `npm start` sends to a backend given by URL in development):\n'
  + `  PAYMENTS_SECRET_KEY=${payments.secretKey} PAYMENTS_WEBHOOK_SECRET=${payments.webhookSecret}\n  MAPS_USERNAME=${maps.username} MAPS_API_KEY=${maps.apiKey}\n`
  + `  MESSAGING_ACCOUNT_SID=${messaging.accountSid} MESSAGING_AUTH_TOKEN=${messaging.authToken} MESSAGING_WEBHOOK_SECRET=${messaging.authToken}\n`);
process.stdout.write('Each counts its calls at GET <url>/_stats (reset: POST <url>/_stats/reset).\n');

const stop = async () => {
  await Promise.allSettled(Object.values(backends).map((b) => b.close()));
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
