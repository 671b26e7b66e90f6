import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com), for the events Junction sends: the
 * receiver verifies them with any of that specification's libraries, or with signatures.ts.
 *
 * `webhook-signature: v1,<base64 of HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`,
 * where the key is the bytes the `whsec_` secret's base64 decodes to (not the secret's text).
 */

const WHSEC = 'whsec_';

/** Bytes of a new secret: 32, the specification's recommended length (24 to 64 allowed). */
export const SECRET_BYTES = 32;

/** A fresh secret, `whsec_` and the base64 of 32 random bytes. */
export function newSecret(): string {
  return `${WHSEC}${randomBytes(SECRET_BYTES).toString('base64')}`;
}

/** The `webhook-signature` value for one message. */
export function signStandardWebhook(secret: string, id: string, timestampSec: number, body: string): string {
  const key = Buffer.from(secret.startsWith(WHSEC) ? secret.slice(WHSEC.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSec}.`, 'utf8').update(body, 'utf8').digest('base64')}`;
}

/**
 * The `webhook-id` of one event sent to one registration: the same every time that event is sent
 * to it (each retry, a replay), so the receiver can drop the copies; different for each
 * registration, and it does not show the provider's own event id.
 */
export function messageId(registration: string, topic: string, event: string): string {
  return `msg_${createHash('sha256').update(`${registration}\n${topic}\n${event}`).digest('base64url').slice(0, 27)}`;
}
