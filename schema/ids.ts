import { junctionError } from './errors.ts';

/** Longest id an argument may hold, in characters: longer than any backend's ids, short enough for a URL. */
export const MAX_ID_LENGTH = 255;

/**
 * A value a write sends to its backend, checked first: 1 to `max` printable characters, else the
 * caller's error (BAD_USER_INPUT), not the backend's rejection. `what` names it in the message.
 */
export function checkPrintable(value: string, argument: string, max: number, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (value.length === 0 || value.length > max || /[\u0000-\u001f\u007f]/.test(value)) {
    throw junctionError('BAD_USER_INPUT', `"${argument}" must be ${what} of 1 to ${max} printable characters.`, { argument });
  }
  return value;
}

/**
 * An id a write sends to its backend: an empty one came back as the backend's
 * `parameter_missing`, and 300,000 emoji made a 3.6 MB upstream call.
 */
export const checkId = (value: string, argument: string): string => checkPrintable(value, argument, MAX_ID_LENGTH, 'an id');
