import type { Message } from '../../sources/messaging/loaders.ts';
import type { JunctionContext } from '../context.ts';

/** messaging -> payments: the customer a message was sent to. */
export const typeDefs = /* GraphQL */ `
  extend type Message {
    "The customer this message was sent to, from the payments service; null when it went to a number no customer has."
    customer: Customer
  }
`;

export const resolvers = {
  Message: {
    customer: (message: Message, _: unknown, { loaders }: JunctionContext) =>
      message.customerId ? loaders.customer.load(message.customerId) : null,
  },
};
