import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { DEMO_CREDENTIALS } from '../../demo/credentials.ts';
import { createFaults, handleFaultsRoute, REJECTION_TEXT, type Faults } from '../../demo/faults.ts';
import { createSeed } from '../../demo/seed.ts';
import { closeServer, listen, type DemoBackend, type DemoBackendOptions } from '../../demo/server.ts';
import { createStats, handleStatsRoute, sendJson, type Stats } from '../../demo/stats.ts';
import { parseBody, readBody } from './body.ts';
import { ApiError } from './errors.ts';
import { createIdempotencyStore, fingerprint, readIdempotencyKey, type IdempotencyStore } from './idempotency.ts';
import { OPERATIONS, type Operation } from './operations.ts';
import type { Params } from './params.ts';
import { createPaymentsStore, type PaymentsStore } from './store.ts';
import { createEventSender, type EventSender } from './events.ts';

export const PAYMENTS_BACKEND_NAME = 'payments';

export interface PaymentsBackendOptions extends DemoBackendOptions {
  /** Clock for `created` on new payments and refunds, in milliseconds since the epoch. Default Date.now. */
  now?: () => number;
}

interface Context {
  store: PaymentsStore;
  stats: Stats;
  faults: Faults;
  idempotency: IdempotencyStore;
  /** The one Authorization header accepted. */
  authorization: string;
  events: EventSender;
}

/**
 * Starts the Stripe-like payments backend (contract: openapi.yaml) on plain node:http.
 * Each instance owns a deep copy of its seed slice, its stats, faults and idempotency keys.
 */
export async function startPaymentsBackend(options: PaymentsBackendOptions = {}): Promise<DemoBackend> {
  const { port = 0, host = '127.0.0.1', seed = createSeed(), now, credentials = DEMO_CREDENTIALS } = options;
  const context: Context = {
    store: createPaymentsStore(seed, now ? { now } : {}),
    stats: createStats(),
    faults: createFaults(),
    idempotency: createIdempotencyStore(),
    authorization: `Bearer ${credentials.payments.secretKey}`,
    events: createEventSender(credentials.payments.webhookSecret, now),
  };
  const server = createServer((req, res) => {
    handle(req, res, context).catch((err: unknown) => {
      // handle() answers every error it expects; this is the last guard against a hung request.
      if (!res.headersSent) sendError(res, internalError(err));
      else res.destroy();
    });
  });
  const url = await listen(server, port, host);
  return {
    name: PAYMENTS_BACKEND_NAME,
    url,
    stats: context.stats,
    setWebhookTarget: (target) => context.events.setTarget(target),
    webhooksIdle: () => context.events.idle(),
    close: () => closeServer(server),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, context: Context): Promise<void> {
  res.setHeader('request-id', `req_${randomBytes(7).toString('hex')}`);
  if (handleStatsRoute(req, res, context.stats) || handleFaultsRoute(req, res, context.faults)) return;
  const url = new URL(req.url ?? '/', 'http://payments.invalid');
  const method = req.method ?? 'GET';

  if (url.pathname === '/' || url.pathname === '/v1') {
    req.resume();
    if (method !== 'GET' && method !== 'HEAD') return sendError(res, methodNotAllowed(method, url.pathname), { allow: 'GET' });
    return sendJson(res, 200, { service: PAYMENTS_BACKEND_NAME });
  }

  const onPath = OPERATIONS.filter((op) => op.path.test(url.pathname));
  const operation = onPath.find((op) => op.method === method);
  if (!operation) {
    req.resume();
    if (onPath.length === 0) {
      return sendError(res, new ApiError(404, 'invalid_request_error', 'resource_missing',
        `Unrecognized request URL (${method}: ${url.pathname}).`));
    }
    return sendError(res, methodNotAllowed(method, url.pathname), { allow: onPath.map((op) => op.method).join(', ') });
  }

  // As Stripe: the secret key as a bearer token, checked before anything else about the call.
  const presented = req.headers.authorization ?? '';
  context.stats.sawCredential(presented);
  if (presented !== context.authorization) {
    req.resume();
    return sendError(res, new ApiError(401, 'invalid_request_error', 'api_key_invalid',
      presented === '' ? 'You did not provide an API key. Send it as a bearer token: Authorization: Bearer sk_...' : 'Invalid API Key provided.'),
      { 'www-authenticate': 'Bearer realm="payments"' });
  }
  context.stats.record(operation.name, operation.batchSize(url.searchParams));
  try {
    // Read the body before failing, even for an injected fault, so a kept-alive connection stays usable.
    let raw: Buffer | undefined;
    if (operation.write) raw = await readBody(req);
    else req.resume();
    const fault = context.faults.take(operation.name);
    if (fault?.throttle) {
      // As Stripe when a key sends too fast: 429, rate_limit_error, and when to come back.
      return sendError(res, new ApiError(429, 'rate_limit_error', 'rate_limit', 'Too many requests hit the API too quickly.'),
        { 'retry-after': String(fault.throttle.retryAfterSec) });
    }
    if (fault?.rejection) {
      return sendError(res, new ApiError(400, 'invalid_request_error', 'parameter_invalid', REJECTION_TEXT));
    }
    if (fault) {
      return sendError(res, new ApiError(500, 'api_error', 'injected_fault',
        `Injected fault: ${operation.name} failed on purpose (POST /_faults).`));
    }
    const body: Params = raw ? parseBody(raw, req.headers['content-type']) : new Map();
    const pathId = decodePathId(operation, url.pathname);
    if (!operation.write) return sendJson(res, 200, operation.run({ pathId, query: url.searchParams, body }, context.store));
    runWrite(req, res, context, operation, { pathId, query: url.searchParams, body });
  } catch (err) {
    sendError(res, err instanceof ApiError ? err : internalError(err));
  }
}

/** A write, made safe to retry by `Idempotency-Key` the way Stripe does it. */
function runWrite(
  req: IncomingMessage, res: ServerResponse, context: Context, operation: Operation,
  request: { pathId: string | undefined; query: URLSearchParams; body: Params },
): void {
  const key = readIdempotencyKey(req.headers['idempotency-key']);
  if (key === undefined) {
    const result = operation.run(request, context.store);
    announce(context, operation, result);
    return sendJson(res, 200, result);
  }
  const print = fingerprint(operation.name, request.body);
  const saved = context.idempotency.lookup(key, print);
  const echo = { 'idempotency-key': key };
  if (saved.kind === 'replay') {
    return sendJson(res, saved.status, saved.body, { ...echo, 'idempotent-replayed': 'true' });
  }
  const result = operation.run(request, context.store);
  // A snapshot, so a replay shows the object as first created even after later refunds change it.
  const body: unknown = JSON.parse(JSON.stringify(result));
  context.idempotency.save(key, print, 200, body);
  announce(context, operation, result);
  sendJson(res, 200, body, echo);
}

/** What a write changed, as Stripe's events say it: a payment that succeeded, one refunded (in part or whole). */
function announce(context: Context, operation: Operation, result: unknown): void {
  const snapshot = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;
  if (operation.name === 'createPayment') {
    const payment = result as { status?: string };
    if (payment.status === 'succeeded') context.events.emit('payment.succeeded', snapshot(payment));
  } else if (operation.name === 'createRefund') {
    const refund = result as { payment: string };
    context.events.emit('refund.created', snapshot(refund));
    const payment = context.store.payments.get(refund.payment);
    if (payment) context.events.emit('payment.refunded', snapshot(payment));
  }
}

function decodePathId(operation: Operation, pathname: string): string | undefined {
  const segment = operation.path.exec(pathname)?.[1];
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(404, 'invalid_request_error', 'resource_missing', `Unrecognized request URL (GET: ${pathname}).`);
  }
}

function methodNotAllowed(method: string, path: string): ApiError {
  return new ApiError(405, 'invalid_request_error', 'method_not_allowed', `${method} is not allowed on ${path}.`);
}

function internalError(err: unknown): ApiError {
  console.error('payments backend: unexpected error', err);
  return new ApiError(500, 'api_error', 'api_error', 'An unexpected error occurred in the payments service.');
}

function sendError(res: ServerResponse, error: ApiError, headers: Record<string, string> = {}): void {
  sendJson(res, error.status, error.toBody(), headers);
}
