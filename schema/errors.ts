import { GraphQLError } from 'graphql';

/**
 * The catalogue of every error a client can receive from Junction. Each entry has a stable
 * `extensions.code` to switch on, an HTTP status when the error decides the response status
 * (absent: the response is a 200 carrying partial data), the message template (`{...}` marks
 * what each error fills in) and what it means. The README's error
 * table is checked against this catalogue by a test, so a code cannot ship undocumented.
 */
export const ERROR_CATALOGUE = {
  BAD_USER_INPUT: {
    status: undefined,
    message: '"{argument}" must be {what}; got {value}.',
    description: 'An argument is out of range or malformed (a bad cursor, `first` over its limit, an invalid phone number), or holds what its backend\'s protocol cannot carry (a control character for a SOAP backend, CR or LF in a value sent as a header, `..` as a path segment); no backend is called for it. A variable that does not fit its declared type is refused with this code too, and a 400.',
  },
  CSRF_REFUSED: {
    status: 400,
    message: 'This request could be a cross-site request forgery: send it as application/json, or with one of the headers {headers}.',
    description:
      'A POST with a form or text/plain body and no `x-graphql-csrf` (or `graphql-require-preflight`, `apollo-require-preflight`) header. Send JSON, or add the header.',
  },
  INVALID_TOKEN: {
    status: 401,
    message: 'The access token or API key is invalid.',
    description:
      'The bearer token or API key was refused: bad signature, unknown key, wrong algorithm, issuer or audience, expired or not yet valid, no `exp`, an ID token where an access token belongs. One message for every cause (the log says which); the response carries `WWW-Authenticate: Bearer error="invalid_token"`. No backend is called.',
  },
  AUTH_UNAVAILABLE: {
    status: 503,
    message: 'The identity provider cannot be reached to check the token; try again shortly.',
    description:
      'The identity provider\'s key set (`AUTH_JWKS_URL`) could not be fetched and no usable cached copy exists, so no token can be checked. Retry later (`Retry-After` is set).',
  },
  UNAUTHENTICATED: {
    status: undefined,
    message: '{Type}.{field} needs a signed-in caller.',
    description: 'A field that needs a signed-in caller (`@authenticated` or `@requiresScopes`) was asked for without a token or key. That field is null; the rest of the query answers.',
  },
  FORBIDDEN: {
    status: undefined,
    message: '{Type}.{field} needs scope {scopes}.',
    description:
      'The caller lacks the scopes a field needs (`@requiresScopes`); `extensions.requiredScopes` lists the alternatives. That field is null, no backend was called for it, and the rest of the query answers.',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    message: 'The request body is over {maxBytes} bytes (counted after decompression).',
    description: 'The request body is over `MAX_BODY_BYTES` (2 MiB), counted after decompression (gzip and deflate are read, up to the limit and no further).',
  },
  BAD_REQUEST: {
    status: 400,
    message: '{what is wrong with the request}',
    description: 'The request is not what GraphQL over HTTP expects: malformed JSON, invalid UTF-8, no `query`, `variables` that are not an object, JSON nested deeper than `MAX_VARIABLES_DEPTH` (32) levels or holding more than `MAX_JSON_VALUES` (50,000) values (both refused before it is parsed), or a batch from a browser or over `MAX_BATCH`.',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    message: 'The request body did not arrive within {timeoutMs} ms.',
    description: 'The request body did not arrive within `BODY_TIMEOUT_MS` (10 s) of its headers. The connection is closed.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    message: 'GraphQL requests are GET or POST; this one is {method}.',
    description: 'GraphQL requests are `GET` or `POST`; a mutation only ever runs from a `POST`.',
  },
  NOT_ACCEPTABLE: {
    status: 406,
    message: 'A subscription streams its events: send it with Accept: text/event-stream (GraphQL over Server-Sent Events).',
    description: 'A subscription sent by a client that accepts no stream (`Accept: application/json` only). Ask for `text/event-stream`. Nothing is subscribed.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'Junction reads application/json (also application/graphql+json), application/graphql and application/x-www-form-urlencoded bodies; this one is {type}.',
    description: 'A POST body of a type or `Content-Encoding` Junction does not read. It reads identity, gzip and deflate bodies of `application/json` (and `application/graphql+json`), `application/graphql` (the document as the body) and `application/x-www-form-urlencoded`; not `multipart/form-data` (no file uploads), `text/plain` or anything else.',
  },
  GRAPHQL_PARSE_FAILED: {
    status: 400,
    message: 'Syntax Error: {what, where}',
    description: 'The document is not valid GraphQL syntax; the message says where. Nothing runs.',
  },
  GRAPHQL_VALIDATION_FAILED: {
    status: 400,
    message: '{what does not fit the schema}',
    description: 'The document does not fit the schema (an unknown field, a wrong argument type, a `subscription` while the schema serves none). In production the message never suggests field names. Nothing runs.',
  },
  OPERATION_RESOLUTION_FAILURE: {
    status: 400,
    message: '{why no operation can be chosen}',
    description: 'The document holds several operations and `operationName` names none of them (or is missing). Nothing runs.',
  },
  QUERY_TOO_LARGE: {
    status: 400,
    message: '{What} limit of {max} exceeded, found {n}.',
    description: 'The document is over a shape limit, checked before execution: `MAX_TOKENS` (2000), `MAX_DEPTH` (15), `MAX_ALIASES` (30) or `MAX_DIRECTIVES` (50). `extensions.limit` names it. No backend is called.',
  },
  QUERY_TOO_COSTLY: {
    status: 400,
    message: 'This operation could cost {cost}, over the {maxCost} allowed to this caller: ask for fewer items (smaller `first`) or fewer nested lists.',
    description: 'The operation could cost the backends more than the caller\'s budget (list sizes multiplied, variables\' default values counted as literals; see Limits), or holds more than `MAX_SELECTIONS` (5000) field selections once its fragments are written out in place (`extensions.limit` is then `MAX_SELECTIONS`). `extensions.cost` and `extensions.maxCost` say by how much. No backend is called.',
  },
  RATE_LIMITED: {
    status: undefined,
    message: '{Type.field} allows {max} calls per {window}; retry in {retryAfter} s. (whole endpoint: Too many requests from this caller; retry in {retryAfter} s.)',
    description: 'Too many calls: `extensions.retryAfter` is the wait in seconds. A field over its `@rateLimit` is null in a 200; a caller over its whole-endpoint budget gets HTTP 429 with `Retry-After`.',
  },
  SUBSCRIPTION_LIMIT: {
    status: undefined,
    message: 'This caller has {n} subscriptions open, the most it may (MAX_SUBSCRIPTIONS_PER_CALLER); end one first.',
    description: 'A subscription over the caller\'s budget of open subscriptions on one instance (`MAX_SUBSCRIPTIONS_PER_CALLER`, 20; an anonymous caller counted by its address). Refused before it starts; `extensions.limit` gives the budget.',
  },
  SUBSCRIPTION_TOO_SLOW: {
    status: undefined,
    message: 'This subscriber fell more than {n} events behind (MAX_EVENTS_QUEUED); its subscription is ended. Subscribe again with the cursor of the last event it read.',
    description: 'The last message of a subscription whose client read its events more slowly than they came, until more than `MAX_EVENTS_QUEUED` (100) waited: the subscription ends rather than grow the gateway\'s memory. Subscribe again with the last message\'s `extensions.cursor` (SSE: `Last-Event-ID`) to receive what it missed.',
  },
  SUBSCRIPTION_CURSOR_EXPIRED: {
    status: undefined,
    message: 'Events after this cursor are no longer kept (the topic keeps its newest events only); read the current state again, then subscribe without a cursor.',
    description: 'A subscription resumed from a cursor (`Last-Event-ID`, `extensions.cursor`) older than what its topic\'s stream keeps (`streamLength`, 10,000 events by default): some events after it are gone. The subscription ends with this message; query the current state, then subscribe afresh.',
  },
  GATEWAY_RELOADED: {
    status: undefined,
    message: 'The gateway\'s configuration was reloaded; subscribe again (with the cursor of the last event, to miss nothing).',
    description: 'The last message of every subscription open when a reload (SIGHUP, or a file change under `junction dev`) swapped in a new build: subscribing again runs under the new configuration (its fields, its authorization rules); with the last message\'s cursor nothing is missed. WebSocket connections stay open for the next operation.',
  },
  SHUTTING_DOWN: {
    status: undefined,
    message: 'This instance is shutting down; subscribe again (with the cursor of the last event, to miss nothing).',
    description: 'The last message of every subscription open on an instance that is shutting down (SIGTERM, SIGINT), sent once its listener has closed: subscribe again, and a balancer sends the client to another instance; with the last message\'s cursor nothing is missed. WebSocket connections are closed with 1001 (going away).',
  },
  TOKEN_EXPIRED: {
    status: undefined,
    message: 'The access token this subscription was opened with has expired; subscribe again with a fresh token (and the cursor of the last event, to miss nothing).',
    description: 'The last message of a subscription opened with a bearer token, sent when the token\'s `exp` passes: a subscription never outlives its credentials. Subscribe again with a fresh token and the last message\'s cursor. (API keys do not expire.)',
  },
  OVERLOADED: {
    status: 503,
    message: 'This instance is answering as many requests as it can; retry in a second.',
    description: 'The instance is answering as many requests as it takes now (`MAX_IN_FLIGHT`, or fewer while its CPU is saturated: `MAX_QUEUE_MS`), or holds as many single-connection event streams as it takes (`MAX_EVENT_STREAMS`, 10,000); refused at once rather than queued (`Retry-After: 1`), so a balancer can send it elsewhere.',
  },
  PERSISTED_DOCUMENT_REQUIRED: {
    status: 400,
    message: 'Only persisted documents are accepted from this caller: send extensions.persistedQuery.sha256Hash.',
    description: 'With `PERSISTED_DOCUMENTS_FILE` set, browsers (users and anonymous callers) may only send the hash of a listed document (`extensions.persistedQuery.sha256Hash`); services and developers may send any document.',
  },
  PERSISTED_DOCUMENT_NOT_FOUND: {
    status: 400,
    message: 'No persisted document has this hash.',
    description: 'No document in `PERSISTED_DOCUMENTS_FILE` has the hash sent.',
  },
  SOURCE_REJECTED: {
    status: undefined,
    message: '{the backend\'s own message}',
    description:
      'A backend refused the request as invalid (HTTP 4xx, a SOAP Client or Sender fault whatever its HTTP status, a validation error). `extensions.source` names the backend, `extensions.upstreamCode` gives its own code. The message is the backend\'s; in production only its first line, at most 200 characters. Such a refusal is never retried and never counts against the backend\'s circuit breaker.',
  },
  SOURCE_ERROR: {
    status: undefined,
    message: 'The {source} service failed to answer {operation}.',
    description:
      'A backend failed (HTTP 5xx, a SOAP Server fault, a GraphQL error). The fields it serves are null; the rest of the query still answers.',
  },
  SOURCE_UNAVAILABLE: {
    status: undefined,
    message: 'The {source} service could not be reached.',
    description: 'A backend could not be reached (connection refused or reset).',
  },
  SOURCE_TIMEOUT: {
    status: undefined,
    message: 'The {source} service did not answer in time.',
    description: 'A backend did not answer completely within its timeout (`UPSTREAM_TIMEOUT_MS`).',
  },
  SOURCE_RATE_LIMITED: {
    status: undefined,
    message: 'The {source} service is at its rate limit; retry in {retryAfter} s.',
    description:
      'A backend\'s rate limit: it answered 429, or the quota configured for it (`<SOURCE>_MAX_CALLS_PER_SEC`) is used up for now. Junction does not call it again before `extensions.retryAfter` seconds.',
  },
  SOURCE_BAD_RESPONSE: {
    status: undefined,
    message: 'The {source} service sent an unreadable answer.',
    description: 'A backend answered with something unreadable: wrong format, an XML DOCTYPE, or a body over `UPSTREAM_MAX_RESPONSE_BYTES`.',
  },
  WEBHOOK_SIGNATURE_INVALID: {
    status: 401,
    message: 'The delivery\'s signature does not verify.',
    description: 'A webhook delivery whose signature is missing, malformed, stale (outside the scheme\'s tolerance, 300 s by default), made with no configured secret, or (PayPal) checked against a certificate that is not PayPal\'s. `extensions.reason` says which (`missing`, `malformed`, `stale`, `mismatch`, `unsupported`, `untrusted`). Nothing is published; the refusal is counted.',
  },
  WEBHOOK_PAYLOAD_INVALID: {
    status: 400,
    message: 'The delivery has no event id ({fields}).',
    description: 'A webhook delivery whose signature verified but whose body is neither JSON nor a form, or carries no event id where its endpoint says it is. Nothing is published.',
  },
  WEBHOOK_IN_PROGRESS: {
    status: 409,
    message: 'Another delivery of this event is being taken; retry later.',
    description: 'A verified webhook delivery of an event another delivery is being kept for right now (a provider sending it twice at once): not acknowledged (`Retry-After: 1`), so the provider retries; once the event is kept, a retry is acknowledged as a duplicate. Nothing is published twice.',
  },
  WEBHOOK_UNAVAILABLE: {
    status: 503,
    message: 'The delivery could not be kept; retry later.',
    description: 'A verified webhook delivery that could not be kept (Redis unreachable, `Retry-After: 5`), or a PayPal delivery whose signing certificate could not be fetched (`Retry-After: 60`): it is not acknowledged, so the provider retries it. Nothing is published.',
  },
  DELIVERY_UNAUTHENTICATED: {
    status: 401,
    message: 'Deliveries are registered by services: send the service\'s API key (x-api-key) or its client-credentials token.',
    description: 'A call to `/deliveries` without credentials. Outbound webhooks are for services: an API key (`AUTH_API_KEYS_FILE`) or a client-credentials token (`AUTH_SERVICE_AUDIENCE`). `WWW-Authenticate: Bearer`.',
  },
  DELIVERY_FORBIDDEN: {
    status: 403,
    message: 'Only a {role} may {action}; this caller is a {kind}.',
    description: 'A call to `/deliveries` by a user (a person\'s access token) without the `junction:developer` scope: only services register, list, delete and replay deliveries. Or `GET /deliveries?all=true` (every registration) by a caller without the `junction:developer` scope.',
  },
  METRICS_FORBIDDEN: {
    status: 403,
    message: 'Metrics are shown to developers (junction:developer) only, or on METRICS_PORT.',
    description: 'A request for `/metrics` on the main port by a caller without the `junction:developer` scope (an anonymous caller, a user, a service without it), loopback callers included. Prometheus scrapes `METRICS_PORT` instead, or sends a developer\'s credentials.',
  },
  STATUS_FORBIDDEN: {
    status: 403,
    message: 'The status page is shown to developers (junction:developer) only in production.',
    description: 'A request for `/status` (or `/status.json`) in production by a caller without the `junction:developer` scope (an anonymous caller, a user, a service without it), loopback callers included. In development anyone may see it.',
  },
  DELIVERY_INVALID: {
    status: 400,
    message: 'This delivery request is refused: {reason}.',
    description: 'A registration (or a replay) Junction cannot take: `extensions.reason` is `body` (not a JSON object `{ url, query, variables?, operationName? }`, an unknown field), `parameter` (`all` other than `true` or `false`), `not_subscription` (the operation is a query or mutation) or `document` (the subscription cannot start for this service: a syntax or validation error, a field it lacks the scopes for, over its cost or subscription budget; `extensions.errors` lists what a subscription of it would have been told). Nothing is registered.',
  },
  DELIVERY_URL_REFUSED: {
    status: 400,
    message: 'Junction does not post to this URL: {reason}.',
    description: 'The endpoint of a registration is one Junction does not post to: `extensions.reason` is `malformed`, `too_long` (over 2,048 characters), `scheme` (not http or https), `credentials` (a user or password in the URL), `https_required` (http in production), `unresolvable`, or `private_address` (the host resolves to a loopback, private, link-local, shared, multicast or reserved address) unless `DELIVERY_ALLOWED_HOSTS` names the host. The same checks run again before every delivery.',
  },
  DELIVERY_LIMIT: {
    status: 409,
    message: 'This service has {n} delivery registrations, the most it may (MAX_DELIVERIES_PER_SERVICE); delete one first.',
    description: 'A service holds `MAX_DELIVERIES_PER_SERVICE` (20) registrations already, across every instance; `extensions.limit` gives it. Delete one first.',
  },
  DELIVERY_NOT_FOUND: {
    status: 404,
    message: 'No delivery registration {id} belongs to this caller.',
    description: 'No registration with this id belongs to the calling service (another service\'s registration is answered the same way, so its existence is not revealed; a developer deleting one: no registration has this id), or the path is not one of `/deliveries`, `/deliveries/{id}`, `/deliveries/{id}/replay`.',
  },
  DELIVERY_UNAVAILABLE: {
    status: 503,
    message: 'The delivery registrations cannot be read or kept now; retry later.',
    description: 'The store of registrations (Redis) could not be reached: nothing was changed (`Retry-After: 5`).',
  },
  STREAM_NOT_FOUND: {
    status: 404,
    message: 'No event stream with this token belongs to this caller: reserve one with PUT /graphql/stream.',
    description: 'A request of GraphQL over SSE\'s single connection mode (`/graphql/stream` with `x-graphql-event-stream-token` or `?token=`) whose token names no stream of this caller: never reserved, not connected within `STREAM_RESERVATION_MS` (30 s), already closed (its connection ended), or reserved by another caller (answered the same way, so that its existence is not revealed). Reserve another with `PUT /graphql/stream`.',
  },
  STREAM_CONFLICT: {
    status: 409,
    message: 'This event stream already {has its connection: a reservation takes one | runs an operation "{operationId}"}.',
    description: 'A second connection to a single-connection reservation (one connection per reservation), or an operation whose `extensions.operationId` is already running on its stream. Nothing starts.',
  },
  STREAM_LIMIT: {
    status: 409,
    message: 'This caller holds {n} event streams on this instance, the most it may (MAX_SUBSCRIPTIONS_PER_CALLER); close one first.',
    description: 'A single-connection reservation (`PUT /graphql/stream`) over the caller\'s budget of streams, reserved or connected, on one instance (`MAX_SUBSCRIPTIONS_PER_CALLER`, 20; anonymous callers: per address). `extensions.limit` gives it. Close one first (end its connection).',
  },
  INTERNAL_SERVER_ERROR: {
    status: undefined,
    message: 'Unexpected error.',
    description:
      'Anything unexpected. Outside development the message is "Unexpected error." and `extensions.requestId` links it to the server log.',
  },
} as const satisfies Record<string, { status: number | undefined; message: string; description: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface JunctionErrorOptions {
  /** The backend involved, for upstream errors. */
  source?: string;
  /** The backend's own error code (REST `error.code`, SOAP `faultcode`, GraphQL `extensions.code`). */
  upstreamCode?: string;
  /** The argument at fault, for BAD_USER_INPUT. */
  argument?: string;
  /** Response headers that go with the error's status (WWW-Authenticate, Retry-After). */
  headers?: Record<string, string>;
  /** Anything else a client can act on, e.g. `requiredScopes`. */
  extensions?: Record<string, unknown>;
  /** The response status when this error refuses the whole request, where the catalogue gives none (RATE_LIMITED: 429). */
  status?: number;
  originalError?: Error;
}

/** The one factory for client-facing errors: every error a resolver or plugin raises comes from here. */
export function junctionError(code: ErrorCode, message: string, options: JunctionErrorOptions = {}): GraphQLError {
  const status = options.status ?? (ERROR_CATALOGUE[code] as { status: number | undefined }).status;
  const extensions: Record<string, unknown> = { code, ...options.extensions };
  if (options.source !== undefined) extensions.source = options.source;
  if (options.upstreamCode !== undefined) extensions.upstreamCode = options.upstreamCode;
  if (options.argument !== undefined) extensions.argument = options.argument;
  if (status !== undefined) extensions.http = { status, ...(options.headers ? { headers: options.headers } : {}) };
  return new GraphQLError(message, { extensions, originalError: options.originalError });
}

/**
 * The catalogue of every reason Junction refuses to start. Each is printed as
 * `Junction failed to start [CODE]: <what, where>` on stderr, every problem named at once, and the
 * process exits 1: nothing is half-served. The README's start-up table is checked against it.
 */
export const STARTUP_ERRORS = {
  CONFIG_INVALID: { exitStatus: 1, message: 'Junction failed to start [CONFIG_INVALID]: {what, where}', description: 'An environment variable has a value Junction refuses (each is named with the value received), or production lacks what it needs (an identity provider); an `embedded` module refusing its variables (a `*_PORT` that is not a port) says so with this code too.' },
  SOURCES_FILE_INVALID: { exitStatus: 1, message: 'Junction failed to start [SOURCES_FILE_INVALID]: {what, where}', description: 'The sources file (JUNCTION_CONFIG) cannot be read, an entry says what Junction does not do, or a variable it needs is not set: every problem with its place (`sources[2] (gh).handler.graphql.endpoint: {env.GITHUB_URL} is used but GITHUB_URL is not set`). Also an `additionalEnvelopPlugins` module that exports no list of plugins.' },
  DEMO_SOURCES_INCOMPLETE: { exitStatus: 1, message: 'Junction failed to start [DEMO_SOURCES_INCOMPLETE]: {what, where}', description: 'The contract (`contract:`) is served over a source the file does not name (the demo contract needs payments, maps and messaging), or the file names no source at all.' },
  SOURCE_LOAD_FAILED: { exitStatus: 1, message: 'Junction failed to start [SOURCE_LOAD_FAILED]: {what, where}', description: 'A source\'s contract (OpenAPI document, WSDL, SDL, or introspection of a GraphQL endpoint) could not be read or converted; the source and the reason are named.' },
  COMPOSITION_FAILED: { exitStatus: 1, message: 'Junction failed to start [COMPOSITION_FAILED]: {what, where}', description: 'The sources cannot be served as one schema: two define one type differently or one root field, a link names what its source does not serve, or additionalTypeDefs do not fit.' },
  CONTRACT_MISMATCH: { exitStatus: 1, message: 'Junction failed to start [CONTRACT_MISMATCH]: {what, where}', description: 'The contract no longer matches the specs of the sources it is served over (a type or field it maps onto is gone), or its module cannot be loaded or exports no contract.' },
  MESH_BUILD_MISSING: { exitStatus: 1, message: 'Junction failed to start [MESH_BUILD_MISSING]: {what, where}', description: 'GraphQL Mesh\'s build output (`.mesh/`) is missing where the contract is checked offline (the tests, tools): run `npm run build:mesh` (npm start and npm test run it). The gateway itself loads each spec when it starts.' },
} as const;

export type StartupCode = keyof typeof STARTUP_ERRORS;
