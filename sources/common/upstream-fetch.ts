import { request, type Dispatcher } from 'undici';
import { UpstreamError } from './upstream-error.ts';

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
  /** Told about every call that reached the network or joined one in flight (debugging, metrics). */
  onCall?: (record: UpstreamCallRecord) => void;
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
}

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024;

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface UpstreamCall {
  source: string;
  operation: string;
  url: string;
  init: RequestInit;
  /** Keys asked for, for batch calls (reported to `onCall`). */
  batchSize?: number;
  /**
   * Whether this call only reads, so that identical ones in flight may share one answer. Default:
   * true for GET and HEAD, false otherwise (a SOAP or GraphQL read says so itself). Never set it
   * on a write: two identical payments are two payments.
   */
  read?: boolean;
}

/**
 * One HTTP call to a backend, read to the end under one deadline and one size cap.
 * Network failures, timeouts and oversized bodies become `UpstreamError`s; HTTP error statuses
 * are returned, because only the source's client knows how its backend reports errors.
 */
export async function callUpstream(call: UpstreamCall, options: SourceClientOptions): Promise<UpstreamResponse> {
  const started = performance.now();
  const method = (call.init.method ?? 'GET').toUpperCase();
  const read = call.read ?? (method === 'GET' || method === 'HEAD');
  const key = read && options.inFlight ? coalescingKey(method, call) : undefined;
  const shared = key === undefined ? undefined : options.inFlight!.get(key);
  const pending = shared ?? send(call, options);
  if (key !== undefined && !shared) {
    options.inFlight!.set(key, pending);
    // Forget it once settled: single flight shares answers in flight, it is not a cache.
    void pending.then(() => options.inFlight!.delete(key), () => options.inFlight!.delete(key));
  }
  const report = (status?: number) =>
    options.onCall?.({
      source: call.source,
      operation: call.operation,
      ...(call.batchSize !== undefined ? { batchSize: call.batchSize } : {}),
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      coalesced: shared !== undefined,
      ...(status !== undefined ? { status } : {}),
    });
  try {
    const response = await pending;
    report(response.status);
    return response;
  } catch (err) {
    report(err instanceof UpstreamError ? err.status : undefined);
    throw err;
  }
}

function coalescingKey(method: string, call: UpstreamCall): string {
  const headers = [...new Headers(call.init.headers)].sort(([a], [b]) => a.localeCompare(b));
  const body = typeof call.init.body === 'string' ? call.init.body : '';
  return JSON.stringify([method, call.url, headers, body]);
}

function send(call: UpstreamCall, options: SourceClientOptions): Promise<UpstreamResponse> {
  return options.dispatcher && !options.fetch ? sendWithUndici(call, options, options.dispatcher) : sendWithFetch(call, options);
}

/**
 * undici's own request API over the client's keep-alive pool: the same HTTP client that Node's
 * fetch wraps, without the WHATWG Request/Response/stream objects that cost the gateway about a
 * fifth of its CPU on a Dashboard query (bench, node --cpu-prof).
 */
async function sendWithUndici(call: UpstreamCall, options: SourceClientOptions, dispatcher: Dispatcher): Promise<UpstreamResponse> {
  const { timeoutMs = DEFAULT_UPSTREAM_TIMEOUT_MS, maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES } = options;
  const { source, operation } = call;
  const signal = AbortSignal.timeout(timeoutMs);
  let status: number | undefined;
  try {
    const response = await request(call.url, {
      dispatcher,
      method: (call.init.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: Object.fromEntries(new Headers(call.init.headers)),
      body: typeof call.init.body === 'string' ? call.init.body : null,
      signal,
    });
    status = response.statusCode;
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const declared = Number(headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxResponseBytes) {
      response.body.destroy();
      throw new ResponseTooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > maxResponseBytes) {
        response.body.destroy();
        throw new ResponseTooLarge();
      }
      chunks.push(chunk);
    }
    return { status: response.statusCode, headers, text: Buffer.concat(chunks).toString('utf8') };
  } catch (cause) {
    if (cause instanceof ResponseTooLarge) {
      throw new UpstreamError(`${source} answered ${operation} with more than ${maxResponseBytes} bytes`, {
        source, operation, failure: 'bad_response', ...(status !== undefined ? { status } : {}),
      });
    }
    throw networkError(cause, signal, { source, operation, timeoutMs });
  }
}

async function sendWithFetch(call: UpstreamCall, options: SourceClientOptions): Promise<UpstreamResponse> {
  const {
    timeoutMs = DEFAULT_UPSTREAM_TIMEOUT_MS,
    maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES,
    fetch: doFetch = globalThis.fetch,
  } = options;
  const { source, operation } = call;
  // One signal for headers and body, so a backend that drips its body cannot hold the call.
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await doFetch(call.url, { ...call.init, signal });
  } catch (cause) {
    throw networkError(cause, signal, { source, operation, timeoutMs });
  }
  let text: string;
  try {
    text = await readCapped(response, maxResponseBytes);
  } catch (cause) {
    if (cause instanceof UpstreamError) throw cause;
    if (cause instanceof ResponseTooLarge) {
      throw new UpstreamError(`${source} answered ${operation} with more than ${maxResponseBytes} bytes`, {
        source, operation, failure: 'bad_response', status: response.status,
      });
    }
    throw networkError(cause, signal, { source, operation, timeoutMs });
  }
  return { status: response.status, headers: response.headers, text };
}

class ResponseTooLarge extends Error {}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new ResponseTooLarge();
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new ResponseTooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
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

/** Joins a base URL and a path without doubling or dropping slashes. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
