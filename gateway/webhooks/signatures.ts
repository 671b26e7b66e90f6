import { createHash, createHmac, createPublicKey, timingSafeEqual, verify as verifyAsymmetric, type KeyObject } from 'node:crypto';
import type { PaypalOptions } from './paypal.ts';

/**
 * Verification of inbound webhook signatures: did the provider that holds our shared secret (or
 * the private half of a key pair we hold the public half of) send exactly these bytes, recently?
 *
 * Five schemes: Stripe (`Stripe-Signature`), Slack (`X-Slack-Signature`), Twilio
 * (`X-Twilio-Signature`), Standard Webhooks (`webhook-signature`, HMAC `v1` and Ed25519 `v1a`)
 * and a first-party `sha256=<hex>` HMAC over the body. PayPal's scheme, which needs PayPal's
 * certificate fetched, is verified asynchronously by paypal.ts; `verifyWebhook` refuses it.
 *
 * Why the raw bytes: a signature covers the bytes the provider sent. Parsing JSON and
 * serialising it again changes them (key order, spacing, escapes, number formats), so a
 * verifier that re-serialises refuses genuine requests or, worse, accepts a different document
 * than the one that was signed. Every function here takes the body as a `Uint8Array` and feeds
 * it to the MAC unchanged; only Twilio's form-encoded requests are parsed, because Twilio signs
 * the decoded parameters rather than the body.
 *
 * Why constant time: comparing a computed MAC with the received one byte by byte and stopping
 * at the first difference tells an attacker, through response times, how many leading bytes of
 * a forgery are right. Signatures are compared with `crypto.timingSafeEqual` on equal-length
 * buffers (the length of a signature is public), and every candidate is compared with every
 * expected value without stopping at the first match.
 *
 * Rotation: each configuration holds a list of secrets and any one of them verifies, so a new
 * secret can be added before the provider switches to it and the old one removed after.
 *
 * Replay: the timestamped schemes refuse a request whose signed timestamp is further than the
 * tolerance (default 300 s) from the clock passed in. The signature is checked before the
 * timestamp, so `stale` means "authentic but outside the window" (a replay, or a skewed clock)
 * and forgeries are counted as `mismatch` whatever timestamp they carry.
 *
 * Nothing here throws on a bad request: each function returns a `WebhookVerification`, and a
 * refusal carries a reason a caller can count. A secret that is empty (or, for Standard
 * Webhooks, decodes to nothing) is never used as a key: a blank setting must not become a key
 * anyone can sign with. `webhookConfigProblems` reports such settings at start-up.
 */

export type WebhookScheme = 'stripe' | 'slack' | 'twilio' | 'standard' | 'hmac' | 'paypal';

/**
 * Why a request was refused: `missing` a header (or, for Twilio, the URL) the scheme needs;
 * `malformed` a header that cannot be read; `stale` a valid signature on a timestamp outside the
 * tolerance; `mismatch` no signature matches any configured secret; `unsupported` the request is
 * signed only in a form this module does not verify (another signature version or algorithm,
 * an unknown scheme); `untrusted` the key the request names is not one to verify with (PayPal: a
 * certificate URL off PayPal's hosts, or a certificate that is not PayPal's or not valid now).
 */
export type WebhookRefusal = 'missing' | 'malformed' | 'stale' | 'mismatch' | 'unsupported' | 'untrusted';

export type WebhookVerification =
  | {
    ok: true;
    scheme: WebhookScheme;
    /** The provider's message id, where the scheme signs one (Standard Webhooks): deduplicate on it. */
    id?: string;
    /** The signed timestamp, in Unix seconds, where the scheme has one. */
    timestamp?: number;
  }
  /** `detail` says why, for the log (never for the sender), where the scheme knows more than the reason. */
  | { ok: false; reason: WebhookRefusal; detail?: string };

/** Fetch `Headers`, or a plain object such as Node's `IncomingHttpHeaders`; names are matched case-insensitively. */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface WebhookRequest {
  headers: WebhookHeaders;
  /** The body exactly as received. */
  body: Uint8Array;
  /** The full public URL the provider called, query string included (Twilio signs it). */
  url?: string;
}

/** Milliseconds since the Unix epoch (`Date.now` unless a test fakes it). */
export type Clock = () => number;

export const DEFAULT_TOLERANCE_SEC = 300;
/** More signatures than this in one header is not rotation but an attempt to make us work. */
export const MAX_SIGNATURES_PER_HEADER = 16;

export interface StripeOptions {
  /** Endpoint secrets (`whsec_...`), used as-is as the HMAC key. */
  secrets: readonly string[];
  toleranceSec?: number;
}
export interface SlackOptions {
  /** Signing secrets. */
  secrets: readonly string[];
  toleranceSec?: number;
}
export interface TwilioOptions {
  /** Auth tokens (the primary and, while rotating, the secondary). */
  secrets: readonly string[];
}
export interface StandardOptions {
  /**
   * `whsec_<base64>` (or bare base64) HMAC secrets for `v1` signatures, and `whpk_<base64>`
   * Ed25519 public keys for `v1a` signatures, in one list.
   */
  secrets: readonly string[];
  toleranceSec?: number;
}
export interface HmacOptions {
  secrets: readonly string[];
  /** Header carrying `sha256=<hex>` (several, comma-separated, during rotation). Default `X-Signature`. */
  header?: string;
  /** Header carrying the Unix-seconds timestamp; when set it is required and signed as `${ts}.${body}`. */
  timestampHeader?: string;
  /** Only with `timestampHeader`. */
  toleranceSec?: number;
}

export type StripeWebhookConfig = { scheme: 'stripe' } & StripeOptions;
export type SlackWebhookConfig = { scheme: 'slack' } & SlackOptions;
export type TwilioWebhookConfig = { scheme: 'twilio' } & TwilioOptions;
export type StandardWebhookConfig = { scheme: 'standard' } & StandardOptions;
export type HmacWebhookConfig = { scheme: 'hmac' } & HmacOptions;
export type PaypalWebhookConfig = { scheme: 'paypal' } & PaypalOptions;
export type WebhookConfig = StripeWebhookConfig | SlackWebhookConfig | TwilioWebhookConfig | StandardWebhookConfig | HmacWebhookConfig | PaypalWebhookConfig;

export const DEFAULT_HMAC_HEADER = 'X-Signature';

const WHSEC = 'whsec_';
const WHPK = 'whpk_';
const WHSK = 'whsk_';
const UNIX_SECONDS = /^\d{1,12}$/;
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

// ---------------------------------------------------------------------------------------------
// The dispatcher

/** Verifies a request with the scheme its configuration names (PayPal's: createPaypalVerifier, paypal.ts). */
export function verifyWebhook(config: WebhookConfig, request: WebhookRequest, now: Clock = Date.now): WebhookVerification {
  switch (config.scheme) {
    case 'stripe': return verifyStripeWebhook(config, request, now);
    case 'slack': return verifySlackWebhook(config, request, now);
    case 'twilio': return verifyTwilioWebhook(config, request);
    case 'standard': return verifyStandardWebhook(config, request, now);
    case 'hmac': return verifyHmacWebhook(config, request, now);
    default: return refuse('unsupported');
  }
}

// ---------------------------------------------------------------------------------------------
// Stripe: `Stripe-Signature: t=<unix s>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 over `${t}.${body}`

export function verifyStripeWebhook(options: StripeOptions, request: WebhookRequest, now: Clock = Date.now): WebhookVerification {
  const header = headerValue(request.headers, 'Stripe-Signature');
  if (header === undefined) return refuse('missing');
  const parsed = parseStripeHeader(header);
  if (typeof parsed === 'string') return refuse(parsed);
  const expected = usableSecrets(options.secrets).map((secret) => hmacSha256(secret, `${parsed.timestampText}.`, request.body, 'hex'));
  return conclude('stripe', matchesAny(parsed.signatures, expected), {
    timestamp: parsed.timestamp, toleranceSec: options.toleranceSec, now,
  });
}

interface TimestampedSignatures {
  /** The timestamp as sent: it is what was signed. */
  timestampText: string;
  timestamp: number;
  signatures: string[];
}

function parseStripeHeader(header: string): TimestampedSignatures | WebhookRefusal {
  let timestampText: string | undefined;
  const signatures: string[] = [];
  let otherSchemes = 0;
  for (const item of splitList(header, ',')) {
    const pair = splitPair(item, '=');
    if (!pair) return 'malformed';
    const [key, value] = pair;
    if (key === 't') {
      if (timestampText !== undefined) return 'malformed';
      timestampText = value;
    } else if (key === 'v1') {
      signatures.push(value.toLowerCase());
    } else if (/^v\d+$/.test(key)) {
      otherSchemes += 1;
    }
  }
  const timestamp = timestampText === undefined ? undefined : parseUnixSeconds(timestampText);
  if (timestampText === undefined || timestamp === undefined) return 'malformed';
  if (signatures.length > MAX_SIGNATURES_PER_HEADER) return 'malformed';
  if (signatures.length === 0) return otherSchemes > 0 ? 'unsupported' : 'malformed';
  return { timestampText, timestamp, signatures };
}

// ---------------------------------------------------------------------------------------------
// Slack: `X-Slack-Signature: v0=<hex>` over `v0:${X-Slack-Request-Timestamp}:${body}`

export function verifySlackWebhook(options: SlackOptions, request: WebhookRequest, now: Clock = Date.now): WebhookVerification {
  const signatureHeader = headerValue(request.headers, 'X-Slack-Signature');
  const timestampText = headerValue(request.headers, 'X-Slack-Request-Timestamp');
  if (signatureHeader === undefined || timestampText === undefined) return refuse('missing');
  const timestamp = parseUnixSeconds(timestampText);
  const pair = splitPair(signatureHeader, '=');
  if (timestamp === undefined || !pair || !/^v\d+$/.test(pair[0])) return refuse('malformed');
  const [version, signature] = pair;
  if (version !== 'v0') return refuse('unsupported');
  const expected = usableSecrets(options.secrets).map((secret) => hmacSha256(secret, `v0:${timestampText}:`, request.body, 'hex'));
  return conclude('slack', matchesAny([signature.toLowerCase()], expected), {
    timestamp, toleranceSec: options.toleranceSec, now,
  });
}

// ---------------------------------------------------------------------------------------------
// Twilio: `X-Twilio-Signature` = base64(HMAC-SHA1(token, url + sorted form parameters)), or, for
// a JSON body, over the URL alone with the body's SHA-256 in the URL's `bodySHA256` parameter.

/** Twilio signs no timestamp, so it takes no clock: replays must be caught by the caller's idempotency. */
export function verifyTwilioWebhook(options: TwilioOptions, request: WebhookRequest): WebhookVerification {
  const signature = headerValue(request.headers, 'X-Twilio-Signature');
  if (signature === undefined || !request.url) return refuse('missing');
  const signed = twilioSignedParts(request);
  if (typeof signed === 'string') return refuse(signed);
  const urls = twilioUrlVariants(request.url);
  const expected = usableSecrets(options.secrets).flatMap((token) => urls.map((url) => twilioSignature(token, url + signed.params)));
  const signatureMatches = matchesAny([signature], expected);
  return signatureMatches && signed.bodyMatches ? { ok: true, scheme: 'twilio' } : refuse('mismatch');
}

function twilioSignature(authToken: string, signedText: string): string {
  return createHmac('sha1', authToken).update(signedText, 'utf8').digest('base64');
}

interface TwilioSigned {
  /** The parameter string appended to the URL before signing ('' when the URL alone is signed). */
  params: string;
  /** Whether the body is covered: by `bodySHA256`, or by the signed form parameters. */
  bodyMatches: boolean;
}

function twilioSignedParts(request: WebhookRequest): TwilioSigned | WebhookRefusal {
  let bodyHash: string | null;
  try {
    bodyHash = new URL(request.url ?? '').searchParams.get('bodySHA256');
  } catch {
    return 'malformed';
  }
  if (bodyHash !== null) {
    const actual = createHash('sha256').update(request.body).digest('hex');
    return { params: '', bodyMatches: constantTimeEqual(bodyHash.toLowerCase(), actual) };
  }
  if (isFormEncoded(request.headers)) {
    const text = decodeUtf8(request.body);
    return text === undefined ? 'malformed' : { params: twilioParamString(new URLSearchParams(text)), bodyMatches: true };
  }
  // A body neither signed through bodySHA256 nor made of signed parameters cannot be trusted.
  return request.body.length === 0 ? { params: '', bodyMatches: true } : 'unsupported';
}

/**
 * Names sorted, each name followed by its value; a repeated name contributes each distinct value
 * in sorted order (as Twilio's own libraries build it).
 */
function twilioParamString(form: URLSearchParams): string {
  const valuesByName = new Map<string, Set<string>>();
  for (const [name, value] of form) {
    const values = valuesByName.get(name) ?? new Set<string>();
    values.add(value);
    valuesByName.set(name, values);
  }
  return [...valuesByName.entries()]
    .sort(([a], [b]) => compareCodeUnits(a, b))
    .map(([name, values]) => [...values].sort(compareCodeUnits).map((value) => name + value).join(''))
    .join('');
}

/**
 * The URL as given, without its port, and with the scheme's default port: Twilio signs the URL
 * as configured, which may or may not carry the port a proxy in front of us reports (Twilio's
 * libraries try the same variants). The string is not otherwise normalised: Twilio signs it as-is.
 */
function twilioUrlVariants(url: string): string[] {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!match) return [url];
  const [, scheme = '', authority = '', rest = ''] = match;
  const variants = [url, scheme + authority.replace(/:\d*$/, '') + rest];
  const defaultPort = DEFAULT_PORTS[scheme.toLowerCase()];
  if (defaultPort !== undefined && !/:\d*$/.test(authority)) variants.push(`${scheme}${authority}:${defaultPort}${rest}`);
  return [...new Set(variants)];
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'https://': 443, 'http://': 80 };

function isFormEncoded(headers: WebhookHeaders): boolean {
  const contentType = headerValue(headers, 'Content-Type');
  return contentType?.split(';')[0]?.trim().toLowerCase() === FORM_CONTENT_TYPE;
}

// ---------------------------------------------------------------------------------------------
// Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp`,
// `webhook-signature: v1,<base64> v1a,<base64> ...` over `${id}.${timestamp}.${body}`

export function verifyStandardWebhook(options: StandardOptions, request: WebhookRequest, now: Clock = Date.now): WebhookVerification {
  const id = headerValue(request.headers, 'webhook-id');
  const timestampText = headerValue(request.headers, 'webhook-timestamp');
  const signatureHeader = headerValue(request.headers, 'webhook-signature');
  if (id === undefined || timestampText === undefined || signatureHeader === undefined) return refuse('missing');
  const timestamp = parseUnixSeconds(timestampText);
  const signatures = parseStandardSignatures(signatureHeader);
  if (timestamp === undefined) return refuse('malformed');
  if (typeof signatures === 'string') return refuse(signatures);
  const prefix = `${id}.${timestampText}.`;
  const keys = standardKeys(options.secrets);
  const expected = keys.hmac.map((key) => hmacSha256(key, prefix, request.body, 'base64'));
  const hmacMatches = matchesAny(signatures.v1, expected);
  const ed25519Matches = signatures.v1a.length > 0 && keys.ed25519.length > 0
    && anyEd25519Verifies(signatures.v1a, keys.ed25519, Buffer.concat([Buffer.from(prefix, 'utf8'), request.body]));
  return conclude('standard', hmacMatches || ed25519Matches, {
    timestamp, toleranceSec: options.toleranceSec, now, id,
  });
}

interface StandardSignatures {
  v1: string[];
  v1a: string[];
}

function parseStandardSignatures(header: string): StandardSignatures | WebhookRefusal {
  const signatures: StandardSignatures = { v1: [], v1a: [] };
  let otherVersions = 0;
  const entries = header.split(/\s+/).filter(Boolean);
  if (entries.length > MAX_SIGNATURES_PER_HEADER) return 'malformed';
  for (const entry of entries) {
    const pair = splitPair(entry, ',');
    if (!pair) return 'malformed';
    const [version, signature] = pair;
    if (version === 'v1' || version === 'v1a') signatures[version].push(signature);
    else otherVersions += 1;
  }
  if (signatures.v1.length + signatures.v1a.length === 0) return otherVersions > 0 ? 'unsupported' : 'malformed';
  return signatures;
}

interface StandardKeys {
  hmac: Buffer[];
  ed25519: KeyObject[];
}

/** `whpk_` entries are Ed25519 public keys; anything else but a `whsk_` private key is an HMAC secret. */
function standardKeys(secrets: readonly string[]): StandardKeys {
  const keys: StandardKeys = { hmac: [], ed25519: [] };
  for (const secret of usableSecrets(secrets)) {
    if (secret.startsWith(WHPK)) {
      const key = ed25519PublicKey(secret);
      if (key) keys.ed25519.push(key);
    } else if (!secret.startsWith(WHSK)) {
      const key = standardHmacKey(secret);
      if (key.length > 0) keys.hmac.push(key);
    }
  }
  return keys;
}

function standardHmacKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(WHSEC) ? secret.slice(WHSEC.length) : secret, 'base64');
}

/** The KeyObject for a `whpk_<base64 of the raw 32-byte key>`, or undefined when it is not one. */
function ed25519PublicKey(publicKey: string): KeyObject | undefined {
  const raw = Buffer.from(publicKey.slice(WHPK.length), 'base64');
  if (raw.length !== 32) return undefined;
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  } catch {
    return undefined;
  }
}

/** Every signature against every key, without stopping at the first that verifies. */
function anyEd25519Verifies(signatures: readonly string[], keys: readonly KeyObject[], content: Buffer): boolean {
  let verified = false;
  for (const signature of signatures) {
    const bytes = canonicalBase64(signature);
    if (bytes) for (const key of keys) verified = ed25519Verifies(key, content, bytes) || verified;
  }
  return verified;
}

/**
 * The bytes of `text` only when `text` is exactly how they encode: Node's decoder skips what it
 * does not understand and stops at padding, so `<signature>==junk` would otherwise pass as the
 * signature. (HMAC signatures need no such care: they are compared as encoded text.)
 */
export function canonicalBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function ed25519Verifies(key: KeyObject, content: Buffer, signature: Buffer): boolean {
  try {
    return verifyAsymmetric(null, content, key, signature);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// First-party: `X-Signature: sha256=<hex>` over the body, or over `${ts}.${body}` with a timestamp header

export function verifyHmacWebhook(options: HmacOptions, request: WebhookRequest, now: Clock = Date.now): WebhookVerification {
  const header = headerValue(request.headers, options.header ?? DEFAULT_HMAC_HEADER);
  const timestampText = options.timestampHeader === undefined ? undefined : headerValue(request.headers, options.timestampHeader);
  if (header === undefined || (options.timestampHeader !== undefined && timestampText === undefined)) return refuse('missing');
  const timestamp = timestampText === undefined ? undefined : parseUnixSeconds(timestampText);
  if (timestampText !== undefined && timestamp === undefined) return refuse('malformed');
  const signatures = parseHmacSignatures(header);
  if (typeof signatures === 'string') return refuse(signatures);
  const prefix = timestampText === undefined ? '' : `${timestampText}.`;
  const expected = usableSecrets(options.secrets).map((secret) => hmacSha256(secret, prefix, request.body, 'hex'));
  return conclude('hmac', matchesAny(signatures, expected), { timestamp, toleranceSec: options.toleranceSec, now });
}

function parseHmacSignatures(header: string): string[] | WebhookRefusal {
  const signatures: string[] = [];
  let otherAlgorithms = 0;
  const items = splitList(header, ',');
  if (items.length > MAX_SIGNATURES_PER_HEADER) return 'malformed';
  for (const item of items) {
    const pair = splitPair(item, '=');
    if (!pair) return 'malformed';
    const [algorithm, signature] = pair;
    if (algorithm.toLowerCase() === 'sha256') signatures.push(signature.toLowerCase());
    else otherAlgorithms += 1;
  }
  if (signatures.length === 0) return otherAlgorithms > 0 ? 'unsupported' : 'malformed';
  return signatures;
}

// ---------------------------------------------------------------------------------------------
// Configuration check (for start-up: a request never sees these)

/** What is wrong with a configuration, in words for a start-up error; empty when nothing is. */
export function webhookConfigProblems(config: WebhookConfig): string[] {
  const problems: string[] = [];
  if (config.scheme === 'paypal') {
    // PayPal signs with its own key: no secret, but the webhook id it signs (letters and digits).
    if (!/^[A-Za-z0-9]{1,50}$/.test(config.webhookId)) problems.push('webhookId must be PayPal\'s id of the webhook (letters and digits)');
  } else {
    if (usableSecrets(config.secrets).length === 0) problems.push('no secret is configured');
    if (config.secrets.some((secret) => secret.length === 0)) problems.push('a secret is empty');
  }
  if ('toleranceSec' in config && config.toleranceSec !== undefined && !(Number.isFinite(config.toleranceSec) && config.toleranceSec >= 0)) {
    problems.push('toleranceSec must be a finite number of seconds, 0 or more');
  }
  if (config.scheme === 'standard') problems.push(...standardSecretProblems(config.secrets));
  if (config.scheme === 'hmac') {
    for (const name of [config.header, config.timestampHeader]) {
      if (name !== undefined && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) problems.push(`"${name}" is not a header name`);
    }
  }
  return problems;
}

function standardSecretProblems(secrets: readonly string[]): string[] {
  return usableSecrets(secrets).flatMap((secret, index) => {
    if (secret.startsWith(WHSK)) return [`secret ${index + 1} is a whsk_ private key: configure its whpk_ public key`];
    if (secret.startsWith(WHPK)) return ed25519PublicKey(secret) ? [] : [`secret ${index + 1} is not a whpk_ Ed25519 public key (base64 of 32 bytes)`];
    const encoded = secret.startsWith(WHSEC) ? secret.slice(WHSEC.length) : secret;
    const valid = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) && standardHmacKey(secret).length > 0;
    return valid ? [] : [`secret ${index + 1} is not whsec_ followed by base64`];
  });
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

function refuse(reason: WebhookRefusal): WebhookVerification {
  return { ok: false, reason };
}

interface Freshness {
  timestamp: number | undefined;
  toleranceSec: number | undefined;
  now: Clock;
  id?: string;
}

/** The verdict once signatures are compared: mismatch first, then staleness, else accepted. */
function conclude(scheme: WebhookScheme, matched: boolean, { timestamp, toleranceSec, now, id }: Freshness): WebhookVerification {
  if (!matched) return refuse('mismatch');
  if (timestamp !== undefined && isStale(timestamp, toleranceSec ?? DEFAULT_TOLERANCE_SEC, now)) return refuse('stale');
  return {
    ok: true,
    scheme,
    ...(id === undefined ? {} : { id }),
    ...(timestamp === undefined ? {} : { timestamp }),
  };
}

/** Stale when the signed time is more than the tolerance away from now, in either direction. */
function isStale(timestampSec: number, toleranceSec: number, now: Clock): boolean {
  return Math.abs(now() - timestampSec * 1000) > toleranceSec * 1000;
}

function parseUnixSeconds(text: string): number | undefined {
  return UNIX_SECONDS.test(text) ? Number(text) : undefined;
}

/** Whether any candidate equals any expected value; every pair is compared, none skipped. */
function matchesAny(candidates: readonly string[], expected: readonly string[]): boolean {
  let matched = false;
  for (const candidate of candidates) {
    for (const value of expected) matched = constantTimeEqual(candidate, value) || matched;
  }
  return matched;
}

/** Equal-length inputs take the same time whatever their content; different lengths reveal only that. */
function constantTimeEqual(received: string, expected: string): boolean {
  const a = Buffer.from(received, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** HMAC-SHA256 over `prefix` (UTF-8) followed by the raw body bytes. */
function hmacSha256(key: string | Buffer, prefix: string, body: Uint8Array, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', key).update(prefix, 'utf8').update(body).digest(encoding);
}

/** Empty secrets are dropped: an empty HMAC key is one anybody can sign with. */
function usableSecrets(secrets: readonly string[]): string[] {
  return secrets.filter((secret) => secret.length > 0);
}

/** A header's value, trimmed; undefined when absent or blank. Repeated headers are joined with ", " (as fetch does). */
export function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  const joined = isFetchHeaders(headers) ? headers.get(name) : recordHeader(headers, name);
  const trimmed = joined?.trim();
  return trimmed ? trimmed : undefined;
}

function isFetchHeaders(headers: WebhookHeaders): headers is Headers {
  return typeof (headers as Partial<Headers>).get === 'function';
}

function recordHeader(headers: Readonly<Record<string, string | readonly string[] | undefined>>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const values = Object.entries(headers)
    .filter(([key]) => key.toLowerCase() === wanted)
    .flatMap(([, value]) => (value === undefined ? [] : typeof value === 'string' ? [value] : [...value]));
  return values.length === 0 ? undefined : values.join(', ');
}

/** Items of a delimited list, trimmed, empty ones dropped. */
function splitList(text: string, delimiter: string): string[] {
  return text.split(delimiter).map((item) => item.trim()).filter(Boolean);
}

/** `key<separator>value` with a non-empty key, split at the first separator. */
function splitPair(text: string, separator: string): [string, string] | undefined {
  const at = text.indexOf(separator);
  return at > 0 ? [text.slice(0, at).trim(), text.slice(at + 1).trim()] : undefined;
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
