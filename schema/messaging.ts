import { junctionError } from './errors.ts';
import type { JunctionContext } from './context.ts';
import { checkId } from './ids.ts';
import { sendMessage } from '../sources/messaging/loaders.ts';
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

export const resolvers = {
  Query: {
    message: (_: unknown, { id }: { id: string }, { loaders }: JunctionContext) => loaders.message.load(id),
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
