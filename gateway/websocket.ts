import type { IncomingMessage, Server } from 'node:http';
import { parse, type ExecutionArgs, type ExecutionResult, type FormattedExecutionResult } from 'graphql';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { Gateway } from './create-gateway.ts';
import { DEFAULT_LIMITS } from './plugins/limits/limits.ts';
import { relay } from './plugins/realtime/relay.ts';

/** What a client may send as `connectionParams`: its credentials, as it would send them over HTTP. */
interface ConnectionParams {
  authorization?: unknown;
  'x-api-key'?: unknown;
}

/** The connection's credentials as request headers, so every plugin reads them as over HTTP. */
function credentialsOf(params: ConnectionParams | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (typeof params?.authorization === 'string') headers.authorization = params.authorization;
  if (typeof params?.['x-api-key'] === 'string') headers['x-api-key'] = params['x-api-key'];
  return headers;
}

export interface WebSocketOptions {
  path?: string;
  /** Largest message, in bytes (MAX_BODY_BYTES: a message is a request body). */
  maxPayloadBytes?: number;
  /** Ping interval (KEEPALIVE_MS); a connection that has not answered the previous ping is closed. */
  keepAliveMs?: number;
  /** Browser origins besides the gateway's own that may open a connection (CORS_ORIGINS; `*`: any). */
  allowedOrigins?: readonly string[];
}

/** What one connection keeps: the credentials it opened with, and where it comes from. */
interface Connection {
  headers: Record<string, string>;
  remoteAddress: string | undefined;
}

/**
 * The upgrade request's `x-forwarded-for`, passed on with each operation: behind a trusted proxy
 * (TRUSTED_PROXIES) it tells anonymous clients apart, as over HTTP, where every connection's own
 * address is the proxy's and all of them would share one rate limit. Trusted only from a trusted
 * proxy, as over HTTP (rate-limits.ts).
 */
function forwardedOf(request: IncomingMessage | undefined): Record<string, string> {
  const value = request?.headers['x-forwarded-for'];
  const text = Array.isArray(value) ? value.join(', ') : value;
  return text ? { 'x-forwarded-for': text } : {};
}

/**
 * graphql-ws needs a document to tell a subscription from a query before it hands the operation
 * over; every operation goes to `relay`, which sends the client's own through the HTTP pipeline.
 */
const RELAYED = parse('subscription { relayed }');

/**
 * GraphQL over WebSocket (the graphql-transport-ws protocol, graphql-ws's) on the gateway's
 * `/graphql`, beside HTTP and Server-Sent Events.
 *
 * - A browser page of a foreign origin cannot open a connection (the gateway's own origin and
 *   CORS_ORIGINS can): a WebSocket is not covered by CORS, and a page must not reach the gateway
 *   with the credentials its user's browser would add.
 * - The caller is verified when the connection opens (`connectionParams.authorization` or
 *   `x-api-key`, as the headers would say): credentials that do not verify close it with 4403.
 * - Each operation is then sent through the gateway's whole HTTP pipeline as a request of this
 *   caller, from this address: the same guards hold as over HTTP (rate limits, persisted documents,
 *   shedding, size and shape limits, authorization per field and per event, the error catalogue),
 *   and a token that has expired since the connection opened is refused.
 * - Pings every `keepAliveMs`; a connection that misses one is terminated.
 * Returns a function that closes every connection.
 */
export function attachWebSocket(server: Server, served: Pick<Gateway, 'yoga' | 'principalOf'> | (() => Pick<Gateway, 'yoga' | 'principalOf'>), options: WebSocketOptions = {}): () => Promise<void> {
  // A function: the gateway serving now, which a reload replaces (each operation goes to the one
  // serving when it starts; a connection outlives reloads).
  const current = typeof served === 'function' ? served : () => served;
  const { path = '/graphql', maxPayloadBytes = DEFAULT_LIMITS.MAX_BODY_BYTES, keepAliveMs = DEFAULT_LIMITS.KEEPALIVE_MS, allowedOrigins = [] } = options;
  const wss = new WebSocketServer({
    server,
    path,
    // A message is a request body: no larger than MAX_BODY_BYTES (ws's own default is 100 MiB).
    maxPayload: maxPayloadBytes,
    verifyClient: ({ req }: { req: IncomingMessage }, answer: (ok: boolean, status?: number, message?: string) => void) =>
      originAllowed(req, allowedOrigins) ? answer(true) : answer(false, 403, 'Origin not allowed'),
  });
  const url = `http://junction.invalid${path}`;
  const connections = new WeakMap<object, Connection>();

  const alive = new WeakSet<WebSocket>();
  wss.on('connection', (socket) => {
    alive.add(socket);
    socket.on('pong', () => alive.add(socket));
  });
  const pings = setInterval(() => {
    for (const socket of wss.clients) {
      if (!alive.has(socket)) {
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, keepAliveMs);
  pings.unref();

  const serverCleanup = useServer(
    {
      onConnect: async (ctx) => {
        const { request } = ctx.extra as { request?: IncomingMessage };
        const headers = { ...forwardedOf(request), ...credentialsOf(ctx.connectionParams as ConnectionParams | undefined) };
        connections.set(ctx, { headers, remoteAddress: request?.socket.remoteAddress });
        try {
          await current().principalOf(new Request(url, { method: 'POST', headers }));
          return true;
        } catch {
          return false;
        }
      },
      onSubscribe: (ctx, _id, params) => {
        const { yoga } = current();
        return {
          schema: yoga.getEnveloped().schema,
          document: RELAYED,
          rootValue: { relay: () => relay(yoga, { url, ...connections.get(ctx)!, body: JSON.stringify(params) }) },
        };
      },
      subscribe: (args: ExecutionArgs) => (args.rootValue as { relay: () => AsyncIterableIterator<ExecutionResult> }).relay(),
      // Each message is already what the client receives (serialized by the HTTP pipeline, errors
      // formatted by the catalogue): sent as it is.
      onNext: (_ctx, _id, _params, _args, result) => result as FormattedExecutionResult,
    },
    wss,
  );
  return async () => {
    clearInterval(pings);
    await serverCleanup.dispose();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
}

/** A page's origin may open a connection when it is the gateway's own, or allowed; a client that is no browser sends none. */
function originAllowed(request: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
