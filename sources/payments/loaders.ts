import DataLoader from 'dataloader';
import { groupByKeys, orderByKeys } from '../../gateway/upstream/batch.ts';
import type { CustomerRecord, MerchantRecord, PaymentRecord, RefundRecord } from './records.ts';
import { ENTITY_STALE_MS, ENTITY_TTL_MS, NO_CACHE, type EntityCache } from '../../gateway/upstream/entity-cache.ts';
import { PAYMENTS_MAX_BATCH, PAYMENTS_SOURCE, type PaymentsClient } from './client.ts';

/**
 * Per-request loaders over the payments API's `ids=` batch look-ups: one call per entity kind per
 * tick. Customers and merchants go through the entity cache when there is one.
 */
export function createPaymentsLoaders(client: PaymentsClient, cache: EntityCache = NO_CACHE) {
  const options = { maxBatchSize: PAYMENTS_MAX_BATCH };
  return {
    customer: new DataLoader<string, CustomerRecord | null>(
      cache.batch(
        { source: PAYMENTS_SOURCE, namespace: 'customer', ttlMs: ENTITY_TTL_MS.customer, keyOf: (id) => id, tagsOf: (c: CustomerRecord | null) => (c ? [`Customer:${c.id}`] : []) },
        async (ids) => orderByKeys(ids, await client.customersByIds(ids), (c) => c.id),
      ),
      options,
    ),
    merchant: new DataLoader<string, MerchantRecord | null>(
      cache.batch(
        { source: PAYMENTS_SOURCE, namespace: 'merchant', ttlMs: ENTITY_TTL_MS.merchant, staleMs: ENTITY_STALE_MS, keyOf: (id) => id, tagsOf: (m: MerchantRecord | null) => (m ? [`Merchant:${m.id}`] : []) },
        async (ids) => orderByKeys(ids, await client.merchantsByIds(ids), (m) => m.id),
      ),
      options,
    ),
    payment: new DataLoader<string, PaymentRecord | null>(
      async (ids) => orderByKeys(ids, await client.paymentsByIds(ids), (p) => p.id),
      options,
    ),
    refundsByPayment: new DataLoader<string, RefundRecord[]>(
      async (paymentIds) => groupByKeys(paymentIds, await client.refundsByPaymentIds(paymentIds), (r) => r.payment),
      options,
    ),
  };
}

export type PaymentsLoaders = ReturnType<typeof createPaymentsLoaders>;
