import type { Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { Gateway } from './create-gateway.ts';
import { DEFAULT_LIMITS } from './plugins/limits/limits.ts';

/** What a client may send as `connectionParams`: its credentials, as it would send them over HTTP. */
interface ConnectionParams {
  authorization?: unknown;
  'x-api-key'?: unknown;
}

/** The connection's credentials as the headers of a request, so every plugin reads them as over HTTP. */
function requestOf(params: ConnectionParams | undefined, url: string): Request {
  const headers = new Headers({ 'content-type': 'application/json' });
  if (typeof params?.authorization === 'string') headers.set('authorization', params.authorization);
  if (typeof params?.['x-api-key'] === 'string') headers.set('x-api-key', params['x-api-key']);
  return new Request(url, { method: 'POST', headers });
}

/**
 * GraphQL over WebSocket (the graphql-transport-ws protocol, graphql-ws's) on the gateway's
 * `/graphql`, beside HTTP and Server-Sent Events. The caller is verified when the connection opens
 * (`connectionParams.authorization` or `x-api-key`, as the headers would say): credentials that do
 * not verify close it with 4403 before anything runs. Each operation then runs through the same
 * plugins as over HTTP (identity, limits, authorization per field and per event, the error
 * catalogue). Returns a function that closes every connection.
 */
export function attachWebSocket(server: Server, gateway: Pick<Gateway, 'yoga' | 'principalOf'>, options: { path?: string; maxPayloadBytes?: number } = {}): () => Promise<void> {
  const { path = '/graphql', maxPayloadBytes = DEFAULT_LIMITS.MAX_BODY_BYTES } = options;
  // A message is a request body: no larger than MAX_BODY_BYTES (ws's own default is 100 MiB).
  const wss = new WebSocketServer({ server, path, maxPayload: maxPayloadBytes });
  const { yoga } = gateway;
  const url = `http://junction.invalid${path}`;
  const requests = new WeakMap<object, Request>();
  const serverCleanup = useServer(
    {
      // The connection's request, made once: its principal is worked out once, as for one HTTP request.
      onConnect: async (ctx) => {
        const request = requestOf(ctx.connectionParams as ConnectionParams | undefined, url);
        requests.set(ctx, request);
        try {
          await gateway.principalOf(request);
          return true;
        } catch {
          return false;
        }
      },
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args as ExecutionArgs) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args as ExecutionArgs) as never,
      onSubscribe: async (ctx, _id, params) => {
        const request = requests.get(ctx)!;
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ request, params });
        let document;
        try {
          document = parse(params.query);
        } catch (err) {
          return [err as never];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
  );
  return async () => {
    await serverCleanup.dispose();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
}
