import type { BatchSpec } from '../../schema/contract.ts';
import { MAX_ID_LENGTH } from '../../schema/ids.ts';
import type { CustomerRecord, MerchantRecord, PaymentRecord, RefundRecord } from './records.ts';

/** Most ids the payments API answers in one `ids=` / `payment=` call. */
export const PAYMENTS_MAX_BATCH = 100;
/** How long public entities are kept past their freshness, to be served stale while their backend is down. */
export const STALE_MS = 3_600_000;

/**
 * An id that cannot be one element of the comma-separated `ids=` list (empty, holding a comma,
 * longer than any id) names nothing: it comes back as not found without a call the backend would
 * refuse (a 20,000-character id got HTTP 431).
 */
const notAnId = (id: string) => id.includes(',') || id.length > MAX_ID_LENGTH;

/** A look-up of many by id in one call: `GET /v1/<things>?ids=a,b,c` answers `{ data: [...] }`. */
const byIds = (operation: string) =>
  ({ source: 'payments', operation, keysArg: 'ids', keyField: 'id', result: 'data', maxBatch: PAYMENTS_MAX_BATCH, skip: notAnId }) as const;

/**
 * The payments source's batched look-ups, declared over its `ids=` operations: one call per
 * entity kind per tick. Customers and merchants go through the entity cache when there is one.
 */
export const paymentsLoaders = {
  customer: {
    ...byIds('listCustomers'),
    cache: { namespace: 'customer', ttlMs: 60_000, key: (id: string) => id, tags: (c: CustomerRecord | null) => (c ? [`Customer:${c.id}`] : []) },
  } satisfies BatchSpec<string, CustomerRecord | null>,
  merchant: {
    ...byIds('listMerchants'),
    cache: { namespace: 'merchant', ttlMs: 300_000, staleMs: STALE_MS, key: (id: string) => id, tags: (m: MerchantRecord | null) => (m ? [`Merchant:${m.id}`] : []) },
  } satisfies BatchSpec<string, MerchantRecord | null>,
  payment: byIds('listPayments') satisfies BatchSpec<string, PaymentRecord | null>,
  /** Every refund of each payment (`GET /v1/refunds?payment=a,b`), oldest first. */
  refundsByPayment: {
    source: 'payments', operation: 'listRefunds', keysArg: 'payment', keyField: 'payment', result: 'data', many: true, empty: [],
    maxBatch: PAYMENTS_MAX_BATCH, skip: notAnId,
  } satisfies BatchSpec<string, RefundRecord[]>,
};
