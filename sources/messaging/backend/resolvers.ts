import { REJECTION_TEXT, type Faults } from '../../demo/faults.ts';
import type { MessageRecord } from '../../demo/seed.ts';
import type { Stats } from '../../demo/stats.ts';
import { dateTimeScalar } from './date-time.ts';
import { messagingError } from './errors.ts';
import type { MessageStore } from './message-store.ts';
import { checkBody, checkCustomerId, checkFirst, checkIdCount, checkPhoneNumber } from './validation.ts';

export interface ResolverDeps {
  store: MessageStore;
  stats: Stats;
  faults: Faults;
  /** Told of each message sent, which then moves on to sent and delivered (delivery.ts). */
  onSent: (id: string) => void;
}

interface CustomerMessages {
  customerId: string;
  messages: MessageRecord[];
}

/**
 * Resolvers for schema.graphql. Every root field is one backend operation: it is counted in
 * /_stats under its field name before anything else, so a failing call still counts, then an
 * armed fault turns it into an INJECTED_FAULT error (HTTP 200 with `errors`, as GraphQL services fail).
 */
export function createResolvers({ store, stats, faults, onSent }: ResolverDeps) {
  const begin = (operation: string, batchSize?: number) => {
    stats.record(operation, batchSize);
    const fault = faults.take(operation);
    if (fault?.rejection) throw messagingError('INVALID_ARGUMENT', REJECTION_TEXT);
    if (fault) throw messagingError('INJECTED_FAULT', `Injected fault for ${operation}`);
  };

  return {
    DateTime: dateTimeScalar,
    // Records keep Twilio's lower-case statuses; GraphQL enum values are upper-case by convention.
    MessageStatus: {
      QUEUED: 'queued',
      SENT: 'sent',
      DELIVERED: 'delivered',
      FAILED: 'failed',
      UNDELIVERED: 'undelivered',
    },
    Query: {
      message(_: unknown, { id }: { id: string }): MessageRecord | null {
        begin('message');
        return store.byId(id) ?? null;
      },
      messages(_: unknown, { ids }: { ids: string[] }): MessageRecord[] {
        begin('messages', ids.length);
        checkIdCount('ids', ids);
        return ids.flatMap((id) => store.byId(id) ?? []);
      },
      messagesForCustomers(_: unknown, { customerIds, first }: { customerIds: string[]; first: number }): CustomerMessages[] {
        begin('messagesForCustomers', customerIds.length);
        checkIdCount('customerIds', customerIds);
        checkFirst(first);
        return customerIds.map((customerId) => ({ customerId, messages: store.forCustomer(customerId, first) }));
      },
    },
    Mutation: {
      sendMessage(_: unknown, args: { to: string; body: string; customerId?: string | null }): MessageRecord {
        begin('sendMessage');
        checkPhoneNumber(args.to);
        checkBody(args.body);
        checkCustomerId(args.customerId);
        const message = store.send({ to: args.to, body: args.body, customerId: args.customerId ?? null });
        onSent(message.id);
        return message;
      },
    },
  };
}
