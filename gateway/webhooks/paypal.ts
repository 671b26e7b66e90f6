import { X509Certificate, verify as verifyRsa } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { getGlobalDispatcher, request as undiciRequest, type Dispatcher } from 'undici';
import { canonicalBase64, DEFAULT_TOLERANCE_SEC, headerValue, type Clock, type WebhookRefusal, type WebhookRequest, type WebhookVerification } from './signatures.ts';

/**
 * PayPal's webhook signatures, verified offline. PayPal signs each HTTP transmission with the
 * private key of a certificate it publishes, and names that certificate's URL in the request:
 *
 *   PAYPAL-TRANSMISSION-ID, PAYPAL-TRANSMISSION-TIME, PAYPAL-CERT-URL,
 *   PAYPAL-AUTH-ALGO: SHA256withRSA,
 *   PAYPAL-TRANSMISSION-SIG: base64 RSA-SHA256 (PKCS #1 v1.5) over
 *     `<transmission id>|<transmission time>|<webhook id>|<CRC-32 of the raw body, unsigned decimal>`
 *
 * as PayPal's own SDKs build it (PayPal-node-SDK `webhookEvent.verify`, PayPal-Java-SDK
 * `Event.validateReceivedEvent`, PayPal-Python-SDK `WebhookEvent.verify`). The webhook id is ours
 * (PayPal's id of the endpoint), so a delivery signed for another PayPal account's webhook does
 * not verify here.
 *
 * Why the certificate is not simply fetched from the URL the request names: that URL is chosen by
 * whoever sends the request, so a verifier that fetches it and checks the signature against
 * whatever key it finds accepts anything its sender signs with a key of their own (PayPal's Node
 * SDK does exactly that). Here the URL must be https, on one of PayPal's own API hosts, under
 * PayPal's certificate path, with no user, query or fragment; anything else is refused
 * `untrusted` before any request is made, and the fetch follows no redirect. What the fetch
 * returns is then trusted because TLS proved it came from PayPal's host; the certificate must also
 * be valid now, hold an RSA key and be issued for PayPal's message-verification name
 * (`messageverificationcerts[.sandbox].paypal.com`, no wildcard), as PayPal's Java SDK requires
 * (its Python SDK only asks for a name ending in `.paypal.com`). Those two SDKs also check the
 * chain against a DigiCert CA they ship; that is not done here, because PayPal changes CAs (it
 * announced DigiCert Global Root G2 chains from October 2024) and a shipped CA turns every genuine
 * delivery into a refusal the day it does, while the https fetch from PayPal's own host already
 * establishes where the certificate comes from.
 *
 * What the signature does not cover well: PayPal signs the body's CRC-32, which is not a
 * cryptographic hash: a body can be changed and padded back to the same CRC-32. Whoever holds a
 * genuine delivery (from a log, a proxy) could send another body under its signature while its
 * transmission time is fresh (300 s by default). Deduplication on the event's `id` stops such a
 * body only when it keeps the genuine event's id and comes after it; a consumer that moves money
 * on an event should read the event back from PayPal (`GET /v1/notifications/webhooks-events/{id}`)
 * before acting on it.
 *
 * The transmission time is checked before the certificate is fetched, unlike the other schemes
 * (which check the signature first): fetching is the outbound, costly part, and a stale request
 * should not cause one. So `stale` here means only "outside the window", whoever signed it.
 *
 * The certificate is fetched once per URL (concurrent deliveries wait for the same fetch), kept
 * until its `notAfter` or 24 hours at most (a replaced certificate is seen within a day), at most
 * 16 of them; at most 10 fetches a minute are made, so requests naming ever new certificate URLs
 * cannot turn the gateway into a client hammering PayPal. A fetch that cannot complete (network
 * error, timeout, 5xx, 429, or the budget spent) is `unavailable`: not the sender's fault, and the
 * receiver answers 503 so that PayPal retries. An answer that is not a certificate (3xx, 4xx,
 * over 64 KiB, no PEM certificate) is `untrusted`.
 */

/** PayPal's hosts that serve its message-signing certificates (live and sandbox, both API names). */
export const PAYPAL_CERT_HOSTS: readonly string[] = ['api.paypal.com', 'api-m.paypal.com', 'api.sandbox.paypal.com', 'api-m.sandbox.paypal.com'];
/** Where on those hosts the certificates are (`/v1/notifications/certs/CERT-...`). */
export const PAYPAL_CERT_PATH = '/v1/notifications/certs/';
/** The names PayPal's message-signing certificates are issued for. */
export const PAYPAL_SIGNING_NAMES: readonly string[] = ['messageverificationcerts.paypal.com', 'messageverificationcerts.sandbox.paypal.com'];
/** The one algorithm PayPal signs with; any other is refused `unsupported` (no downgrade to SHA-1). */
export const PAYPAL_AUTH_ALGO = 'SHA256withRSA';
/** Time allowed for one certificate fetch, headers and whole body, in milliseconds. */
export const DEFAULT_CERT_TIMEOUT_MS = 5_000;
/** Largest certificate answer read, in bytes (a PEM certificate, even with its chain, is a few KiB). */
export const MAX_CERT_BYTES = 64 * 1024;
/** Certificates kept per endpoint, by URL. */
export const MAX_CACHED_CERTS = 16;
/** Longest a certificate is kept, in milliseconds, even when it is valid for longer. */
export const CERT_CACHE_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** Certificate fetches allowed per endpoint in any 60 s. */
export const MAX_CERT_FETCHES_PER_MINUTE = 10;

/** A transmission id as PayPal sends it (a UUID); no `|`, which separates the signed fields. */
const TRANSMISSION_ID = /^[\x21-\x7b\x7d\x7e]{1,100}$/;
const TRANSMISSION_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;
/** An RSA-4096 signature is 684 base64 characters. */
const MAX_SIGNATURE_CHARS = 1_024;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/;

export interface PaypalOptions {
  /** PayPal's id of this webhook (the Developer Dashboard's "Webhook ID"): it is part of what PayPal signs. */
  webhookId: string;
  /**
   * Hosts (`host` or `host:port`) the certificate may be fetched from, over https, instead of
   * PayPal's own (PAYPAL_CERT_HOSTS): only for a self-hosted stand-in for PayPal (tests, a
   * sandbox mirror). Default PayPal's hosts.
   */
  certHosts?: readonly string[];
  /** Largest distance between the transmission time and now, in seconds. Default 300. */
  toleranceSec?: number;
}

export interface PaypalVerifierOptions {
  now?: Clock;
  /** Connections for certificate fetches. Default undici's global dispatcher (Node's trusted CAs). */
  dispatcher?: Dispatcher;
  /** Time allowed for one certificate fetch, in milliseconds. Default DEFAULT_CERT_TIMEOUT_MS. */
  timeoutMs?: number;
}

/**
 * A verification (an `untrusted` refusal's `detail` says which URL and what it answered), or
 * `unavailable` (with why) when PayPal's certificate could not be fetched: nothing is known about
 * the request then, and it should be retried, not refused.
 */
export type PaypalVerification = WebhookVerification | { ok: false; unavailable: string };

export interface PaypalVerifier {
  verify(request: WebhookRequest): Promise<PaypalVerification>;
}

type Certificate = { cert: X509Certificate } | { untrusted: string } | { unavailable: string };

/** One endpoint's verifier: its certificate cache and fetch budget live as long as it does. */
export function createPaypalVerifier(options: PaypalOptions, { now = Date.now, dispatcher, timeoutMs = DEFAULT_CERT_TIMEOUT_MS }: PaypalVerifierOptions = {}): PaypalVerifier {
  const hosts = new Set((options.certHosts ?? PAYPAL_CERT_HOSTS).map((host) => host.toLowerCase()));
  const toleranceMs = (options.toleranceSec ?? DEFAULT_TOLERANCE_SEC) * 1000;
  const cached = new Map<string, { cert: X509Certificate; expiresAt: number }>();
  const inFlight = new Map<string, Promise<Certificate>>();
  const fetchedAt: number[] = [];

  const certificate = (url: string): Promise<Certificate> => {
    const hit = cached.get(url);
    if (hit && hit.expiresAt > now()) return Promise.resolve({ cert: hit.cert });
    cached.delete(url);
    const pending = inFlight.get(url);
    if (pending) return pending;
    while (fetchedAt.length > 0 && fetchedAt[0]! <= now() - 60_000) fetchedAt.shift();
    if (fetchedAt.length >= MAX_CERT_FETCHES_PER_MINUTE) {
      return Promise.resolve({ unavailable: `${MAX_CERT_FETCHES_PER_MINUTE} certificate fetches in the last minute; not fetching ${url}` });
    }
    fetchedAt.push(now());
    const fetching = fetchCertificate(url, dispatcher ?? getGlobalDispatcher(), timeoutMs).then((result) => {
      if ('cert' in result) {
        if (cached.size >= MAX_CACHED_CERTS) cached.delete(cached.keys().next().value!);
        cached.set(url, { cert: result.cert, expiresAt: Math.min(Date.parse(result.cert.validTo), now() + CERT_CACHE_MAX_AGE_MS) });
      }
      return result;
    }).finally(() => inFlight.delete(url));
    inFlight.set(url, fetching);
    return fetching;
  };

  return {
    async verify(request) {
      const read = (name: string) => headerValue(request.headers, name);
      const [transmissionId, transmissionTime, signatureText, certUrl, algorithm] = ['PAYPAL-TRANSMISSION-ID', 'PAYPAL-TRANSMISSION-TIME', 'PAYPAL-TRANSMISSION-SIG', 'PAYPAL-CERT-URL', 'PAYPAL-AUTH-ALGO'].map(read);
      if (!transmissionId || !transmissionTime || !signatureText || !certUrl || !algorithm) return refuse('missing');
      if (algorithm.toLowerCase() !== PAYPAL_AUTH_ALGO.toLowerCase()) return refuse('unsupported');
      const sentAt = TRANSMISSION_TIME.test(transmissionTime) ? Date.parse(transmissionTime) : Number.NaN;
      const signature = signatureText.length <= MAX_SIGNATURE_CHARS ? canonicalBase64(signatureText) : undefined;
      if (!TRANSMISSION_ID.test(transmissionId) || Number.isNaN(sentAt) || !signature) return refuse('malformed');
      const url = URL.canParse(certUrl) ? new URL(certUrl) : undefined;
      if (!url) return refuse('malformed');
      if (!isTrustedCertUrl(url, hosts)) return { ok: false, reason: 'untrusted', detail: `${url.origin}${url.pathname} is not a PayPal certificate URL` };
      if (Math.abs(now() - sentAt) > toleranceMs) return refuse('stale');
      const found = await certificate(url.href);
      if ('unavailable' in found) return { ok: false, unavailable: found.unavailable };
      if ('untrusted' in found) return { ok: false, reason: 'untrusted', detail: found.untrusted };
      if (!isPaypalSigningCert(found.cert, now())) {
        return { ok: false, reason: 'untrusted', detail: `${url.href} is not PayPal's signing certificate valid now (${found.cert.subjectAltName ?? 'no names'}, valid ${found.cert.validFrom} to ${found.cert.validTo})` };
      }
      const signed = Buffer.from(`${transmissionId}|${transmissionTime}|${options.webhookId}|${crc32(request.body)}`, 'utf8');
      if (!rsaSha256Verifies(found.cert, signed, signature)) return refuse('mismatch');
      return { ok: true, scheme: 'paypal', timestamp: Math.floor(sentAt / 1000) };
    },
  };
}

function refuse(reason: WebhookRefusal): WebhookVerification {
  return { ok: false, reason };
}

/** https, on one of the hosts, under PayPal's certificate path (after `..` is resolved), nothing else. */
function isTrustedCertUrl(url: URL, hosts: ReadonlySet<string>): boolean {
  return url.protocol === 'https:' && hosts.has(url.host.toLowerCase()) && url.pathname.startsWith(PAYPAL_CERT_PATH)
    && !url.username && !url.password && !url.search && !url.hash;
}

/** Valid now, with an RSA key, issued for PayPal's message-verification name exactly. */
function isPaypalSigningCert(cert: X509Certificate, at: number): boolean {
  const current = Date.parse(cert.validFrom) <= at && at <= Date.parse(cert.validTo);
  const named = PAYPAL_SIGNING_NAMES.some((name) => cert.checkHost(name, { wildcards: false }) !== undefined);
  return current && named && cert.publicKey.asymmetricKeyType === 'rsa';
}

function rsaSha256Verifies(cert: X509Certificate, content: Buffer, signature: Buffer): boolean {
  try {
    return verifyRsa('sha256', content, cert.publicKey, signature);
  } catch {
    return false;
  }
}

/** GET the certificate: no redirect followed, the whole answer within the time and size allowed. */
async function fetchCertificate(url: string, dispatcher: Dispatcher, timeoutMs: number): Promise<Certificate> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const response = await undiciRequest(url, { method: 'GET', dispatcher, signal: abort.signal, headers: { accept: 'application/x-pem-file, text/plain' } });
    if (response.statusCode !== 200) {
      await response.body.dump();
      const transient = response.statusCode >= 500 || response.statusCode === 429;
      return transient ? { unavailable: `${url} answered ${response.statusCode}` } : { untrusted: `${url} answered ${response.statusCode}` };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      // Leaving the loop closes the body.
      if (size > MAX_CERT_BYTES) return { untrusted: `${url} answered more than ${MAX_CERT_BYTES} bytes` };
      chunks.push(chunk);
    }
    const pem = PEM_CERTIFICATE.exec(Buffer.concat(chunks).toString('latin1'))?.[0];
    try {
      // The first certificate is the signing one; any after it are its chain.
      return pem ? { cert: new X509Certificate(pem) } : { untrusted: `${url} answered no PEM certificate` };
    } catch {
      return { untrusted: `${url} answered a PEM block that is not a certificate` };
    }
  } catch (err) {
    return { unavailable: abort.signal.aborted ? `${url} did not answer within ${timeoutMs} ms` : `${url}: ${(err as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}
