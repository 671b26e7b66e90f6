import { createHmac, randomUUID } from 'node:crypto';
import type { Stats } from '../../demo/stats.ts';
import type { MessageRecord } from '../records.ts';

/**
 * The messaging backend's status callbacks, as Twilio sends them: each time an outbound message's
 * status changes, a POST of `application/x-www-form-urlencoded` parameters (`MessageSid`,
 * `MessageStatus`, `AccountSid`, `From`, `To`, `ApiVersion`, and the older `SmsSid` and
 * `SmsStatus` Twilio still sends beside them) to the callback URL, signed with
 * `X-Twilio-Signature`: the base64 HMAC-SHA1, keyed with the account's auth token, of the exact
 * URL followed by each parameter's name and value, sorted by name.
 *
 * A message's callbacks go out one at a time, in the order its status changed (so `delivered`
 * never arrives before `sent`); other messages' callbacks do not wait for them. A delivery that
 * fails is tried again, up to MAX_ATTEMPTS (as the payments backend does with its events), then
 * dropped. Each attempt and outcome is counted in the backend's `/_stats` (`webhooks`).
 */
export const MAX_ATTEMPTS = 5;
/** Wait before the first retry, doubled for each next one (100, 200, 400, 800 ms). */
export const DEFAULT_RETRY_DELAY_MS = 100;
/** The API version Twilio names in every callback. */
export const TWILIO_API_VERSION = '2010-04-01';

export interface StatusCallbacks {
  /** Queues the callback that tells the message's current status; none is sent while there is no target. */
  changed(message: MessageRecord): void;
  /** Where callbacks go from now on (`<gateway>/webhooks/messaging`); undefined stops sending. */
  setTarget(url: string | undefined): void;
  /** Resolves once every callback queued so far was delivered or given up. */
  idle(): Promise<void>;
  /** Stops sending: callbacks waiting for a retry are dropped. */
  stop(): void;
}

export interface StatusCallbackOptions {
  /** Named in every callback (`AccountSid`). */
  accountSid: string;
  /** What Twilio signs with: the account's auth token. */
  authToken: string;
  stats: Stats;
  /** Default DEFAULT_RETRY_DELAY_MS. */
  retryDelayMs?: number;
}

/** `X-Twilio-Signature` of a form POSTed to `url`: base64 HMAC-SHA1 of the URL and each parameter's name and value, sorted by name. */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  const signed = [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => name + value).join('');
  return createHmac('sha1', authToken).update(url + signed, 'utf8').digest('base64');
}

/** The parameters of a message's status callback, as Twilio sends them for an SMS. */
export function callbackParams(accountSid: string, message: MessageRecord): URLSearchParams {
  return new URLSearchParams({
    AccountSid: accountSid,
    ApiVersion: TWILIO_API_VERSION,
    From: message.from,
    MessageSid: message.id,
    MessageStatus: message.status,
    SmsSid: message.id,
    SmsStatus: message.status,
    To: message.to,
  });
}

export function createStatusCallbacks(options: StatusCallbackOptions): StatusCallbacks {
  const { accountSid, authToken, stats, retryDelayMs = DEFAULT_RETRY_DELAY_MS } = options;
  let target: string | undefined;
  let stopped = false;
  /** The last callback queued for each message, so the next one waits for it. */
  const chains = new Map<string, Promise<void>>();

  const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
  const deliver = async (url: string, params: URLSearchParams) => {
    const body = params.toString();
    // Twilio signs the URL and parameters without a timestamp, so every attempt carries the same
    // signature, and the same idempotency token: a receiver can tell a retry from a new event.
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilioSignature(authToken, url, params),
      'i-twilio-idempotency-token': randomUUID(),
      'user-agent': 'TwilioProxy/1.1',
    };
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (stopped) return;
      stats.webhook('attempts');
      try {
        const response = await fetch(url, { method: 'POST', headers, body });
        await response.arrayBuffer();
        if (response.ok) {
          stats.webhook('delivered');
          return;
        }
      } catch {
        // Not reachable: tried again below.
      }
      if (attempt < MAX_ATTEMPTS) await pause(retryDelayMs * 2 ** (attempt - 1));
    }
    stats.webhook('failed');
  };

  return {
    changed(message) {
      const url = target;
      if (!url || stopped) return;
      // The parameters are taken now: the status this callback tells is the one that just began.
      const params = callbackParams(accountSid, message);
      const next = (chains.get(message.id) ?? Promise.resolve()).then(() => deliver(url, params));
      chains.set(message.id, next);
      void next.then(() => {
        if (chains.get(message.id) === next) chains.delete(message.id);
      });
    },
    setTarget(url) {
      target = url;
    },
    async idle() {
      while (chains.size > 0) await Promise.all(chains.values());
    },
    stop() {
      stopped = true;
    },
  };
}
