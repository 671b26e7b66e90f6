import { createHmac, randomBytes } from 'node:crypto';

/**
 * The payments backend's webhooks, as Stripe sends them: an event (`evt_...`, `object: "event"`,
 * `type`, `created`, `data.object`) POSTed as JSON to the endpoint the gateway serves, signed with
 * `Stripe-Signature: t=<unix s>,v1=<HMAC-SHA256 of "t.body" with the endpoint secret>`. Events go
 * out one at a time, in the order they happened (so a payment's `succeeded` never arrives after its
 * `refunded`); a delivery that fails is tried again, up to MAX_ATTEMPTS, then dropped and counted.
 */
export const MAX_ATTEMPTS = 5;
const BACKOFF_MS = 100;

export interface StripeEvent {
  id: string;
  object: 'event';
  type: string;
  created: number;
  data: { object: unknown };
}

export interface EventSender {
  /** Queues an event for the current target; none is sent while there is no target. */
  emit(type: string, object: unknown): void;
  /** Where events go from now on (`<gateway>/webhooks/payments`); undefined stops sending. */
  setTarget(url: string | undefined): void;
  /** Resolves once every queued event was delivered or given up. */
  idle(): Promise<void>;
  counts(): { delivered: number; failed: number };
}

export function createEventSender(secret: string, now: () => number = Date.now): EventSender {
  let target: string | undefined;
  let queue: Promise<void> = Promise.resolve();
  let delivered = 0;
  let failed = 0;
  const deliver = async (url: string, event: StripeEvent) => {
    const body = JSON.stringify(event);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      // Signed at each attempt, as Stripe does: a retry carries a fresh timestamp.
      const t = Math.floor(now() / 1000);
      const signature = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${signature}` },
          body,
        });
        await response.arrayBuffer();
        if (response.ok) {
          delivered++;
          return;
        }
      } catch {
        // Not reachable: tried again below.
      }
      if (attempt < MAX_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, BACKOFF_MS * 2 ** (attempt - 1)));
    }
    failed++;
  };
  return {
    emit(type, object) {
      const url = target;
      if (!url) return;
      const event: StripeEvent = { id: `evt_${randomBytes(12).toString('hex')}`, object: 'event', type, created: Math.floor(now() / 1000), data: { object } };
      queue = queue.then(() => deliver(url, event));
    },
    setTarget(url) {
      target = url;
    },
    idle: () => queue,
    counts: () => ({ delivered, failed }),
  };
}
