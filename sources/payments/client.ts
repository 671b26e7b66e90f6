import type { CustomerRecord, MerchantRecord, PaymentRecord, PaymentStatus, RefundRecord } from './records.ts';
import { UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import { callUpstream, pathSegment, type SourceClientOptions, type UpstreamResponse } from '../../gateway/upstream/upstream-fetch.ts';

export const PAYMENTS_SOURCE = 'payments';
/** Longest id the payments API has, in characters (Stripe's are under 255). */
export const PAYMENTS_MAX_ID_LENGTH = 255;
/** Most ids the payments API answers in one `ids=` / `payment=` call. */
export const PAYMENTS_MAX_BATCH = 100;

export interface PaymentsClient {
  /** Null when the payment does not exist (404 resource_missing). */
  getPayment(id: string): Promise<PaymentRecord | null>;
  listPayments(params: { limit: number; startingAfter?: string; customer?: string; status?: PaymentStatus }):
    Promise<{ data: PaymentRecord[]; hasMore: boolean }>;
  /** The payments found, in any order; unknown ids are left out. */
  paymentsByIds(ids: readonly string[]): Promise<PaymentRecord[]>;
  customersByIds(ids: readonly string[]): Promise<CustomerRecord[]>;
  merchantsByIds(ids: readonly string[]): Promise<MerchantRecord[]>;
  /** Every refund of these payments, in any order. */
  refundsByPaymentIds(paymentIds: readonly string[]): Promise<RefundRecord[]>;
  createPayment(input: { customer: string; merchant: string; amount: number; currency: string; description?: string },
    idempotencyKey?: string): Promise<PaymentRecord>;
  createRefund(input: { payment: string; amount?: number }, idempotencyKey?: string): Promise<RefundRecord>;
  /** GET {url}/ ; resolves on any HTTP answer below 500, throws UpstreamError otherwise. */
  probe(): Promise<void>;
}

interface ListBody<T> {
  data: T[];
  has_more: boolean;
}

/**
 * The gateway's client for the payments backend (contract: openapi.yaml). Every failure is an
 * `UpstreamError` with source `payments` and the OpenAPI operationId as its operation.
 */
export function createPaymentsClient(options: SourceClientOptions): PaymentsClient {
  const base = options.url.replace(/\/+$/, '');

  async function call(operation: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<UpstreamResponse> {
    // A plain record: a WHATWG Headers would throw a TypeError of its own on a value holding CR or
    // LF, where callUpstream refuses it as the caller's error.
    const headers = { ...init.headers, accept: 'application/json' };
    const query = new URLSearchParams(path.split('?')[1] ?? '');
    const ids = query.get('ids') ?? query.get('payment');
    return callUpstream(
      { source: PAYMENTS_SOURCE, operation, url: `${base}${path}`, init: { ...init, headers }, ...(ids ? { batchSize: ids.split(',').length } : {}) },
      options,
    );
  }

  /** Parses a 2xx JSON body; anything else becomes the matching UpstreamError. */
  function read<T>(operation: string, response: UpstreamResponse, isValid: (body: unknown) => boolean): T {
    if (response.status < 200 || response.status > 299) throw httpError(operation, response);
    let body: unknown;
    try {
      body = JSON.parse(response.text);
    } catch (cause) {
      throw badResponse(operation, response, 'a body that is not JSON', cause);
    }
    if (!isValid(body)) throw badResponse(operation, response, 'a body of the wrong shape');
    return body as T;
  }

  async function list<T>(operation: string, path: string, query: URLSearchParams): Promise<ListBody<T>> {
    const response = await call(operation, `${path}?${query}`);
    return read<ListBody<T>>(operation, response, isList);
  }

  /**
   * One call per PAYMENTS_MAX_BATCH distinct ids, in parallel; none for no ids. An id that cannot be
   * one element of the comma-separated list (empty, holding a comma, longer than any id) names no
   * payment, customer or merchant: it is left out, so it comes back as not found, without a call
   * the backend would refuse (a 20,000-character id got HTTP 431).
   */
  async function batch<T>(operation: string, path: string, param: string, ids: readonly string[]): Promise<T[]> {
    const unique = [...new Set(ids)].filter((id) => id !== '' && !id.includes(',') && id.length <= PAYMENTS_MAX_ID_LENGTH);
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += PAYMENTS_MAX_BATCH) chunks.push(unique.slice(i, i + PAYMENTS_MAX_BATCH));
    const pages = await Promise.all(
      chunks.map((chunk) => list<T>(operation, path, new URLSearchParams({ [param]: chunk.join(',') }))),
    );
    return pages.flatMap((page) => page.data);
  }

  /** Writes are form-encoded, as Stripe expects. */
  async function write<T>(operation: string, path: string, fields: Record<string, string | number | undefined>,
    idempotencyKey: string | undefined, objectType: string): Promise<T> {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.set(name, String(value));
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    const response = await call(operation, path, { method: 'POST', headers, body: form.toString() });
    return read<T>(operation, response, (body) => isObjectOf(body, objectType));
  }

  return {
    async getPayment(id) {
      const response = await call('getPayment', `/v1/payments/${pathSegment(id)}`);
      if (response.status === 404 && errorCode(response.text) === 'resource_missing') return null;
      return read<PaymentRecord>('getPayment', response, (body) => isObjectOf(body, 'payment'));
    },
    async listPayments({ limit, startingAfter, customer, status }) {
      const query = new URLSearchParams({ limit: String(limit) });
      if (startingAfter !== undefined) query.set('starting_after', startingAfter);
      if (customer !== undefined) query.set('customer', customer);
      if (status !== undefined) query.set('status', status);
      const page = await list<PaymentRecord>('listPayments', '/v1/payments', query);
      return { data: page.data, hasMore: page.has_more };
    },
    paymentsByIds: (ids) => batch('listPayments', '/v1/payments', 'ids', ids),
    customersByIds: (ids) => batch('listCustomers', '/v1/customers', 'ids', ids),
    merchantsByIds: (ids) => batch('listMerchants', '/v1/merchants', 'ids', ids),
    refundsByPaymentIds: (paymentIds) => batch('listRefunds', '/v1/refunds', 'payment', paymentIds),
    createPayment(input, idempotencyKey) {
      const { customer, merchant, amount, currency, description } = input;
      return write('createPayment', '/v1/payments', { customer, merchant, amount, currency, description },
        idempotencyKey, 'payment');
    },
    createRefund(input, idempotencyKey) {
      return write('createRefund', '/v1/refunds', { payment: input.payment, amount: input.amount },
        idempotencyKey, 'refund');
    },
    async probe() {
      const response = await call('probe', '/');
      if (response.status >= 500) throw httpError('probe', response);
    },
  };
}

function isList(body: unknown): boolean {
  return typeof body === 'object' && body !== null && Array.isArray((body as { data?: unknown }).data)
    && typeof (body as { has_more?: unknown }).has_more === 'boolean';
}

function isObjectOf(body: unknown, objectType: string): boolean {
  return typeof body === 'object' && body !== null && (body as { object?: unknown }).object === objectType;
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

function parseError(text: string): { code?: string; message?: string } {
  try {
    const { error } = JSON.parse(text) as ErrorBody;
    return {
      code: typeof error?.code === 'string' ? error.code : undefined,
      message: typeof error?.message === 'string' ? error.message : undefined,
    };
  } catch {
    return {};
  }
}

function errorCode(text: string): string | undefined {
  return parseError(text).code;
}

/**
 * A non-2xx answer. The message is the backend's own: it is our contract, written for
 * callers, so it is safe to pass on. A body that is not ours (a proxy's HTML 502) still
 * counts as an HTTP failure, because the status says what happened.
 */
function httpError(operation: string, response: UpstreamResponse): UpstreamError {
  const { code, message } = parseError(response.text);
  return new UpstreamError(message ?? `${PAYMENTS_SOURCE} answered ${operation} with HTTP ${response.status}`, {
    source: PAYMENTS_SOURCE,
    operation,
    failure: 'http',
    status: response.status,
    upstreamCode: code,
  });
}

function badResponse(operation: string, response: UpstreamResponse, what: string, cause?: unknown): UpstreamError {
  return new UpstreamError(`${PAYMENTS_SOURCE} answered ${operation} with ${what}`, {
    source: PAYMENTS_SOURCE,
    operation,
    failure: 'bad_response',
    status: response.status,
    cause,
  });
}
