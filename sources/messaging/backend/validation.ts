import { messagingError } from './errors.ts';

/** Most ids one batch field accepts, like Twilio's largest page size. */
export const MAX_IDS_PER_CALL = 100;
/** Most messages per customer one `messagesForCustomers` call returns. */
export const MAX_FIRST = 50;
/** Twilio's limit on a message body, in characters (it splits longer texts into at most 10 segments). */
export const MAX_BODY_CHARS = 1600;

/** E.164: a plus, a non-zero country code digit, 7 to 15 digits in all. */
const E164 = /^\+[1-9]\d{6,14}$/;

export function checkIdCount(argument: string, ids: readonly string[]): void {
  if (ids.length > MAX_IDS_PER_CALL) {
    throw messagingError('TOO_MANY_IDS', `${argument} accepts at most ${MAX_IDS_PER_CALL} ids; got ${ids.length}`, { argument });
  }
}

export function checkFirst(first: number): void {
  if (first < 0 || first > MAX_FIRST) {
    throw messagingError('INVALID_ARGUMENT', `first must be between 0 and ${MAX_FIRST}; got ${first}`, { argument: 'first' });
  }
}

export function checkPhoneNumber(to: string): void {
  if (!E164.test(to)) {
    throw messagingError('INVALID_PHONE_NUMBER', `The 'To' number ${to} is not a valid phone number`, {
      argument: 'to',
      twilioCode: 21211,
    });
  }
}

export function checkBody(body: string): void {
  // Characters, not UTF-16 units: an emoji counts once, as it does for the sender.
  const length = [...body].length;
  if (length === 0) {
    throw messagingError('INVALID_BODY', 'Message body is required', { argument: 'body', twilioCode: 21602 });
  }
  if (length > MAX_BODY_CHARS) {
    throw messagingError('INVALID_BODY', `The message body exceeds the ${MAX_BODY_CHARS} character limit; got ${length}`, {
      argument: 'body',
      twilioCode: 21617,
    });
  }
}

export function checkCustomerId(customerId: string | null | undefined): void {
  if (customerId === '') {
    throw messagingError('INVALID_ARGUMENT', 'customerId must not be empty; omit it or pass null', { argument: 'customerId' });
  }
}
