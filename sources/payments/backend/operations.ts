import type { PaymentRecord, PaymentStatus } from '../../demo/seed.ts';
import { noSuch, parameterInvalid } from './errors.ts';
import {
  checkKnown, countIds, readAmount, readCurrency, readDescription, readIds, readLimit, readQuery,
  readRequiredString, refuseWithBatch, type Params,
} from './params.ts';
import { newestFirst, type Collection, type PaymentsStore } from './store.ts';

export interface OperationRequest {
  /** The `{id}` path segment, decoded, for single-object routes. */
  pathId: string | undefined;
  query: URLSearchParams;
  /** Parsed write body; empty for reads. */
  body: Params;
}

export interface Operation {
  /** The OpenAPI operationId; also the name in /_stats and /_faults. */
  name: string;
  method: 'GET' | 'POST';
  /** Matches the path; a capture group is the `{id}`. */
  path: RegExp;
  /** Writes read a body and honour `Idempotency-Key`. */
  write: boolean;
  /** Ids asked for by a batch call (for /_stats), undefined for other calls. */
  batchSize(query: URLSearchParams): number | undefined;
  run(request: OperationRequest, store: PaymentsStore): unknown;
}

const LIST_PARAMS = ['ids', 'limit', 'starting_after'];
const PAYMENT_STATUSES: readonly PaymentStatus[] = ['pending', 'succeeded', 'failed', 'refunded'];

interface ListObject<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

/**
 * Stripe's cursor list: the page after `starting_after` in newest-first order. The cursor is
 * placed by its sort key, so it also works when it is not among the filtered records.
 */
function page<T extends { id: string; created: number }>(
  collection: Collection<T>, kind: string, url: string, params: Params, keep: (record: T) => boolean = () => true,
): ListObject<T> {
  const limit = readLimit(params);
  const after = params.get('starting_after');
  let cursor: T | undefined;
  if (after !== undefined) {
    cursor = collection.get(after);
    if (!cursor) throw noSuch(kind, after, 'starting_after', 400);
  }
  const data: T[] = [];
  let hasMore = false;
  for (const record of collection.sorted()) {
    if (cursor && newestFirst(record, cursor) <= 0) continue;
    if (!keep(record)) continue;
    if (data.length === limit) {
      hasMore = true;
      break;
    }
    data.push(record);
  }
  return { object: 'list', data, has_more: hasMore, url };
}

function batch<T>(ids: readonly string[], get: (id: string) => T | undefined, url: string): ListObject<T> {
  const data = ids.map(get).filter((record): record is T => record !== undefined);
  return { object: 'list', data, has_more: false, url };
}

function listOperation<T extends { id: string; created: number }>(
  name: string, kind: string, url: string, collectionOf: (store: PaymentsStore) => Collection<T>,
): Operation {
  return {
    name,
    method: 'GET',
    path: new RegExp(`^${url}$`),
    write: false,
    batchSize: (query) => countIds(query.get('ids') ?? undefined),
    run({ query }, store) {
      const params = readQuery(query, LIST_PARAMS);
      const collection = collectionOf(store);
      const ids = readIds(params, 'ids');
      if (ids) {
        refuseWithBatch(params, 'ids', ['limit', 'starting_after']);
        return batch(ids, (id) => collection.get(id), url);
      }
      return page(collection, kind, url, params);
    },
  };
}

function getOperation(name: string, kind: string, url: string, collectionOf: (store: PaymentsStore) => Collection<{ id: string; created: number }>): Operation {
  return {
    name,
    method: 'GET',
    path: new RegExp(`^${url}/([^/]+)$`),
    write: false,
    batchSize: () => undefined,
    run({ pathId, query }, store) {
      readQuery(query, []);
      const id = pathId ?? '';
      const record = collectionOf(store).get(id);
      if (!record) throw noSuch(kind, id, 'id', 404);
      return record;
    },
  };
}

function readStatus(params: Params): PaymentStatus | undefined {
  const raw = params.get('status');
  if (raw === undefined) return undefined;
  if (!(PAYMENT_STATUSES as readonly string[]).includes(raw)) {
    throw parameterInvalid('status', `Invalid status: must be one of ${PAYMENT_STATUSES.join(', ')}.`);
  }
  return raw as PaymentStatus;
}

const listPayments: Operation = {
  name: 'listPayments',
  method: 'GET',
  path: /^\/v1\/payments$/,
  write: false,
  batchSize: (query) => countIds(query.get('ids') ?? undefined),
  run({ query }, store) {
    const params = readQuery(query, [...LIST_PARAMS, 'customer', 'status']);
    const status = readStatus(params);
    const customer = params.get('customer');
    const keep = (p: PaymentRecord) =>
      (status === undefined || p.status === status) && (customer === undefined || p.customer === customer);
    const ids = readIds(params, 'ids');
    if (ids) {
      refuseWithBatch(params, 'ids', ['limit', 'starting_after']);
      return batch(ids, (id) => {
        const payment = store.payments.get(id);
        return payment && keep(payment) ? payment : undefined;
      }, '/v1/payments');
    }
    return page(store.payments, 'payment', '/v1/payments', params, keep);
  },
};

const listRefunds: Operation = {
  name: 'listRefunds',
  method: 'GET',
  path: /^\/v1\/refunds$/,
  write: false,
  batchSize: (query) => countIds(query.get('payment') ?? query.get('ids') ?? undefined),
  run({ query }, store) {
    const params = readQuery(query, [...LIST_PARAMS, 'payment']);
    const paymentIds = readIds(params, 'payment');
    if (paymentIds) {
      refuseWithBatch(params, 'payment', ['ids', 'limit', 'starting_after']);
      const data = paymentIds.flatMap((id) => store.refundsOfPayment(id)).sort(newestFirst);
      return { object: 'list', data, has_more: false, url: '/v1/refunds' } satisfies ListObject<unknown>;
    }
    const ids = readIds(params, 'ids');
    if (ids) {
      refuseWithBatch(params, 'ids', ['limit', 'starting_after']);
      return batch(ids, (id) => store.refunds.get(id), '/v1/refunds');
    }
    return page(store.refunds, 'refund', '/v1/refunds', params);
  },
};

const createPayment: Operation = {
  name: 'createPayment',
  method: 'POST',
  path: /^\/v1\/payments$/,
  write: true,
  batchSize: () => undefined,
  run({ query, body }, store) {
    readQuery(query, []);
    checkKnown(body, ['customer', 'merchant', 'amount', 'currency', 'description']);
    const customer = readRequiredString(body, 'customer');
    const merchant = readRequiredString(body, 'merchant');
    const amount = readAmount(body, 'amount', true) as number;
    const currency = readCurrency(body);
    const description = readDescription(body);
    return store.createPayment({ customer, merchant, amount, currency, description });
  },
};

const createRefund: Operation = {
  name: 'createRefund',
  method: 'POST',
  path: /^\/v1\/refunds$/,
  write: true,
  batchSize: () => undefined,
  run({ query, body }, store) {
    readQuery(query, []);
    checkKnown(body, ['payment', 'amount']);
    const payment = readRequiredString(body, 'payment');
    const amount = readAmount(body, 'amount', false);
    return store.createRefund({ payment, amount });
  },
};

/** Every operation of the payments API, as declared in openapi.yaml. */
export const OPERATIONS: readonly Operation[] = [
  listOperation('listCustomers', 'customer', '/v1/customers', (s) => s.customers),
  getOperation('getCustomer', 'customer', '/v1/customers', (s) => s.customers),
  listOperation('listMerchants', 'merchant', '/v1/merchants', (s) => s.merchants),
  getOperation('getMerchant', 'merchant', '/v1/merchants', (s) => s.merchants),
  listPayments,
  createPayment,
  getOperation('getPayment', 'payment', '/v1/payments', (s) => s.payments),
  listRefunds,
  createRefund,
];
