import { createHash, createHmac, generateKeyPairSync, sign as signAsymmetric, timingSafeEqual, type KeyObject } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_TOLERANCE_SEC, MAX_SIGNATURES_PER_HEADER, verifyHmacWebhook, verifySlackWebhook, verifyStandardWebhook,
  verifyStripeWebhook, verifyTwilioWebhook, verifyWebhook, webhookConfigProblems,
  type WebhookConfig, type WebhookScheme, type WebhookVerification,
} from '../../gateway/webhooks/signatures.ts';

// Every comparison must go through timingSafeEqual: counted here, behaviour unchanged.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

/**
 * Every signature in these tests is computed here with node:crypto, apart from the module under
 * test, or copied from the providers' documentation and SDK test suites.
 */

/** Secrets are assembled at run time: a literal `whsec_` + 32 characters looks like a leaked Stripe secret to secret scanners. */
const WHSEC = 'whsec_';
/** When the requests below were signed (Unix s). */
const T = 1_700_000_000;
/** A clock standing at `sec` Unix seconds. */
const at = (sec: number) => () => sec * 1000;

/**
 * UTF-8 text with multi-byte characters, then bytes that are not UTF-8 at all (a Latin-1 "ë" and
 * 0xFF): decoding the body to a string and encoding it again would change them, so only a
 * verifier that signs the raw bytes accepts it.
 */
const BODY = Buffer.concat([
  Buffer.from('{"customer":"Zoë Ångström","note":"☃ 東京 🚀","amount":1999,"legacy":"Zo', 'utf8'),
  Buffer.from([0xeb, 0xff, 0x22, 0x7d]),
]);

type SignedRequest = { headers: Record<string, string>; body: Buffer; url?: string };

const hmac = (algorithm: 'sha256' | 'sha1', key: string | Buffer, ...parts: Array<string | Buffer>) => {
  const mac = createHmac(algorithm, key);
  for (const part of parts) mac.update(part);
  return mac.digest();
};
const sha256Hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const withHeader = (request: SignedRequest, name: string, value: string): SignedRequest => ({ ...request, headers: { ...request.headers, [name]: value } });
const withoutHeader = (request: SignedRequest, name: string): SignedRequest => {
  const headers = { ...request.headers };
  delete headers[name];
  return { ...request, headers };
};
/** The body with one byte changed. */
const tamper = (body: Buffer, index: number): Buffer => {
  const copy = Buffer.from(body);
  copy[index] = copy[index]! ^ 0x01;
  return copy;
};
/** Same length, same alphabet (hex and base64 both have 0 and 1), different content. */
const changeFirstCharacter = (signature: string) => (signature.startsWith('0') ? '1' : '0') + signature.slice(1);
const refused = (reason: string): WebhookVerification => ({ ok: false, reason } as WebhookVerification);

/** What the shared tests need to know about a scheme. */
interface Harness {
  scheme: WebhookScheme;
  label: string;
  /** Two secrets to rotate between, and one that is configured nowhere. */
  secrets: { first: string; second: string; unrelated: string };
  config(secrets: string[], toleranceSec?: number): WebhookConfig;
  /** A request as the provider sends it, signed with `secret` at `ts`. */
  sign(secret: string, body: Buffer, ts: number): SignedRequest;
  /** The bare signature (no version prefix) a request carries. */
  signatureOf(request: SignedRequest): string;
  /** The request carrying these bare signatures instead (more than one only where the scheme allows it). */
  withSignatures(request: SignedRequest, signatures: string[]): SignedRequest;
  multipleSignatures: boolean;
  timestamped: boolean;
  /** Headers whose absence is `missing`. */
  required: string[];
  /** Ways to make a signed request unreadable. */
  malformed: Array<[string, (request: SignedRequest) => SignedRequest]>;
}

const stripeSignature = (secret: string, ts: number | string, body: Buffer) => hmac('sha256', secret, `${ts}.`, body).toString('hex');
const stripe: Harness = {
  scheme: 'stripe',
  label: 'Stripe',
  secrets: { first: `${WHSEC}test0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d`, second: `${WHSEC}test9f8e7d6c5b4a39281706f5e4d3c2b1a0`, unrelated: `${WHSEC}testdeadbeefdeadbeefdeadbeefdeadbeef` },
  config: (secrets, toleranceSec) => ({ scheme: 'stripe', secrets, toleranceSec }),
  sign: (secret, body, ts) => ({ headers: { 'Stripe-Signature': `t=${ts},v1=${stripeSignature(secret, ts, body)}` }, body }),
  signatureOf: (request) => /v1=([0-9a-f]+)/.exec(request.headers['Stripe-Signature']!)![1]!,
  withSignatures: (request, signatures) => {
    const ts = /t=(\d+)/.exec(request.headers['Stripe-Signature']!)![1]!;
    return withHeader(request, 'Stripe-Signature', [`t=${ts}`, ...signatures.map((s) => `v1=${s}`)].join(','));
  },
  multipleSignatures: true,
  timestamped: true,
  required: ['Stripe-Signature'],
  malformed: [
    ['no key=value pairs', (r) => withHeader(r, 'Stripe-Signature', 'garbage')],
    ['no timestamp', (r) => withHeader(r, 'Stripe-Signature', r.headers['Stripe-Signature']!.replace(/^t=\d+,/, ''))],
    ['a timestamp that is not a number', (r) => withHeader(r, 'Stripe-Signature', r.headers['Stripe-Signature']!.replace(/^t=\d+/, 't=yesterday'))],
    ['two timestamps', (r) => withHeader(r, 'Stripe-Signature', `t=${T + 1},${r.headers['Stripe-Signature']}`)],
    ['a timestamp and no signature', (r) => withHeader(r, 'Stripe-Signature', `t=${T}`)],
  ],
};

const slackSignature = (secret: string, ts: number | string, body: Buffer) => hmac('sha256', secret, `v0:${ts}:`, body).toString('hex');
const slack: Harness = {
  scheme: 'slack',
  label: 'Slack',
  secrets: { first: '8f742231b10e8888abcd99aaabbb85a5', second: '0c1e3a8d7f2b46e59a1d2c3b4f5e6a7b', unrelated: '1111222233334444555566667777aaaa' },
  config: (secrets, toleranceSec) => ({ scheme: 'slack', secrets, toleranceSec }),
  sign: (secret, body, ts) => ({
    headers: { 'X-Slack-Signature': `v0=${slackSignature(secret, ts, body)}`, 'X-Slack-Request-Timestamp': String(ts) },
    body,
  }),
  signatureOf: (request) => request.headers['X-Slack-Signature']!.slice('v0='.length),
  withSignatures: (request, [signature, ...more]) => {
    if (more.length > 0) throw new Error('Slack sends one signature');
    return withHeader(request, 'X-Slack-Signature', `v0=${signature}`);
  },
  multipleSignatures: false,
  timestamped: true,
  required: ['X-Slack-Signature', 'X-Slack-Request-Timestamp'],
  malformed: [
    ['a signature without a version', (r) => withHeader(r, 'X-Slack-Signature', slackSignature('x', T, r.body))],
    ['a timestamp that is not a number', (r) => withHeader(r, 'X-Slack-Request-Timestamp', '2023-11-14T22:13:20Z')],
    ['a negative timestamp', (r) => withHeader(r, 'X-Slack-Request-Timestamp', `-${T}`)],
  ],
};

/** Twilio's JSON form: the body's SHA-256 travels in the signed URL. Its form-encoded requests are tested on their own below. */
const TWILIO_HOOK = 'https://hooks.example.com/twilio/status?account=7';
const twilioSignature = (token: string, signedText: string) => hmac('sha1', token, signedText).toString('base64');
const twilio: Harness = {
  scheme: 'twilio',
  label: 'Twilio (JSON body, bodySHA256)',
  secrets: { first: '9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d', second: 'f0e1d2c3b4a5968778695a4b3c2d1e0f', unrelated: '00000000000000000000000000000000' },
  config: (secrets) => ({ scheme: 'twilio', secrets }),
  sign: (token, body) => {
    const url = `${TWILIO_HOOK}&bodySHA256=${sha256Hex(body)}`;
    return { headers: { 'Content-Type': 'application/json', 'X-Twilio-Signature': twilioSignature(token, url) }, body, url };
  },
  signatureOf: (request) => request.headers['X-Twilio-Signature']!,
  withSignatures: (request, [signature, ...more]) => {
    if (more.length > 0) throw new Error('Twilio sends one signature');
    return withHeader(request, 'X-Twilio-Signature', signature!);
  },
  multipleSignatures: false,
  timestamped: false,
  required: ['X-Twilio-Signature'],
  malformed: [
    ['a URL that cannot be parsed', (r) => ({ ...r, url: 'hooks.example.com/twilio?bodySHA256=00' })],
  ],
};

const STANDARD_ID = 'msg_2Lf5Ap2BwZ3bUvRa4E4r5dCpQxT';
const standardSignature = (secret: string, id: string, ts: number | string, body: Buffer) =>
  hmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'), `${id}.${ts}.`, body).toString('base64');
const standard: Harness = {
  scheme: 'standard',
  label: 'Standard Webhooks (v1, HMAC)',
  secrets: {
    first: WHSEC + Buffer.from('first standard webhooks secret!!').toString('base64'),
    second: WHSEC + Buffer.from('second standard webhooks secret!').toString('base64'),
    unrelated: WHSEC + Buffer.from('a secret nobody configured......').toString('base64'),
  },
  config: (secrets, toleranceSec) => ({ scheme: 'standard', secrets, toleranceSec }),
  sign: (secret, body, ts) => ({
    headers: { 'webhook-id': STANDARD_ID, 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${standardSignature(secret, STANDARD_ID, ts, body)}` },
    body,
  }),
  signatureOf: (request) => request.headers['webhook-signature']!.slice('v1,'.length),
  withSignatures: (request, signatures) => withHeader(request, 'webhook-signature', signatures.map((s) => `v1,${s}`).join(' ')),
  multipleSignatures: true,
  timestamped: true,
  required: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
  malformed: [
    ['a signature without a version', (r) => withHeader(r, 'webhook-signature', r.headers['webhook-signature']!.slice('v1,'.length))],
    ['a timestamp in milliseconds with a fraction', (r) => withHeader(r, 'webhook-timestamp', `${T}000.5`)],
    ['a timestamp that is not a number', (r) => withHeader(r, 'webhook-timestamp', 'now')],
  ],
};

const hmacSignature = (secret: string, body: Buffer, ts?: number) => hmac('sha256', secret, ts === undefined ? '' : `${ts}.`, body).toString('hex');
const hmacHarness = (timestampHeader?: string): Harness => ({
  scheme: 'hmac',
  label: timestampHeader ? `first-party HMAC with ${timestampHeader}` : 'first-party HMAC',
  secrets: { first: 'first-party secret one', second: 'first-party secret two', unrelated: 'nobody configured this' },
  config: (secrets, toleranceSec) => ({ scheme: 'hmac', secrets, toleranceSec, ...(timestampHeader ? { timestampHeader } : {}) }),
  sign: (secret, body, ts) => ({
    headers: {
      'X-Signature': `sha256=${hmacSignature(secret, body, timestampHeader ? ts : undefined)}`,
      ...(timestampHeader ? { [timestampHeader]: String(ts) } : {}),
    },
    body,
  }),
  signatureOf: (request) => request.headers['X-Signature']!.slice('sha256='.length),
  withSignatures: (request, signatures) => withHeader(request, 'X-Signature', signatures.map((s) => `sha256=${s}`).join(', ')),
  multipleSignatures: true,
  timestamped: timestampHeader !== undefined,
  required: timestampHeader ? ['X-Signature', timestampHeader] : ['X-Signature'],
  malformed: [
    ['a signature without its algorithm', (r) => withHeader(r, 'X-Signature', r.headers['X-Signature']!.slice('sha256='.length))],
    ...(timestampHeader
      ? [['a timestamp that is not a number', (r: SignedRequest) => withHeader(r, timestampHeader, 'soon')] as [string, (r: SignedRequest) => SignedRequest]]
      : []),
  ],
});

const HARNESSES: Harness[] = [stripe, slack, twilio, standard, hmacHarness(), hmacHarness('X-Signature-Timestamp')];

describe.each(HARNESSES)('$label', (h) => {
  const verify = (request: SignedRequest, secrets = [h.secrets.first], clock = at(T), toleranceSec?: number) =>
    verifyWebhook(h.config(secrets, toleranceSec), request, clock);
  const signed = (secret = h.secrets.first, ts = T, body = BODY) => h.sign(secret, body, ts);

  it('accepts a request signed with the secret, over the raw bytes of the body', () => {
    expect(verify(signed())).toMatchObject({ ok: true, scheme: h.scheme, ...(h.timestamped ? { timestamp: T } : {}) });
  });

  it('refuses a body with one byte changed (first, a non-ASCII one, last) as a mismatch', () => {
    const request = signed();
    const nonAscii = BODY.indexOf(Buffer.from('ë', 'utf8'));
    for (const index of [0, nonAscii, BODY.length - 1]) {
      expect(verify({ ...request, body: tamper(BODY, index) })).toEqual(refused('mismatch'));
    }
  });

  it('refuses a body that was decoded and encoded again: the bytes are what is signed', () => {
    const request = signed();
    expect(verify({ ...request, body: Buffer.from(BODY.toString('utf8'), 'utf8') })).toEqual(refused('mismatch'));
  });

  it('refuses a request signed with a secret that is not configured', () => {
    expect(verify(signed(h.secrets.unrelated))).toEqual(refused('mismatch'));
  });

  it('accepts either of two configured secrets (rotation)', () => {
    const both = [h.secrets.first, h.secrets.second];
    expect(verify(signed(h.secrets.second), both)).toMatchObject({ ok: true });
    expect(verify(signed(h.secrets.first), both)).toMatchObject({ ok: true });
    expect(verify(signed(h.secrets.second), [h.secrets.first])).toEqual(refused('mismatch'));
  });

  it('never uses an empty secret as a key', () => {
    expect(verify(signed(''), [''])).toEqual(refused('mismatch'));
  });

  it.each(h.required)('refuses a request without %s as missing, and with it blank', (name) => {
    expect(verify(withoutHeader(signed(), name))).toEqual(refused('missing'));
    expect(verify(withHeader(signed(), name, '  '))).toEqual(refused('missing'));
  });

  it.each(h.malformed)('refuses %s as malformed', (_label, spoil) => {
    expect(verify(spoil(signed()))).toEqual(refused('malformed'));
  });

  it('refuses a signature of the right length but the wrong content, and of the wrong length, as a mismatch without throwing', () => {
    const request = signed();
    const signature = h.signatureOf(request);
    for (const forged of [changeFirstCharacter(signature), signature.slice(0, -2), `${signature}00`, signature.slice(0, 1), 'not-even-an-encoding!']) {
      expect(verify(h.withSignatures(request, [forged]))).toEqual(refused('mismatch'));
    }
  });

  it('compares every expected signature with timingSafeEqual, not stopping at the first match', () => {
    const compare = vi.mocked(timingSafeEqual);
    compare.mockClear();
    expect(verify(signed(h.secrets.first), [h.secrets.first, h.secrets.second])).toMatchObject({ ok: true });
    // Twilio also tries the URL with and without the default port, and compares the body hash.
    expect(compare.mock.calls.length).toBe(h.scheme === 'twilio' ? 2 * 2 + 1 : 2);
  });

  if (h.multipleSignatures) {
    it('accepts a header with several signatures of which only the last matches', () => {
      const request = signed();
      const genuine = h.signatureOf(request);
      const others = [h.signatureOf(signed(h.secrets.unrelated)), changeFirstCharacter(genuine)];
      expect(verify(h.withSignatures(request, [...others, genuine]))).toMatchObject({ ok: true, scheme: h.scheme });
      expect(verify(h.withSignatures(request, others))).toEqual(refused('mismatch'));
    });

    it(`refuses more than ${MAX_SIGNATURES_PER_HEADER} signatures in one header as malformed`, () => {
      const request = signed();
      const many = [...Array.from({ length: MAX_SIGNATURES_PER_HEADER }, () => changeFirstCharacter(h.signatureOf(request))), h.signatureOf(request)];
      expect(verify(h.withSignatures(request, many))).toEqual(refused('malformed'));
    });
  }

  if (h.timestamped) {
    it(`accepts a timestamp up to ${DEFAULT_TOLERANCE_SEC} s either side of now and refuses one further as stale`, () => {
      const request = signed();
      expect(verify(request, undefined, at(T + DEFAULT_TOLERANCE_SEC))).toMatchObject({ ok: true });
      expect(verify(request, undefined, at(T - DEFAULT_TOLERANCE_SEC))).toMatchObject({ ok: true });
      expect(verify(request, undefined, at(T + DEFAULT_TOLERANCE_SEC + 1))).toEqual(refused('stale'));
      expect(verify(request, undefined, at(T - DEFAULT_TOLERANCE_SEC - 1))).toEqual(refused('stale'));
      // A millisecond past the tolerance is already too late.
      expect(verify(request, undefined, () => (T + DEFAULT_TOLERANCE_SEC) * 1000 + 1)).toEqual(refused('stale'));
    });

    it('takes its tolerance from the configuration', () => {
      const request = signed();
      expect(verify(request, undefined, at(T + 60), 60)).toMatchObject({ ok: true });
      expect(verify(request, undefined, at(T + 61), 60)).toEqual(refused('stale'));
      expect(verify(request, undefined, at(T + 3600), 3600)).toMatchObject({ ok: true });
    });

    it('calls a forgery a mismatch whatever its timestamp: stale is reserved for authentic requests', () => {
      const forged = { ...signed(), body: tamper(BODY, 0) };
      expect(verify(forged, undefined, at(T + 10 * DEFAULT_TOLERANCE_SEC))).toEqual(refused('mismatch'));
    });
  }
});

describe('published vectors', () => {
  it('Standard Webhooks: the specification\'s example signature', () => {
    const request = {
      headers: {
        'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
        'webhook-timestamp': '1614265330',
        'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
      },
      body: Buffer.from('{"test": 2432232314}', 'utf8'),
    };
    const config: WebhookConfig = { scheme: 'standard', secrets: [`${WHSEC}MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`] };
    expect(verifyWebhook(config, request, at(1614265330))).toEqual({ ok: true, scheme: 'standard', id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: 1614265330 });
    // A secret without its prefix is the same base64 key.
    expect(verifyWebhook({ scheme: 'standard', secrets: ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] }, request, at(1614265330))).toMatchObject({ ok: true });
    expect(verifyWebhook(config, { ...request, headers: { ...request.headers, 'webhook-id': 'msg_other' } }, at(1614265330))).toEqual(refused('mismatch'));
    expect(verifyWebhook(config, request, Date.now)).toEqual(refused('stale'));
  });

  const twilioForm = (params: Array<[string, string]>) => Buffer.from(new URLSearchParams(params).toString(), 'utf8');
  const twilioRequest = (signature: string, body: Buffer, url = 'https://mycompany.com/myapp.php?foo=1&bar=2') =>
    ({ headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature }, body, url });
  const twilioConfig: WebhookConfig = { scheme: 'twilio', secrets: ['12345'] };
  const documented = (caller: string): Array<[string, string]> =>
    // Posted out of order on purpose: the signature sorts them.
    [['To', '+18005551212'], ['Digits', '1234'], ['CallSid', 'CA1234567890ABCDE'], ['From', caller], ['Caller', caller]];

  it('Twilio: the webhook security guide\'s example (auth token 12345)', () => {
    expect(verifyWebhook(twilioConfig, twilioRequest('0/KCTR6DLpKmkAf8muzZqo1nDgQ=', twilioForm(documented('+12349013030'))))).toEqual({ ok: true, scheme: 'twilio' });
    const tampered = twilioForm(documented('+12349013030').map(([k, v]) => [k, k === 'Digits' ? '9999' : v]));
    expect(verifyWebhook(twilioConfig, twilioRequest('0/KCTR6DLpKmkAf8muzZqo1nDgQ=', tampered))).toEqual(refused('mismatch'));
    expect(verifyWebhook(twilioConfig, twilioRequest('0/KCTR6DLpKmkAf8muzZqo1nDgQ=', twilioForm(documented('+12349013030')), 'https://mycompany.com/myapp.php?foo=1&bar=3'))).toEqual(refused('mismatch'));
  });

  it('Twilio: the SDKs\' test vectors (form, repeated parameters, port variants, mixed-case host, JSON with bodySHA256)', () => {
    const sdkParams = twilioForm(documented('+14158675309'));
    expect(verifyWebhook(twilioConfig, twilioRequest('RSOYDt4T1cUTdK1PDd93/VVr8B8=', sdkParams))).toMatchObject({ ok: true });
    // The same signature when our URL carries a port Twilio did not sign (twilio-python's test).
    expect(verifyWebhook(twilioConfig, twilioRequest('RSOYDt4T1cUTdK1PDd93/VVr8B8=', sdkParams, 'https://mycompany.com:1234/myapp.php?foo=1&bar=2'))).toMatchObject({ ok: true });
    // The host is signed as configured, not lower-cased (twilio-csharp's test).
    expect(verifyWebhook(twilioConfig, twilioRequest('g9IN/x4Cft2g517EjYvEvM/W7LU=', sdkParams, 'https://MyCompany.com/myapp.php?foo=1&bar=2'))).toMatchObject({ ok: true });
    // A repeated name: its distinct values, sorted (twilio-php's and twilio-python's test).
    const repeated = twilioForm([['Sid', 'CA123'], ['SidAccount', 'AC123'], ['Digits', '5678'], ['Digits', '1234'], ['Digits', '1234']]);
    expect(verifyWebhook(twilioConfig, twilioRequest('IK+Dwps556ElfBT0I3Rgjkr1wJU=', repeated))).toMatchObject({ ok: true });

    const json = Buffer.from('{"property": "value", "boolean": true}', 'utf8');
    const jsonRequest = {
      headers: { 'Content-Type': 'application/json', 'X-Twilio-Signature': 'a9nBmqA0ju/hNViExpshrM61xv4=' },
      body: json,
      url: 'https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620',
    };
    expect(verifyWebhook(twilioConfig, jsonRequest)).toEqual({ ok: true, scheme: 'twilio' });
    expect(verifyWebhook(twilioConfig, { ...jsonRequest, body: Buffer.from('{"property": "value", "boolean": false}') })).toEqual(refused('mismatch'));
  });

  it('Slack: the "verifying requests" guide\'s example', () => {
    const body = Buffer.from('token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c', 'utf8');
    const headers = { 'X-Slack-Signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503', 'X-Slack-Request-Timestamp': '1531420618' };
    const config: WebhookConfig = { scheme: 'slack', secrets: ['8f742231b10e8888abcd99yyyzzz85a5'] };
    expect(verifyWebhook(config, { headers, body }, at(1531420618))).toEqual({ ok: true, scheme: 'slack', timestamp: 1531420618 });
    expect(verifyWebhook(config, { headers, body }, at(1531420618 + 301))).toEqual(refused('stale'));
  });

  it('first-party HMAC: GitHub\'s X-Hub-Signature-256 example, the same sha256=<hex> form', () => {
    const config: WebhookConfig = { scheme: 'hmac', header: 'X-Hub-Signature-256', secrets: ['It\'s a Secret to Everybody'] };
    const headers = { 'X-Hub-Signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' };
    expect(verifyWebhook(config, { headers, body: Buffer.from('Hello, World!') })).toEqual({ ok: true, scheme: 'hmac' });
    expect(verifyWebhook(config, { headers, body: Buffer.from('Hello, World?') })).toEqual(refused('mismatch'));
  });
});

describe('Stripe', () => {
  const config = { secrets: [stripe.secrets.first] };

  it('ignores v0 signatures next to a v1, and calls a header with only v0 unsupported', () => {
    const v1 = stripeSignature(stripe.secrets.first, T, BODY);
    const v0 = stripeSignature('a test-mode secret', T, BODY);
    expect(verifyStripeWebhook(config, { headers: { 'stripe-signature': `t=${T},v0=${v0},v1=${v1}` }, body: BODY }, at(T))).toMatchObject({ ok: true });
    expect(verifyStripeWebhook(config, { headers: { 'stripe-signature': `t=${T},v0=${v0}` }, body: BODY }, at(T))).toEqual(refused('unsupported'));
  });

  it('tolerates spaces around the items and an upper-case signature', () => {
    const v1 = stripeSignature(stripe.secrets.first, T, BODY).toUpperCase();
    expect(verifyStripeWebhook(config, { headers: { 'stripe-signature': ` t=${T} , v1=${v1} ` }, body: BODY }, at(T))).toMatchObject({ ok: true });
  });

  it('signs the timestamp as sent', () => {
    const padded = `0${T}`;
    const header = `t=${padded},v1=${stripeSignature(stripe.secrets.first, padded, BODY)}`;
    expect(verifyStripeWebhook(config, { headers: { 'Stripe-Signature': header }, body: BODY }, at(T))).toEqual({ ok: true, scheme: 'stripe', timestamp: T });
  });
});

describe('Slack', () => {
  it('calls a signature version other than v0 unsupported', () => {
    const request = slack.sign(slack.secrets.first, BODY, T);
    const v1 = withHeader(request, 'X-Slack-Signature', request.headers['X-Slack-Signature']!.replace(/^v0=/, 'v1='));
    expect(verifySlackWebhook({ secrets: [slack.secrets.first] }, v1, at(T))).toEqual(refused('unsupported'));
  });
});

describe('Twilio, form-encoded', () => {
  const url = 'https://hooks.example.com/twilio/sms?tenant=7';
  const token = twilio.secrets.first;
  /** Names sorted, each followed by its value, appended to the URL: computed here independently. */
  const sign = (authToken: string, signedUrl: string, params: Array<[string, string]>) =>
    twilioSignature(authToken, signedUrl + [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => k + v).join(''));
  const params: Array<[string, string]> = [['MessageSid', 'SM0123456789abcdef'], ['From', '+15005550006'], ['Body', 'Café ☃ über 東京 🚀 a+b&c=d'], ['To', '+15005550001']];
  const request = (signature: string, body: Buffer = Buffer.from(new URLSearchParams(params).toString(), 'utf8'), requestUrl = url) => ({
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'x-twilio-signature': signature },
    body,
    url: requestUrl,
  });

  it('accepts parameters with non-ASCII values (percent-encoded UTF-8, as Twilio sends them) and either of two tokens', () => {
    expect(verifyTwilioWebhook({ secrets: [token] }, request(sign(token, url, params)))).toEqual({ ok: true, scheme: 'twilio' });
    const rotated = sign(twilio.secrets.second, url, params);
    expect(verifyTwilioWebhook({ secrets: [token, twilio.secrets.second] }, request(rotated))).toMatchObject({ ok: true });
    expect(verifyTwilioWebhook({ secrets: [token] }, request(rotated))).toEqual(refused('mismatch'));
  });

  it('refuses a changed parameter, a changed URL and an added parameter', () => {
    const signature = sign(token, url, params);
    const body = Buffer.from(new URLSearchParams(params).toString(), 'utf8');
    expect(verifyTwilioWebhook({ secrets: [token] }, request(signature, tamper(body, body.length - 1)))).toEqual(refused('mismatch'));
    expect(verifyTwilioWebhook({ secrets: [token] }, request(signature, body, url.replace('tenant=7', 'tenant=8')))).toEqual(refused('mismatch'));
    expect(verifyTwilioWebhook({ secrets: [token] }, request(signature, Buffer.concat([body, Buffer.from('&Extra=1')])))).toEqual(refused('mismatch'));
  });

  it('accepts the URL with or without the default port, whichever Twilio signed', () => {
    const signedWithPort = sign(token, 'https://hooks.example.com:443/twilio/sms?tenant=7', params);
    expect(verifyTwilioWebhook({ secrets: [token] }, request(signedWithPort))).toMatchObject({ ok: true });
    expect(verifyTwilioWebhook({ secrets: [token] }, request(sign(token, url, params), undefined, 'https://hooks.example.com:443/twilio/sms?tenant=7'))).toMatchObject({ ok: true });
  });

  it('needs the URL, and refuses a form body that is not UTF-8 as malformed', () => {
    const signed = request(sign(token, url, params));
    expect(verifyTwilioWebhook({ secrets: [token] }, { ...signed, url: undefined })).toEqual(refused('missing'));
    expect(verifyTwilioWebhook({ secrets: [token] }, { ...signed, body: Buffer.from([0x42, 0x6f, 0x64, 0x79, 0x3d, 0xff]) })).toEqual(refused('malformed'));
  });

  it('refuses a body that no signature covers (not a form, no bodySHA256 in the URL) as unsupported', () => {
    const signed = request(sign(token, url, []), BODY);
    expect(verifyTwilioWebhook({ secrets: [token] }, { ...signed, headers: { ...signed.headers, 'content-type': 'application/json' } })).toEqual(refused('unsupported'));
    // A request without a body (Twilio's GET callbacks) signs the URL alone.
    expect(verifyTwilioWebhook({ secrets: [token] }, { ...signed, body: Buffer.alloc(0), headers: { 'x-twilio-signature': sign(token, url, []) } })).toMatchObject({ ok: true });
  });
});

describe('Standard Webhooks, v1a (Ed25519)', () => {
  let privateKey: KeyObject;
  let publicKey: string;
  let otherPublicKey: string;
  const toWhpk = (key: KeyObject) => `whpk_${Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url').toString('base64')}`;

  beforeEach(() => {
    const pair = generateKeyPairSync('ed25519');
    privateKey = pair.privateKey;
    publicKey = toWhpk(pair.publicKey);
    otherPublicKey = toWhpk(generateKeyPairSync('ed25519').publicKey);
  });

  const signV1a = (key: KeyObject, id: string, ts: number, body: Buffer) =>
    signAsymmetric(null, Buffer.concat([Buffer.from(`${id}.${ts}.`, 'utf8'), body]), key).toString('base64');
  const request = (signatureHeader: string, body: Buffer = BODY) => ({
    headers: new Headers({ 'Webhook-Id': STANDARD_ID, 'Webhook-Timestamp': String(T), 'Webhook-Signature': signatureHeader }),
    body,
  });

  it('accepts a signature made with the private half of a configured public key', () => {
    const result = verifyStandardWebhook({ secrets: [publicKey] }, request(`v1a,${signV1a(privateKey, STANDARD_ID, T, BODY)}`), at(T));
    expect(result).toEqual({ ok: true, scheme: 'standard', id: STANDARD_ID, timestamp: T });
  });

  it('refuses a changed body, another key pair, and a stale timestamp', () => {
    const signature = `v1a,${signV1a(privateKey, STANDARD_ID, T, BODY)}`;
    expect(verifyStandardWebhook({ secrets: [publicKey] }, request(signature, tamper(BODY, 10)), at(T))).toEqual(refused('mismatch'));
    expect(verifyStandardWebhook({ secrets: [otherPublicKey] }, request(signature), at(T))).toEqual(refused('mismatch'));
    expect(verifyStandardWebhook({ secrets: [publicKey] }, request(signature), at(T + 301))).toEqual(refused('stale'));
  });

  it('accepts during rotation (a second key, v1 and v1a side by side, only the last signature valid)', () => {
    const genuine = signV1a(privateKey, STANDARD_ID, T, BODY);
    const header = `v1a,${changeFirstCharacter(genuine)} v1,${standardSignature(standard.secrets.unrelated, STANDARD_ID, T, BODY)} v1a,${genuine}`;
    expect(verifyStandardWebhook({ secrets: [otherPublicKey, standard.secrets.first, publicKey] }, request(header), at(T))).toMatchObject({ ok: true });
    // HMAC secrets and public keys in one list: a v1 signature verifies alongside configured public keys.
    const v1 = `v1,${standardSignature(standard.secrets.first, STANDARD_ID, T, BODY)}`;
    expect(verifyStandardWebhook({ secrets: [publicKey, standard.secrets.first] }, request(v1), at(T))).toMatchObject({ ok: true });
  });

  it('refuses signatures of the wrong length or content as a mismatch without throwing', () => {
    const genuine = signV1a(privateKey, STANDARD_ID, T, BODY);
    for (const forged of [changeFirstCharacter(genuine), genuine.slice(0, -4), `${genuine}AAAA`, 'AA==', '!!!']) {
      expect(verifyStandardWebhook({ secrets: [publicKey] }, request(`v1a,${forged}`), at(T))).toEqual(refused('mismatch'));
    }
  });

  it('never takes a public key as an HMAC secret, nor a whsk_ private key as anything', () => {
    const asHmacKey = standardSignature(publicKey.replace(/^whpk_/, ''), STANDARD_ID, T, BODY);
    expect(verifyStandardWebhook({ secrets: [publicKey] }, request(`v1,${asHmacKey}`), at(T))).toEqual(refused('mismatch'));
    const privateSecret = `whsk_${Buffer.from('a private key is not configured.').toString('base64')}`;
    const withIt = standardSignature(privateSecret.replace(/^whsk_/, ''), STANDARD_ID, T, BODY);
    expect(verifyStandardWebhook({ secrets: [privateSecret] }, request(`v1,${withIt}`), at(T))).toEqual(refused('mismatch'));
  });

  it('calls a header with only unknown versions unsupported', () => {
    expect(verifyStandardWebhook({ secrets: [publicKey] }, request('v2,AAAA v9,BBBB'), at(T))).toEqual(refused('unsupported'));
  });
});

describe('first-party HMAC', () => {
  it('reads a configured header and calls other algorithms unsupported', () => {
    const body = BODY;
    const signature = hmacSignature('s3cret', body);
    expect(verifyHmacWebhook({ secrets: ['s3cret'], header: 'X-Junction-Signature' }, { headers: { 'x-junction-signature': `sha256=${signature}` }, body })).toEqual({ ok: true, scheme: 'hmac' });
    expect(verifyHmacWebhook({ secrets: ['s3cret'], header: 'X-Junction-Signature' }, { headers: { 'X-Signature': `sha256=${signature}` }, body })).toEqual(refused('missing'));
    const sha1 = createHmac('sha1', 's3cret').update(body).digest('hex');
    expect(verifyHmacWebhook({ secrets: ['s3cret'] }, { headers: { 'X-Signature': `sha1=${sha1}` }, body })).toEqual(refused('unsupported'));
  });
});

describe('headers', () => {
  const request = stripe.sign(stripe.secrets.first, BODY, T);
  const config = { secrets: [stripe.secrets.first] };

  it('are found whatever their case, in fetch Headers and in plain objects (repeated values joined as fetch does)', () => {
    const value = request.headers['Stripe-Signature']!;
    expect(verifyStripeWebhook(config, { headers: new Headers({ 'STRIPE-SIGNATURE': value }), body: BODY }, at(T))).toMatchObject({ ok: true });
    expect(verifyStripeWebhook(config, { headers: { 'stripe-signature': value }, body: BODY }, at(T))).toMatchObject({ ok: true });
    const [timestamp, signature] = value.split(',');
    expect(verifyStripeWebhook(config, { headers: { 'stripe-signature': [timestamp!, signature!] }, body: BODY }, at(T))).toMatchObject({ ok: true });
  });
});

describe('verifyWebhook', () => {
  it('refuses a configuration naming a scheme it does not know as unsupported', () => {
    const unknown = { scheme: 'github', secrets: ['x'] } as unknown as WebhookConfig;
    expect(verifyWebhook(unknown, { headers: {}, body: BODY }, at(T))).toEqual(refused('unsupported'));
  });

  it('reads the clock it is given, once per verification, and never sleeps', () => {
    const clock = vi.fn(at(T));
    expect(verifyWebhook(stripe.config([stripe.secrets.first]), stripe.sign(stripe.secrets.first, BODY, T), clock)).toMatchObject({ ok: true });
    expect(clock).toHaveBeenCalledTimes(1);
  });
});

describe('webhookConfigProblems', () => {
  it('finds nothing wrong with a sound configuration', () => {
    expect(webhookConfigProblems(stripe.config([stripe.secrets.first, stripe.secrets.second]))).toEqual([]);
    expect(webhookConfigProblems({ scheme: 'standard', secrets: [standard.secrets.first, toWhpk()] })).toEqual([]);
    expect(webhookConfigProblems({ scheme: 'hmac', secrets: ['x'], header: 'X-Hub-Signature-256', timestampHeader: 'X-Timestamp' })).toEqual([]);
  });

  it('reports missing or empty secrets, keys that cannot be used, a bad tolerance and a bad header name', () => {
    expect(webhookConfigProblems({ scheme: 'slack', secrets: [] })).toEqual(['no secret is configured']);
    expect(webhookConfigProblems({ scheme: 'twilio', secrets: ['token', ''] })).toEqual(['a secret is empty']);
    expect(webhookConfigProblems({ scheme: 'stripe', secrets: ['x'], toleranceSec: -1 })).toHaveLength(1);
    expect(webhookConfigProblems({ scheme: 'standard', secrets: [`${WHSEC}not base64!`, 'whpk_AAAA', 'whsk_AAAA'] })).toHaveLength(3);
    expect(webhookConfigProblems({ scheme: 'hmac', secrets: ['x'], header: 'X Signature' })).toHaveLength(1);
  });

  function toWhpk(): string {
    const { publicKey } = generateKeyPairSync('ed25519');
    return `whpk_${Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64')}`;
  }
});
