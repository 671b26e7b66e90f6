import type { CustomerRecord } from '../../sources/payments/records.ts';
import type { JunctionContext } from '../context.ts';
import { checkPageSize } from '../pagination.ts';

/** payments -> messaging: the text messages a customer was sent. */
export const typeDefs = /* GraphQL */ `
  extend type Customer {
    "Text messages sent to this customer, newest first, from the messaging service. \`first\` is 1 to 50."
    messages(first: Int = 10): [Message!]
  }
`;

/** The messaging service serves at most this many messages per customer in one call. */
export const MAX_MESSAGES_PER_CUSTOMER = 50;

export const resolvers = {
  Customer: {
    messages: (customer: CustomerRecord, { first }: { first: number }, { loaders }: JunctionContext) =>
      loaders.customerMessages.load({
        customerId: customer.id,
        first: checkPageSize(first, 'first', MAX_MESSAGES_PER_CUSTOMER),
      }),
  },
};
