import type { ExecutionResult } from 'graphql';
import type { Gateway } from '../../create-gateway.ts';

/** What a transport hands the pipeline for one operation of its caller. */
export interface RelayRequest {
  /** Where the operation goes on the gateway, with a GET's parameters: `http://<any host>/graphql?query=...`. */
  url: string;
  method?: 'GET' | 'POST';
  /** The caller's headers: its credentials, and over HTTP what else it sent (content type, forwarded addresses). */
  headers: HeadersInit;
  /** The caller's address, as the rate limits read a connection's peer. */
  remoteAddress: string | undefined;
  /** The operation as a GraphQL over HTTP body (JSON, or the caller's own bytes, read with every limit by the pipeline). */
  body?: string | ReadableStream<Uint8Array> | null;
  /**
   * What the pipeline may answer besides a stream (default `application/json`): a query's one
   * result comes as JSON; with `application/graphql-response+json` a document that does not
   * validate is a 400, a refusal, as GraphQL over HTTP says, rather than a 200 carrying its errors.
   */
  accept?: string;
  /** More of the server context, for the plugins of the transport that relayed it. */
  serverContext?: Record<PropertyKey, unknown>;
}

/** One operation's messages, as the pipeline answered them. */
export interface Relayed extends AsyncIterableIterator<ExecutionResult> {
  /**
   * Once the pipeline's answer begins: undefined when it took the operation (a stream, or a 2xx
   * with its one result), else the answer that refused it (a 429, a 401, a 400, with its status,
   * headers and body), whose errors are also this iterator's one message.
   */
  readonly refusal: Promise<Response | undefined>;
  /** Stops the operation on the gateway at once. */
  return(): Promise<IteratorResult<ExecutionResult>>;
}

/**
 * One operation of a transport's caller (a WebSocket connection, a Server-Sent Events stream in
 * single-connection mode) sent as an HTTP request of that caller to the gateway's whole pipeline
 * (`Accept: text/event-stream`: a query's answer is one message, a subscription's many), its
 * messages read back as they come. Every guard of the HTTP surface holds for it as it does for a
 * request over HTTP: rate limits, persisted documents, shedding, size, shape and cost limits,
 * authorization per field and per event, the error catalogue, cursors, and the end of a
 * subscription when its token expires.
 *
 * Its `return()` cancels the response at once (an async generator's would wait for the next
 * event): a client that stops the operation ends it on the gateway.
 */
export function relay(yoga: Pick<Gateway['yoga'], 'fetch'>, request: RelayRequest): Relayed {
  const headers = new Headers(request.headers);
  headers.set('accept', `text/event-stream, ${request.accept ?? 'application/json'}`);
  if (typeof request.body === 'string') headers.set('content-type', 'application/json');
  // Aborting the request is how the gateway hears at once that the client completed it.
  const leaving = new AbortController();
  const answer = Promise.resolve(yoga.fetch(
    new Request(request.url, {
      method: request.method ?? 'POST',
      signal: leaving.signal,
      headers,
      body: request.body ?? null,
      // A stream of the caller's bytes is sent as it arrives (Node's fetch asks to be told).
      ...(request.body && typeof request.body !== 'string' ? { duplex: 'half' } : {}),
    } as RequestInit),
    { ...request.serverContext, req: { socket: { remoteAddress: request.remoteAddress } } },
  ));
  const decoder = new TextDecoder();
  const pending: ExecutionResult[] = [];
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let reading: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  let buffer = '';
  let finished = false;
  const head = answer.then(async (response) => {
    // A refusal is small and whole: read once, for both the transport's answer and the one message.
    if (!response.ok) return { response, refused: await response.text() };
    if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream') && response.body) {
      // A stream is read from at once, one read ahead: the gateway's SSE writer opens its iterator,
      // and listens for the client leaving, only once its body is first read (whatwg-node's
      // streams start lazily), so an answer never read would stay subscribed after its operation
      // was stopped.
      reader = response.body.getReader();
      reading = reader.read();
      reading.catch(() => undefined);
    }
    return { response, refused: undefined };
  });
  return {
    refusal: head.then(({ response, refused }) => (refused === undefined ? undefined : new Response(refused, { status: response.status, headers: response.headers }))),
    async next() {
      for (;;) {
        if (pending.length > 0) return { done: false, value: pending.shift()! };
        if (finished) return { done: true, value: undefined };
        const { response, refused } = await head;
        if (!reader) {
          // One answer: a refusal before any stream began, or a query's result.
          finished = true;
          return { done: false, value: JSON.parse(refused ?? await response.text()) as ExecutionResult };
        }
        const { value, done } = await (reading ?? reader.read());
        reading = undefined;
        if (done) {
          finished = true;
          continue;
        }
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const lines = buffer.slice(0, end).split('\n');
          buffer = buffer.slice(end + 2);
          const event = lines.find((line) => line.startsWith('event:'))?.slice(6).trim();
          const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).join('\n');
          if (event === 'next' && data !== '') pending.push(JSON.parse(data) as ExecutionResult);
          if (event === 'complete') finished = true;
        }
      }
    },
    async return() {
      finished = true;
      pending.length = 0;
      leaving.abort();
      const stopped = head.then(({ response }) => (reader ? reader.cancel() : response.body?.cancel())).catch(() => undefined);
      // Left before its answer began: its stream is cancelled as soon as it exists, without waiting.
      if (reader) await stopped;
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
