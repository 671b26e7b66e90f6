import { execFileSync } from 'node:child_process';
import { createPrivateKey, sign as signWithKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { MockAgent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CERT_CACHE_MAX_AGE_MS, createPaypalVerifier, DEFAULT_CERT_TIMEOUT_MS, MAX_CACHED_CERTS, MAX_CERT_BYTES, MAX_CERT_FETCHES_PER_MINUTE,
  type PaypalOptions, type PaypalVerification,
} from '../../gateway/webhooks/paypal.ts';
import { verifyWebhook, webhookConfigProblems, type WebhookRequest } from '../../gateway/webhooks/signatures.ts';

/**
 * PayPal's scheme, offline: certificates are made here with the openssl CLI (a key PayPal would
 * hold, named as PayPal names its signing certificates, or not), served by an undici MockAgent in
 * place of PayPal's hosts, and deliveries are signed here with node:crypto as PayPal signs them.
 * One real transmission, signed by PayPal, is verified with PayPal's own certificate.
 */

const WEBHOOK_ID = '4JH86294D6297924G';
const LIVE = 'https://api.paypal.com';
const SANDBOX = 'https://api.sandbox.paypal.com';
const certPath = (name: string) => `/v1/notifications/certs/${name}`;

interface TestCert {
  pem: string;
  key: KeyObject;
  /** Its validity, in ms since the epoch. */
  from: number;
  to: number;
}

let dir: string;
/** Made once: RSA key generation is the slow part. */
const certs = {} as Record<'live' | 'sandbox' | 'foreign' | 'wildcard' | 'ec', TestCert>;

function makeCert(name: string, subject: string, altName: string, newKey = ['-newkey', 'rsa:2048']): TestCert {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync('openssl', [
    'req', '-x509', ...newKey, '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', subject,
    '-addext', `subjectAltName=${altName}`, '-addext', 'basicConstraints=critical,CA:FALSE',
  ], { stdio: 'ignore' });
  const pem = readFileSync(cert, 'utf8');
  const parsed = new X509Certificate(pem);
  return { pem, key: createPrivateKey(readFileSync(key)), from: Date.parse(parsed.validFrom), to: Date.parse(parsed.validTo) };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'junction-paypal-'));
  certs.live = makeCert('live', '/O=PayPal, Inc./CN=messageverificationcerts.paypal.com', 'DNS:messageverificationcerts.paypal.com');
  certs.sandbox = makeCert('sandbox', '/CN=messageverificationcerts.sandbox.paypal.com', 'DNS:messageverificationcerts.sandbox.paypal.com');
  certs.foreign = makeCert('foreign', '/CN=evil.example', 'DNS:evil.example');
  certs.wildcard = makeCert('wildcard', '/CN=*.paypal.com', 'DNS:*.paypal.com');
  certs.ec = makeCert('ec', '/CN=messageverificationcerts.paypal.com', 'DNS:messageverificationcerts.paypal.com', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.useRealTimers());

/** PayPal's hosts (and any other), answered by a MockAgent that records every request made to it. */
function fakePaypal() {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const requests: string[] = [];
  const serve = (origin: string, path: string, status: number, body: string | Buffer, headers: Record<string, string> = {}) =>
    agent.get(origin).intercept({ path, method: 'GET' }).reply(status, () => {
      requests.push(origin + path);
      return body;
    }, { headers }).persist();
  return { agent, requests, serve };
}

/** A clock the test moves. */
function clock(at: number) {
  const state = { at };
  return { now: () => state.at, set: (ms: number) => { state.at = ms; }, advance: (ms: number) => { state.at += ms; } };
}

interface Transmission {
  body?: Buffer;
  id?: string;
  /** When it was sent, in ms; signed as PayPal writes it (`2015-05-18T15:45:13Z`). */
  at: number;
  webhookId?: string;
  certUrl: string;
  algorithm?: string;
}

/** A delivery signed as PayPal signs one: RSA-SHA256 over `id|time|webhookId|crc32(body)`. */
function transmit(cert: TestCert, { body = Buffer.from('{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}'), id = 'f0e1d2c3-0000-11ef-8f00-000000000001', at, webhookId = WEBHOOK_ID, certUrl, algorithm = 'SHA256withRSA' }: Transmission): WebhookRequest {
  const time = new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const signature = signWithKey('sha256', Buffer.from(`${id}|${time}|${webhookId}|${crc32(body)}`), cert.key).toString('base64');
  return {
    body,
    headers: {
      'paypal-transmission-id': id,
      'paypal-transmission-time': time,
      'paypal-transmission-sig': signature,
      'paypal-cert-url': certUrl,
      'paypal-auth-algo': algorithm,
      'content-type': 'application/json',
    },
  };
}

const refused = (reason: string): PaypalVerification => ({ ok: false, reason } as PaypalVerification);
/** Refused `untrusted`, saying why (for the log) in words matching `detail`. */
const untrusted = (detail: string | RegExp) => ({ ok: false, reason: 'untrusted', detail: expect.stringMatching(detail) });
const withHeader = (request: WebhookRequest, name: string, value: string | undefined): WebhookRequest => {
  const headers = { ...(request.headers as Record<string, string>) };
  if (value === undefined) delete headers[name];
  else headers[name] = value;
  return { ...request, headers };
};

/** A verifier over a fake PayPal serving `cert` at CERT-1 of the live host, a minute into the certificate's validity. */
function setUp(cert: TestCert = certs.live, options: Partial<PaypalOptions> = {}) {
  const paypal = fakePaypal();
  paypal.serve(LIVE, certPath('CERT-1'), 200, cert.pem, { 'content-type': 'application/x-pem-file' });
  const time = clock(cert.from + 60_000);
  const verifier = createPaypalVerifier({ webhookId: WEBHOOK_ID, ...options }, { now: time.now, dispatcher: paypal.agent });
  return { paypal, time, verifier, url: LIVE + certPath('CERT-1') };
}

describe('a transmission PayPal signed, with PayPal\'s own certificate', () => {
  // Headers and body from PayPal's Python REST SDK tests (TestWebhookEvents); the certificate is the
  // one PayPal's sandbox served at that URL (recorded in the PayPal Node SDK's test mocks). It was
  // valid from 2015-03-18 to 2017-03-22, so the clock is set to when the transmission was sent.
  const BODY = '{"id":"WH-0G2756385H040842W-5Y612302CV158622M","create_time":"2015-05-18T15:45:13Z","resource_type":"sale","event_type":"PAYMENT.SALE.COMPLETED","summary":"Payment completed for $ 20.0 USD","resource":{"id":"4EU7004268015634R","create_time":"2015-05-18T15:44:02Z","update_time":"2015-05-18T15:44:21Z","amount":{"total":"20.00","currency":"USD"},"payment_mode":"INSTANT_TRANSFER","state":"completed","protection_eligibility":"ELIGIBLE","protection_eligibility_type":"ITEM_NOT_RECEIVED_ELIGIBLE,UNAUTHORIZED_PAYMENT_ELIGIBLE","parent_payment":"PAY-86C81811X5228590KKVNARQQ","transaction_fee":{"value":"0.88","currency":"USD"},"links":[{"href":"https://api.sandbox.paypal.com/v1/payments/sale/4EU7004268015634R","rel":"self","method":"GET"},{"href":"https://api.sandbox.paypal.com/v1/payments/sale/4EU7004268015634R/refund","rel":"refund","method":"POST"},{"href":"https://api.sandbox.paypal.com/v1/payments/payment/PAY-86C81811X5228590KKVNARQQ","rel":"parent_payment","method":"GET"}]},"links":[{"href":"https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-0G2756385H040842W-5Y612302CV158622M","rel":"self","method":"GET"},{"href":"https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-0G2756385H040842W-5Y612302CV158622M/resend","rel":"resend","method":"POST"}]}';
  const CERT_URL = `${SANDBOX}${certPath('CERT-360caa42-fca2a594-a5cafa77')}`;
  const SENT = '2015-05-18T15:45:13Z';
  const PAYPAL_SANDBOX_CERT = [
    '-----BEGIN CERTIFICATE-----',
    'MIIHqDCCBpCgAwIBAgIQCSVMkxB1Kw9SPZtpAr3lTDANBgkqhkiG9w0BAQsFADB1',
    'MQswCQYDVQQGEwJVUzEVMBMGA1UEChMMRGlnaUNlcnQgSW5jMRkwFwYDVQQLExB3',
    'd3cuZGlnaWNlcnQuY29tMTQwMgYDVQQDEytEaWdpQ2VydCBTSEEyIEV4dGVuZGVk',
    'IFZhbGlkYXRpb24gU2VydmVyIENBMB4XDTE1MDMxODAwMDAwMFoXDTE3MDMyMjEy',
    'MDAwMFowggElMR0wGwYDVQQPDBRQcml2YXRlIE9yZ2FuaXphdGlvbjETMBEGCysG',
    'AQQBgjc8AgEDEwJVUzEZMBcGCysGAQQBgjc8AgECEwhEZWxhd2FyZTEQMA4GA1UE',
    'BRMHMzAxNDI2NzEWMBQGA1UECRMNMjIxMSBOIDFzdCBTdDEOMAwGA1UEERMFOTUx',
    'MzExCzAJBgNVBAYTAlVTMRMwEQYDVQQIEwpDYWxpZm9ybmlhMREwDwYDVQQHEwhT',
    'YW4gSm9zZTEVMBMGA1UEChMMUGF5UGFsLCBJbmMuMRgwFgYDVQQLEw9QYXJ0bmVy',
    'IFN1cHBvcnQxNDAyBgNVBAMTK21lc3NhZ2V2ZXJpZmljYXRpb25jZXJ0cy5zYW5k',
    'Ym94LnBheXBhbC5jb20wggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDI',
    'XgwJj1E+vPOLNA7e3nFsRpQq7G1CFcoCNeRgFIGRfd4itt2jBRPfHXf1eeXODQ6V',
    'wTMP6rVYrI3HBQu5SZRZKO3gALPiBWTcz5FhVovYDz/d/DtasA5L7l1xmRM+GGPE',
    'e/D3ETPeyym6GTAuIzR1ju1BuSQlVnIrcILDHrFZo0RyqFH1eNL3oYfgz+ZCv+WH',
    '65rhS60VowiLAb2lsARckJ2P8wKIps3YUxAqVG5SJ9H49ueBDI01wEzE/+59J8s9',
    'GThmbMTqP6x4MneAcGN1TPimGd9wZlbwwrCYDtCoqFDcxMVgvD83uPrIinFwTIOX',
    'w63QSv8/+ANuawBcNJDrAgMBAAGjggOAMIIDfDAfBgNVHSMEGDAWgBQ901Cl1qCt',
    '7vNKYApl0yHU+PjWDzAdBgNVHQ4EFgQUt5yLggZOjjfzULzZCgX2KZO3R/gwNgYD',
    'VR0RBC8wLYIrbWVzc2FnZXZlcmlmaWNhdGlvbmNlcnRzLnNhbmRib3gucGF5cGFs',
    'LmNvbTAOBgNVHQ8BAf8EBAMCBaAwHQYDVR0lBBYwFAYIKwYBBQUHAwEGCCsGAQUF',
    'BwMCMHUGA1UdHwRuMGwwNKAyoDCGLmh0dHA6Ly9jcmwzLmRpZ2ljZXJ0LmNvbS9z',
    'aGEyLWV2LXNlcnZlci1nMS5jcmwwNKAyoDCGLmh0dHA6Ly9jcmw0LmRpZ2ljZXJ0',
    'LmNvbS9zaGEyLWV2LXNlcnZlci1nMS5jcmwwQgYDVR0gBDswOTA3BglghkgBhv1s',
    'AgEwKjAoBggrBgEFBQcCARYcaHR0cHM6Ly93d3cuZGlnaWNlcnQuY29tL0NQUzCB',
    'iAYIKwYBBQUHAQEEfDB6MCQGCCsGAQUFBzABhhhodHRwOi8vb2NzcC5kaWdpY2Vy',
    'dC5jb20wUgYIKwYBBQUHMAKGRmh0dHA6Ly9jYWNlcnRzLmRpZ2ljZXJ0LmNvbS9E',
    'aWdpQ2VydFNIQTJFeHRlbmRlZFZhbGlkYXRpb25TZXJ2ZXJDQS5jcnQwDAYDVR0T',
    'AQH/BAIwADCCAX0GCisGAQQB1nkCBAIEggFtBIIBaQFnAHUApLkJkLQYWBSHuxOi',
    'zGdwCjw1mAT5G9+443fNDsgN3BAAAAFMLovtNgAABAMARjBEAiBTR7r3p76qUJzF',
    '23lsbD/cLsA0KlxoJRSIvIK0OIYWiQIgVQWja8tWBlpcoFP30Iym7IuczitSazpH',
    'fhKAVroTgXgAdgBo9pj4H2SCvjqM7rkoHUz8cVFdZ5PURNEKZ6y7T0/7xAAAAUwu',
    'i+z4AAAEAwBHMEUCIEP3VYyLQB7lOgFo4WstyOurmRe3xa0OVaeFL/bDohHOAiEA',
    '+xQrRVAfaeT4qBdBJzLyVLU4V9bh/qBMXJdjvYujhAcAdgBWFAaaL9fC7NP14b1E',
    'sj7HRna5vJkRXMDvlJhV1onQ3QAAAUwui+6EAAAEAwBHMEUCIQC/YUc5X6xyb3ho',
    'o4VMSJqSoNg9KKkvLh9nUQCdwHi3/QIgNwcBc9ZZCR/aWXQ7hKH6d39kpkDX2Z43',
    'XPy/Kl5sKI4wDQYJKoZIhvcNAQELBQADggEBAHixEZNpb0M1MsvsfNI6lLKxrs9s',
    'JkcBcmxrFyhTC8KP+Qp+Z1fnMRQwpTLIMr1+uAMqCPAnIShGHeFNJpUFSMyW4o0l',
    '+pZGz/L/YJBs7XP3ChSGC17ZKeGSQFfMqMQXfY/L6+n/1HkAwqmewqUMEuUmWN3F',
    'kXJqVngIYGZtxXRyiv2azLOhrNP8BgNZK6d2gVxntQfGr4hnd8Juq8SJy/S4xpPY',
    'YPD8vW7/wSOdAe1/kU38QwDVBQ5PJePS2WFwz8YA/eKcyg9lfsianfw35SjehJbn',
    'wGwzUbjtibyJnv3eAeYDGxaI6vbuoE99pSmYGIwSBLJwZamJHjci6HL6wLg=',
    '-----END CERTIFICATE-----',
  ].join('\r\n');
  const request = (body = Buffer.from(BODY)): WebhookRequest => ({
    body,
    headers: {
      'PAYPAL-TRANSMISSION-ID': 'dfb3be50-fd74-11e4-8bf3-77339302725b',
      'PAYPAL-TRANSMISSION-TIME': SENT,
      'PAYPAL-TRANSMISSION-SIG': 'thy4/U002quzxFavHPwbfJGcc46E8rc5jzgyeafWm5mICTBdY/8rl7WJpn8JA0GKA+oDTPsSruqusw+XXg5RLAP7ip53Euh9Xu3UbUhQFX7UgwzE2FeYoY6lyRMiiiQLzy9BvHfIzNIVhPad4KnC339dr6y2l+mN8ALgI4GCdIh3/SoJO5wE64Bh/ueWtt8EVuvsvXfda2Le5a2TrOI9vLEzsm9GS79hAR/5oLexNz8UiZr045Mr5ObroH4w4oNfmkTaDk9Rj0G19uvISs5QzgmBpauKr7Nw++JI0pr/v5mFctQkoWJSGfBGzPRXawrvIIVHQ9Wer48GR2g9ZiApWg==',
      'PAYPAL-CERT-URL': CERT_URL,
      'PAYPAL-AUTH-ALGO': 'SHA256withRSA',
    },
  });
  const verifierAt = (at: string, webhookId = WEBHOOK_ID) => {
    const paypal = fakePaypal();
    paypal.serve(SANDBOX, certPath('CERT-360caa42-fca2a594-a5cafa77'), 200, PAYPAL_SANDBOX_CERT, { 'content-type': 'application/x-pem-file' });
    return { paypal, verifier: createPaypalVerifier({ webhookId }, { now: () => Date.parse(at), dispatcher: paypal.agent }) };
  };

  it('verifies it at the time it was sent, fetching the certificate once from PayPal\'s sandbox host', async () => {
    expect(crc32(Buffer.from(BODY))).toBe(2_771_810_304);
    const { paypal, verifier } = verifierAt(SENT);
    expect(await verifier.verify(request())).toEqual({ ok: true, scheme: 'paypal', timestamp: 1_431_963_913 });
    expect(await verifier.verify(request())).toMatchObject({ ok: true });
    expect(paypal.requests).toEqual([CERT_URL]);
  });

  it('refuses it with one byte of the body changed, for another webhook id, and five minutes and a second later', async () => {
    const tampered = Buffer.from(BODY.replace('"total":"20.00"', '"total":"21.00"'));
    expect(await verifierAt(SENT).verifier.verify(request(tampered))).toEqual(refused('mismatch'));
    expect(await verifierAt(SENT, '4JH86294D6297924H').verifier.verify(request())).toEqual(refused('mismatch'));
    const late = verifierAt('2015-05-18T15:50:14Z');
    expect(await late.verifier.verify(request())).toEqual(refused('stale'));
    expect(late.paypal.requests).toEqual([]);
    expect(await verifierAt('2015-05-18T15:50:13Z').verifier.verify(request())).toMatchObject({ ok: true });
  });
});

describe('signed deliveries', () => {
  it('accepts one signed with PayPal\'s certificate: the signature covers the CRC-32 of the raw bytes, not of re-encoded text', async () => {
    const { paypal, time, verifier, url } = setUp();
    // Not UTF-8 after the JSON: decoding and re-encoding would change the CRC-32.
    const body = Buffer.concat([Buffer.from('{"id":"WH-2","note":"Zoë ☃"}'), Buffer.from([0xeb, 0xff])]);
    expect(await verifier.verify(transmit(certs.live, { body, at: time.now(), certUrl: url }))).toEqual({ ok: true, scheme: 'paypal', timestamp: Math.floor(time.now() / 1000) });
    expect(paypal.requests).toEqual([url]);
  });

  it('refuses a changed body, a signature made for another webhook, another key, or another algorithm', async () => {
    const { time, verifier, url } = setUp();
    const good = transmit(certs.live, { at: time.now(), certUrl: url });
    expect(await verifier.verify({ ...good, body: Buffer.from('{"id":"WH-1","event_type":"PAYMENT.CAPTURE.REFUNDED"}') })).toEqual(refused('mismatch'));
    expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: url, webhookId: 'OTHERWEBHOOK1' }))).toEqual(refused('mismatch'));
    expect(await verifier.verify(transmit(certs.foreign, { at: time.now(), certUrl: url }))).toEqual(refused('mismatch'));
    expect(await verifier.verify(withHeader(good, 'paypal-auth-algo', 'SHA1withRSA'))).toEqual(refused('unsupported'));
    expect(await verifier.verify(withHeader(good, 'paypal-auth-algo', 'sha256withrsa'))).toMatchObject({ ok: true });
  });

  it('refuses a transmission time more than the tolerance away, either way, before fetching anything', async () => {
    const { paypal, time, verifier, url } = setUp(certs.live, { toleranceSec: 60 });
    expect(await verifier.verify(transmit(certs.live, { at: time.now() - 61_000, certUrl: url }))).toEqual(refused('stale'));
    expect(await verifier.verify(transmit(certs.live, { at: time.now() + 61_000, certUrl: url }))).toEqual(refused('stale'));
    expect(paypal.requests).toEqual([]);
    expect(await verifier.verify(transmit(certs.live, { at: time.now() - 60_000, certUrl: url }))).toMatchObject({ ok: true });
  });

  it('refuses missing headers as missing, and unreadable ones as malformed', async () => {
    const { paypal, time, verifier, url } = setUp();
    const good = transmit(certs.live, { at: time.now(), certUrl: url });
    for (const name of ['paypal-transmission-id', 'paypal-transmission-time', 'paypal-transmission-sig', 'paypal-cert-url', 'paypal-auth-algo']) {
      expect(await verifier.verify(withHeader(good, name, undefined)), name).toEqual(refused('missing'));
    }
    const signature = (good.headers as Record<string, string>)['paypal-transmission-sig']!;
    const malformed: [string, string][] = [
      ['paypal-transmission-time', '1431963913'],
      ['paypal-transmission-time', 'yesterday'],
      ['paypal-transmission-id', 'a|b'],
      ['paypal-transmission-sig', `${signature}junk!`],
      ['paypal-transmission-sig', 'A'.repeat(2_000)],
      ['paypal-cert-url', 'not a url'],
    ];
    for (const [name, value] of malformed) expect(await verifier.verify(withHeader(good, name, value)), `${name}: ${value}`).toEqual(refused('malformed'));
    expect(paypal.requests).toEqual([]);
  });
});

describe('where the certificate may come from', () => {
  it('fetches nothing from a URL that is not https, on PayPal\'s API hosts, under PayPal\'s certificate path', async () => {
    const { paypal, time, verifier } = setUp();
    // Every foreign origin would answer with a certificate the forger holds, and record the request.
    for (const origin of ['https://evil.example', 'https://api.paypal.com.evil.example', 'https://paypal.com', 'http://api.paypal.com', 'https://api.paypal.com:8443']) {
      paypal.serve(origin, certPath('CERT-1'), 200, certs.live.pem);
    }
    paypal.serve(LIVE, '/v1/oauth2/token', 200, certs.live.pem);
    const urls = [
      `https://evil.example${certPath('CERT-1')}`,
      `https://api.paypal.com.evil.example${certPath('CERT-1')}`,
      `https://paypal.com${certPath('CERT-1')}`,
      `http://api.paypal.com${certPath('CERT-1')}`,
      `https://api.paypal.com:8443${certPath('CERT-1')}`,
      `https://someone@api.paypal.com${certPath('CERT-1')}`,
      `${LIVE}${certPath('CERT-1')}?v=2`,
      `${LIVE}${certPath('CERT-1')}#x`,
      `${LIVE}/v1/oauth2/token`,
      `${LIVE}${certPath('../../oauth2/token')}`,
    ];
    for (const certUrl of urls) {
      expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl })), certUrl).toEqual(untrusted(/ is not a PayPal certificate URL$/));
    }
    expect(paypal.requests).toEqual([]);
  });

  it('takes PayPal\'s four API hosts, whatever case the URL\'s host is written in', async () => {
    const { paypal, time, verifier } = setUp();
    const hosts = ['https://api.paypal.com', 'https://api-m.paypal.com', 'https://api.sandbox.paypal.com', 'https://api-m.sandbox.paypal.com'];
    for (const origin of hosts) paypal.serve(origin, certPath('CERT-2'), 200, certs.live.pem);
    for (const origin of hosts) expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: origin + certPath('CERT-2') })), origin).toMatchObject({ ok: true });
    expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: `https://API.PayPal.com${certPath('CERT-2')}` }))).toMatchObject({ ok: true });
    expect(paypal.requests).toHaveLength(4);
  });

  it('with certHosts, takes those hosts instead of PayPal\'s', async () => {
    const { paypal, time, verifier } = setUp(certs.live, { certHosts: ['paypal-mock.test:8443'] });
    paypal.serve('https://paypal-mock.test:8443', certPath('CERT-1'), 200, certs.live.pem);
    expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: `https://paypal-mock.test:8443${certPath('CERT-1')}` }))).toMatchObject({ ok: true });
    expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: `http://paypal-mock.test:8443${certPath('CERT-1')}` }))).toEqual(untrusted('http://paypal-mock.test:8443/v1/notifications/certs/CERT-1 is not a PayPal certificate URL'));
    expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: LIVE + certPath('CERT-1') }))).toEqual(untrusted(/^https:\/\/api\.paypal\.com\/v1\/notifications\/certs\/CERT-1 is not/));
    expect(paypal.requests).toEqual([`https://paypal-mock.test:8443${certPath('CERT-1')}`]);
  });

  it('follows no redirect, even to PayPal\'s own certificate', async () => {
    const { paypal, time, verifier } = setUp();
    paypal.serve(LIVE, certPath('CERT-MOVED'), 302, '', { location: LIVE + certPath('CERT-1') });
    expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: LIVE + certPath('CERT-MOVED') }))).toEqual(untrusted(/CERT-MOVED answered 302$/));
    expect(paypal.requests).toEqual([LIVE + certPath('CERT-MOVED')]);
  });
});

describe('which certificates are PayPal\'s', () => {
  it('takes the sandbox signing name too', async () => {
    const { paypal, time, verifier } = setUp(certs.sandbox);
    paypal.serve(SANDBOX, certPath('CERT-S'), 200, certs.sandbox.pem);
    expect(await verifier.verify(transmit(certs.sandbox, { at: time.now(), certUrl: SANDBOX + certPath('CERT-S') }))).toMatchObject({ ok: true });
  });

  it('refuses a certificate served from PayPal\'s host for another name, a wildcard, or a key that is not RSA, though it signed the delivery', async () => {
    for (const cert of [certs.foreign, certs.wildcard, certs.ec]) {
      const { paypal, time, verifier, url } = setUp(cert);
      const delivery = cert === certs.ec ? transmit(certs.live, { at: time.now(), certUrl: url }) : transmit(cert, { at: time.now(), certUrl: url });
      expect(await verifier.verify(delivery), new X509Certificate(cert.pem).subject).toEqual(untrusted(/CERT-1 is not PayPal's signing certificate valid now \(DNS:/));
      expect(paypal.requests).toEqual([url]);
    }
  });

  it('refuses PayPal\'s certificate before it is valid and after it expires', async () => {
    const { time, verifier, url } = setUp();
    time.set(certs.live.from - 60_000);
    expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: url }))).toEqual(untrusted(/not PayPal's signing certificate valid now \(DNS:messageverificationcerts\.paypal\.com, valid /));
    time.set(certs.live.to + 1_000);
    expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: url }))).toEqual(untrusted(/not PayPal's signing certificate valid now \(DNS:messageverificationcerts\.paypal\.com, valid /));
    time.set(certs.live.to - 1_000);
    expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: url }))).toMatchObject({ ok: true });
  });

  it('reads the first certificate of a chain; refuses an answer that holds none, or more than 64 KiB', async () => {
    const { paypal, time, verifier } = setUp();
    paypal.serve(LIVE, certPath('CHAIN'), 200, `${certs.live.pem}\n${certs.foreign.pem}`);
    paypal.serve(LIVE, certPath('TEXT'), 200, '{"name":"RESOURCE_NOT_FOUND"}');
    paypal.serve(LIVE, certPath('BROKEN'), 200, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    paypal.serve(LIVE, certPath('HUGE'), 200, `${certs.live.pem}\n${'#'.repeat(MAX_CERT_BYTES)}`);
    const verify = (name: string) => verifier.verify(transmit(certs.live, { at: time.now(), certUrl: LIVE + certPath(name) }));
    expect(await verify('CHAIN')).toMatchObject({ ok: true });
    expect(await verify('TEXT')).toEqual(untrusted(/TEXT answered no PEM certificate$/));
    expect(await verify('BROKEN')).toEqual(untrusted(/BROKEN answered a PEM block that is not a certificate$/));
    expect(await verify('HUGE')).toEqual(untrusted(`${LIVE}${certPath('HUGE')} answered more than ${MAX_CERT_BYTES} bytes`));
  });
});

describe('fetching the certificate', () => {
  it('is unavailable (to be retried) when PayPal answers 5xx or 429, and refused when it answers 404', async () => {
    const { paypal, time, verifier } = setUp();
    paypal.serve(LIVE, certPath('DOWN'), 503, 'unavailable');
    paypal.serve(LIVE, certPath('BUSY'), 429, 'slow down');
    paypal.serve(LIVE, certPath('NONE'), 404, '{"name":"RESOURCE_NOT_FOUND"}');
    const verify = (name: string) => verifier.verify(transmit(certs.live, { at: time.now(), certUrl: LIVE + certPath(name) }));
    expect(await verify('DOWN')).toEqual({ ok: false, unavailable: `${LIVE}${certPath('DOWN')} answered 503` });
    expect(await verify('BUSY')).toEqual({ ok: false, unavailable: `${LIVE}${certPath('BUSY')} answered 429` });
    expect(await verify('NONE')).toEqual(untrusted(/NONE answered 404$/));
    // A failure is not kept: the next delivery asks again.
    expect(await verify('DOWN')).toMatchObject({ ok: false, unavailable: expect.any(String) });
    expect(paypal.requests.filter((r) => r.endsWith('DOWN'))).toHaveLength(2);
  });

  it('gives up on a host that does not answer after 5 s (timers faked)', async () => {
    const { paypal, time, verifier } = setUp();
    paypal.serve(LIVE, certPath('SLOW'), 200, certs.live.pem).delay(60_000);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const pending = verifier.verify(transmit(certs.live, { at: time.now(), certUrl: LIVE + certPath('SLOW') }));
    await vi.advanceTimersByTimeAsync(DEFAULT_CERT_TIMEOUT_MS - 1);
    let settled = false;
    void pending.then(() => { settled = true; });
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toEqual({ ok: false, unavailable: `${LIVE}${certPath('SLOW')} did not answer within ${DEFAULT_CERT_TIMEOUT_MS} ms` });
  });

  it('fetches a certificate once for deliveries arriving together, and keeps it for 24 hours at most', async () => {
    const { paypal, time, verifier, url } = setUp();
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => verifier.verify(transmit(certs.live, { at: time.now(), certUrl: url, id: `tx-${i}` }))));
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true]);
    expect(paypal.requests).toHaveLength(1);
    time.advance(CERT_CACHE_MAX_AGE_MS - 1);
    expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: url }))).toMatchObject({ ok: true });
    expect(paypal.requests).toHaveLength(1);
    time.advance(1);
    expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: url }))).toMatchObject({ ok: true });
    expect(paypal.requests).toHaveLength(2);
  });

  it(`keeps at most ${MAX_CACHED_CERTS} certificates, the oldest going first`, async () => {
    const { paypal, time, verifier } = setUp();
    const url = (i: number) => LIVE + certPath(`CERT-N${i}`);
    for (let i = 0; i <= MAX_CACHED_CERTS; i++) paypal.serve(LIVE, certPath(`CERT-N${i}`), 200, certs.live.pem);
    const verify = async (i: number) => {
      // A minute apart, so that the fetch budget never stands in the way.
      time.advance(60_000);
      expect(await verifier.verify(transmit(certs.live, { at: time.now(), certUrl: url(i) })), url(i)).toMatchObject({ ok: true });
    };
    for (let i = 0; i <= MAX_CACHED_CERTS; i++) await verify(i);
    expect(paypal.requests).toHaveLength(MAX_CACHED_CERTS + 1);
    await verify(MAX_CACHED_CERTS);
    await verify(1);
    expect(paypal.requests).toHaveLength(MAX_CACHED_CERTS + 1);
    await verify(0);
    expect(paypal.requests).toHaveLength(MAX_CACHED_CERTS + 2);
    expect(paypal.requests.at(-1)).toBe(url(0));
  });

  it(`makes at most ${MAX_CERT_FETCHES_PER_MINUTE} fetches a minute, however many certificate URLs deliveries name`, async () => {
    const { paypal, time, verifier } = setUp();
    for (let i = 0; i < 30; i++) paypal.serve(LIVE, certPath(`CERT-R${i}`), 404, 'no such certificate');
    const verify = (i: number) => verifier.verify(transmit(certs.live, { at: time.now(), certUrl: LIVE + certPath(`CERT-R${i}`) }));
    const outcomes = [];
    for (let i = 0; i < 30; i++) outcomes.push(await verify(i));
    expect(outcomes.filter((o) => !o.ok && 'reason' in o && o.reason === 'untrusted')).toHaveLength(MAX_CERT_FETCHES_PER_MINUTE);
    expect(outcomes.filter((o) => !o.ok && 'unavailable' in o)).toHaveLength(30 - MAX_CERT_FETCHES_PER_MINUTE);
    expect(paypal.requests).toHaveLength(MAX_CERT_FETCHES_PER_MINUTE);
    time.advance(60_000);
    expect(await verify(29)).toEqual(untrusted(/CERT-R29 answered 404$/));
    expect(paypal.requests).toHaveLength(MAX_CERT_FETCHES_PER_MINUTE + 1);
  });
});

describe('configuration', () => {
  it('needs PayPal\'s webhook id, letters and digits, and no secret', () => {
    expect(webhookConfigProblems({ scheme: 'paypal', webhookId: WEBHOOK_ID })).toEqual([]);
    expect(webhookConfigProblems({ scheme: 'paypal', webhookId: 'WH-1' })).toEqual(['webhookId must be PayPal\'s id of the webhook (letters and digits)']);
    expect(webhookConfigProblems({ scheme: 'paypal', webhookId: WEBHOOK_ID, toleranceSec: -1 })).toHaveLength(1);
  });

  it('is verified only by its own asynchronous verifier: the synchronous dispatcher refuses it', () => {
    expect(verifyWebhook({ scheme: 'paypal', webhookId: WEBHOOK_ID }, { headers: {}, body: Buffer.from('{}') })).toEqual(refused('unsupported'));
  });
});
