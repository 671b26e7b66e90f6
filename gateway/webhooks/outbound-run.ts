import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { isAsyncIterable } from '@envelop/core';
import { ERROR_CATALOGUE, junctionError, type ErrorCode } from '../errors.ts';
import type { Principal } from '../../schema/principal.ts';
import type { SourceEvent } from '../../schema/contract.ts';
import type { Registration } from './outbound-store.ts';

/**
 * A registration's subscription, run in this process as the service that registered it, through
 * the same envelop path as a subscription over SSE or WebSocket (gateway/websocket.ts): parsed and
 * validated with the shape limits, priced by the cost limit, authorized when it starts and for
 * each event, each event's errors catalogued and masked.
 *
 * It runs as the principal verified when the service registered (kept with the registration),
 * not with credentials kept for later: a token expires within the hour and an API key must not
 * be stored where registrations are (Redis). A registration made with an API key is held to the
 * keys configured now (`runningAs`). The gateway's `principalOf` answers with that principal for
 * this request only (`actAs`), and every plugin (identity, cost, rate limits, identity forwarded
 * to first-party backends) sees the service.
 */

/** The parts of `yoga.getEnveloped(...)` a registration's subscription uses. */
export interface EnvelopedRun {
  schema: GraphQLSchema;
  parse(source: string): DocumentNode;
  validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[];
  contextFactory(): unknown;
  subscribe(args: ExecutionArgs): unknown;
}

export type Enveloped = (initial: { request: Request; params: { query: string; variables?: Record<string, unknown>; operationName?: string; extensions?: Record<string, unknown> } }) => EnvelopedRun;

export interface RunOptions {
  enveloped: Enveloped;
  /** Makes `request`'s principal, as every plugin asks for it, `principal`. */
  actAs: (request: Request, principal: Principal) => void;
}

/** The event each message answers, and how many events were handed over until then. */
export interface Handed {
  event: SourceEvent;
  count: number;
}

export type Opened =
  | { stream: AsyncIterator<ExecutionResult>; handed(): Handed | undefined }
  | { errors: GraphQLError[] }
  | { operation: 'query' | 'mutation' };

/** The principal a registration was made by: the service, with the scopes it had when it registered, and no expiry. */
export function principalFor(registration: Registration): Principal {
  const { kind, id, scopes, via } = registration.principal;
  return { kind, id, scopes: new Set(scopes), via };
}

/** Why a registration is not run: `owner_gone`, the service it was registered with an API key by has no API key any more. */
export type Suspension = 'owner_gone';

/**
 * What a registration runs as now. Made with an API key: with the scopes it had when it registered
 * that the service's API keys still grant (`serviceScopes`, the keys configured now), never more;
 * not at all when the service has no key left. Made with a client-credentials token: with the
 * scopes it had then, since the identity provider cannot be asked again without the service's
 * credentials, which are not kept.
 */
export function runningAs(registration: Registration, serviceScopes: (serviceId: string) => ReadonlySet<string> | undefined): Principal | { suspended: Suspension } {
  const registered = principalFor(registration);
  if (registration.principal.via !== 'api-key') return registered;
  const granted = serviceScopes(registration.principal.id);
  if (!granted) return { suspended: 'owner_gone' };
  return { ...registered, scopes: new Set([...registered.scopes].filter((scope) => granted.has(scope))) };
}

/** A document error with a catalogued code: its own when it has one, else the kind's. */
function coded(error: unknown, code: ErrorCode): GraphQLError {
  const given = error instanceof GraphQLError ? error.extensions?.code : undefined;
  if (typeof given === 'string' && Object.hasOwn(ERROR_CATALOGUE, given)) return error as GraphQLError;
  return junctionError(code, error instanceof Error ? error.message : String(error));
}

/**
 * Opens a registration's subscription as `principal`, resuming after `cursor` when one is given.
 * `claim` is asked about each event before it is resolved: one it refuses (another instance
 * delivers it) costs no execution. Errors mean it could not start (the same a client would be told).
 */
export async function openRun(
  { enveloped, actAs }: RunOptions,
  registration: Registration,
  principal: Principal,
  cursor: string | undefined,
  claim: (event: SourceEvent) => Promise<boolean>,
): Promise<Opened> {
  // A request no client can send: it exists in this process only, and carries no credentials.
  const request = new Request('http://junction.invalid/graphql', { method: 'POST', headers: { 'content-type': 'application/json' } });
  actAs(request, principal);
  const params = {
    query: registration.query,
    ...(registration.variables ? { variables: registration.variables } : {}),
    ...(registration.operationName ? { operationName: registration.operationName } : {}),
    ...(cursor ? { extensions: { cursor } } : {}),
  };
  const { schema, parse, validate, contextFactory, subscribe } = enveloped({ request, params });
  let document: DocumentNode;
  try {
    document = parse(registration.query);
  } catch (err) {
    return { errors: [coded(err, 'GRAPHQL_PARSE_FAILED')] };
  }
  const invalid = validate(schema, document);
  if (invalid.length > 0) return { errors: invalid.map((e) => coded(e, 'GRAPHQL_VALIDATION_FAILED')) };
  const operation = getOperationAST(document, registration.operationName);
  if (!operation) {
    return { errors: [junctionError('OPERATION_RESOLUTION_FAILURE', registration.operationName ? `The document has no operation named "${registration.operationName}".` : 'The document holds several operations: name one with operationName.')] };
  }
  if (operation.operation !== 'subscription') return { operation: operation.operation };
  let context: { subscribe?: (topic: string, accept?: (event: SourceEvent) => boolean) => AsyncIterable<SourceEvent> };
  try {
    context = (await contextFactory()) as typeof context;
  } catch (err) {
    return { errors: [coded(err, 'INTERNAL_SERVER_ERROR')] };
  }
  let handed: Handed | undefined;
  const original = context.subscribe;
  if (original) {
    // Each event is claimed before it is resolved, and remembered: the message that comes back
    // answers it (graphql-js resolves a subscription's events one at a time, in order).
    context.subscribe = (topic, accept) => claiming(original(topic, accept), async (event) => {
      if (!(await claim(event))) return false;
      handed = { event, count: (handed?.count ?? 0) + 1 };
      return true;
    });
  }
  const result = await subscribe({
    schema,
    document,
    contextValue: context,
    ...(registration.variables ? { variableValues: registration.variables } : {}),
    ...(registration.operationName ? { operationName: registration.operationName } : {}),
  });
  if (isAsyncIterable(result)) return { stream: (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator](), handed: () => handed };
  return { errors: [...((result as ExecutionResult).errors ?? [])].map((e) => coded(e, 'INTERNAL_SERVER_ERROR')) };
}

/**
 * The events of `source` that `take` accepts. `return()` goes straight to the source (an async
 * generator would queue it behind a `next()` waiting for an event that may never come).
 */
function claiming(source: AsyncIterable<SourceEvent>, take: (event: SourceEvent) => Promise<boolean>): AsyncIterableIterator<SourceEvent> {
  const inner = source[Symbol.asyncIterator]();
  return {
    async next() {
      for (;;) {
        const step = await inner.next();
        if (step.done || (await take(step.value))) return step;
      }
    },
    async return() {
      return (await inner.return?.()) ?? { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** A message as the receiver reads it: `{ data, errors?, extensions? }`, errors as GraphQL over HTTP shows them. */
export function plainResult(result: ExecutionResult): Record<string, unknown> {
  const errors = result.errors?.map((error) => {
    const { extensions = {}, ...rest } = (typeof (error as GraphQLError).toJSON === 'function' ? (error as GraphQLError).toJSON() : error) as { extensions?: Record<string, unknown> };
    // The HTTP status a refusal would give a request means nothing inside a delivered event.
    const kept = Object.fromEntries(Object.entries(extensions).filter(([key]) => key !== 'http'));
    return Object.keys(kept).length > 0 ? { ...rest, extensions: kept } : rest;
  });
  return {
    data: result.data ?? null,
    ...(errors ? { errors } : {}),
    ...(result.extensions ? { extensions: result.extensions } : {}),
  };
}
