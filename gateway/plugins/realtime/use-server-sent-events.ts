import type { Plugin } from 'graphql-yoga';
import { isAsyncIterable } from '@envelop/core';
import type { ExecutionResult, GraphQLError } from 'graphql';

/**
 * GraphQL over Server-Sent Events as yoga speaks it (graphql-sse's distinct-connections mode:
 * `event: next` per message, `event: complete` at the end), with two things yoga's own writer
 * lacks: each message answering a source event carries that event's cursor as its SSE `id:`, so a
 * browser's EventSource that reconnects sends it back as `Last-Event-ID` and misses nothing; and
 * the keep-alive comment's interval is the operator's (`KEEPALIVE_MS`; yoga fixes it at 12 s); and
 * a client's leaving ends the subscription at once (yoga's noticed it at its next write).
 * Replaces yoga's writer wherever yoga chose it (the request asked for `text/event-stream`).
 */
export function useServerSentEvents(keepAliveMs: number): Plugin {
  return {
    onResultProcess({ request, resultProcessor, setResultProcessor }) {
      if (resultProcessor?.name !== 'processSSEResult') return;
      setResultProcessor((result, fetchAPI) => eventStreamResponse(result as ExecutionResult | AsyncIterable<ExecutionResult>, fetchAPI, keepAliveMs, request.signal), 'text/event-stream');
    },
  };
}

/** A message as the client receives it: errors without what is only for the gateway (`http`, `unexpected`). */
function serialize(result: ExecutionResult): string {
  const { http: _http, ...extensions } = (result.extensions ?? {}) as Record<string, unknown>;
  return JSON.stringify({
    ...result,
    ...(result.errors ? { errors: result.errors.map(publicError) } : {}),
    ...(result.extensions ? { extensions: Object.keys(extensions).length > 0 ? extensions : undefined } : {}),
  });
}

function publicError(error: GraphQLError) {
  const json = typeof error.toJSON === 'function' ? error.toJSON() : (error as unknown as Record<string, unknown>);
  const { http: _http, unexpected: _unexpected, ...extensions } = (json.extensions ?? {}) as Record<string, unknown>;
  return { ...json, extensions: Object.keys(extensions).length > 0 ? extensions : undefined };
}

function eventStreamResponse(result: ExecutionResult | AsyncIterable<ExecutionResult>, fetchAPI: { Response: typeof Response; ReadableStream: typeof ReadableStream }, keepAliveMs: number, signal: AbortSignal | undefined): Response {
  const encoder = new TextEncoder();
  // Taken now, not when the stream starts: a stream may be cancelled (or its request aborted)
  // before anything reads it, and starts only when read (whatwg-node's), and the subscription,
  // already open, must end then too.
  const iterator: AsyncIterator<ExecutionResult> = isAsyncIterable(result) ? result[Symbol.asyncIterator]() : once(result);
  let ping: NodeJS.Timeout | undefined;
  let ended = false;
  const end = async () => {
    clearInterval(ping);
    if (ended) return;
    ended = true;
    await iterator.return?.();
  };
  // A client that leaves is heard at once (its request is aborted), not only when the next write
  // to it fails: the subscription, and what it holds, ends now.
  signal?.addEventListener('abort', () => void end(), { once: true });
  const stream = new fetchAPI.ReadableStream<Uint8Array>({
    start(controller) {
      // A first comment at once: some clients wait for a byte before they call the stream open.
      controller.enqueue(encoder.encode(':\n\n'));
      if (ended) return;
      ping = setInterval(() => {
        // null: errored or closed (stop); 0: the client is not reading (skip this ping).
        if (controller.desiredSize === null) clearInterval(ping);
        else if (controller.desiredSize > 0) controller.enqueue(encoder.encode(':\n\n'));
      }, keepAliveMs);
    },
    async pull(controller) {
      let step: IteratorResult<ExecutionResult>;
      try {
        step = await iterator.next();
      } catch (err) {
        clearInterval(ping);
        controller.error(err);
        return;
      }
      if (step.value != null) {
        const cursor = (step.value.extensions as { cursor?: unknown } | undefined)?.cursor;
        const id = typeof cursor === 'string' ? `id: ${cursor}\n` : '';
        controller.enqueue(encoder.encode(`${id}event: next\ndata: ${serialize(step.value)}\n\n`));
      }
      if (step.done) {
        clearInterval(ping);
        controller.enqueue(encoder.encode('event: complete\ndata:\n\n'));
        controller.close();
      }
    },
    cancel: end,
  });
  return new fetchAPI.Response(stream, {
    status: 200,
    headers: { 'content-type': 'text/event-stream', connection: 'keep-alive', 'cache-control': 'no-cache', 'content-encoding': 'none' },
  });
}

function once(result: ExecutionResult): AsyncIterator<ExecutionResult> {
  let given = false;
  return {
    async next() {
      if (given) return { done: true, value: undefined };
      given = true;
      return { done: false, value: result };
    },
  };
}
