import type { BatchSpec, SourceOperations } from '../../schema/contract.ts';
import { junctionError } from '../../schema/errors.ts';

/** Most ids the messaging service takes in one batch field; more are split. */
export const MESSAGING_MAX_BATCH = 100;

export interface Message {
  id: string;
  to: string;
  from: string;
  body: string;
  /** Upper-case enum value: QUEUED, SENT, DELIVERED, FAILED or UNDELIVERED. */
  status: string;
  /** ISO 8601, UTC. */
  sentAt: string;
  customerId: string | null;
}

export interface CustomerMessagesKey {
  customerId: string;
  /** How many of the customer's newest messages. */
  first: number;
}

// Constant documents, every value a variable: the backend can cache their parse and validation.
const MESSAGE_FIELDS = 'fragment MessageFields on Message { id to from body status sentAt customerId }';
const MESSAGES_BY_IDS = `query MessagesByIds($ids: [ID!]!) { messages(ids: $ids) { ...MessageFields } } ${MESSAGE_FIELDS}`;
const MESSAGES_FOR_CUSTOMERS =
  'query MessagesForCustomers($customerIds: [ID!]!, $first: Int!) ' +
  `{ messagesForCustomers(customerIds: $customerIds, first: $first) { customerId messages { ...MessageFields } } } ${MESSAGE_FIELDS}`;
const SEND_MESSAGE =
  'mutation SendMessage($to: String!, $body: String!, $customerId: ID) ' +
  `{ sendMessage(to: $to, body: $body, customerId: $customerId) { ...MessageFields } } ${MESSAGE_FIELDS}`;

/** The messaging source's batched look-ups, over its list fields. */
export const messagingLoaders = {
  message: {
    source: 'messaging', maxBatch: MESSAGING_MAX_BATCH, keysArg: 'ids',
    async load(ids, messaging) {
      const data = await messaging.request<{ messages?: unknown }>(MESSAGES_BY_IDS, { ids });
      const byId = new Map(shaped('messages', () => listOf(data.messages, toMessage)).map((m) => [m.id, m]));
      return ids.map((id) => byId.get(id) ?? null);
    },
  } satisfies BatchSpec<string, Message | null>,
  /**
   * Keys asking for different page sizes cannot share one upstream call (the page size is one
   * argument for the whole list), so a batch makes one call per distinct `first`.
   */
  customerMessages: {
    source: 'messaging', maxBatch: MESSAGING_MAX_BATCH, keysArg: 'customerIds', empty: [], cacheKeyFn: ({ customerId, first }) => `${first}:${customerId}`,
    async load(keys, messaging) {
      const byFirst = new Map<number, string[]>();
      for (const { customerId, first } of keys) {
        const ids = byFirst.get(first) ?? [];
        if (!ids.includes(customerId)) ids.push(customerId);
        byFirst.set(first, ids);
      }
      const pages = new Map<number, Map<string, Message[]>>();
      await Promise.all([...byFirst].map(async ([first, customerIds]) => {
        const data = await messaging.request<{ messagesForCustomers?: unknown }>(MESSAGES_FOR_CUSTOMERS, { customerIds, first });
        const entries = shaped('messagesForCustomers', () => listOf(data.messagesForCustomers, toCustomerMessages));
        pages.set(first, new Map(entries.map((e) => [e.customerId, e.messages])));
      }));
      return keys.map(({ customerId, first }) => pages.get(first)?.get(customerId) ?? []);
    },
  } satisfies BatchSpec<CustomerMessagesKey, Message[]>,
};

/** Sends one text message (never retried: a send is not idempotent). */
export async function sendMessage(messaging: SourceOperations, input: { to: string; body: string; customerId?: string }): Promise<Message> {
  const data = await messaging.request<{ sendMessage?: unknown }>(SEND_MESSAGE, { to: input.to, body: input.body, customerId: input.customerId ?? null });
  return shaped('sendMessage', () => toMessage(data.sendMessage));
}

class ShapeError extends Error {}

/** Runs a shape check; a mismatch is SOURCE_BAD_RESPONSE, since the backend broke its contract. */
function shaped<T>(operation: string, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    if (!(cause instanceof ShapeError)) throw cause;
    throw junctionError('SOURCE_BAD_RESPONSE', 'The messaging service sent an unreadable answer.', {
      source: 'messaging', originalError: new Error(`messaging answered ${operation} with ${cause.message}`),
    });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function listOf<T>(value: unknown, item: (value: unknown) => T): T[] {
  if (!Array.isArray(value)) throw new ShapeError('a non-list where a list was expected');
  return value.map(item);
}

function toCustomerMessages(value: unknown): { customerId: string; messages: Message[] } {
  if (!isObject(value) || typeof value.customerId !== 'string') throw new ShapeError('a malformed CustomerMessages');
  return { customerId: value.customerId, messages: listOf(value.messages, toMessage) };
}

const MESSAGE_STRING_FIELDS = ['id', 'to', 'from', 'body', 'status', 'sentAt'] as const;

function toMessage(value: unknown): Message {
  if (!isObject(value)) throw new ShapeError('a Message that is not an object');
  for (const field of MESSAGE_STRING_FIELDS) {
    if (typeof value[field] !== 'string') throw new ShapeError(`a Message without a string ${field}`);
  }
  const customerId = value.customerId;
  if (customerId !== null && typeof customerId !== 'string') throw new ShapeError('a Message with a malformed customerId');
  const { id, to, from, body, status, sentAt } = value as Record<(typeof MESSAGE_STRING_FIELDS)[number], string>;
  return { id, to, from, body, status, sentAt, customerId };
}
