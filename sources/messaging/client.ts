import { UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import { callUpstream, joinUrl } from '../../gateway/upstream/upstream-fetch.ts';
import type { SourceClientOptions } from '../../gateway/upstream/upstream-fetch.ts';
import { isObject, readGraphqlData } from './graphql-response.ts';

export const MESSAGING_SOURCE = 'messaging';
/** Most ids the messaging service takes in one batch field; longer lists are split. */
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

export interface MessagingClient {
  /** Messages found, each once, in no promised order; duplicates asked are asked once. Split at 100 ids. */
  messagesByIds(ids: readonly string[]): Promise<Message[]>;
  /** Each asked customer's newest `first` messages, keyed by customer id (empty list when none). Split at 100 ids. */
  messagesForCustomers(customerIds: readonly string[], first: number): Promise<Map<string, Message[]>>;
  sendMessage(input: { to: string; body: string; customerId?: string }): Promise<Message>;
  /** GET {url}/ ; resolves on any HTTP answer below 500. */
  probe(): Promise<void>;
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

export function createMessagingClient(options: SourceClientOptions): MessagingClient {
  const endpoint = joinUrl(options.url, '/graphql');

  /** `operation` is the root field, the name the backend counts in /_stats and arms faults by. */
  const execute = async (operation: string, query: string, variables: Record<string, unknown>) => {
    const ids = variables.ids ?? variables.customerIds;
    const response = await callUpstream(
      {
        source: MESSAGING_SOURCE,
        operation,
        url: endpoint,
        read: query.startsWith('query'),
        ...(Array.isArray(ids) ? { batchSize: ids.length } : {}),
        init: {
          method: 'POST',
          // Plain JSON, so a well-formed GraphQL answer is always HTTP 200 and its errors are read as GraphQL errors.
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ query, variables }),
        },
      },
      options,
    );
    return readGraphqlData(response, { source: MESSAGING_SOURCE, operation })[operation];
  };

  return {
    async messagesByIds(ids) {
      const chunks = chunk([...new Set(ids)], MESSAGING_MAX_BATCH);
      const pages = await Promise.all(
        chunks.map(async (part) => {
          const value = await execute('messages', MESSAGES_BY_IDS, { ids: part });
          return shaped('messages', () => listOf(value, toMessage));
        }),
      );
      return pages.flat();
    },

    async messagesForCustomers(customerIds, first) {
      const chunks = chunk([...new Set(customerIds)], MESSAGING_MAX_BATCH);
      const pages = await Promise.all(
        chunks.map(async (part) => {
          const value = await execute('messagesForCustomers', MESSAGES_FOR_CUSTOMERS, { customerIds: part, first });
          return shaped('messagesForCustomers', () => listOf(value, toCustomerMessages));
        }),
      );
      const result = new Map<string, Message[]>();
      for (const entry of pages.flat()) result.set(entry.customerId, entry.messages);
      return result;
    },

    async sendMessage({ to, body, customerId }) {
      const value = await execute('sendMessage', SEND_MESSAGE, { to, body, customerId: customerId ?? null });
      return shaped('sendMessage', () => toMessage(value));
    },

    async probe() {
      const response = await callUpstream(
        { source: MESSAGING_SOURCE, operation: 'probe', url: joinUrl(options.url, '/'), init: { method: 'GET' } },
        options,
      );
      if (response.status >= 500) {
        throw new UpstreamError(`${MESSAGING_SOURCE} probe answered HTTP ${response.status}`, {
          source: MESSAGING_SOURCE, operation: 'probe', failure: 'http', status: response.status,
        });
      }
    },
  };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size));
  return parts;
}

class ShapeError extends Error {}

/** Runs a shape check; a mismatch becomes `bad_response`, since the backend broke its contract. */
function shaped<T>(operation: string, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    if (!(cause instanceof ShapeError)) throw cause;
    throw new UpstreamError(`${MESSAGING_SOURCE} answered ${operation} with ${cause.message}`, {
      source: MESSAGING_SOURCE, operation, failure: 'bad_response', cause,
    });
  }
}

function listOf<T>(value: unknown, item: (value: unknown) => T): T[] {
  if (!Array.isArray(value)) throw new ShapeError('a non-list where a list was expected');
  return value.map(item);
}

function toCustomerMessages(value: unknown): { customerId: string; messages: Message[] } {
  if (!isObject(value) || typeof value['customerId'] !== 'string') throw new ShapeError('a malformed CustomerMessages');
  return { customerId: value['customerId'], messages: listOf(value['messages'], toMessage) };
}

const MESSAGE_STRING_FIELDS = ['id', 'to', 'from', 'body', 'status', 'sentAt'] as const;

function toMessage(value: unknown): Message {
  if (!isObject(value)) throw new ShapeError('a Message that is not an object');
  for (const field of MESSAGE_STRING_FIELDS) {
    if (typeof value[field] !== 'string') throw new ShapeError(`a Message without a string ${field}`);
  }
  const customerId = value['customerId'];
  if (customerId !== null && typeof customerId !== 'string') throw new ShapeError('a Message with a malformed customerId');
  const { id, to, from, body, status, sentAt } = value as Record<(typeof MESSAGE_STRING_FIELDS)[number], string>;
  return { id, to, from, body, status, sentAt, customerId };
}
