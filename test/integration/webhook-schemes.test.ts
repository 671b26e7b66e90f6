import { createHmac, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { offlineGraphqlSource, writeSourcesFile } from '../helpers/sources-file.ts';
import type { WebhookEvent } from '../../gateway/webhooks/receiver.ts';

/**
 * Slack, Twilio and Standard Webhooks deliveries through the gateway, end to end, as a user's own
 * source declares them: signed as each provider signs, deduplicated on each provider's event id.
 */
const SLACK = `slack-${randomBytes(8).toString('hex')}`;
const TWILIO = `twilio-${randomBytes(8).toString('hex')}`;
const STANDARD_KEY = randomBytes(24);
const STANDARD = `whsec_${STANDARD_KEY.toString('base64')}`;
const SMS_URL = 'http://junction.test/webhooks/sms';

let h: Harness;
const published: WebhookEvent[] = [];
const listeners: AsyncIterator<WebhookEvent>[] = [];

beforeAll(async () => {
  const file = writeSourcesFile(offlineGraphqlSource('workspace', `        webhooks:
          - { path: /webhooks/slack, scheme: slack, secrets: ['{env.SLACK_SECRET}'], pubsubTopic: slack }
          - { path: /webhooks/sms, scheme: twilio, secrets: ['{env.TWILIO_TOKEN}'], pubsubTopic: sms, url: '${SMS_URL}' }
          - { path: /webhooks/orders, scheme: standard, secrets: ['{env.ORDERS_SECRET}'], pubsubTopic: orders }
`));
  h = await startHarness({ meshConfig: file, env: () => ({ SLACK_SECRET: SLACK, TWILIO_TOKEN: TWILIO, ORDERS_SECRET: STANDARD }) });
  for (const topic of ['slack', 'sms', 'orders']) {
    const iterator = h.gateway.pubsub.subscribe(`webhook:${topic}`)[Symbol.asyncIterator]();
    listeners.push(iterator);
    void (async () => {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        published.push(next.value);
      }
    })();
  }
});
afterAll(async () => {
  await Promise.all(listeners.map((l) => l.return?.()));
  await h.close();
});

const settle = () => new Promise((resolve) => setImmediate(resolve));
const post = (path: string, body: string, headers: Record<string, string>) => h.fetch(path, { method: 'POST', headers, body });

describe('Slack', () => {
  const signed = (body: string, at = Math.floor(Date.now() / 1000)) => ({
    'content-type': 'application/json',
    'x-slack-request-timestamp': String(at),
    'x-slack-signature': `v0=${createHmac('sha256', SLACK).update(`v0:${at}:${body}`).digest('hex')}`,
  });

  it('answers its signed URL check with the challenge, publishing nothing', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'c-123', token: 'legacy' });
    const answer = await post('/webhooks/slack', body, signed(body));
    expect(await answer.json()).toEqual({ challenge: 'c-123' });
    await settle();
    expect(published.filter((e) => e.topic === 'slack')).toEqual([]);
  });

  it('takes an event once by its event_id, typed by event.type; refuses an unsigned one', async () => {
    const body = JSON.stringify({ type: 'event_callback', event_id: 'Ev1', event: { type: 'message', text: 'hi' } });
    expect(await (await post('/webhooks/slack', body, signed(body))).json()).toEqual({ received: true });
    expect(await (await post('/webhooks/slack', body, signed(body))).json()).toEqual({ received: true, duplicate: true });
    expect((await post('/webhooks/slack', body, { 'content-type': 'application/json' })).status).toBe(401);
    await settle();
    expect(published.filter((e) => e.topic === 'slack').map((e) => [e.id, e.type])).toEqual([['Ev1', 'message']]);
  });
});

describe('Twilio', () => {
  const signature = (params: Record<string, string>) => {
    const data = SMS_URL + Object.keys(params).sort().map((k) => k + params[k]).join('');
    return createHmac('sha1', TWILIO).update(data).digest('base64');
  };
  const callback = (params: Record<string, string>, sig = signature(params)) =>
    post('/webhooks/sms', new URLSearchParams(params).toString(), { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig });

  it('takes each status of a message once (its SID and status are the event), from a signed form', async () => {
    const sent = { MessageSid: 'SM1', MessageStatus: 'sent', To: '+4930123456' };
    const delivered = { ...sent, MessageStatus: 'delivered' };
    expect(await (await callback(sent)).json()).toEqual({ received: true });
    expect(await (await callback(delivered)).json()).toEqual({ received: true });
    expect(await (await callback(delivered)).json()).toEqual({ received: true, duplicate: true });
    expect((await callback({ ...delivered, To: '+4930999999' }, signature(delivered))).status).toBe(401);
    await settle();
    expect(published.filter((e) => e.topic === 'sms').map((e) => [e.id, e.type])).toEqual([['SM1:sent', 'sent'], ['SM1:delivered', 'delivered']]);
  });
});

describe('Standard Webhooks', () => {
  const deliver = (id: string, body: string, at = Math.floor(Date.now() / 1000)) => post('/webhooks/orders', body, {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(at),
    'webhook-signature': `v1,${createHmac('sha256', STANDARD_KEY).update(`${id}.${at}.${body}`).digest('base64')}`,
  });

  it('takes a delivery once by its webhook-id, and refuses one signed 10 minutes ago', async () => {
    const body = JSON.stringify({ type: 'order.shipped', data: { id: 'ord_1' } });
    expect(await (await deliver('msg_1', body)).json()).toEqual({ received: true });
    expect(await (await deliver('msg_1', body)).json()).toEqual({ received: true, duplicate: true });
    const stale = await deliver('msg_2', body, Math.floor(Date.now() / 1000) - 600);
    expect(stale.status).toBe(401);
    expect((await stale.json()).errors[0].extensions).toEqual({ code: 'WEBHOOK_SIGNATURE_INVALID', reason: 'stale' });
    await settle();
    expect(published.filter((e) => e.topic === 'orders').map((e) => [e.id, e.type])).toEqual([['msg_1', 'order.shipped']]);
  });
});
