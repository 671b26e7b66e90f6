/** What the messaging service (GraphQL, schema.graphql) returns. */

export type MessageStatus = 'queued' | 'sent' | 'delivered' | 'failed' | 'undelivered';

export interface MessageRecord {
  id: string;
  to: string;
  from: string;
  body: string;
  status: MessageStatus;
  /** ISO 8601. */
  sentAt: string;
  /** The payments customer this message was sent to, when known. */
  customerId: string | null;
}
