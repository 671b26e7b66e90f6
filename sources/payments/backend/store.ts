import { randomInt } from 'node:crypto';
import type { CustomerRecord, MerchantRecord, PaymentRecord, RefundRecord, Seed } from '../../demo/seed.ts';
import { ApiError, noSuch } from './errors.ts';

/** Largest amount Stripe accepts: eight digits of minor units. */
export const MAX_AMOUNT = 99_999_999;

export interface NewPayment {
  customer: string;
  merchant: string;
  amount: number;
  currency: string;
  description: string | null;
}

export interface NewRefund {
  payment: string;
  /** Minor units; undefined refunds everything not yet refunded. */
  amount: number | undefined;
}

/** One collection: lookup by id, and the newest-first order Stripe lists in. */
export interface Collection<T extends { id: string; created: number }> {
  get(id: string): T | undefined;
  /** Every record, newest first (created desc, then id asc). Do not mutate the array. */
  sorted(): readonly T[];
}

/**
 * The payments service's own mutable copy of its seed slice. Each backend instance gets a
 * deep copy, so payments created by one test never show up in another backend.
 */
export interface PaymentsStore {
  customers: Collection<CustomerRecord>;
  merchants: Collection<MerchantRecord>;
  payments: Collection<PaymentRecord>;
  refunds: Collection<RefundRecord>;
  refundsOfPayment(paymentId: string): RefundRecord[];
  createPayment(input: NewPayment): PaymentRecord;
  createRefund(input: NewRefund): RefundRecord;
}

export interface PaymentsStoreOptions {
  /** Clock in milliseconds since the epoch; `created` is its value in whole seconds. Default Date.now. */
  now?: () => number;
}

export function newestFirst(a: { id: string; created: number }, b: { id: string; created: number }): number {
  if (a.created !== b.created) return b.created - a.created;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function createPaymentsStore(seed: Seed, options: PaymentsStoreOptions = {}): PaymentsStore {
  const { now = Date.now } = options;
  const customers = createCollection(structuredClone(seed.customers));
  const merchants = createCollection(structuredClone(seed.merchants));
  const payments = createCollection(structuredClone(seed.payments));
  const refunds = createCollection(structuredClone(seed.refunds));
  const refundsByPayment = new Map<string, RefundRecord[]>();
  for (const refund of refunds.sorted()) indexRefund(refund);

  function indexRefund(refund: RefundRecord) {
    const list = refundsByPayment.get(refund.payment) ?? [];
    list.push(refund);
    refundsByPayment.set(refund.payment, list);
  }

  // Ids only need to be unique within this store, like Stripe's within an account.
  function freshId(prefix: string, taken: (id: string) => boolean): string {
    for (;;) {
      let id = prefix;
      for (let i = 0; i < 14; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
      if (!taken(id)) return id;
    }
  }

  const nowSeconds = () => Math.floor(now() / 1000);

  return {
    customers,
    merchants,
    payments,
    refunds,
    refundsOfPayment: (paymentId) => [...(refundsByPayment.get(paymentId) ?? [])],
    createPayment(input) {
      if (!customers.get(input.customer)) throw noSuch('customer', input.customer, 'customer', 400);
      if (!merchants.get(input.merchant)) throw noSuch('merchant', input.merchant, 'merchant', 400);
      const payment: PaymentRecord = {
        id: freshId('pay_', (id) => payments.get(id) !== undefined),
        object: 'payment',
        amount: input.amount,
        amount_refunded: 0,
        currency: input.currency,
        status: 'succeeded',
        customer: input.customer,
        merchant: input.merchant,
        description: input.description,
        created: nowSeconds(),
      };
      payments.add(payment);
      return payment;
    },
    createRefund(input) {
      const payment = payments.get(input.payment);
      if (!payment) throw noSuch('payment', input.payment, 'payment', 400);
      if (payment.status === 'refunded') {
        throw new ApiError(400, 'invalid_request_error', 'charge_already_refunded',
          `Payment ${payment.id} has already been refunded.`);
      }
      if (payment.status !== 'succeeded') {
        throw new ApiError(400, 'invalid_request_error', 'charge_not_refundable',
          `Payment ${payment.id} is ${payment.status}; only succeeded payments can be refunded.`);
      }
      const left = payment.amount - payment.amount_refunded;
      const amount = input.amount ?? left;
      if (amount > left) {
        throw new ApiError(400, 'invalid_request_error', 'amount_too_large',
          `Refund amount (${amount}) is greater than unrefunded amount on payment (${left}).`, 'amount');
      }
      const refund: RefundRecord = {
        id: freshId('re_', (id) => refunds.get(id) !== undefined),
        object: 'refund',
        payment: payment.id,
        amount,
        currency: payment.currency,
        status: 'succeeded',
        created: nowSeconds(),
      };
      payment.amount_refunded += amount;
      if (payment.amount_refunded === payment.amount) payment.status = 'refunded';
      refunds.add(refund);
      indexRefund(refund);
      return refund;
    },
  };
}

const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function createCollection<T extends { id: string; created: number }>(records: T[]): Collection<T> & { add(record: T): void } {
  const byId = new Map(records.map((r) => [r.id, r]));
  // Sorted lazily: writes are rare and reads page through the same order many times.
  let sorted: T[] | undefined;
  return {
    get: (id) => byId.get(id),
    sorted() {
      sorted ??= [...byId.values()].sort(newestFirst);
      return sorted;
    },
    add(record) {
      byId.set(record.id, record);
      sorted = undefined;
    },
  };
}
