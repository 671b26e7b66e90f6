import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { TOKEN_HEADER_KEY, TOKEN_QUERY_KEY } from 'graphql-sse';
import type { Logger } from 'pino';
import type { Principal } from '../../../schema/principal.ts';
import type { Gateway } from '../../create-gateway.ts';
import { errorResponse, junctionError } from '../../errors.ts';
import { limitIdentity } from '../limits/rate-limits.ts';
import { relay } from './relay.ts';
import { createEventStreams, type EventStream, type EventStreamsOptions } from './single-connection-streams.ts';

/** Where graphql-sse's clients connect: both of its modes are served here. */
export const EVENT_STREAM_PATH = '/graphql/stream';
/** Longest `extensions.operationId`, in characters (graphql-sse's client sends a UUID). */
const MAX_OPERATION_ID_LENGTH = 128;

export interface SseSingleConnectionOptions extends Omit<EventStreamsOptions, 'logger'> {
  /** The gateway's yoga, once it exists: every operation goes through it. */
  yoga: () => Pick<Gateway['yoga'], 'fetch'>;
  /** The gateway's own: who sent a request, verified; refuses credentials that do not verify. */
  principalOf: (request: Request) => Promise<Principal>;
  /** Each request's id (useRequestId's), handed on to the operations it relays, so that their log lines carry it. */
  requestIds: WeakMap<Request, string>;
  /** Proxies whose `x-forwarded-for` names an anonymous caller's address (TRUSTED_PROXIES). */
  trustedProxies: ReadonlySet<string>;
  logger: Logger;
  /** Default EVENT_STREAM_PATH. */
  path?: string;
  /** Where the pipeline takes GraphQL requests. Default `/graphql`. */
  graphqlPath?: string;
}

/** What an operation's request carries to this plugin's hook inside the pipeline. */
interface OperationSlot {
  stream: EventStream;
  id?: string;
}

/** The server-context key under which a relayed operation's slot travels (no client can set it). */
const OPERATION = Symbol('event stream operation');

type RequestPayload = Parameters<NonNullable<Plugin['onRequest']>>[0];

/**
 * GraphQL over Server-Sent Events in graphql-sse's single connection mode, on EVENT_STREAM_PATH:
 *
 *   PUT    /graphql/stream                                      201, a token (text/plain): a reservation
 *   GET    /graphql/stream  token, Accept: text/event-stream    the stream of every operation's messages
 *   POST   /graphql/stream  token, extensions.operationId       202: its messages follow on the stream
 *   DELETE /graphql/stream?operationId=<id>  token              200: that operation stops
 *
 * The token goes in `x-graphql-event-stream-token` or `?token=`; a POST asking for
 * `text/event-stream` connects too, and a GET with the parameters of GraphQL over HTTP is an
 * operation. Without a token, a GET or POST is graphql-sse's distinct-connections mode, answered
 * as on `/graphql`.
 *
 * - A reservation is its caller's (the principal verified on the PUT, kind and id): the stream's
 *   connection, each operation and each DELETE must come with credentials of that principal; any
 *   other caller is told that no such stream exists (STREAM_NOT_FOUND), as for a token that never
 *   was. One connection per reservation; not connected within its time, it is gone
 *   (single-connection-streams.ts). A caller holds at most `maxPerCaller` streams on an instance.
 * - Each operation is sent through the gateway's whole HTTP pipeline as a request of its caller
 *   from its address (relay.ts), as WebSocket operations are: rate limits count it, and every
 *   other guard holds. What the pipeline refuses (a 429, a 401, a 400, a document that does not
 *   validate) answers the POST itself, as GraphQL over HTTP says; only what it took streams.
 *
 * State lives in this instance: a stream and its operations must reach the same instance.
 */
export function useSseSingleConnection(options: SseSingleConnectionOptions): Plugin {
  const { yoga, principalOf, requestIds, trustedProxies, logger, path = EVENT_STREAM_PATH, graphqlPath = '/graphql' } = options;
  const streams = createEventStreams(options);

  const refuse = (payload: RequestPayload, error: GraphQLError) => payload.endResponse(errorResponse(payload.fetchAPI, error, 400));
  const notFound = () => junctionError('STREAM_NOT_FOUND', `No event stream with this token belongs to this caller: reserve one with PUT ${path}.`);
  const ownerOf = (principal: Principal) => `${principal.kind}:${principal.id}`;
  const remoteOf = (payload: RequestPayload) =>
    (payload.serverContext as { req?: { socket?: { remoteAddress?: string } } } | undefined)?.req?.socket?.remoteAddress;

  /** The verified caller, or undefined when its credentials were refused (and answered). */
  const callerOf = async (payload: RequestPayload): Promise<Principal | undefined> => {
    try {
      return await principalOf(payload.request);
    } catch (err) {
      if (!(err instanceof GraphQLError)) throw err;
      refuse(payload, err);
      return undefined;
    }
  };
  /** The caller's stream named by the request's token, or undefined (and the refusal answered). */
  const ownStream = async (payload: RequestPayload, token: string): Promise<EventStream | undefined> => {
    const caller = await callerOf(payload);
    if (!caller) return undefined;
    const stream = streams.find(token, ownerOf(caller));
    if (!stream) refuse(payload, notFound());
    return stream;
  };

  const reserve = async (payload: RequestPayload) => {
    const caller = await callerOf(payload);
    if (!caller) return;
    const reserved = streams.reserve(ownerOf(caller), limitIdentity(caller, payload.request, remoteOf(payload), trustedProxies));
    if ('refused' in reserved) {
      return refuse(payload, reserved.refused === 'caller'
        ? junctionError('STREAM_LIMIT', `This caller holds ${reserved.held} event streams on this instance, the most it may (MAX_SUBSCRIPTIONS_PER_CALLER); close one first.`, { extensions: { limit: options.maxPerCaller } })
        : junctionError('OVERLOADED', 'This instance is answering as many requests as it can; retry in a second.', { headers: { 'retry-after': '1' } }));
    }
    payload.endResponse(new payload.fetchAPI.Response(reserved.token, { status: 201, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } }));
  };

  const connect = async (payload: RequestPayload, token: string) => {
    const stream = await ownStream(payload, token);
    if (!stream) return;
    if (stream.state !== 'reserved') return refuse(payload, junctionError('STREAM_CONFLICT', 'This event stream already has its connection: a reservation takes one.'));
    const body = streams.connect(stream, payload.fetchAPI.ReadableStream, payload.request.signal);
    payload.endResponse(new payload.fetchAPI.Response(body, {
      status: 200,
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'content-encoding': 'none' },
    }));
  };

  /** The request as the pipeline takes it on `/graphql`: without the token, with the caller's request id. */
  const forwarded = (payload: RequestPayload) => {
    const url = new URL(payload.request.url);
    url.pathname = graphqlPath;
    url.searchParams.delete(TOKEN_QUERY_KEY);
    const headers = new Headers(payload.request.headers);
    // Hop-by-hop, the token, and the origin (whose CORS answer is the outer request's to give).
    for (const name of [TOKEN_HEADER_KEY, 'origin', 'connection', 'keep-alive', 'transfer-encoding', 'host']) headers.delete(name);
    headers.set('x-request-id', requestIds.get(payload.request)!);
    return { url: url.toString(), headers, body: payload.request.method === 'POST' ? payload.request.body as ReadableStream<Uint8Array> | null : null };
  };

  const operate = async (payload: RequestPayload, token: string) => {
    const stream = await ownStream(payload, token);
    if (!stream) return;
    const slot: OperationSlot = { stream };
    const results = relay(yoga(), {
      ...forwarded(payload),
      method: payload.request.method as 'GET' | 'POST',
      remoteAddress: remoteOf(payload),
      accept: 'application/graphql-response+json',
      serverContext: { [OPERATION]: slot },
    });
    const refusal = await results.refusal;
    if (refusal) {
      if (slot.id !== undefined) streams.release(stream, slot.id);
      void results.return();
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'retry-after', 'www-authenticate', 'allow']) {
        const value = refusal.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      return payload.endResponse(new payload.fetchAPI.Response(refusal.body, { status: refusal.status, headers }));
    }
    // 204: stopped (DELETE), or its stream closed, while the pipeline was starting it.
    const started = slot.id !== undefined && streams.start(stream, slot.id, results);
    payload.endResponse(new payload.fetchAPI.Response(null, { status: started ? 202 : 204 }));
  };

  const stop = async (payload: RequestPayload, token: string) => {
    const stream = await ownStream(payload, token);
    if (!stream) return;
    const id = new URL(payload.request.url).searchParams.get('operationId');
    if (!id) return refuse(payload, junctionError('BAD_REQUEST', `Name the operation to stop: DELETE ${path}?operationId=<id>.`));
    await streams.stop(stream, id);
    payload.endResponse(new payload.fetchAPI.Response(null, { status: 200 }));
  };

  /** A request on the stream's path, by method, token and what it accepts. */
  const answer = async (payload: RequestPayload) => {
    const { request } = payload;
    const token = request.headers.get(TOKEN_HEADER_KEY) ?? new URL(request.url).searchParams.get(TOKEN_QUERY_KEY);
    if (request.method === 'PUT') return reserve(payload);
    if (request.method !== 'GET' && request.method !== 'POST' && request.method !== 'DELETE') {
      return refuse(payload, junctionError('METHOD_NOT_ALLOWED', `GraphQL requests are GET or POST; this one is ${request.method}.`, { headers: { allow: 'GET, POST, PUT, DELETE' } }));
    }
    if (token === null) {
      if (request.method === 'DELETE') return refuse(payload, notFound());
      // graphql-sse's distinct-connections mode: the request as on /graphql, its answer as it is.
      const { url, headers, body } = forwarded(payload);
      return payload.endResponse(await yoga().fetch(
        new Request(url, { method: request.method, headers, body, signal: request.signal, ...(body ? { duplex: 'half' } : {}) } as RequestInit),
        payload.serverContext as Record<string, unknown>,
      ));
    }
    if (request.method === 'DELETE') return stop(payload, token);
    const accept = (request.headers.get('accept') ?? '').split(',')[0]!.split(';')[0]!.trim().toLowerCase();
    return accept === 'text/event-stream' ? connect(payload, token) : operate(payload, token);
  };

  return {
    async onRequest(payload) {
      const { request } = payload;
      if (new URL(request.url).pathname !== path || request.method === 'OPTIONS') return;
      try {
        await answer(payload);
      } catch (err) {
        // Anything no refusal above covers is masked, as everywhere, and logged with the request's id.
        const requestId = requestIds.get(request);
        logger.error({ err, requestId }, 'event stream: a request failed');
        refuse(payload, junctionError('INTERNAL_SERVER_ERROR', 'Unexpected error.', { status: 500, extensions: { requestId } }));
      }
    },
    // An operation's id is read from its parameters as the pipeline's reader parsed them, and
    // claimed on its stream, before anything runs.
    onRequestParse({ serverContext }) {
      const slot = (serverContext as Record<PropertyKey, unknown> | undefined)?.[OPERATION] as OperationSlot | undefined;
      if (!slot) return;
      return {
        onRequestParseDone({ requestParserResult }) {
          if (Array.isArray(requestParserResult)) throw junctionError('BAD_REQUEST', 'An operation on an event stream is one request: send one operation, not a batch.');
          const id = (requestParserResult.extensions as { operationId?: unknown } | undefined)?.operationId;
          if (typeof id !== 'string' || id === '' || id.length > MAX_OPERATION_ID_LENGTH) {
            throw junctionError('BAD_REQUEST', `"extensions.operationId" must be a string of 1 to ${MAX_OPERATION_ID_LENGTH} characters: it names the operation's messages on the stream.`);
          }
          if (slot.stream.state === 'closed') throw notFound();
          if (!streams.claim(slot.stream, id)) throw junctionError('STREAM_CONFLICT', `This event stream already runs an operation ${JSON.stringify(id)}.`);
          slot.id = id;
        },
      };
    },
    // A preflight for the stream's path lets an allowed origin (CORS_ORIGINS) reserve and stop too.
    onResponse({ request, response }) {
      if (request.method === 'OPTIONS' && response.headers.has('access-control-allow-methods') && new URL(request.url).pathname === path) {
        response.headers.set('access-control-allow-methods', 'GET, POST, PUT, DELETE');
      }
    },
  };
}
