import { randomBytes } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { junctionError, type ErrorCode } from '../errors.ts';
import type { Principal } from '../../schema/principal.ts';
import type { AddressGuard } from './address-guard.ts';
import type { DeliveryStore, Registration } from './outbound-store.ts';
import type { Scheduler } from './outbound-delivery.ts';
import type { Opened, Suspension } from './outbound-run.ts';
import { readBody } from './receiver.ts';
import { newSecret } from './outbound-signature.ts';
import { callerKind, DEVELOPER_SCOPE } from '../plugins/limits/limits.ts';

/** The body as text, at most `max` bytes; undefined when it is larger. */
const readText = async (request: Request, max: number) => {
  const body = await readBody(request, max);
  return body === undefined ? undefined : Buffer.from(body).toString('utf8');
};

/**
 * The HTTP API of services' deliveries (outbound.ts), a small JSON API beside GraphQL:
 *
 *   POST   /deliveries               { url, query, variables?, operationName? } -> 201 { id, secret, ... }
 *   GET    /deliveries               the caller's registrations (never their secrets)
 *   GET    /deliveries?all=true      every registration, with its owner: developers only
 *   GET    /deliveries/{id}          one, with its status (active, or suspended), recent attempts and failed events
 *   DELETE /deliveries/{id}          204 (a developer may delete any)
 *   POST   /deliveries/{id}/replay   { ids? } -> 202 { replayed, ids, missing? }
 *
 * Services call it (an API key, or a client-credentials token); each sees and manages its own
 * registrations only: another's id is answered as one that does not exist. A developer (the
 * `junction:developer` scope, user or service) is the operator: it may list every registration and
 * delete any, and nothing more of another's. Every refusal is a catalogued error,
 * `{ errors: [{ message, extensions: { code, ... } }] }`, with its status.
 */

export const DELIVERIES_PATH = '/deliveries';

/** Ids one replay may name. */
const MAX_REPLAY_IDS = 1_000;

/** What the API asks of the instance's deliveries (outbound.ts). */
export interface DeliveryRunners {
  /**
   * Opens a new registration's subscription as its service and, when it starts, keeps the
   * registration and delivers it from this instance: `added`; `limit` when its owner already
   * holds the most it may; else why the subscription did not start. Throws when the store fails.
   */
  register(registration: Registration): Promise<'added' | 'limit' | Exclude<Opened, { stream: unknown }>>;
  /** Stops delivering a registration, everywhere, and forgets it. */
  remove(registration: Registration): Promise<void>;
  /** Sends what was moved to replay now, when this instance delivers the registration. */
  replayed(id: string): Promise<void>;
  /** Events waiting for a registration on this instance. */
  pending(id: string): number;
  /** Why a registration is not run now (its service has no API key left), or undefined when it is. */
  suspension(registration: Registration): Suspension | undefined;
}

export interface DeliveriesApiOptions {
  store: DeliveryStore;
  guard: AddressGuard;
  runners: DeliveryRunners;
  /** The gateway's own: who sent a request, verified. */
  principalOf: (request: Request) => Promise<Principal>;
  /** Largest request body (MAX_BODY_BYTES). */
  maxBodyBytes: number;
  maxPerService: number;
  scheduler: Scheduler;
  logger: Logger;
  onStoreError: (err: unknown) => void;
}

type RequestPayload = Parameters<NonNullable<Plugin['onRequest']>>[0];


const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** What a registration's owner is shown of it: never its secret. */
function view(registration: Registration, suspension: Suspension | undefined) {
  const { id, url, query, variables, operationName, createdAt } = registration;
  return {
    id, url, query, ...(variables ? { variables } : {}), ...(operationName ? { operationName } : {}), createdAt: new Date(createdAt).toISOString(),
    ...(suspension ? { status: 'suspended', reason: suspension } : { status: 'active' }),
  };
}

/** What a developer is shown of anyone's registration: also who made it, how, and with which scopes; never its secret. */
function operatorView(registration: Registration, suspension: Suspension | undefined) {
  const { owner, principal: { via, scopes } } = registration;
  return { ...view(registration, suspension), owner, via, scopes };
}

export function createDeliveriesApi(options: DeliveriesApiOptions): Plugin {
  const { store, guard, runners, principalOf, maxBodyBytes, maxPerService, scheduler, logger, onStoreError } = options;

  const answer = ({ endResponse, fetchAPI }: RequestPayload, status: number, body?: unknown, headers: Record<string, string> = {}) =>
    endResponse(new fetchAPI.Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }), 'cache-control': 'no-store', ...headers },
    }));
  const refuse = (payload: RequestPayload, code: ErrorCode, message: string, extensions: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
    const error = junctionError(code, message, { extensions });
    const http = error.extensions.http as { status?: number } | undefined;
    return answer(payload, http?.status ?? 400, { errors: [{ message: error.message, extensions: { code, ...extensions } }] }, headers);
  };
  const unavailable = (payload: RequestPayload, err: unknown) => {
    onStoreError(err);
    return refuse(payload, 'DELIVERY_UNAVAILABLE', 'The delivery registrations cannot be read or kept now; retry later.', {}, { 'retry-after': '5' });
  };
  const notFound = (payload: RequestPayload, id: string) =>
    refuse(payload, 'DELIVERY_NOT_FOUND', `No delivery registration ${JSON.stringify(id.slice(0, 64))} belongs to this caller.`);

  /** The caller, verified and not anonymous, or the answer that refuses it. */
  const callerOf = async (payload: RequestPayload): Promise<Principal | undefined> => {
    let principal: Principal;
    try {
      principal = await principalOf(payload.request);
    } catch (err) {
      if (!(err instanceof GraphQLError)) throw err;
      const http = err.extensions.http as { status?: number; headers?: Record<string, string> } | undefined;
      answer(payload, http?.status ?? 401, { errors: [{ message: err.message, extensions: { code: err.extensions.code } }] }, http?.headers ?? {});
      return undefined;
    }
    if (principal.kind === 'anonymous') {
      refuse(payload, 'DELIVERY_UNAUTHENTICATED', 'Deliveries are registered by services: send the service\'s API key (x-api-key) or its client-credentials token.', {}, { 'www-authenticate': 'Bearer' });
      return undefined;
    }
    return principal;
  };
  const ownerOf = (principal: Principal) => `${principal.kind}:${principal.id}`;
  /** The caller's registration, or undefined (and the answer given). */
  const ownRegistration = async (payload: RequestPayload, caller: Principal, id: string) => {
    try {
      const registration = await store.get(id);
      if (registration && registration.owner === ownerOf(caller)) return registration;
      notFound(payload, id);
    } catch (err) {
      unavailable(payload, err);
    }
    return undefined;
  };

  const invalid = (payload: RequestPayload, reason: string, message: string, extensions: Record<string, unknown> = {}) =>
    refuse(payload, 'DELIVERY_INVALID', `This delivery request is refused: ${message}.`, { reason, ...extensions });

  const register = async (payload: RequestPayload, caller: Principal) => {
    const text = await readText(payload.request, maxBodyBytes);
    if (text === undefined) return refuse(payload, 'PAYLOAD_TOO_LARGE', `The request body is over ${maxBodyBytes} bytes (counted after decompression).`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return invalid(payload, 'body', 'the body is not JSON');
    }
    if (!isRecord(body)) return invalid(payload, 'body', 'the body must be a JSON object { url, query, variables?, operationName? }');
    const unknown = Object.keys(body).filter((key) => !['url', 'query', 'variables', 'operationName'].includes(key));
    if (unknown.length > 0) return invalid(payload, 'body', `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`);
    const { url, query, variables, operationName } = body;
    if (typeof url !== 'string' || url === '') return invalid(payload, 'body', '"url" must be the endpoint\'s URL');
    if (typeof query !== 'string' || query.trim() === '') return invalid(payload, 'body', '"query" must be a subscription document');
    if (variables !== undefined && variables !== null && !isRecord(variables)) return invalid(payload, 'body', '"variables" must be an object');
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return invalid(payload, 'body', '"operationName" must be a string');
    const destination = await guard.check(url);
    if (!destination.ok) {
      return refuse(payload, 'DELIVERY_URL_REFUSED', `Junction does not post to this URL: ${destination.message}.`, { reason: destination.reason });
    }
    const registration: Registration = {
      id: `dlv_${randomBytes(15).toString('base64url')}`,
      owner: ownerOf(caller),
      principal: { kind: 'service', id: caller.id, scopes: [...caller.scopes].sort(), via: caller.via },
      url: destination.url.href,
      query,
      ...(isRecord(variables) ? { variables } : {}),
      ...(typeof operationName === 'string' && operationName !== '' ? { operationName } : {}),
      secret: newSecret(),
      createdAt: scheduler.now(),
    };
    const overLimit = () => refuse(payload, 'DELIVERY_LIMIT', `This service has ${maxPerService} delivery registrations, the most it may (MAX_DELIVERIES_PER_SERVICE); delete one first.`, { limit: maxPerService });
    // Counted first, so that no subscription is opened for a registration that cannot be kept (the
    // store counts again as it adds).
    try {
      if ((await store.list(registration.owner)).length >= maxPerService) return overLimit();
    } catch (err) {
      return unavailable(payload, err);
    }
    let outcome: Awaited<ReturnType<DeliveryRunners['register']>>;
    try {
      outcome = await runners.register(registration);
    } catch (err) {
      return unavailable(payload, err);
    }
    if (outcome === 'limit') return overLimit();
    if (outcome === 'added') {
      logger.info({ delivery: registration.id, owner: registration.owner, host: destination.url.host }, 'delivery registered');
      return answer(payload, 201, { ...view(registration, undefined), secret: registration.secret }, { location: `${DELIVERIES_PATH}/${registration.id}` });
    }
    // The subscription did not start: refused with what a subscription of the document would have been told.
    if ('operation' in outcome) return invalid(payload, 'not_subscription', `the document's operation is a ${outcome.operation}, not a subscription`);
    const errors = outcome.errors.map((e) => ({ message: e.message, extensions: { code: e.extensions?.code } }));
    return invalid(payload, 'document', errors[0]?.message.replace(/\.$/, '') ?? 'the subscription cannot start', { errors });
  };

  const replay = async (payload: RequestPayload, registration: Registration) => {
    const text = await readText(payload.request, maxBodyBytes);
    if (text === undefined) return refuse(payload, 'PAYLOAD_TOO_LARGE', `The request body is over ${maxBodyBytes} bytes (counted after decompression).`);
    let ids: string[] | undefined;
    if (text.trim() !== '') {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return invalid(payload, 'body', 'the body is not JSON');
      }
      const given = isRecord(body) ? body.ids : undefined;
      if (!isRecord(body) || (given !== undefined && (!Array.isArray(given) || given.length > MAX_REPLAY_IDS || !given.every((id) => typeof id === 'string')))) {
        return invalid(payload, 'body', `the body must be { "ids": [...] } with at most ${MAX_REPLAY_IDS} webhook ids, or empty`);
      }
      ids = given as string[] | undefined;
    }
    try {
      const moved = await store.replay(registration.id, ids);
      // Sent by the instance delivering the registration: here at once, elsewhere at its next round.
      await runners.replayed(registration.id);
      const missing = ids?.filter((id) => !moved.some((m) => m.id === id)) ?? [];
      return answer(payload, 202, { replayed: moved.length, ids: moved.map((m) => m.id), ...(missing.length > 0 ? { missing } : {}) });
    } catch (err) {
      return unavailable(payload, err);
    }
  };

  const details = async (payload: RequestPayload, registration: Registration) => {
    try {
      const [attempts, failed] = await Promise.all([store.attempts(registration.id), store.failed(registration.id)]);
      return answer(payload, 200, {
        ...view(registration, runners.suspension(registration)),
        pending: runners.pending(registration.id),
        attempts: attempts.map((a) => ({ ...a, at: new Date(a.at).toISOString() })),
        failed: failed.map(({ body: _body, ...entry }) => ({ ...entry, failedAt: new Date(entry.failedAt).toISOString() })),
      });
    } catch (err) {
      return unavailable(payload, err);
    }
  };

  const remove = async (payload: RequestPayload, registration: Registration, caller: Principal) => {
    try {
      await runners.remove(registration);
    } catch (err) {
      return unavailable(payload, err);
    }
    const by = ownerOf(caller);
    if (by === registration.owner) logger.info({ delivery: registration.id, owner: registration.owner, by }, 'delivery removed');
    else logger.warn({ delivery: registration.id, owner: registration.owner, by }, 'delivery removed by a developer');
    return answer(payload, 204);
  };

  /** A developer's: every registration, with its owner, or any one deleted. */
  const listAll = async (payload: RequestPayload) => {
    try {
      return answer(payload, 200, { deliveries: (await store.list()).map((r) => operatorView(r, runners.suspension(r))) });
    } catch (err) {
      return unavailable(payload, err);
    }
  };
  const removeAny = async (payload: RequestPayload, caller: Principal, id: string) => {
    let registration: Registration | undefined;
    try {
      registration = await store.get(id);
    } catch (err) {
      return unavailable(payload, err);
    }
    if (!registration) return notFound(payload, id);
    return remove(payload, registration, caller);
  };

  const handle = async (payload: RequestPayload) => {
    const { request } = payload;
    const parts = payload.url.pathname.slice(DELIVERIES_PATH.length).split('/').slice(1);
    const route = parts.length === 0 ? 'collection' : parts.length === 1 && parts[0] !== '' ? 'one' : parts.length === 2 && parts[1] === 'replay' ? 'replay' : undefined;
    if (!route) return notFound(payload, parts.join('/'));
    const allowed = { collection: ['GET', 'POST'], one: ['GET', 'DELETE'], replay: ['POST'] }[route];
    if (!allowed.includes(request.method)) {
      return refuse(payload, 'METHOD_NOT_ALLOWED', `This delivery resource takes ${allowed.join(' or ')}; this request is ${request.method}.`, {}, { allow: allowed.join(', ') });
    }
    const caller = await callerOf(payload);
    if (!caller) return undefined;
    const developer = callerKind(caller) === 'developer';
    const onlyServices = () => refuse(payload, 'DELIVERY_FORBIDDEN', `Only a service may register deliveries; this caller is a ${caller.kind}.`);
    if (!developer && caller.kind !== 'service') return onlyServices();
    const all = route === 'collection' && request.method === 'GET' ? payload.url.searchParams.get('all') : null;
    if (all !== null && all !== 'true' && all !== 'false') return invalid(payload, 'parameter', `"all" must be true or false, not ${JSON.stringify(all.slice(0, 40))}`);
    if (all === 'true') {
      if (!developer) return refuse(payload, 'DELIVERY_FORBIDDEN', `Only a developer (${DEVELOPER_SCOPE}) may list every registration; this caller is a ${caller.kind}.`);
      return listAll(payload);
    }
    if (developer && route === 'one' && request.method === 'DELETE') return removeAny(payload, caller, parts[0]!);
    if (caller.kind !== 'service') return onlyServices();
    if (route === 'collection') {
      if (request.method === 'POST') return register(payload, caller);
      try {
        return answer(payload, 200, { deliveries: (await store.list(ownerOf(caller))).map((r) => view(r, runners.suspension(r))) });
      } catch (err) {
        return unavailable(payload, err);
      }
    }
    const registration = await ownRegistration(payload, caller, parts[0]!);
    if (!registration) return undefined;
    if (route === 'replay') return replay(payload, registration);
    return request.method === 'GET' ? details(payload, registration) : remove(payload, registration, caller);
  };

  return {
    // Synchronous for every other request: only /deliveries goes on to be read.
    onRequest(payload) {
      const { pathname } = payload.url;
      if (pathname !== DELIVERIES_PATH && !pathname.startsWith(`${DELIVERIES_PATH}/`)) return undefined;
      return handle(payload).then(() => undefined);
    },
  };
}
