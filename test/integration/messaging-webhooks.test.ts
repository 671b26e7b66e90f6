import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { subscribeSse, subscriptionsOpen } from '../helpers/realtime.ts';
import { listen as listenOn } from '../../gateway/index.ts';
import { createMemoryStore } from '../../gateway/cache/store.ts';
import { advanceMessage, setAutomaticStatuses } from '../../sources/demo/test-surface.ts';
import type { MessageRecord } from '../../sources/messaging/records.ts';

/**
 * The demo messaging backend pushes, as Twilio does: each step of a sent message (queued, sent,
 * delivered) is POSTed as a status callback signed with X-Twilio-Signature, to the gateway's
 * `/webhooks/messaging` (the messaging entry of .meshrc.yaml: Twilio's scheme, the auth token as
 * MESSAGING_WEBHOOK_SECRET, published on `messaging`), and reaches `messageUpdated` subscribers
 * with the linked data they ask for. The backend's steps are driven by the test (`/_statuses`),
 * never waited for.
 */
const PATH = '/webhooks/messaging';
const UPDATED = /* GraphQL */ `subscription Updated($message: ID) {
  messageUpdated(id: $message) { id status body to customer { id name } }
}`;

/** Twilio's signature, written out here apart from the backend's: base64 HMAC-SHA1 of the URL and each parameter's name and value, sorted by name. */
function twilioSignature(authToken: string, url: string, form: Record<string, string>): string {
  const signed = Object.keys(form).sort().map((name) => name + form[name]).join('');
  return createHmac('sha1', authToken).update(url + signed).digest('base64');
}

/** A status callback as Twilio sends one for a message. */
function callbackFor(h: Harness, message: Pick<MessageRecord, 'id' | 'to' | 'from'>, status: string): Record<string, string> {
  return {
    AccountSid: h.credentials.messaging.accountSid, ApiVersion: '2010-04-01', From: message.from, To: message.to,
    MessageSid: message.id, MessageStatus: status, SmsSid: message.id, SmsStatus: status,
  };
}

/** The harness's gateway on a real port, with the messaging backend's callbacks pointed at it and its steps held for the test to drive. */
async function startPushing(options: Parameters<typeof startHarness>[0] = {}) {
  const h = await startHarness(options);
  const server: Server = createServer(h.gateway.yoga);
  const target = `${await listenOn(server)}${PATH}`;
  h.backends.messaging.setWebhookTarget!(target);
  await setAutomaticStatuses(h.backends.messaging.url, false);
  /** POSTs a status callback to the gateway, signed with `token` (default: the account's). */
  const post = async (form: Record<string, string>, token = h.credentials.messaging.authToken) => {
    const response = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(token, target, form) },
      body: new URLSearchParams(form).toString(),
    });
    return { status: response.status, body: await response.json() };
  };
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await h.close();
  };
  return { h, post, close };
}

const SEND = 'mutation($input: SendMessageInput!) { sendMessage(input: $input) { id status } }';

describe('messageUpdated: the messaging backend\'s status callbacks, verified and told to subscribers', () => {
  let h: Harness;
  let post: Awaited<ReturnType<typeof startPushing>>['post'];
  let close: () => Promise<void>;
  let token: string;
  // A gateway each: how many subscribers listen is then this test's own count, whatever an
  // earlier test's closed streams are still doing on the gateway's side.
  beforeEach(async () => {
    ({ h, post, close } = await startPushing());
    token = `Bearer ${await h.issuer.token()}`;
  });
  afterEach(() => close());

  const messaging = () => h.backends.messaging.url;
  /** Seed messages still on their way, to a customer. */
  const inFlight = () => h.seed.messages.filter((m) => m.status === 'queued' && m.customerId);

  it('tells a subscriber QUEUED, SENT, DELIVERED in order as a sent message moves, with its linked customer; a subscriber for another message hears nothing of it', async () => {
    const customer = h.seed.customers[3]!;
    const other = inFlight()[0]!;
    await h.resetStats();
    const all = await subscribeSse(h, UPDATED, {}, { authorization: token });
    const another = await subscribeSse(h, UPDATED, { message: other.id }, { authorization: token });
    try {
      await subscriptionsOpen(h, 'messaging', 2);
      const sent = await h.query(SEND, { input: { customerId: customer.id, body: 'Your order has shipped.' } });
      expect(sent.body.errors).toBeUndefined();
      const id = sent.body.data!.sendMessage.id as string;
      const told = (status: string) => ({ messageUpdated: { id, status, body: 'Your order has shipped.', to: customer.phone, customer: { id: customer.id, name: customer.name } } });
      const nextOf = async () => {
        const { event, data } = await all.next();
        expect([event, data.errors]).toEqual(['next', undefined]);
        return data.data;
      };
      expect(await nextOf()).toEqual(told('QUEUED'));
      expect(await advanceMessage(messaging(), id)).toBe('sent');
      expect(await nextOf()).toEqual(told('SENT'));
      expect(await advanceMessage(messaging(), id)).toBe('delivered');
      expect(await nextOf()).toEqual(told('DELIVERED'));
      // The backend answers reads with the status it reported last.
      expect((await h.query('query($id: ID!) { message(id: $id) { status } }', { id })).body.data).toEqual({ message: { status: 'DELIVERED' } });

      // The other subscriber's first event is its own message's, so it was told none of the three.
      expect(await advanceMessage(messaging(), other.id)).toBe('sent');
      const first = await another.next();
      expect(first.data.data.messageUpdated).toMatchObject({ id: other.id, status: 'SENT' });
      await h.backends.messaging.webhooksIdle!();
      expect(h.gateway.webhookStats()[PATH]).toEqual({ accepted: 4 });
      expect((await h.stats()).messaging.webhooks).toEqual({ attempts: 4, delivered: 4, failed: 0 });
    } finally {
      all.close();
      another.close();
    }
  });

  it('refuses a callback signed with another token (401 WEBHOOK_SIGNATURE_INVALID) and publishes nothing', async () => {
    const message = inFlight()[0]!;
    const stream = await subscribeSse(h, UPDATED, { message: message.id }, { authorization: token });
    try {
      await subscriptionsOpen(h, 'messaging', 1);
      const forged = await post(callbackFor(h, message, 'delivered'), 'not-the-auth-token');
      expect(forged.status).toBe(401);
      expect(forged.body.errors[0].extensions).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID', reason: 'mismatch' });
      expect(h.gateway.webhookStats()[PATH]).toEqual({ refused_mismatch: 1 });
      // A callback signed with the account's token is the subscriber's first event: the forged one reached nobody.
      expect((await post(callbackFor(h, message, 'sent'))).status).toBe(200);
      expect((await stream.next()).data.data.messageUpdated).toMatchObject({ id: message.id, status: 'SENT' });
      expect(h.gateway.webhookStats()[PATH]).toEqual({ refused_mismatch: 1, accepted: 1 });
    } finally {
      stream.close();
    }
  });

  it('tells a duplicate callback (the same SID and status) once', async () => {
    const message = inFlight()[0]!;
    const stream = await subscribeSse(h, UPDATED, { message: message.id }, { authorization: token });
    try {
      await subscriptionsOpen(h, 'messaging', 1);
      expect(await post(callbackFor(h, message, 'sent'))).toEqual({ status: 200, body: { received: true } });
      expect(await post(callbackFor(h, message, 'sent'))).toEqual({ status: 200, body: { received: true, duplicate: true } });
      expect((await post(callbackFor(h, message, 'delivered'))).status).toBe(200);
      expect((await stream.next()).data.data.messageUpdated.status).toBe('SENT');
      expect((await stream.next()).data.data.messageUpdated.status).toBe('DELIVERED');
      expect(h.gateway.webhookStats()[PATH]).toEqual({ accepted: 2, duplicate: 1 });
    } finally {
      stream.close();
    }
  });

  it('tells nothing of a status the contract has no value for (Twilio\'s sending, read)', async () => {
    const message = inFlight()[0]!;
    const stream = await subscribeSse(h, UPDATED, { message: message.id }, { authorization: token });
    try {
      await subscriptionsOpen(h, 'messaging', 1);
      for (const status of ['sending', 'read', 'sent']) expect((await post(callbackFor(h, message, status))).status).toBe(200);
      expect((await stream.next()).data.data.messageUpdated.status).toBe('SENT');
    } finally {
      stream.close();
    }
  });

  it('checks the caller as a message query does: refused before it starts without messages:read, and linked data under its own scope on each event', async () => {
    const refusals: unknown[] = [];
    const callers: Record<string, string>[] = [{}, { authorization: `Bearer ${await h.issuer.token({ scopes: ['payments:read'] })}` }];
    for (const headers of callers) {
      const stream = await subscribeSse(h, UPDATED, {}, headers);
      try {
        refusals.push((await stream.next()).data.errors?.[0]?.extensions?.code);
      } finally {
        stream.close();
      }
    }
    expect(refusals).toEqual(['UNAUTHENTICATED', 'FORBIDDEN']);
    await subscriptionsOpen(h, 'messaging', 0);

    const message = inFlight()[0]!;
    const stream = await subscribeSse(h, UPDATED, { message: message.id }, { authorization: `Bearer ${await h.issuer.token({ scopes: ['messages:read'] })}` });
    try {
      await subscriptionsOpen(h, 'messaging', 1);
      await post(callbackFor(h, message, 'sent'));
      const event = (await stream.next()).data;
      expect(event.data.messageUpdated).toMatchObject({ id: message.id, status: 'SENT', customer: null });
      expect(event.errors.map((e: { path: string[]; extensions: { code: string } }) => [e.path.join('.'), e.extensions.code])).toEqual([['messageUpdated.customer', 'FORBIDDEN']]);
    } finally {
      stream.close();
    }
  });
});

describe('a status callback makes the cached answers holding its message stale', () => {
  it('a cached message, and a cached list holding it, read the new status after the callback; until then they stay cached', async () => {
    const { h, close } = await startPushing({ cacheStore: createMemoryStore() });
    try {
      const customer = h.seed.customers[5]!;
      const sent = await h.query(SEND, { input: { customerId: customer.id, body: 'Table for two at 8.' } });
      const id = sent.body.data!.sendMessage.id as string;
      // Its queued callback has made the message's cached answers stale: taken before anything is cached.
      await h.backends.messaging.webhooksIdle!();
      const BY_ID = 'query($id: ID!) { message(id: $id) { id status } }';
      const LIST = 'query($c: ID!) { customer(id: $c) { id messages(first: 1) { id status } } }';
      const read = async () => [
        (await h.query(BY_ID, { id })).body.data!.message.status,
        (await h.query(LIST, { c: customer.id })).body.data!.customer.messages[0],
      ];
      expect(await read()).toEqual(['QUEUED', { id, status: 'QUEUED' }]);
      await h.resetStats();
      expect(await read()).toEqual(['QUEUED', { id, status: 'QUEUED' }]);
      // Both answers came from the cache: the backends were not asked.
      expect((await h.stats()).messaging.total).toBe(0);

      expect(await advanceMessage(h.backends.messaging.url, id)).toBe('sent');
      await h.backends.messaging.webhooksIdle!();
      expect(await read()).toEqual(['SENT', { id, status: 'SENT' }]);
      expect((await h.stats()).messaging.operations).toEqual({ messages: 1, messagesForCustomers: 1 });
      expect(h.gateway.webhookStats()[PATH]).toEqual({ accepted: 2 });
    } finally {
      await close();
    }
  });
});
