import { junctionError } from '../gateway/errors.ts';

/** Longest id an argument may hold, in characters: longer than any backend's ids, short enough for a URL. */
export const MAX_ID_LENGTH = 255;

/**
 * An id a write sends to its backend, checked first: 1 to MAX_ID_LENGTH printable characters. A
 * malformed id is the caller's error (BAD_USER_INPUT), not the backend's rejection: an empty one
 * came back as the backend's `parameter_missing`, and 300,000 emoji made a 3.6 MB upstream call.
 */
export function checkId(value: string, argument: string): string {
  // eslint-disable-next-line no-control-regex
  if (value.length === 0 || value.length > MAX_ID_LENGTH || /[\u0000-\u001f\u007f]/.test(value)) {
    throw junctionError('BAD_USER_INPUT', `"${argument}" must be an id of 1 to ${MAX_ID_LENGTH} printable characters.`, { argument });
  }
  return value;
}
