import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { randomCredentials } from '../../demo/credentials.ts';
import { closeServer, listen, type DemoBackend } from '../../demo/server.ts';
import { startMessagingBackend } from './backend.ts';
import { advanceMessage, postGraphql, readStats, setAutomaticStatuses } from './test-support.ts';

/**
 * The messaging backend's status callbacks, received by a server of the test's own: what a sent
 * message's steps POST, how they are signed (checked here with Twilio's algorithm written out
 * anew), in what order, and what happens when the receiver fails.
 */

interface Callback {
  url: string;
  headers: IncomingHttpHeaders;
  form: Record<string, string>;
  raw: string;
}

/** A receiver that answers each callback with the next of `statuses` (then 200), and resolves `received(n)` once n have come. */
async function startReceiver(statuses: number[] = []) {
  const seen: Callback[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      raw += chunk;
    });
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, form: Object.fromEntries(new URLSearchParams(raw)), raw });
      res.writeHead(statuses.shift() ?? 200).end();
      for (const wait of waiting.filter((w) => seen.length >= w.count)) wait.resolve();
    });
  });
  const base = await listen(server);
  return {
    url: `${base}/hooks/sms`,
    seen,
    received: (count: number) => new Promise<void>((resolve) => {
      if (seen.length >= count) resolve();
      else waiting.push({ count, resolve });
    }),
    close: () => closeServer(server),
  };
}

/** Twilio's request validation: base64 HMAC-SHA1 of the URL and every parameter's name and value, sorted by name. */
function expectedSignature(authToken: string, url: string, raw: string): string {
  const params = [...new URLSearchParams(raw)].sort(([a], [b]) => (a < b ? -1 : 1));
  return createHmac('sha1', authToken).update(url + params.map(([k, v]) => k + v).join('')).digest('base64');
}

const SEND = 'mutation($to: String!, $body: String!) { sendMessage(to: $to, body: $body) { id status } }';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((o) => o.close()));
});

async function start(options: Parameters<typeof startMessagingBackend>[0] = {}) {
  const credentials = randomCredentials();
  const backend = await startMessagingBackend({ credentials, ...options });
  open.push(backend);
  const auth = { authorization: `Basic ${Buffer.from(`${credentials.messaging.accountSid}:${credentials.messaging.authToken}`).toString('base64')}` };
  const send = async () => (await postGraphql(backend.url, SEND, { to: '+4930555123', body: 'Your parcel is on its way.' }, auth)).body.data!['sendMessage'] as { id: string; status: string };
  const statusOf = async (id: string) => ((await postGraphql(backend.url, 'query($id: ID!) { message(id: $id) { status } }', { id }, auth)).body.data!['message'] as { status: string }).status;
  return { backend, credentials, send, statusOf };
}

describe('a sent message\'s status callbacks', () => {
  it('go out by themselves as it moves from queued to sent to delivered: in order, form-encoded, signed with the auth token over the exact URL', async () => {
    const receiver = await startReceiver();
    open.push(receiver);
    const { backend, credentials, send, statusOf } = await start({ statusDelayMs: 0 });
    backend.setWebhookTarget!(receiver.url);
    const message = await send();
    expect(message.status).toBe('QUEUED');
    await receiver.received(3);
    await backend.webhooksIdle!();
    expect(receiver.seen.map((c) => c.form.MessageStatus)).toEqual(['queued', 'sent', 'delivered']);
    for (const callback of receiver.seen) {
      expect(callback.url).toBe('/hooks/sms');
      expect(callback.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(callback.form).toEqual({
        AccountSid: credentials.messaging.accountSid, ApiVersion: '2010-04-01', From: '+15005550006', To: '+4930555123',
        MessageSid: message.id, MessageStatus: callback.form.MessageStatus, SmsSid: message.id, SmsStatus: callback.form.MessageStatus,
      });
      expect(callback.headers['x-twilio-signature']).toBe(expectedSignature(credentials.messaging.authToken, receiver.url, callback.raw));
    }
    // Another token's signature differs: the receiver can tell.
    expect(receiver.seen[0]!.headers['x-twilio-signature']).not.toBe(expectedSignature('another-token', receiver.url, receiver.seen[0]!.raw));
    expect(await statusOf(message.id)).toBe('DELIVERED');
    expect((await readStats(backend.url)).webhooks).toEqual({ attempts: 3, delivered: 3, failed: 0 });
  });

  it('are retried when the receiver fails, with the same signature and idempotency token; given up after 5 attempts', async () => {
    // The first callback fails twice then lands; the second fails all 5 times.
    const receiver = await startReceiver([503, 500, 200, 503, 503, 503, 503, 503]);
    open.push(receiver);
    const { backend, send } = await start({ retryDelayMs: 0 });
    await setAutomaticStatuses(backend.url, false);
    backend.setWebhookTarget!(receiver.url);
    const message = await send();
    await backend.webhooksIdle!();
    expect(await advanceMessage(backend.url, message.id)).toBe('sent');
    await backend.webhooksIdle!();
    expect(receiver.seen.map((c) => c.form.MessageStatus)).toEqual(['queued', 'queued', 'queued', 'sent', 'sent', 'sent', 'sent', 'sent']);
    const queued = receiver.seen.slice(0, 3);
    expect(new Set(queued.map((c) => c.headers['x-twilio-signature'])).size).toBe(1);
    expect(new Set(queued.map((c) => c.headers['i-twilio-idempotency-token'])).size).toBe(1);
    expect(receiver.seen[3]!.headers['i-twilio-idempotency-token']).not.toBe(queued[0]!.headers['i-twilio-idempotency-token']);
    expect((await readStats(backend.url)).webhooks).toEqual({ attempts: 8, delivered: 1, failed: 1 });
  });

  it('are not sent without a target, while the message still moves; /_stats shows no webhooks until one is tried', async () => {
    const { backend, send, statusOf } = await start();
    await setAutomaticStatuses(backend.url, false);
    const message = await send();
    expect(await advanceMessage(backend.url, message.id)).toBe('sent');
    expect(await statusOf(message.id)).toBe('SENT');
    await backend.webhooksIdle!();
    expect((await readStats(backend.url)).webhooks).toBeUndefined();
  });
});

describe('/_statuses: the steps, driven by a test', () => {
  it('holds sent messages where they are while automatic steps are off, and moves one a step at a time on request', async () => {
    const { backend, send, statusOf } = await start({ statusDelayMs: 0 });
    await setAutomaticStatuses(backend.url, false);
    const message = await send();
    // A step due after 0 ms would have come by the time a second request is answered.
    await statusOf(message.id);
    expect(await statusOf(message.id)).toBe('QUEUED');
    expect(await advanceMessage(backend.url, message.id)).toBe('sent');
    expect(await statusOf(message.id)).toBe('SENT');
    expect(await advanceMessage(backend.url, message.id)).toBe('delivered');
    const final = await fetch(`${backend.url}/_statuses/advance`, { method: 'POST', body: JSON.stringify({ id: message.id }) });
    expect([final.status, await final.json()]).toEqual([409, { error: `message ${message.id} moves no further` }]);
    const unknown = await fetch(`${backend.url}/_statuses/advance`, { method: 'POST', body: JSON.stringify({ id: 'SM0' }) });
    expect([unknown.status, await unknown.json()]).toEqual([404, { error: 'there is no message SM0' }]);
  });

  it('moves every message in flight again once automatic steps are back on', async () => {
    const receiver = await startReceiver();
    open.push(receiver);
    const { backend, send, statusOf } = await start({ statusDelayMs: 0 });
    backend.setWebhookTarget!(receiver.url);
    await setAutomaticStatuses(backend.url, false);
    const message = await send();
    await setAutomaticStatuses(backend.url, true);
    await receiver.received(3);
    expect(receiver.seen.map((c) => c.form.MessageStatus)).toEqual(['queued', 'sent', 'delivered']);
    expect(await statusOf(message.id)).toBe('DELIVERED');
  });

  it('refuses what it cannot read: 400 for a bad body, 405 for another method', async () => {
    const { backend } = await start();
    const answers = await Promise.all([
      fetch(`${backend.url}/_statuses`, { method: 'POST', body: '{"automatic":"no"}' }),
      fetch(`${backend.url}/_statuses/advance`, { method: 'POST', body: 'not json' }),
      fetch(`${backend.url}/_statuses`, { method: 'GET' }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([400, 400, 405]);
    expect(await answers[0]!.json()).toEqual({ error: 'automatic must be true or false' });
    await Promise.all(answers.slice(1).map((a) => a.arrayBuffer()));
  });
});
