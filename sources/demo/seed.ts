/**
 * Deterministic demo data shared by the three demo backends.
 *
 * The backends are separate services, but their data must agree the way real systems' data
 * does: a customer's address (payments) geocodes to a place (maps), and the messages a
 * customer received (messaging) were sent to that customer's phone. One generator with a
 * fixed seed gives every backend its slice, identical on every run and machine.
 */

import type { GeoPoint, PlaceRecord } from '../maps/records.ts';
import type { AddressRecord, CustomerRecord, MerchantRecord, PaymentRecord, PaymentStatus, RefundRecord } from '../payments/records.ts';
import type { MessageRecord, MessageStatus } from '../messaging/records.ts';

export type { GeoPoint, PlaceRecord, AddressRecord, CustomerRecord, MerchantRecord, PaymentRecord, PaymentStatus, RefundRecord, MessageRecord, MessageStatus };
import { formatAddress } from '../payments/records.ts';
export { formatAddress };

export interface Seed {
  places: PlaceRecord[];
  customers: CustomerRecord[];
  merchants: MerchantRecord[];
  payments: PaymentRecord[];
  refunds: RefundRecord[];
  messages: MessageRecord[];
}

export interface SeedOptions {
  /** PRNG seed. Default 42. */
  seed?: number;
  /** Default 300. */
  customers?: number;
  /** Default 40. */
  merchants?: number;
  /** Default 1000. */
  payments?: number;
  /** Default 1500. */
  messages?: number;
}

/** 2026-01-01T00:00:00Z: the newest demo payment is created at this instant. */
export const SEED_EPOCH = 1_767_225_600;

const CITIES = [
  { city: 'Berlin', country: 'DE', postal: '10', currency: 'eur', dial: '+4930', lat: 52.52, lng: 13.405 },
  { city: 'Paris', country: 'FR', postal: '75', currency: 'eur', dial: '+331', lat: 48.8566, lng: 2.3522 },
  { city: 'London', country: 'GB', postal: 'EC', currency: 'gbp', dial: '+4420', lat: 51.5072, lng: -0.1276 },
  { city: 'Madrid', country: 'ES', postal: '28', currency: 'eur', dial: '+3491', lat: 40.4168, lng: -3.7038 },
  { city: 'Amsterdam', country: 'NL', postal: '10', currency: 'eur', dial: '+3120', lat: 52.3676, lng: 4.9041 },
  { city: 'Lisbon', country: 'PT', postal: '11', currency: 'eur', dial: '+35121', lat: 38.7223, lng: -9.1393 },
  { city: 'Dublin', country: 'IE', postal: 'D0', currency: 'eur', dial: '+3531', lat: 53.3498, lng: -6.2603 },
  { city: 'Vienna', country: 'AT', postal: '10', currency: 'eur', dial: '+431', lat: 48.2082, lng: 16.3738 },
  { city: 'Prague', country: 'CZ', postal: '11', currency: 'czk', dial: '+4202', lat: 50.0755, lng: 14.4378 },
  { city: 'Copenhagen', country: 'DK', postal: '12', currency: 'dkk', dial: '+4533', lat: 55.6761, lng: 12.5683 },
  { city: 'Stockholm', country: 'SE', postal: '11', currency: 'sek', dial: '+468', lat: 59.3293, lng: 18.0686 },
  { city: 'Warsaw', country: 'PL', postal: '00', currency: 'pln', dial: '+4822', lat: 52.2297, lng: 21.0122 },
] as const;

const STREETS = [
  'Linden Street', 'Harbour Road', 'Market Square', 'Station Avenue', 'Church Lane', 'Mill Street',
  'Park Row', 'River Walk', 'Castle Hill', 'Garden Terrace', 'Bridge Street', 'Orchard Way',
  'Kings Road', 'Queens Avenue', 'Chapel Street', 'Victoria Place', 'Elm Grove', 'Canal Street',
  'Baker Street', 'High Street',
];

const FIRST = [
  'Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken', 'Frances', 'Edsger',
  'Radia', 'Tim', 'Hedy', 'Donald', 'Sophie', 'Niklaus', 'Karen', 'John', 'Anita', 'Guido',
  'Jean', 'Leslie', 'Shafi', 'Tony', 'Mary', 'Bjarne', 'Annie', 'Whitfield', 'Lynn', 'Yukihiro',
];

const LAST = [
  'Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Thompson', 'Allen',
  'Dijkstra', 'Perlman', 'Berners-Lee', 'Lamarr', 'Knuth', 'Wilson', 'Wirth', 'Jones', 'Backus',
  'Borg', 'van Rossum', 'Sammet', 'Lamport', 'Goldwasser', 'Hoare', 'Shaw', 'Stroustrup', 'Easley',
  'Diffie', 'Conway', 'Matsumoto',
];

const MERCHANT_WORDS = [
  ['Blue', 'Copper', 'Golden', 'Little', 'North', 'Old', 'Red', 'Silver', 'Urban', 'Wild'],
  ['Bean', 'Bicycle', 'Book', 'Bread', 'Fern', 'Harbor', 'Lantern', 'Otter', 'Pine', 'Tram'],
];

const CATEGORIES = [
  'cafe', 'bookshop', 'bakery', 'bicycle_shop', 'florist', 'grocery', 'hardware', 'restaurant',
];

const CATEGORY_NOUN: Record<string, string> = {
  cafe: 'Coffee', bookshop: 'Books', bakery: 'Bakery', bicycle_shop: 'Cycles', florist: 'Flowers',
  grocery: 'Market', hardware: 'Supply', restaurant: 'Kitchen',
};

const BODIES = [
  (m: string, a: string) => `Your payment of ${a} to ${m} succeeded.`,
  (m: string, a: string) => `Receipt: ${a} at ${m}. Reply STOP to opt out.`,
  (m: string) => `${m}: your order is ready for pickup.`,
  () => 'Your verification code is 482913.',
  (m: string, a: string) => `A refund of ${a} from ${m} is on its way.`,
];

const MESSAGE_STATUSES: MessageStatus[] = ['delivered', 'delivered', 'delivered', 'sent', 'queued', 'failed', 'undelivered'];

/** mulberry32: tiny, fast and good enough for demo data; the point is determinism. */
function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const HEX = '0123456789abcdef';

export function createSeed(options: SeedOptions = {}): Seed {
  const {
    seed = 42,
    customers: customerCount = 300,
    merchants: merchantCount = 40,
    payments: paymentCount = 1000,
    messages: messageCount = 1500,
  } = options;
  const random = createRandom(seed);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const usedIds = new Set<string>();
  const makeId = (prefix: string, length: number, alphabet = ID_ALPHABET) => {
    for (;;) {
      let id = prefix;
      for (let i = 0; i < length; i++) id += alphabet[Math.floor(random() * alphabet.length)];
      if (!usedIds.has(id)) {
        usedIds.add(id);
        return id;
      }
    }
  };
  const usedAddresses = new Set<string>();
  const makeAddress = () => {
    for (;;) {
      const c = pick(CITIES);
      const line1 = `${int(1, 220)} ${pick(STREETS)}`;
      const postal_code = c.country === 'GB' || c.country === 'IE'
        ? `${c.postal}${int(1, 9)} ${int(1, 9)}${pick(['AB', 'CD', 'EF', 'GH'])}`
        : `${c.postal}${String(int(100, 999))}`;
      const key = `${line1}|${c.city}`;
      if (usedAddresses.has(key)) continue;
      usedAddresses.add(key);
      const address: AddressRecord = { line1, city: c.city, postal_code, country: c.country };
      const location = {
        lat: round(c.lat + (random() - 0.5) * 0.08, 6),
        lng: round(c.lng + (random() - 0.5) * 0.12, 6),
      };
      return { address, location, cityInfo: c };
    }
  };

  const places: PlaceRecord[] = [];
  const customers: CustomerRecord[] = [];
  const customerCurrency = new Map<string, string>();
  const usedPhones = new Set<string>();
  for (let i = 0; i < customerCount; i++) {
    const { address, location, cityInfo } = makeAddress();
    const first = pick(FIRST);
    const last = pick(LAST);
    let phone: string;
    do phone = `${cityInfo.dial}${int(1_000_000, 9_999_999)}`; while (usedPhones.has(phone));
    usedPhones.add(phone);
    const id = makeId('cus_', 14);
    customers.push({
      id,
      object: 'customer',
      name: `${first} ${last}`,
      email: `${first}.${last}.${i}@example.com`.toLowerCase().replace(/[^a-z0-9.@-]/g, ''),
      phone,
      address,
      created: SEED_EPOCH - 86_400 * int(30, 900),
    });
    customerCurrency.set(id, cityInfo.currency);
    places.push({
      id: makeId('plc_', 12),
      name: address.line1,
      formattedAddress: formatAddress(address),
      kind: 'address',
      location,
    });
  }

  const merchants: MerchantRecord[] = [];
  const usedMerchantNames = new Set<string>();
  for (let i = 0; i < merchantCount; i++) {
    const category = pick(CATEGORIES);
    let name: string;
    do name = `${pick(MERCHANT_WORDS[0]!)} ${pick(MERCHANT_WORDS[1]!)} ${CATEGORY_NOUN[category]}`;
    while (usedMerchantNames.has(name));
    usedMerchantNames.add(name);
    const { address, location } = makeAddress();
    const place: PlaceRecord = {
      id: makeId('plc_', 12),
      name,
      formattedAddress: formatAddress(address),
      kind: 'business',
      location,
    };
    places.push(place);
    merchants.push({
      id: makeId('mer_', 14),
      object: 'merchant',
      name,
      category,
      place: place.id,
      created: SEED_EPOCH - 86_400 * int(400, 1500),
    });
  }

  const payments: PaymentRecord[] = [];
  const refunds: RefundRecord[] = [];
  let created = SEED_EPOCH;
  for (let i = 0; i < paymentCount; i++) {
    const customer = pick(customers);
    const merchant = pick(merchants);
    const currency = customerCurrency.get(customer.id) ?? 'eur';
    const amount = int(2, 2000) * 25;
    const roll = random();
    let status: PaymentStatus = roll < 0.8 ? 'succeeded' : roll < 0.88 ? 'pending' : roll < 0.95 ? 'failed' : 'refunded';
    const id = makeId('pay_', 14);
    let amountRefunded = 0;
    if (status === 'refunded') amountRefunded = amount;
    else if (status === 'succeeded' && random() < 0.05) amountRefunded = Math.max(25, Math.floor(amount / 2 / 25) * 25);
    if (amountRefunded > 0) {
      refunds.push({
        id: makeId('re_', 14),
        object: 'refund',
        payment: id,
        amount: amountRefunded,
        currency,
        status: 'succeeded',
        created: created + int(3600, 86_400 * 5),
      });
      if (amountRefunded === amount) status = 'refunded';
    }
    payments.push({
      id,
      object: 'payment',
      amount,
      amount_refunded: amountRefunded,
      currency,
      status,
      customer: customer.id,
      merchant: merchant.id,
      description: random() < 0.6 ? `Order ${int(10_000, 99_999)}` : null,
      created,
    });
    created -= int(60, 7_200);
  }

  const messages: MessageRecord[] = [];
  let sentAt = SEED_EPOCH * 1000;
  for (let i = 0; i < messageCount; i++) {
    const payment = pick(payments);
    const customer = customers.find((c) => c.id === payment.customer) as CustomerRecord;
    const merchant = merchants.find((m) => m.id === payment.merchant) as MerchantRecord;
    const money = `${(payment.amount / 100).toFixed(2)} ${payment.currency.toUpperCase()}`;
    messages.push({
      id: makeId('SM', 32, HEX),
      to: customer.phone,
      from: '+15005550006',
      body: pick(BODIES)(merchant.name, money),
      status: pick(MESSAGE_STATUSES),
      sentAt: new Date(sentAt).toISOString(),
      customerId: customer.id,
    });
    sentAt -= int(30, 5_400) * 1000;
  }

  return { places, customers, merchants, payments, refunds, messages };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
