/**
 * Junction's own span attributes (README "Traces" lists them with the standard ones): named once,
 * so that the spans, the tests and the documentation cannot drift apart.
 */
export const ATTR = Object.freeze({
  /** The source's name in the sources file. */
  source: 'junction.source',
  /** The source's operation called (a REST operationId, a SOAP operation, a GraphQL root field). */
  operation: 'junction.operation',
  /** Keys asked for in one batch call. */
  batchSize: 'junction.batch_size',
  /** `hit` or `stale`: keys answered from the entity cache, without a backend call. */
  cache: 'junction.cache',
  /** Retries the call took (absent: none). */
  retries: 'junction.retries',
  /** On a `retry` event: which retry, and what failed before it. */
  retryAttempt: 'junction.retry.attempt',
  retryReason: 'junction.retry.reason',
  /** The call joined an identical read already in flight (single flight) and made no call itself. */
  coalesced: 'junction.coalesced',
  /** The request's id, as in the logs and the `x-request-id` answer header. */
  requestId: 'junction.request_id',
  /** The catalogued codes (`extensions.code`) of a result's errors, never their messages. */
  errorCodes: 'junction.error_codes',
  /** SHA-256 (hex) of the document text, as persisted documents are named: the text may hold literal values. */
  documentHash: 'junction.document.sha256',
});

/** The phases of a GraphQL operation that get a span of their own, under the request's. */
export const PHASE_SPANS = Object.freeze({
  parse: 'graphql.parse',
  validate: 'graphql.validate',
  context: 'graphql.context',
  execute: 'graphql.execute',
  subscribe: 'graphql.subscribe',
});
