import { junctionError } from './errors.ts';
import type { JunctionContext } from './context.ts';
import type { SourceEvent } from './contract.ts';
import { checkId } from './ids.ts';
import { sendMessage, type Message } from '../sources/messaging/loaders.ts';
import type { TypeOrigin } from './origins.ts';

/** The messaging domain, served by the `messaging` source (GraphQL, sources/messaging/schema.graphql). */
export const typeDefs = /* GraphQL */ `
  type Query {
    "A message by id, or null when there is none."
    message(id: ID!): Message
  }

  type Mutation {
    "Sends a text message to a customer (by id) or to a phone number. Exactly one of the two."
    sendMessage(input: SendMessageInput!): Message @requiresScopes(scopes: [["messages:send"]]) @rateLimit(max: 10, window: "1m")
  }

  type Subscription {
    "A message each time its delivery status changes (queued, sent, delivered; or failed, undelivered), told by the messaging service as it happens, with whatever linked data the subscription asks for; \`status\` is the status just reported. \`id\`: only that message's changes."
    messageUpdated(id: ID): Message @requiresScopes(scopes: [["messages:read"]])
  }

  type Message @requiresScopes(scopes: [["messages:read"]]) @cacheControl(maxAge: 30, scope: PRIVATE) {
    id: ID!
    to: String!
    body: String!
    status: MessageStatus!
    sentAt: DateTime!
  }

  enum MessageStatus {
    QUEUED
    SENT
    DELIVERED
    FAILED
    UNDELIVERED
  }

  "A text message to send."
  input SendMessageInput {
    "The customer to text, at the phone number on file."
    customerId: ID
    "A phone number in E.164 form, e.g. +4930123456."
    phone: String
    "1 to 1600 characters."
    body: String!
  }
`;

export const origins: TypeOrigin[] = [
  { type: 'Message', source: 'messaging', sourceType: 'Message' },
  { type: 'MessageStatus', source: 'messaging', sourceType: 'MessageStatus' },
];

export const MAX_BODY_LENGTH = 1600;
const E164 = /^\+[1-9]\d{6,14}$/;

/** The statuses a status callback may report that the contract's MessageStatus has (Twilio has more: sending, read, ...). */
const STATUSES: ReadonlySet<string> = new Set(['queued', 'sent', 'delivered', 'failed', 'undelivered']);

/** A status callback's message and status (Twilio's form fields), when it reports one the contract can tell. */
function statusChangeOf(event: SourceEvent): { id: string; status: string } | undefined {
  const payload = event.payload as { MessageSid?: unknown; MessageStatus?: unknown } | null;
  const id = payload?.MessageSid;
  const status = payload?.MessageStatus;
  return typeof id === 'string' && typeof status === 'string' && STATUSES.has(status) ? { id, status } : undefined;
}

/** Whether an event of the messaging topic is a status change (of that message only, given an id). */
const aboutMessage = (id: string | null | undefined) => (event: SourceEvent) => {
  const change = statusChangeOf(event);
  return change !== undefined && (id === null || id === undefined || change.id === id);
};

export const resolvers = {
  Query: {
    message: (_: unknown, { id }: { id: string }, { loaders }: JunctionContext) => loaders.message.load(id),
  },
  Subscription: {
    messageUpdated: {
      subscribe: (_: unknown, { id }: { id?: string | null }, context: JunctionContext) => context.subscribe('messaging', aboutMessage(id)),
      /**
       * A callback carries the message's SID and new status only: the message is read through
       * the loaders, fresh for each event, and what the subscription asks beyond it (the
       * customer) is fetched as in a query. The status is the one the callback reported, so
       * each event tells its own step even when the message has moved on since; null when the
       * messaging service has no such message.
       */
      async resolve(event: SourceEvent, _: unknown, { loaders }: JunctionContext): Promise<Message | null> {
        const change = statusChangeOf(event)!;
        const message = await loaders.message.load(change.id);
        return message && { ...message, status: change.status.toUpperCase() };
      },
    },
  },
  Mutation: {
    async sendMessage(
      _: unknown,
      { input }: { input: { customerId?: string | null; phone?: string | null; body: string } },
      { loaders, sources, invalidate }: JunctionContext,
    ) {
      const { customerId, phone, body } = input;
      if ((customerId ?? null) === null === ((phone ?? null) === null)) {
        throw junctionError('BAD_USER_INPUT', 'Give exactly one of "input.customerId" and "input.phone".', { argument: 'input' });
      }
      if (body.length < 1 || body.length > MAX_BODY_LENGTH) {
        throw junctionError('BAD_USER_INPUT', `"input.body" must be 1 to ${MAX_BODY_LENGTH} characters.`, { argument: 'input.body' });
      }
      let to = phone ?? undefined;
      if (customerId !== null && customerId !== undefined) {
        checkId(customerId, 'input.customerId');
        const customer = await loaders.customer.load(customerId);
        if (!customer) throw junctionError('BAD_USER_INPUT', `There is no customer "${customerId}".`, { argument: 'input.customerId' });
        if (!customer.phone) throw junctionError('BAD_USER_INPUT', `Customer "${customerId}" has no phone number.`, { argument: 'input.customerId' });
        to = customer.phone;
      }
      if (!to || !E164.test(to)) {
        throw junctionError('BAD_USER_INPUT', '"input.phone" must be an E.164 number such as +4930123456.', { argument: 'input.phone' });
      }
      const message = await sendMessage(sources.messaging!, { to, body, ...(customerId ? { customerId } : {}) });
      loaders.message.prime(message.id, message);
      // The recipient's cached message lists are out of date.
      if (message.customerId) await invalidate([`Customer:${message.customerId}`]);
      return message;
    },
  },
};
