import DataLoader from 'dataloader';
import { orderByKeys } from '../../gateway/upstream/batch.ts';
import { MESSAGING_MAX_BATCH, type Message, type MessagingClient } from './client.ts';

export interface CustomerMessagesKey {
  customerId: string;
  /** How many of the customer's newest messages. */
  first: number;
}

/** Per-request loaders over the messaging service's list fields. */
export function createMessagingLoaders(client: MessagingClient) {
  const options = { maxBatchSize: MESSAGING_MAX_BATCH };
  return {
    message: new DataLoader<string, Message | null>(
      async (ids) => orderByKeys(ids, await client.messagesByIds(ids), (m) => m.id),
      options,
    ),
    /**
     * Keys asking for different page sizes cannot share one upstream call (the page size is
     * one argument for the whole list), so a batch makes one call per distinct `first`.
     */
    customerMessages: new DataLoader<CustomerMessagesKey, Message[], string>(
      async (keys) => {
        const byFirst = new Map<number, string[]>();
        for (const { customerId, first } of keys) {
          const ids = byFirst.get(first) ?? [];
          if (!ids.includes(customerId)) ids.push(customerId);
          byFirst.set(first, ids);
        }
        const pages = new Map<number, Map<string, Message[]>>();
        await Promise.all(
          [...byFirst].map(async ([first, ids]) => pages.set(first, await client.messagesForCustomers(ids, first))),
        );
        return keys.map(({ customerId, first }) => pages.get(first)?.get(customerId) ?? []);
      },
      { ...options, cacheKeyFn: ({ customerId, first }) => `${first}:${customerId}` },
    ),
  };
}

export type MessagingLoaders = ReturnType<typeof createMessagingLoaders>;
