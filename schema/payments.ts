import type { CustomerRecord, MerchantRecord, PaymentRecord, PaymentStatus, RefundRecord } from '../sources/payments/records.ts';
import { junctionError } from './errors.ts';
import type { JunctionContext } from './context.ts';
import type { SourceEvent } from './contract.ts';
import { checkPageSize, decodeCursor, toConnection } from './pagination.ts';
import { checkId, checkPrintable } from './ids.ts';
import type { TypeOrigin } from './origins.ts';

/**
 * The payments domain, served by the `payments` source (REST, sources/payments/openapi.yaml).
 * Fields without a description here take the one from the OpenAPI document (see origins).
 */
export const typeDefs = /* GraphQL */ `
  type Query {
    "Payments, newest first, one page at a time. \`first\` is 1 to 100."
    payments(first: Int = 20, after: String, customerId: ID, status: PaymentStatus): PaymentConnection @requiresScopes(scopes: [["payments:read"]]) @cacheControl(maxAge: 30, scope: PRIVATE)
    "A payment by id, or null when there is none."
    payment(id: ID!): Payment
    "A customer by id, or null when there is none."
    customer(id: ID!): Customer
    "A merchant by id, or null when there is none."
    merchant(id: ID!): Merchant
  }

  type Mutation {
    "Charges a customer. Send an idempotencyKey so that a retried request creates one payment, not two."
    createPayment(input: CreatePaymentInput!): Payment @requiresScopes(scopes: [["payments:write"]]) @rateLimit(max: 30, window: "1m")
    "Refunds all of a payment, or \`amount\` of it (minor units)."
    refundPayment(paymentId: ID!, amount: Int, idempotencyKey: String): Refund @requiresScopes(scopes: [["payments:write"]]) @rateLimit(max: 30, window: "1m")
  }

  type Subscription {
    "A payment as it changes, told by the payments service as it happens (it succeeded, it was refunded), with whatever linked data the subscription asks for. \`id\`: only that payment's changes."
    paymentUpdated(id: ID): Payment @requiresScopes(scopes: [["payments:read"]])
  }

  "The state of a payment."
  enum PaymentStatus {
    PENDING
    SUCCEEDED
    FAILED
    "Refunded in full."
    REFUNDED
  }

  "The state of a refund."
  enum RefundStatus {
    PENDING
    SUCCEEDED
    FAILED
  }

  type Payment @requiresScopes(scopes: [["payments:read"]]) @cacheControl(maxAge: 30, scope: PRIVATE) {
    "Unique identifier, e.g. pay_3MtwBwLkdIwHu7."
    id: ID!
    "Amount in the currency's minor unit (cents)."
    amount: Int!
    amountRefunded: Int!
    "Three-letter ISO 4217 currency code, lower case, e.g. eur."
    currency: String!
    status: PaymentStatus!
    description: String
    "When the payment was created."
    createdAt: DateTime!
    "The customer who paid; null only when the look-up failed (the error says why)."
    customer: Customer
    "The merchant who was paid; null only when the look-up failed (the error says why)."
    merchant: Merchant
    "Refunds of this payment, oldest first; null only when the look-up failed (the error says why)."
    refunds: [Refund!]
  }

  type Refund @requiresScopes(scopes: [["payments:read"]]) @cacheControl(maxAge: 30, scope: PRIVATE) {
    "Unique identifier, e.g. re_3MtwBwLkdIwHu7."
    id: ID!
    amount: Int!
    "Three-letter ISO 4217 currency code, lower case, e.g. eur."
    currency: String!
    status: RefundStatus!
    "When the refund was created."
    createdAt: DateTime!
    "The payment this refund returns money from; null only when the look-up failed (the error says why)."
    payment: Payment
  }

  "A page of payments."
  type PaymentConnection {
    "The payments on this page, in list order."
    edges: [PaymentEdge!]!
    "Where this page sits in the list."
    pageInfo: PageInfo!
  }

  "One payment on a page, with the cursor that points at it."
  type PaymentEdge {
    "Pass as \`after\` to get the payments after this one."
    cursor: String!
    "The payment."
    node: Payment!
  }

  "Paging state of a connection (Relay style): whether there is more, and where to continue."
  type PageInfo {
    "Whether another page follows this one."
    hasNextPage: Boolean!
    "The cursor of the last edge on this page."
    endCursor: String
  }

  type Customer @requiresScopes(scopes: [["payments:read"]]) @cacheControl(maxAge: 60, scope: PRIVATE) {
    "Unique identifier, e.g. cus_NffrFeUfNV2Hib."
    id: ID!
    name: String!
    email: String
    "Phone number in E.164 form, e.g. +4930123456."
    phone: String
    "Postal address; null when none is on file."
    address: Address
    "This customer's payments, newest first. \`first\` is 1 to 100. Null only when the look-up failed (the error says why)."
    payments(first: Int = 10, after: String, status: PaymentStatus): PaymentConnection
  }

  type Address {
    line1: String!
    city: String!
    postalCode: String!
    "Two-letter ISO 3166-1 country code, e.g. DE."
    country: String!
  }

  type Merchant @cacheControl(maxAge: 300) {
    "Unique identifier, e.g. mer_FPQoexi97wj3WV."
    id: ID!
    name: String!
    category: String!
  }

  "A charge to create."
  input CreatePaymentInput {
    "The customer who pays."
    customerId: ID!
    "The merchant who is paid."
    merchantId: ID!
    "Amount in the currency's minor unit (cents), 1 to 99,999,999."
    amount: Int!
    "Three-letter ISO currency code, e.g. eur."
    currency: String!
    "Free text shown on the payment, often an order number."
    description: String
    "Any unique string of up to 255 characters; the same key from the same caller replays the first result instead of charging again. Keys are the caller's own: another caller's use of the same key is never seen."
    idempotencyKey: String
  }
`;

export const origins: TypeOrigin[] = [
  { type: 'Payment', source: 'payments', sourceType: 'Payment', fields: { createdAt: 'created' } },
  { type: 'Refund', source: 'payments', sourceType: 'Refund', fields: { createdAt: 'created' } },
  { type: 'Customer', source: 'payments', sourceType: 'Customer' },
  { type: 'Address', source: 'payments', sourceType: 'Address' },
  { type: 'Merchant', source: 'payments', sourceType: 'Merchant' },
];

const MAX_AMOUNT = 99_999_999;
const MAX_IDEMPOTENCY_KEY = 255;

async function listPayments(
  context: JunctionContext,
  args: { first: number; after?: string | null; customerId?: string | null; status?: PaymentStatus | null },
) {
  const page = await context.sources.payments!.call<{ data?: unknown; has_more?: unknown }>('listPayments', {
    limit: checkPageSize(args.first),
    starting_after: decodeCursor(args.after),
    customer: args.customerId === null || args.customerId === undefined ? undefined : checkId(args.customerId, 'customerId'),
    status: args.status ?? undefined,
  });
  const data = listOf<PaymentRecord>(page, 'listPayments');
  // What a list returned is what a later `payment(id)` in the same request would fetch.
  for (const payment of data) context.loaders.payment.prime(payment.id, payment);
  return toConnection(data, page.has_more === true);
}

/** A Stripe list's items; an answer of another shape is one the gateway cannot trust. */
function listOf<T>(page: { data?: unknown; has_more?: unknown } | null, operation: string): T[] {
  if (!page || !Array.isArray(page.data) || typeof page.has_more !== 'boolean') {
    throw junctionError('SOURCE_BAD_RESPONSE', 'The payments service sent an unreadable answer.', { source: 'payments', originalError: new Error(`payments answered ${operation} with a body of the wrong shape`) });
  }
  return page.data as T[];
}

/** A written object of the kind asked for (`object: "payment"`); anything else cannot be trusted. */
function written<T>(value: unknown, object: string, operation: string): T {
  if (!value || typeof value !== 'object' || (value as { object?: unknown }).object !== object) {
    throw junctionError('SOURCE_BAD_RESPONSE', 'The payments service sent an unreadable answer.', { source: 'payments', originalError: new Error(`payments answered ${operation} with a body of the wrong shape`) });
  }
  return value as T;
}

/**
 * The key sent upstream (`Idempotency-Key`), printable as the header it stands for must be: a
 * control character is the caller's mistake. The engine makes it the caller's alone (every
 * caller's payments go to the backend under the gateway's one account), so another caller's use
 * of the same key is never seen.
 */
function idempotencyKeyOf(key: string | null | undefined, argument: string): { Idempotency_Key?: string } {
  if (key === null || key === undefined) return {};
  return { Idempotency_Key: checkPrintable(key, argument, MAX_IDEMPOTENCY_KEY, 'a key') };
}

/** A Stripe-style event's object, when it is a payment (`payment.succeeded`, `payment.refunded`). */
function paymentOf(event: SourceEvent): PaymentRecord | undefined {
  const object = (event.payload as { data?: { object?: { object?: unknown } } } | null)?.data?.object;
  return event.type?.startsWith('payment.') && object?.object === 'payment' ? object as PaymentRecord : undefined;
}

/** Whether an event of the payments topic is about a payment (that one only, given an id). */
const aboutPayment = (id: string | null | undefined) => (event: SourceEvent) => {
  const payment = paymentOf(event);
  return payment !== undefined && (id === null || id === undefined || payment.id === id);
};

export const resolvers = {
  // Enum values map onto the backend's lower-case strings, so records pass through unchanged.
  PaymentStatus: { PENDING: 'pending', SUCCEEDED: 'succeeded', FAILED: 'failed', REFUNDED: 'refunded' },
  RefundStatus: { PENDING: 'pending', SUCCEEDED: 'succeeded', FAILED: 'failed' },

  Query: {
    payments: (_: unknown, args: Parameters<typeof listPayments>[1], context: JunctionContext) => listPayments(context, args),
    payment: (_: unknown, { id }: { id: string }, { loaders }: JunctionContext) => loaders.payment.load(id),
    customer: (_: unknown, { id }: { id: string }, { loaders }: JunctionContext) => loaders.customer.load(id),
    merchant: (_: unknown, { id }: { id: string }, { loaders }: JunctionContext) => loaders.merchant.load(id),
  },

  Subscription: {
    paymentUpdated: {
      subscribe: (_: unknown, { id }: { id?: string | null }, context: JunctionContext) => context.subscribe('payments', aboutPayment(id)),
      // The event carries the payment; what the subscription asks beyond it (the customer, where
      // they live, their messages) is fetched for each event (the engine renews the loaders).
      resolve: (event: SourceEvent) => paymentOf(event),
    },
  },

  Mutation: {
    async createPayment(
      _: unknown,
      { input }: { input: { customerId: string; merchantId: string; amount: number; currency: string; description?: string | null; idempotencyKey?: string | null } },
      { sources, loaders, invalidate }: JunctionContext,
    ) {
      if (input.amount < 1 || input.amount > MAX_AMOUNT) {
        throw junctionError('BAD_USER_INPUT', `"input.amount" must be between 1 and ${MAX_AMOUNT}; got ${input.amount}.`, { argument: 'input.amount' });
      }
      if (!/^[A-Za-z]{3}$/.test(input.currency)) {
        throw junctionError('BAD_USER_INPUT', `"input.currency" must be a three-letter ISO code; got "${input.currency}".`, { argument: 'input.currency' });
      }
      const payment = written<PaymentRecord>(await sources.payments!.call('createPayment', {
        input: {
          customer: checkId(input.customerId, 'input.customerId'),
          merchant: checkId(input.merchantId, 'input.merchantId'),
          amount: input.amount,
          currency: input.currency.toLowerCase(),
          ...(input.description ? { description: input.description } : {}),
        },
        ...idempotencyKeyOf(input.idempotencyKey, 'input.idempotencyKey'),
      }), 'payment', 'createPayment');
      loaders.payment.prime(payment.id, payment);
      // Cached answers holding this customer, or any payments list, no longer tell the whole story.
      await invalidate([`Customer:${input.customerId}`, 'Payment']);
      return payment;
    },
    async refundPayment(
      _: unknown,
      { paymentId, amount, idempotencyKey }: { paymentId: string; amount?: number | null; idempotencyKey?: string | null },
      { sources, loaders, invalidate }: JunctionContext,
    ) {
      if (amount !== null && amount !== undefined && (amount < 1 || amount > MAX_AMOUNT)) {
        throw junctionError('BAD_USER_INPUT', `"amount" must be between 1 and ${MAX_AMOUNT}; got ${amount}.`, { argument: 'amount' });
      }
      const refund = written<RefundRecord>(await sources.payments!.call('createRefund', {
        input: { payment: checkId(paymentId, 'paymentId'), ...(amount ? { amount } : {}) },
        ...idempotencyKeyOf(idempotencyKey, 'idempotencyKey'),
      }), 'refund', 'createRefund');
      // The payment changed (amount_refunded, maybe status): forget any copy loaded earlier.
      loaders.payment.clear(paymentId);
      loaders.refundsByPayment.clear(paymentId);
      await invalidate([`Payment:${paymentId}`]);
      return refund;
    },
  },

  Payment: {
    amountRefunded: (p: PaymentRecord) => p.amount_refunded,
    createdAt: (p: PaymentRecord) => p.created,
    customer: (p: PaymentRecord, _: unknown, { loaders }: JunctionContext) => loaders.customer.load(p.customer),
    merchant: (p: PaymentRecord, _: unknown, { loaders }: JunctionContext) => loaders.merchant.load(p.merchant),
    refunds: (p: PaymentRecord, _: unknown, { loaders }: JunctionContext) => loaders.refundsByPayment.load(p.id),
  },

  Refund: {
    createdAt: (r: RefundRecord) => r.created,
    payment: (r: RefundRecord, _: unknown, { loaders }: JunctionContext) => loaders.payment.load(r.payment),
  },

  Customer: {
    payments: (
      c: CustomerRecord,
      args: { first: number; after?: string | null; status?: PaymentStatus | null },
      context: JunctionContext,
    ) => listPayments(context, { ...args, customerId: c.id }),
  },

  Address: {
    postalCode: (a: CustomerRecord['address']) => a.postal_code,
  },

  Merchant: {
    category: (m: MerchantRecord) => m.category,
  },
};
