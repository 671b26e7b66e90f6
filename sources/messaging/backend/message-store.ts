import { randomBytes } from 'node:crypto';
import type { MessageRecord, MessageStatus } from '../../demo/seed.ts';

/** The sender number every outbound message uses (Twilio's magic test number that always succeeds). */
export const MESSAGING_SENDER = '+15005550006';

export interface NewMessage {
  to: string;
  body: string;
  customerId: string | null;
}

/**
 * The messaging backend's own data: a private copy of the seed's messages, so sending a message
 * in one backend instance never leaks into the seed object or into another instance.
 */
export interface MessageStore {
  byId(id: string): MessageRecord | undefined;
  /** That customer's messages, newest first, at most `first`; empty for an unknown customer. */
  forCustomer(customerId: string, first: number): MessageRecord[];
  /** Stores a new outbound message, status queued, sent now. */
  send(message: NewMessage): MessageRecord;
  /** A message's status as the carrier last reported it; reads answer it from now on. */
  setStatus(id: string, status: MessageStatus): void;
}

export interface MessageStoreOptions {
  /** Clock for new messages' `sentAt`. Default `() => new Date()`. */
  now?: () => Date;
}

export function createMessageStore(seedMessages: readonly MessageRecord[], options: MessageStoreOptions = {}): MessageStore {
  const { now = () => new Date() } = options;
  const byId = new Map<string, MessageRecord>();
  const byCustomer = new Map<string, MessageRecord[]>();

  const add = (record: MessageRecord) => {
    byId.set(record.id, record);
    if (record.customerId === null) return;
    const list = byCustomer.get(record.customerId) ?? [];
    list.push(record);
    byCustomer.set(record.customerId, list);
    return list;
  };

  for (const message of seedMessages) add({ ...message });
  for (const list of byCustomer.values()) list.sort(newestFirst);

  return {
    byId(id) {
      return byId.get(id);
    },
    forCustomer(customerId, first) {
      return (byCustomer.get(customerId) ?? []).slice(0, first);
    },
    send({ to, body, customerId }) {
      let id: string;
      do id = `SM${randomBytes(16).toString('hex')}`; while (byId.has(id));
      const record: MessageRecord = {
        id,
        to,
        from: MESSAGING_SENDER,
        body,
        status: 'queued',
        sentAt: now().toISOString(),
        customerId,
      };
      // Re-sort rather than unshift: an injected clock may place the new message among older ones.
      add(record)?.sort(newestFirst);
      return record;
    },
    setStatus(id, status) {
      const record = byId.get(id);
      if (record) record.status = status;
    },
  };
}

/** ISO 8601 UTC strings of one format order lexically; the id breaks ties so the order is total. */
function newestFirst(a: MessageRecord, b: MessageRecord): number {
  if (a.sentAt !== b.sentAt) return a.sentAt < b.sentAt ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
