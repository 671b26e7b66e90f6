import type { ContractContext, Loader } from './contract.ts';
import type { CustomerRecord, MerchantRecord, PaymentRecord, RefundRecord } from '../sources/payments/records.ts';
import type { Place } from '../sources/maps/loaders.ts';
import type { CustomerMessagesKey, Message } from '../sources/messaging/loaders.ts';

/**
 * What every resolver of the demo contract receives: who is calling, the request's loaders (the
 * batched look-ups declared in sources/<name>/loaders.ts) and its sources' operations, for writes.
 */
export interface JunctionContext extends ContractContext {
  loaders: {
    customer: Loader<string, CustomerRecord | null>;
    merchant: Loader<string, MerchantRecord | null>;
    payment: Loader<string, PaymentRecord | null>;
    refundsByPayment: Loader<string, RefundRecord[]>;
    geocode: Loader<string, Place[]>;
    place: Loader<string, Place | null>;
    message: Loader<string, Message | null>;
    customerMessages: Loader<CustomerMessagesKey, Message[]>;
  };
}
