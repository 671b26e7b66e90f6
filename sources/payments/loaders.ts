import DataLoader from 'dataloader';
import { groupByKeys, orderByKeys } from '../common/batch.ts';
import type { CustomerRecord, MerchantRecord, PaymentRecord, RefundRecord } from '../common/seed.ts';
import { PAYMENTS_MAX_BATCH, type PaymentsClient } from './client.ts';

/** Per-request loaders over the payments API's `ids=` batch look-ups: one call per entity kind per tick. */
export function createPaymentsLoaders(client: PaymentsClient) {
  const options = { maxBatchSize: PAYMENTS_MAX_BATCH };
  return {
    customer: new DataLoader<string, CustomerRecord | null>(
      async (ids) => orderByKeys(ids, await client.customersByIds(ids), (c) => c.id),
      options,
    ),
    merchant: new DataLoader<string, MerchantRecord | null>(
      async (ids) => orderByKeys(ids, await client.merchantsByIds(ids), (m) => m.id),
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
