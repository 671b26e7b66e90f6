import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { junctionError, type ErrorCode } from '../errors.ts';
import { DEFAULT_TOLERANCE_SEC, verifyWebhook, webhookConfigProblems, type WebhookConfig, type WebhookRefusal } from './signatures.ts';
import { createPaypalVerifier } from './paypal.ts';
import type { WebhookEntry } from '../composition/byo/mesh-config.ts';
import type { WebhookStore } from './store.ts';
import type { SourceEvent } from '../../schema/contract.ts';
import { readPath } from '../composition/filter-by.ts';

/** How long an event id is remembered, in seconds: Stripe retries for 3 days, the longest of the providers. */
export const DEFAULT_DEDUPE_TTL_SEC = 259_200;
/** Most events kept per topic's stream. */
export const DEFAULT_STREAM_LENGTH = 10_000;

/** One webhook endpoint a source's entry declares (`webhooks:`). */
export interface WebhookEndpoint {
  source: string;
  /** Served by the gateway, e.g. `/webhooks/orders`. */
  path: string;
  /** Where the event is published (subscriptions read it there). */
  pubsubTopic: string;
  verify: WebhookConfig;
  /** Fields of the payload that make its id (dot paths, joined with `:`); default per scheme. */
  id?: readonly string[];
  /** Field of the payload that names the event's type (dot path); default per scheme. */
  type?: string;
  /** The public URL the provider calls (Twilio signs it); default the request's own URL. */
  url?: string;
  dedupeTtlSec?: number;
  streamLength?: number;
  /** Entity tags the event makes stale (`Payment:{data.object.id}`), dropped from the caches once it is kept. */
  invalidates?: readonly string[];
}

/** A webhook as its source's entry declares it (`webhooks:` in the sources file), for the receiver. */
export function webhookEndpointOf(source: string, hook: WebhookEntry): WebhookEndpoint {
  const { path, pubsubTopic, scheme, toleranceSec, header, timestampHeader, webhookId, certHosts, id, type, url, dedupeTtlSec, streamLength, invalidates } = hook;
  // The sources file's schema requires secrets of every scheme but paypal, and a webhookId of paypal.
  const secrets = hook.secrets ?? [];
  const verify: WebhookConfig = scheme === 'hmac'
    ? { scheme, secrets, ...(header ? { header } : {}), ...(timestampHeader ? { timestampHeader } : {}), ...(toleranceSec ? { toleranceSec } : {}) }
    : scheme === 'paypal' ? { scheme, webhookId: webhookId ?? '', ...(certHosts ? { certHosts } : {}), ...(toleranceSec ? { toleranceSec } : {}) }
    : scheme === 'twilio' ? { scheme, secrets } : { scheme, secrets, ...(toleranceSec ? { toleranceSec } : {}) };
  return {
    source, path, pubsubTopic, verify,
    ...(id ? { id: Array.isArray(id) ? id : [id] } : {}), ...(type ? { type } : {}), ...(url ? { url } : {}),
    ...(dedupeTtlSec ? { dedupeTtlSec } : {}), ...(streamLength ? { streamLength } : {}), ...(invalidates ? { invalidates } : {}),
  };
}

/**
 * What is wrong with a webhook's settings, said at start: a secret its scheme cannot use (a
 * Standard Webhooks secret that is not base64, a private key where the public one belongs), and
 * a memory of ids shorter than the signature's tolerance (a captured delivery could be replayed,
 * signature still valid, once its id is forgotten).
 */
export function webhookProblems(hook: WebhookEntry): string[] {
  const problems = webhookConfigProblems(webhookEndpointOf('', hook).verify);
  const tolerance = hook.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  if (hook.dedupeTtlSec !== undefined && hook.scheme !== 'twilio' && hook.dedupeTtlSec < tolerance) {
    problems.push(`dedupeTtlSec (${hook.dedupeTtlSec}) is shorter than the signature's tolerance (${tolerance} s): a captured delivery could be replayed once its id is forgotten`);
  }
  return problems;
}

/** What is published on the topic, and kept in its stream: the contract's SourceEvent. */
export type WebhookEvent = SourceEvent;

export type WebhookOutcome = 'accepted' | 'duplicate' | 'in_progress' | 'challenge' | `refused_${WebhookRefusal}` | 'invalid_payload' | 'too_large' | 'unavailable';

export interface WebhookReceiver {
  plugin: Plugin;
  /** Deliveries by endpoint path and outcome, since start. */
  stats(): Record<string, Partial<Record<WebhookOutcome, number>>>;
  /** The last RECENT_DELIVERIES deliveries, newest first: when, where, how it ended (no body, no header). */
  recent(): WebhookDeliveryNote[];
}

/** Deliveries remembered for the status page. */
export const RECENT_DELIVERIES = 20;

export interface WebhookDeliveryNote {
  /** ms since the epoch. */
  at: number;
  path: string;
  outcome: WebhookOutcome;
}

export interface WebhookReceiverOptions {
  endpoints: readonly WebhookEndpoint[];
  store: WebhookStore;
  publish: (topic: string, event: WebhookEvent) => void;
  /** Drops cached entities and responses carrying these tags (the gateway's cache store). */
  invalidate?: (tags: readonly string[]) => Promise<void>;
  /** Largest body taken (MAX_BODY_BYTES). */
  maxBodyBytes: number;
  logger: Logger;
  now?: () => number;
}

/** Where each provider puts its event's id and type, when the endpoint does not say. */
const DEFAULT_FIELDS: Record<WebhookConfig['scheme'], { id: readonly string[]; type: string }> = {
  stripe: { id: ['id'], type: 'type' },
  slack: { id: ['event_id'], type: 'event.type' },
  // A message's status callbacks share its SID: the SID and the status together are one event.
  twilio: { id: ['MessageSid', 'MessageStatus'], type: 'MessageStatus' },
  // Standard Webhooks signs its id in `webhook-id`; the verifier hands it over.
  standard: { id: [], type: 'type' },
  hmac: { id: ['id'], type: 'type' },
  // The event's own id, not the transmission's: each retry of an event is a new transmission, with
  // a new PAYPAL-TRANSMISSION-ID and time, and the same event id.
  paypal: { id: ['id'], type: 'event_type' },
};

/** A dot path's value in a payload (own properties only). */
const fieldOf = (payload: unknown, path: string): unknown => readPath(payload, path.split('.'));

/** The body as the provider sent it: JSON, or a form (Twilio). */
function parsePayload(body: Uint8Array, contentType: string): unknown {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  if (contentType.startsWith('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  return JSON.parse(text);
}

/** Reads at most `max` bytes; undefined when the body is larger. */
export async function readBody(request: Request, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > max) return undefined;
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Inbound webhooks, each on the path its source's entry declares. A delivery is taken only when
 * its signature verifies on the raw bytes (signatures.ts: constant time, any of the configured
 * secrets, within the scheme's tolerance; paypal.ts for PayPal's certificate-signed deliveries);
 * then it is deduplicated by its event id, appended to its topic's bounded stream, published, and
 * only then acknowledged with a 2xx. A refusal publishes nothing and is counted; a delivery the
 * store cannot keep, or whose PayPal certificate cannot be fetched, is answered 503, so the
 * provider retries it.
 */
export function createWebhookReceiver(options: WebhookReceiverOptions): WebhookReceiver {
  const { store, publish, invalidate, maxBodyBytes, logger, now = () => Date.now() } = options;
  const byPath = new Map(options.endpoints.map((e) => [e.path, e]));
  const counts = new Map<string, Partial<Record<WebhookOutcome, number>>>();
  const warnedAt = new Map<string, number>();
  // A ring: the oldest note is overwritten, so a flood of deliveries keeps it at RECENT_DELIVERIES.
  const recent: WebhookDeliveryNote[] = [];
  let noted = 0;
  const count = (endpoint: WebhookEndpoint, outcome: WebhookOutcome) => {
    const entry = counts.get(endpoint.path) ?? {};
    entry[outcome] = (entry[outcome] ?? 0) + 1;
    counts.set(endpoint.path, entry);
    recent[noted++ % RECENT_DELIVERIES] = { at: now(), path: endpoint.path, outcome };
  };
  // A refusal is worth a log line, a flood of them is not: one per endpoint and outcome per 10 s.
  const warn = (endpoint: WebhookEndpoint, outcome: WebhookOutcome, detail?: string) => {
    const key = `${endpoint.path}:${outcome}`;
    if (now() - (warnedAt.get(key) ?? Number.NEGATIVE_INFINITY) < 10_000) return;
    warnedAt.set(key, now());
    logger.warn({ source: endpoint.source, path: endpoint.path, outcome, ...(detail ? { detail } : {}) }, 'webhook delivery refused');
  };
  // PayPal's scheme fetches PayPal's certificate: one verifier per endpoint keeps its certificates.
  const paypal = new Map(options.endpoints.flatMap((e) => (e.verify.scheme === 'paypal' ? [[e.path, createPaypalVerifier(e.verify, { now })] as const] : [])));

  type Delivery = Parameters<NonNullable<Plugin['onRequest']>>[0];
  const receive = async (endpoint: WebhookEndpoint, { request, endResponse, fetchAPI }: Delivery) => {
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      endResponse(new fetchAPI.Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } }));
    const refuse = (code: ErrorCode, message: string, outcome: WebhookOutcome, extensions: Record<string, unknown> = {}, headers: Record<string, string> = {}, detail?: string) => {
      count(endpoint, outcome);
      if (outcome !== 'unavailable' && outcome !== 'in_progress') warn(endpoint, outcome, detail);
      const error = junctionError(code, message, { extensions });
      const status = (error.extensions.http as { status?: number } | undefined)?.status ?? 400;
      return answer(status, { errors: [{ message: error.message, extensions: { code, ...extensions } }] }, headers);
    };
    if (request.method !== 'POST') {
      return refuse('METHOD_NOT_ALLOWED', `A webhook is delivered with POST; this request is ${request.method}.`, 'invalid_payload', {}, { allow: 'POST' });
    }
    const body = await readBody(request, maxBodyBytes);
    if (!body) return refuse('PAYLOAD_TOO_LARGE', `The delivery is over ${maxBodyBytes} bytes.`, 'too_large');
    const signed = { headers: request.headers, body, url: endpoint.url ?? request.url };
    const verifier = paypal.get(endpoint.path);
    const verified = verifier ? await verifier.verify(signed) : verifyWebhook(endpoint.verify, signed, now);
    // Nothing is known of the delivery without the provider's certificate: PayPal is to retry it.
    if (!verified.ok && 'unavailable' in verified) {
      warn(endpoint, 'unavailable', verified.unavailable);
      return refuse('WEBHOOK_UNAVAILABLE', 'The delivery could not be kept; retry later.', 'unavailable', {}, { 'retry-after': '60' });
    }
    if (!verified.ok) {
      return refuse('WEBHOOK_SIGNATURE_INVALID', 'The delivery\'s signature does not verify.', `refused_${verified.reason}`, { reason: verified.reason }, {}, verified.detail);
    }
    let payload: unknown;
    try {
      payload = parsePayload(body, (request.headers.get('content-type') ?? '').toLowerCase());
    } catch {
      return refuse('WEBHOOK_PAYLOAD_INVALID', 'The delivery is neither JSON nor a form.', 'invalid_payload');
    }
    // Slack checks a new endpoint with a signed challenge, answered and never published.
    if (endpoint.verify.scheme === 'slack' && fieldOf(payload, 'type') === 'url_verification') {
      count(endpoint, 'challenge');
      return answer(200, { challenge: fieldOf(payload, 'challenge') });
    }
    const defaults = DEFAULT_FIELDS[endpoint.verify.scheme];
    const idFields = endpoint.id ?? defaults.id;
    const parts = idFields.map((field) => fieldOf(payload, field));
    const id = verified.id ?? (parts.length > 0 && parts.every((p) => typeof p === 'string' && p !== '') ? parts.join(':') : undefined);
    if (id === undefined || id.length > 255) {
      return refuse('WEBHOOK_PAYLOAD_INVALID', `The delivery has no event id (${idFields.join(', ') || 'webhook-id'}).`, 'invalid_payload');
    }
    const type = fieldOf(payload, endpoint.type ?? defaults.type);
    const event: WebhookEvent = { source: endpoint.source, topic: endpoint.pubsubTopic, id, type: typeof type === 'string' ? type : null, payload, receivedAt: now() };
    try {
      const claim = await store.claim(endpoint.pubsubTopic, id);
      if (claim === 'kept') {
        count(endpoint, 'duplicate');
        return answer(200, { received: true, duplicate: true });
      }
      // Another delivery of it is being kept now and may yet fail: not acknowledged, so the
      // provider retries, and a retry after it was kept is a duplicate.
      if (claim === 'pending') return refuse('WEBHOOK_IN_PROGRESS', 'Another delivery of this event is being taken; retry later.', 'in_progress', {}, { 'retry-after': '1' });
      event.cursor = await store.append(endpoint.pubsubTopic, JSON.stringify(event), endpoint.streamLength ?? DEFAULT_STREAM_LENGTH);
      await store.confirm(endpoint.pubsubTopic, id, endpoint.dedupeTtlSec ?? DEFAULT_DEDUPE_TTL_SEC);
    } catch (err) {
      // Not kept, so not acknowledged: the provider's retry brings it again. The claim is given
      // back (and lapses by itself within PENDING_TTL_SEC if the store cannot be told).
      await store.release(endpoint.pubsubTopic, id).catch(() => undefined);
      logger.warn({ source: endpoint.source, path: endpoint.path, err: (err as Error).message }, 'webhook store unavailable; delivery refused for the provider to retry');
      return refuse('WEBHOOK_UNAVAILABLE', 'The delivery could not be kept; retry later.', 'unavailable', {}, { 'retry-after': '5' });
    }
    // Before subscribers hear of it, so that one who asks again right away never reads the old state.
    const stale = tagsOf(endpoint.invalidates ?? [], payload);
    if (invalidate && stale.length > 0) {
      await invalidate(stale).catch((err: unknown) => logger.warn({ source: endpoint.source, err: (err as Error).message }, 'webhook: cache invalidation failed'));
    }
    publish(endpoint.pubsubTopic, event);
    count(endpoint, 'accepted');
    return answer(200, { received: true });
  };
  const plugin: Plugin = {
    // Synchronous for every other request: only a webhook's own path goes on to be read.
    onRequest(payload) {
      const endpoint = byPath.get(payload.url.pathname);
      return endpoint ? receive(endpoint, payload) : undefined;
    },
  };
  return {
    plugin,
    stats: () => Object.fromEntries([...counts].map(([path, entry]) => [path, { ...entry }])),
    recent: () => [...recent.slice(noted % RECENT_DELIVERIES), ...recent.slice(0, noted % RECENT_DELIVERIES)].reverse().map((note) => ({ ...note })),
  };
}

/** `Payment:{data.object.id}` with the payload's values; a tag whose value is missing or not text or a number is skipped. */
export function tagsOf(templates: readonly string[], payload: unknown): string[] {
  const tags: string[] = [];
  for (const template of templates) {
    let complete = true;
    const tag = template.replace(/\{([^}]+)\}/g, (_, path: string) => {
      const value = fieldOf(payload, path.trim());
      if (typeof value !== 'string' && typeof value !== 'number') complete = false;
      return String(value);
    });
    if (complete) tags.push(tag);
  }
  return tags;
}
