/**
 * What a source client throws when its backend fails. The gateway turns it into a catalogued
 * GraphQL error (`gateway/errors.ts`); the backend's own status is kept here for logs and for
 * choosing the code, and is never mirrored as the gateway's HTTP status.
 */
export type UpstreamFailure =
  /** Connection refused, reset, DNS failure. */
  | 'unreachable'
  /** No complete answer within the source's timeout (headers and body). */
  | 'timeout'
  /** The backend answered with an HTTP 4xx/5xx (a REST error body, a 5xx from anything). */
  | 'http'
  /**
   * The backend refused the request in a successful answer's body, as its source's entry says
   * failure looks (Slack's `{ "ok": false, "error": "channel_not_found" }` on a 200).
   */
  | 'rejected'
  /** A SOAP Fault. */
  | 'soap_fault'
  /** A GraphQL backend answered with `errors`. */
  | 'graphql'
  /** An answer that could not be read: wrong content type, unparsable, over the size cap. */
  | 'bad_response'
  /** The provider's rate limit: it answered 429, or its quota here is used up. `retryAfterSec` says when. */
  | 'throttled';

export interface UpstreamErrorDetails {
  source: string;
  operation: string;
  failure: UpstreamFailure;
  /** The backend's HTTP status, when it sent one. */
  status?: number;
  /** The backend's own error code: a REST error `code`, a SOAP `faultcode`, a GraphQL error code. */
  upstreamCode?: string;
  /** For `throttled`: seconds until the backend may be called again. */
  retryAfterSec?: number;
  cause?: unknown;
}

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  readonly source: string;
  readonly operation: string;
  readonly failure: UpstreamFailure;
  readonly status: number | undefined;
  readonly upstreamCode: string | undefined;
  readonly retryAfterSec: number | undefined;

  constructor(message: string, details: UpstreamErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.source = details.source;
    this.operation = details.operation;
    this.failure = details.failure;
    this.status = details.status;
    this.upstreamCode = details.upstreamCode;
    this.retryAfterSec = details.retryAfterSec;
  }
}

/**
 * A value from the caller that the backend's protocol cannot carry: a character XML 1.0 does not
 * allow (control characters, lone surrogates), a header value with CR, LF or NUL, a path segment
 * that cannot be percent-encoded. Raised before any call is made, and the caller's error
 * (`BAD_USER_INPUT`): never sent, never retried, never counted against the backend's breaker.
 */
export class UnsendableValueError extends Error {
  override readonly name = 'UnsendableValueError';
}

/** The first character at fault, described for a message: `U+0001 at position 12`. */
export function describeCharacter(text: string, index: number): string {
  const code = text.codePointAt(index) ?? 0;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')} at position ${index}`;
}
