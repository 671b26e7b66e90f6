/** What the payments service (REST, openapi.yaml) returns: its JSON objects, as Stripe shapes them. */

export interface AddressRecord {
  line1: string;
  city: string;
  postal_code: string;
  country: string;
}

export interface CustomerRecord {
  id: string;
  object: 'customer';
  name: string;
  email: string;
  phone: string;
  address: AddressRecord;
  /** Unix seconds, like Stripe. */
  created: number;
}

export interface MerchantRecord {
  id: string;
  object: 'merchant';
  name: string;
  category: string;
  /** Id of the merchant's place in the maps service. */
  place: string;
  created: number;
}

export type PaymentStatus = 'pending' | 'succeeded' | 'failed' | 'refunded';

export interface PaymentRecord {
  id: string;
  object: 'payment';
  /** Minor units (cents). */
  amount: number;
  amount_refunded: number;
  currency: string;
  status: PaymentStatus;
  customer: string;
  merchant: string;
  description: string | null;
  created: number;
}

export interface RefundRecord {
  id: string;
  object: 'refund';
  payment: string;
  amount: number;
  currency: string;
  status: 'succeeded' | 'pending' | 'failed';
  created: number;
}

/** One line for geocoding: "12 Linden Street, 10115 Berlin, DE". */
export function formatAddress(address: AddressRecord): string {
  return `${address.line1}, ${address.postal_code} ${address.city}, ${address.country}`;
}
