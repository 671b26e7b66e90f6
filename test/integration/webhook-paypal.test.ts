import { execFileSync } from 'node:child_process';
import { createPrivateKey, sign as signWithKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { offlineGraphqlSource, sourcesFileProblems, writeSourcesFile } from '../helpers/sources-file.ts';
import type { WebhookEvent } from '../../gateway/webhooks/receiver.ts';

/**
 * PayPal deliveries through the gateway, end to end, as a user's own source declares them: signed
 * here as PayPal signs them, with a certificate named as PayPal names its signing certificates,
 * served over https by a local stand-in for PayPal's host (the entry's `certHosts`). The gateway's
 * certificate fetches trust this test's TLS certificate through undici's global dispatcher.
 */
const PATH = '/webhooks/paypal';
const WEBHOOK_ID = '8PT597110X687430LKGECATA';

let dir: string;
let signingKey: KeyObject;
let h: Harness;
let previousDispatcher: Dispatcher;
const published: WebhookEvent[] = [];
let listener: AsyncIterator<WebhookEvent>;

/** A local https host: what it serves by path, and every path asked of it. */
interface Host {
  server: Server;
  origin: string;
  requests: string[];
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

async function startHost(tls: { key: Buffer; cert: Buffer }, routes: Record<string, [number, string]>): Promise<Host> {
  const requests: string[] = [];
  const server = createHttpsServer(tls, (req, res) => {
    requests.push(req.url ?? '');
    const [status, body] = routes[req.url ?? ''] ?? [404, 'not found'];
    res.writeHead(status, { 'content-type': 'application/x-pem-file' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

let paypal: Host;
let foreign: Host;
let deadOrigin: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'junction-paypal-'));
  const file = (name: string) => join(dir, name);
  // PayPal's signing certificate, as PayPal names it; and a forger's, named the same, on another host.
  for (const name of ['signing', 'forged']) {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.pem`), '-days', '30',
      '-subj', '/CN=messageverificationcerts.paypal.com', '-addext', 'subjectAltName=DNS:messageverificationcerts.paypal.com']);
  }
  // The stand-in hosts' TLS certificate, for 127.0.0.1.
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('tls.key'), '-out', file('tls.pem'), '-days', '30',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  signingKey = createPrivateKey(readFileSync(file('signing.key')));
  const tls = { key: readFileSync(file('tls.key')), cert: readFileSync(file('tls.pem')) };
  paypal = await startHost(tls, {
    '/v1/notifications/certs/CERT-1': [200, readFileSync(file('signing.pem'), 'utf8')],
    '/v1/notifications/certs/CERT-DOWN': [503, 'service unavailable'],
  });
  foreign = await startHost(tls, { '/v1/notifications/certs/CERT-1': [200, readFileSync(file('forged.pem'), 'utf8')] });
  // A host in certHosts where nothing listens.
  const dead = await startHost(tls, {});
  deadOrigin = dead.origin;
  await new Promise((resolve) => dead.server.close(resolve));

  const hostOf = (origin: string) => new URL(origin).host;
  const sources = writeSourcesFile(offlineGraphqlSource('shop', `        webhooks:
          - path: ${PATH}
            scheme: paypal
            webhookId: '{env.PAYPAL_WEBHOOK_ID}'
            pubsubTopic: paypal
            certHosts: ['${hostOf(paypal.origin)}', '${hostOf(deadOrigin)}']
`));
  h = await startHarness({ meshConfig: sources, env: () => ({ PAYPAL_WEBHOOK_ID: WEBHOOK_ID }) });
  previousDispatcher = getGlobalDispatcher();
  setGlobalDispatcher(new Agent({ connect: { ca: tls.cert } }));
  listener = h.gateway.pubsub.subscribe('webhook:paypal')[Symbol.asyncIterator]();
  void (async () => {
    for (;;) {
      const next = await listener.next();
      if (next.done) return;
      published.push(next.value);
    }
  })();
});
afterAll(async () => {
  await listener?.return?.();
  setGlobalDispatcher(previousDispatcher);
  await h?.close();
  await Promise.all([paypal, foreign].map((host) => new Promise((resolve) => host?.server.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

const settle = () => new Promise((resolve) => setImmediate(resolve));

interface Delivery {
  event: { id: string; event_type: string; resource?: unknown };
  transmissionId?: string;
  /** Unix ms; default now. */
  at?: number;
  certUrl?: string;
  webhookId?: string;
  /** Sent instead of the signed body. */
  body?: string;
}

/** POSTs an event as PayPal sends it: RSA-SHA256 over `transmissionId|time|webhookId|crc32(body)`. */
function deliver({ event, transmissionId = crypto.randomUUID(), at = Date.now(), certUrl = `${paypal.origin}/v1/notifications/certs/CERT-1`, webhookId = WEBHOOK_ID, body }: Delivery) {
  const signedBody = JSON.stringify(event);
  const time = new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const signature = signWithKey('sha256', Buffer.from(`${transmissionId}|${time}|${webhookId}|${crc32(Buffer.from(signedBody))}`), signingKey);
  return h.fetch(PATH, {
    method: 'POST',
    body: body ?? signedBody,
    headers: {
      'content-type': 'application/json',
      'paypal-transmission-id': transmissionId,
      'paypal-transmission-time': time,
      'paypal-transmission-sig': signature.toString('base64'),
      'paypal-cert-url': certUrl,
      'paypal-auth-algo': 'SHA256withRSA',
    },
  });
}

const capture = (id: string) => ({ id, event_type: 'PAYMENT.CAPTURE.COMPLETED', resource: { id: `CAP-${id}`, amount: { currency_code: 'EUR', value: '12.00' } } });
const publishedIds = () => published.map((e) => e.id);
const stats = () => h.gateway.webhookStats()[PATH] ?? {};

describe('a PayPal webhook', () => {
  it('takes a signed delivery: published once with the event\'s id and type, PayPal\'s certificate fetched once', async () => {
    const first = await deliver({ event: capture('WH-1') });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true });
    expect(await (await deliver({ event: capture('WH-2') })).json()).toEqual({ received: true });
    await settle();
    expect(published.map((e) => [e.source, e.topic, e.id, e.type])).toEqual([['shop', 'paypal', 'WH-1', 'PAYMENT.CAPTURE.COMPLETED'], ['shop', 'paypal', 'WH-2', 'PAYMENT.CAPTURE.COMPLETED']]);
    expect(published[0]!.payload).toEqual(capture('WH-1'));
    expect(paypal.requests).toEqual(['/v1/notifications/certs/CERT-1']);
  });

  it('takes an event once: a replayed delivery and PayPal\'s retry (a new transmission) are duplicates', async () => {
    const transmissionId = crypto.randomUUID();
    const at = Date.now();
    expect(await (await deliver({ event: capture('WH-3'), transmissionId, at })).json()).toEqual({ received: true });
    expect(await (await deliver({ event: capture('WH-3'), transmissionId, at })).json()).toEqual({ received: true, duplicate: true });
    expect(await (await deliver({ event: capture('WH-3'), at: at + 30_000 })).json()).toEqual({ received: true, duplicate: true });
    await settle();
    expect(publishedIds().filter((id) => id === 'WH-3')).toHaveLength(1);
    expect(stats().duplicate).toBe(2);
  });

  it('refuses a tampered body, a signature for another webhook and a stale transmission with 401, publishing nothing', async () => {
    const before = published.length;
    const cases: [string, Delivery, string][] = [
      ['the amount changed', { event: capture('WH-4'), body: JSON.stringify(capture('WH-4')).replace('12.00', '1200.00') }, 'mismatch'],
      ['signed for another webhook', { event: capture('WH-5'), webhookId: 'ANOTHERWEBHOOK1' }, 'mismatch'],
      ['sent ten minutes ago', { event: capture('WH-6'), at: Date.now() - 600_000 }, 'stale'],
    ];
    for (const [what, delivery, reason] of cases) {
      const answer = await deliver(delivery);
      expect(answer.status, what).toBe(401);
      expect((await answer.json()).errors[0].extensions, what).toEqual({ code: 'WEBHOOK_SIGNATURE_INVALID', reason });
    }
    await settle();
    expect(published.length).toBe(before);
    expect(stats()).toMatchObject({ refused_mismatch: 2, refused_stale: 1 });
  });

  it('never fetches a certificate from a host the entry does not list, or over http, and refuses the delivery', async () => {
    const fetchedBefore = paypal.requests.length;
    // The forger's host serves a certificate named as PayPal's, whose key signed this delivery.
    const forged = await deliver({ event: capture('WH-7'), certUrl: `${foreign.origin}/v1/notifications/certs/CERT-1` });
    expect(forged.status).toBe(401);
    expect((await forged.json()).errors[0].extensions).toEqual({ code: 'WEBHOOK_SIGNATURE_INVALID', reason: 'untrusted' });
    const plain = await deliver({ event: capture('WH-8'), certUrl: `${paypal.origin.replace('https:', 'http:')}/v1/notifications/certs/CERT-1` });
    expect(plain.status).toBe(401);
    expect((await plain.json()).errors[0].extensions).toEqual({ code: 'WEBHOOK_SIGNATURE_INVALID', reason: 'untrusted' });
    await settle();
    expect(foreign.requests).toEqual([]);
    expect(paypal.requests.length).toBe(fetchedBefore);
    expect(publishedIds()).not.toContain('WH-7');
    expect(stats().refused_untrusted).toBe(2);
    // The log says which URL was refused (once per 10 s); the sender is told only the reason.
    expect(h.logs.filter((l) => l.outcome === 'refused_untrusted').map((l) => l.detail)).toEqual([`${foreign.origin}/v1/notifications/certs/CERT-1 is not a PayPal certificate URL`]);
  });

  it('answers 503 WEBHOOK_UNAVAILABLE when the certificate cannot be fetched, so that PayPal retries; publishes nothing', async () => {
    const down = await deliver({ event: capture('WH-9'), certUrl: `${paypal.origin}/v1/notifications/certs/CERT-DOWN` });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('60');
    expect((await down.json()).errors[0].extensions).toEqual({ code: 'WEBHOOK_UNAVAILABLE' });
    const unreachable = await deliver({ event: capture('WH-9'), certUrl: `${deadOrigin}/v1/notifications/certs/CERT-1` });
    expect(unreachable.status).toBe(503);
    await settle();
    expect(paypal.requests.filter((path) => path.endsWith('CERT-DOWN'))).toHaveLength(1);
    expect(publishedIds()).not.toContain('WH-9');
    expect(stats().unavailable).toBe(2);
    expect(h.logs.filter((l) => l.outcome === 'unavailable').map((l) => l.detail)).toEqual([`${paypal.origin}/v1/notifications/certs/CERT-DOWN answered 503`]);
    // Once the certificate can be had, PayPal's retry is taken.
    expect(await (await deliver({ event: capture('WH-9') })).json()).toEqual({ received: true });
  });
});

describe('a PayPal webhook\'s entry', () => {
  const entry = (hook: string) => writeSourcesFile(offlineGraphqlSource('shop', `        webhooks:\n          - ${hook}\n`));

  it('needs PayPal\'s webhook id, from a variable that is set, and takes no secret', () => {
    expect(sourcesFileProblems(entry('{ path: /hooks/pp, scheme: paypal, pubsubTopic: pp }'), {})).toEqual([
      'sources[0] (shop).handler.graphql.webhooks.0.webhookId: is required with scheme paypal (PayPal\'s id of this webhook)',
    ]);
    expect(sourcesFileProblems(entry('{ path: /hooks/pp, scheme: paypal, pubsubTopic: pp, webhookId: \'{env.PAYPAL_WEBHOOK_ID}\' }'), {})).toEqual([
      'sources[0] (shop).handler.graphql.webhooks[0].webhookId: {env.PAYPAL_WEBHOOK_ID} is used but PAYPAL_WEBHOOK_ID is not set',
    ]);
    expect(sourcesFileProblems(entry('{ path: /hooks/pp, scheme: paypal, pubsubTopic: pp, webhookId: WH-1 }'), {})).toEqual([
      'sources[0] (shop).handler.graphql.webhooks.0.webhookId: must be PayPal\'s id of the webhook (letters and digits)',
    ]);
    expect(sourcesFileProblems(entry('{ path: /hooks/pp, scheme: paypal, pubsubTopic: pp, webhookId: ABC123, secrets: [s] }'), {})).toEqual([
      'sources[0] (shop).handler.graphql.webhooks.0.secrets: is not used with scheme paypal: PayPal signs with its own certificate',
    ]);
    expect(sourcesFileProblems(entry('{ path: /hooks/s, scheme: stripe, pubsubTopic: s, secrets: [s], webhookId: ABC123, certHosts: [evil.example] }'), {})).toEqual([
      'sources[0] (shop).handler.graphql.webhooks.0.webhookId: is only for scheme paypal',
      'sources[0] (shop).handler.graphql.webhooks.0.certHosts: is only for scheme paypal',
    ]);
    expect(sourcesFileProblems(entry('{ path: /hooks/s, scheme: stripe, pubsubTopic: s }'), {})).toEqual([
      'sources[0] (shop).handler.graphql.webhooks.0.secrets: must hold at least one secret',
    ]);
  });
});
