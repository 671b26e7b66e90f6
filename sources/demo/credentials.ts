import { randomBytes } from 'node:crypto';
import { basicAuth } from '../../gateway/index.ts';

/**
 * The gateway's own credentials for each backend, carried the way each kind of provider expects:
 * a secret key as a bearer token (payments, as Stripe), a WS-Security UsernameToken in the SOAP
 * header (maps), an account id and auth token as HTTP Basic (messaging, as Twilio). A client's
 * own token is never sent to a backend.
 */
export interface SourceCredentials {
  /** `webhookSecret`: what the payments backend signs its events with (Stripe's endpoint secret). */
  payments: { secretKey: string; webhookSecret: string };
  maps: { username: string; apiKey: string };
  /** `authToken` also signs the messaging backend's status callbacks, as Twilio's auth token does. */
  messaging: { accountSid: string; authToken: string };
}

/**
 * What `npm run backends` accepts by default and what `npm start` (development) sends to a
 * backend given by URL when no credentials are configured: demo values, printed in the clear.
 */
export const DEMO_CREDENTIALS: Readonly<SourceCredentials> = Object.freeze({
  payments: { secretKey: 'sk_test_junction_demo', webhookSecret: 'whsec_junction_demo' },
  maps: { username: 'junction-demo', apiKey: 'maps_demo_key' },
  messaging: { accountSid: 'AC00000000000000000000000000demo', authToken: 'demo_auth_token' },
});

/** Fresh random credentials, for demo backends started inside the gateway's own process. */
export function randomCredentials(): SourceCredentials {
  const secret = () => randomBytes(18).toString('base64url');
  return {
    payments: { secretKey: `sk_test_${secret()}`, webhookSecret: `whsec_${secret()}` },
    maps: { username: 'junction', apiKey: secret() },
    messaging: { accountSid: `AC${randomBytes(16).toString('hex')}`, authToken: secret() },
  };
}

export { basicAuth };

/** The HTTP headers that carry payments' and messaging's credentials (maps carries its own in the envelope). */
export function credentialHeaders(credentials: { payments: Pick<SourceCredentials['payments'], 'secretKey'>; messaging: SourceCredentials['messaging'] }): { payments: Record<string, string>; messaging: Record<string, string> } {
  return {
    payments: { authorization: `Bearer ${credentials.payments.secretKey}` },
    messaging: { authorization: basicAuth(credentials.messaging.accountSid, credentials.messaging.authToken) },
  };
}

/** DEMO_CREDENTIALS as headers, for tests and tools that call a demo backend directly. */
export const DEMO_HEADERS = credentialHeaders(DEMO_CREDENTIALS);
