import { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { describeCharacter, UnsendableValueError, UpstreamError } from './upstream-error.ts';
import type { SourceResilience } from './resilience.ts';

/** Options every source client takes. */
export interface SourceClientOptions {
  /** Base URL of the backend, e.g. http://127.0.0.1:4101. */
  url: string;
  /** Time allowed for one upstream call, headers and whole body, in milliseconds. Default 5000. */
  timeoutMs?: number;
  /** Largest upstream response body read, in bytes; a larger one is a `bad_response`. Default 5 MiB. */
  maxResponseBytes?: number;
  /** Injected fetch (tests, instrumentation). When given, calls go through it instead of `dispatcher`. */
  fetch?: typeof globalThis.fetch;
  /**
   * The client's keep-alive connection pool (an undici Agent). Without it (and without `fetch`),
   * calls go through the global fetch, which pools too but costs more CPU per call.
   */
  dispatcher?: Dispatcher;
  /**
   * Reads in flight, by request: an identical read (same method, URL, body and headers, so the
   * same credentials) made while one is in flight waits for that one instead of calling again.
   * One map per client; absent means no coalescing.
   */
  inFlight?: Map<string, Promise<UpstreamResponse>>;
  /** Sent with every call, over the call's own: the gateway's credentials for this backend. */
  headers?: Record<string, string>;
  /**
   * Waits for room in the provider's quota before a call goes out (shared by every instance), or
   * rejects with a `throttled` UpstreamError when there is none soon.
   */
  quota?: (operation: string) => Promise<void>;
  /**
   * Until when (ms since the epoch) the backend asked not to be called, after a 429 with
   * `Retry-After`; one per client. Calls before then fail at once as `throttled`.
   */
  backoff?: { until: number };
  /** Circuit breaker and retries for this source (resilience.ts); absent: one attempt, no breaker. */
  resilience?: SourceResilience;
  /**
   * The current request's deadline (ms since the epoch), if any: a call never waits past it, and
   * the source's own timeout is cut to what is left.
   */
  deadline?: (context?: object) => number | undefined;
  /** Told about every call that reached the network or joined one in flight (debugging, metrics). */
  onCall?: (record: UpstreamCallRecord, context?: object) => void;
  /**
   * Traces (gateway/tracing/): a span per call, and the trace context the call carries to the
   * backend. Absent (tracing off): no span, and no `traceparent` is sent.
   */
  tracing?: UpstreamTracing;
}

/** Where a call's span comes from (gateway/tracing/upstream-spans.ts makes one). */
export interface UpstreamTracing {
  /**
   * Begins the span of one call, under the current request's. `joins`: the answer in flight that
   * the call shares instead of calling (single flight). Undefined: nothing to trace or send.
   */
  start(call: TracedCall, joins?: Promise<unknown>): CallSpan | undefined;
}

export interface TracedCall {
  /** The GraphQL context of the request the call is made for; absent outside requests (polls, probes). */
  context?: object;
  source: string;
  operation: string;
  method: string;
  url: string;
  batchSize?: number;
}

export interface CallSpan {
  /** Trace context for the backend (`traceparent`, `tracestate`); empty for a call that joined another. */
  readonly headers: Readonly<Record<string, string>>;
  /** Says that `pending` is this call's answer, so that calls joining it link to this span. */
  leads(pending: Promise<unknown>): void;
  /** A retry of the call is about to go out (`attempt` counts from 1). */
  retried(attempt: number, reason: string): void;
  /** The call ended: with an HTTP status, or with the error that stopped it. */
  end(status: number | undefined, error?: unknown): void;
}

export interface UpstreamCallRecord {
  source: string;
  operation: string;
  /** Keys asked for in one batch call; absent for single look-ups. */
  batchSize?: number;
  durationMs: number;
  /** True when the call joined an identical one already in flight. */
  coalesced: boolean;
  /** HTTP status, or absent when the call failed before one arrived. */
  status?: number;
  /** True when the keys were found in Junction's entity cache and no backend call was made. */
  cached?: boolean;
}

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024;

/** Response headers, read by name (case-insensitive); several values of one name come joined by ", ". */
export interface UpstreamHeaders {
  get(name: string): string | null;
}

export interface UpstreamResponse {
  status: number;
  headers: UpstreamHeaders;
  text: string;
  /**
   * True when the answer is the backend refusing this request as invalid (the call's `rejected`
   * said so), whatever its status: not a failure of the backend, so never retried or counted by
   * its breaker.
   */
  rejected?: boolean;
}

export interface UpstreamCall {
  source: string;
  operation: string;
  url: string;
  init: RequestInit;
  /**
   * The GraphQL context of the request the call is made for: its deadline, debug record and span
   * are found by it (the hooks above). Absent outside requests: probes, polls, token fetches.
   */
  context?: object;
  /**
   * The headers to send, already one record with lowercase names, made for this call alone (the
   * call may add to it): taken instead of `init.headers`, without another copy.
   */
  headers?: Record<string, string>;
  /** Keys asked for, for batch calls (reported to `onCall`). */
  batchSize?: number;
  /**
   * Whether this call only reads, so that identical ones in flight may share one answer. Default:
   * true for GET and HEAD, false otherwise (a SOAP or GraphQL read says so itself). Never set it
   * on a write: two identical writes are two writes.
   */
  read?: boolean;
  /**
   * Tells a refusal of the request from a failure of the backend, for answers whose status cannot:
   * a SOAP Client fault comes with HTTP 500, as a Server fault does. Asked of answers of 500 or
   * more only; without it, every such answer is a failure.
   */
  rejected?: (response: UpstreamResponse) => boolean;
}

/**
 * One HTTP call to a backend, read to the end under one deadline and one size cap.
 * Network failures, timeouts and oversized bodies become `UpstreamError`s; HTTP error statuses
 * are returned, because only the source's client knows how its backend reports errors.
 */
export async function callUpstream(given: UpstreamCall, options: SourceClientOptions): Promise<UpstreamResponse> {
  const started = performance.now();
  // Worked out once here; the single-flight key, the retry decision and the transport all read them.
  const method = (given.init.method ?? 'GET').toUpperCase();
  const call: PreparedCall = {
    ...given,
    method,
    headers: given.headers
      ? (options.headers ? Object.assign(given.headers, options.headers) : given.headers)
      : { ...headerRecord(given.init.headers), ...options.headers },
    read: given.read ?? (method === 'GET' || method === 'HEAD'),
  };
  checkHeaderValues(call.headers);
  const key = call.read && options.inFlight ? coalescingKey(call) : undefined;
  const shared = key === undefined ? undefined : options.inFlight!.get(key);
  // After the coalescing key: each request's trace context differs, and must not keep identical
  // reads of two requests from sharing one call.
  const span = options.tracing?.start(call, shared);
  if (span && !shared) Object.assign(call.headers, span.headers);
  const pending = shared ?? guarded(call, options, span);
  if (span && !shared) span.leads(pending);
  if (key !== undefined && !shared) {
    options.inFlight!.set(key, pending);
    // Forget it once settled: single flight shares answers in flight, it is not a cache.
    void pending.then(() => options.inFlight!.delete(key), () => options.inFlight!.delete(key));
  }
  const report = (status?: number, error?: unknown) => {
    span?.end(status, error);
    options.onCall?.({
      source: call.source,
      operation: call.operation,
      ...(call.batchSize !== undefined ? { batchSize: call.batchSize } : {}),
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      coalesced: shared !== undefined,
      ...(status !== undefined ? { status } : {}),
    }, call.context);
  };
  try {
    const response = await pending;
    report(response.status);
    return response;
  } catch (err) {
    report(err instanceof UpstreamError ? err.status : undefined, err);
    throw err;
  }
}

/** A call with its method, headers (the client's credentials included) and read-only-ness settled. */
interface PreparedCall extends UpstreamCall {
  method: string;
  /** Lowercase names. */
  headers: Record<string, string>;
  read: boolean;
}

/**
 * Method, URL (with its length: a source that sends values unencoded could put a line break in
 * it), headers sorted by name, one per line, and the body last. Unambiguous: header names are
 * tokens, values hold no CR or LF (checked before this), and the body may hold anything.
 */
function coalescingKey(call: PreparedCall): string {
  const names = Object.keys(call.headers).sort();
  let key = `${call.method} ${call.url.length}:${call.url}\n`;
  for (const name of names) key += `${name}:${call.headers[name]}\n`;
  return `${key}\n${typeof call.init.body === 'string' ? call.init.body : ''}`;
}

/**
 * Request headers as one record with lowercase names, whatever form `RequestInit` gave them in
 * (a record, pairs or a Headers), repeated names joined by ", " as Headers would. A plain record
 * rather than a WHATWG Headers: the gateway makes several upstream calls per client request, and
 * a Headers object per call was a measurable share of its allocations.
 */
export function headerRecord(init: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    out[key] = out[key] === undefined ? value : `${out[key]}, ${value}`;
  };
  if (init === undefined) return out;
  if (init instanceof Headers || Array.isArray(init)) for (const [name, value] of init) add(name, value);
  else for (const name of Object.keys(init)) add(name, init[name]!);
  return out;
}

/** What a header value may hold (RFC 9110 field-value, as Node's HTTP client enforces it): no CR, LF or NUL. */
const NOT_HEADER_VALUE = /[^\t\u0020-\u007e\u0080-\u00ff]/;

/**
 * Refuses, before anything is sent, a header value the HTTP client would refuse (or, worse, a
 * CR LF that would split the request): it came from a caller's argument, so it is the caller's
 * error, not the backend's failure.
 */
export function assertSendableHeaders(init: HeadersInit | undefined): void {
  checkHeaderValues(headerRecord(init));
}

function checkHeaderValues(headers: Record<string, string>): void {
  for (const name of Object.keys(headers)) {
    const bad = NOT_HEADER_VALUE.exec(headers[name]!);
    if (bad) throw new UnsendableValueError(`The value sent as the ${name} header holds a character a header cannot carry (${describeCharacter(headers[name]!, bad.index)}).`);
  }
}

/**
 * One path segment of a backend URL, percent-encoded so that it stays one segment whatever it
 * holds (`/`, `?`, `#`). `.`, `..` and the empty string cannot be one segment in any encoding
 * (URL parsers resolve `%2E%2E` as `..`), and text with a lone surrogate cannot be encoded: both
 * are refused.
 */
export function pathSegment(value: string): string {
  if (value === '' || value === '.' || value === '..') throw new UnsendableValueError(`${JSON.stringify(value)} cannot be sent as one segment of a URL path.`);
  try {
    return encodeURIComponent(value);
  } catch {
    throw new UnsendableValueError('The value holds a lone UTF-16 surrogate, which cannot be sent in a URL.');
  }
}

/**
 * A call as the provider wants it: not before the time its last 429 named, and within its quota.
 * A 429 is turned into `throttled` here, for every kind of source alike.
 */
async function guarded(call: PreparedCall, options: SourceClientOptions, span?: CallSpan): Promise<UpstreamResponse> {
  const { source, operation } = call;
  const wait = options.backoff ? options.backoff.until - Date.now() : 0;
  if (wait > 0) {
    throw new UpstreamError(`${source} asked not to be called for ${Math.ceil(wait / 1000)} s more`, {
      source, operation, failure: 'throttled', retryAfterSec: Math.ceil(wait / 1000),
    });
  }
  await options.quota?.(operation);
  const deadline = options.deadline?.(call.context);
  // Safe to repeat: reads, and writes the backend de-duplicates by their idempotency key.
  const retryable = call.read || call.headers['idempotency-key'] !== undefined;
  const attempt = () => send(call, options, deadline);
  // Readiness probes go straight through: they must see the backend itself, not its breaker.
  const response = options.resilience && operation !== 'probe'
    ? await options.resilience.run(attempt, { retryable, operation, ...(deadline !== undefined ? { deadline } : {}), ...(span ? { onRetry: (tries: number, reason: string) => span.retried(tries, reason) } : {}) })
    : await attempt();
  if (response.status === 429) {
    const retryAfterSec = retryAfterSeconds(response.headers.get('retry-after')) ?? retryAfterInBody(response.text) ?? 1;
    if (options.backoff) options.backoff.until = Math.max(options.backoff.until, Date.now() + retryAfterSec * 1000);
    throw new UpstreamError(`${source} is rate limiting ${operation}; retry in ${retryAfterSec} s`, {
      source, operation, failure: 'throttled', status: 429, retryAfterSec,
    });
  }
  return response;
}

/**
 * Seconds to wait, from a 429's JSON body, for providers that say it there rather than in
 * `Retry-After`: `retry_after` (Discord, Slack's SDKs, many REST APIs), `retryAfter`, at the top
 * level or under `error`. Seconds; a fraction is rounded up.
 */
export function retryAfterInBody(text: string): number | undefined {
  if (text.length === 0 || text.length > 65_536 || text.trimStart()[0] !== '{') return undefined;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const nested = body.error && typeof body.error === 'object' ? (body.error as Record<string, unknown>) : {};
  for (const value of [body.retry_after, body.retryAfter, nested.retry_after, nested.retryAfter]) {
    const seconds = typeof value === 'string' ? Number(value) : value;
    if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  }
  return undefined;
}

/** `Retry-After` as seconds: a number of seconds, or an HTTP date. */
export function retryAfterSeconds(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** A response whose body has not been read yet. */
interface OpenResponse {
  status: number;
  headers: UpstreamHeaders;
  body: AsyncIterable<Uint8Array> | null;
}

type Transport = (call: PreparedCall, signal: AbortSignal) => Promise<OpenResponse>;

/**
 * undici's own request API over the client's keep-alive pool: the same HTTP client that Node's
 * fetch wraps, without the WHATWG Request/Response/stream objects that cost the gateway about a
 * fifth of its CPU on a Dashboard query (bench, node --cpu-prof).
 */
function viaUndici(dispatcher: Dispatcher): Transport {
  return async (call, signal) => {
    const response = await request(call.url, {
      dispatcher,
      method: call.method as Dispatcher.HttpMethod,
      headers: call.headers,
      body: typeof call.init.body === 'string' ? call.init.body : null,
      signal,
    });
    const raw = response.headers; // undici gives lowercase names
    const headers: UpstreamHeaders = {
      get(name) {
        const value = raw[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    };
    return { status: response.statusCode, headers, body: response.body };
  };
}

function viaFetch(doFetch: typeof globalThis.fetch): Transport {
  return async (call, signal) => {
    const response = await doFetch(call.url, { ...call.init, headers: call.headers, signal });
    return { status: response.status, headers: response.headers, body: response.body as AsyncIterable<Uint8Array> | null };
  };
}

async function send(call: PreparedCall, options: SourceClientOptions, deadline?: number): Promise<UpstreamResponse> {
  const { maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES } = options;
  const ownTimeout = options.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
  const timeoutMs = deadline === undefined ? ownTimeout : Math.max(1, Math.min(ownTimeout, deadline - Date.now()));
  const { source, operation } = call;
  const open = options.dispatcher && !options.fetch ? viaUndici(options.dispatcher) : viaFetch(options.fetch ?? globalThis.fetch);
  // One signal for headers and body, so a backend that drips its body cannot hold the call.
  const signal = AbortSignal.timeout(timeoutMs);
  let response: OpenResponse | undefined;
  try {
    response = await open(call, signal);
    const text = await readCapped(response.body, response.headers.get('content-length'), maxResponseBytes);
    const answer: UpstreamResponse = { status: response.status, headers: response.headers, text };
    // Asked of failed answers only: only there does a refusal change anything (the breaker and
    // retries), and the predicate may read the whole body.
    if (answer.status >= 500 && call.rejected?.(answer)) answer.rejected = true;
    return answer;
  } catch (cause) {
    if (cause instanceof ResponseTooLarge) {
      throw new UpstreamError(`${source} answered ${operation} with more than ${maxResponseBytes} bytes`, {
        source, operation, failure: 'bad_response', ...(response ? { status: response.status } : {}),
      });
    }
    throw networkError(cause, signal, { source, operation, timeoutMs });
  }
}

class ResponseTooLarge extends Error {}

/**
 * Reads a body to the end, refusing one over `maxBytes`, declared or streamed, without reading
 * the rest: leaving the iteration cancels a fetch stream and destroys an undici one.
 */
async function readCapped(body: AsyncIterable<Uint8Array> | null, contentLength: string | null, maxBytes: number): Promise<string> {
  if (!body) return '';
  if (Number(contentLength) > maxBytes) {
    await body[Symbol.asyncIterator]().return?.();
    throw new ResponseTooLarge();
  }
  if (body instanceof Readable) return readStream(body, maxBytes);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new ResponseTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The same for a Node stream (undici's bodies), by its events: an async iterator costs a promise
 * and an object per chunk, a measurable share of a gateway making several calls per request.
 */
function readStream(body: Readable, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > maxBytes) {
        body.destroy();
        reject(new ResponseTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    body.once('error', reject);
  });
}

function networkError(
  cause: unknown,
  signal: AbortSignal,
  { source, operation, timeoutMs }: { source: string; operation: string; timeoutMs: number },
): UpstreamError {
  if (signal.aborted) {
    return new UpstreamError(`${source} did not answer ${operation} within ${timeoutMs} ms`, {
      source, operation, failure: 'timeout', cause,
    });
  }
  return new UpstreamError(`${source} could not be reached for ${operation}`, {
    source, operation, failure: 'unreachable', cause,
  });
}
