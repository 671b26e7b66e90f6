import { createHmac } from 'node:crypto';
import { offlineGraphqlSource, writeSourcesFile } from './sources-file.ts';

/**
 * The warehouse: a source that real-time tests declare in a sources file, as a user declares a
 * backend of their own. It is never called; what matters is its first-party webhook, signed with
 * the hmac scheme, whose events feed a subscription the file declares.
 */

export const WAREHOUSE_WEBHOOK = '/webhooks/warehouse';

export interface WarehouseOptions {
  /** The topic its webhook publishes on and `shipmentUpdated` reads. Default `shipments`. */
  topic?: string;
  /** The webhook's streamLength (how many events its topic keeps to resume from); unset: the gateway's default. */
  streamLength?: number;
  /** `shipmentUpdated`'s filterBy. Default: the shipments of the customer its argument names. */
  filterBy?: string;
  /**
   * What follows the source in place of the default contract (a `Shipment` type and
   * `shipmentUpdated(customerId: ID!)` over the topic, the event's `shipment` its result).
   */
  contract?: string;
}

/**
 * Writes a sources file with the warehouse, whose webhook at /webhooks/warehouse is verified
 * with the secret `{env.WAREHOUSE_SECRET}`, and its contract; returns the file's path.
 */
export function warehouseSource(options: WarehouseOptions = {}): string {
  const topic = options.topic ?? 'shipments';
  const streamLength = options.streamLength === undefined ? '' : `, streamLength: ${options.streamLength}`;
  const contract = options.contract ?? `additionalTypeDefs: |
  type Shipment {
    id: ID!
    customerId: ID!
    status: String
  }
  type Subscription {
    "A shipment of that customer's, each time it changes."
    shipmentUpdated(customerId: ID!): Shipment
  }
additionalResolvers:
  - targetTypeName: Subscription
    targetFieldName: shipmentUpdated
    pubsubTopic: ${topic}
    filterBy: "${options.filterBy ?? 'root.shipment.customerId === args.customerId'}"
    result: shipment
`;
  return writeSourcesFile(offlineGraphqlSource('warehouse', `        webhooks:
          - { path: ${WAREHOUSE_WEBHOOK}, scheme: hmac, secrets: ['{env.WAREHOUSE_SECRET}'], pubsubTopic: ${topic}${streamLength} }
`, contract));
}

/** A POST of `body` signed as the hmac scheme verifies it by default: `X-Signature: sha256=<hex HMAC-SHA256 of the body>`. */
export function signedHmacDelivery(secret: string, body: string): RequestInit {
  const signature = createHmac('sha256', secret).update(body).digest('hex');
  return { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': `sha256=${signature}` }, body };
}
