import type { Principal } from '../../../schema/principal.ts';

/**
 * Every limit Junction enforces on what a client sends, with its default. Each can be changed
 * with the environment variable of the same name (config.ts); the README lists them all.
 */
export interface Limits {
  /** Request body, after decompression, in bytes. */
  MAX_BODY_BYTES: number;
  /** Time a request's body may take to arrive, in ms, once its headers are in: a slower body is refused with 408. */
  BODY_TIMEOUT_MS: number;
  /** Nesting of `variables` (and of the whole JSON body), counted before the body is parsed. */
  MAX_VARIABLES_DEPTH: number;
  /** Values (objects, arrays, strings, numbers, ...) in a JSON body or a `variables` parameter, counted before it is parsed. */
  MAX_JSON_VALUES: number;
  /** Lexical tokens in a document: refused while parsing, before the parser goes deep. */
  MAX_TOKENS: number;
  MAX_DEPTH: number;
  MAX_ALIASES: number;
  MAX_DIRECTIVES: number;
  /**
   * Field selections in an operation with every fragment spread written out in place: the work a
   * walk over the document may cost (cost.ts). Refused as QUERY_TOO_COSTLY.
   */
  MAX_SELECTIONS: number;
  /** What an operation may cost the backends (gateway/plugins/limits/cost.ts), by kind of caller. */
  MAX_COST_ANONYMOUS: number;
  MAX_COST_USER: number;
  MAX_COST_SERVICE: number;
  MAX_COST_DEVELOPER: number;
  /** Operations per minute per caller, for the whole endpoint, by kind of caller. */
  RATE_ANONYMOUS_PER_MIN: number;
  RATE_USER_PER_MIN: number;
  RATE_SERVICE_PER_MIN: number;
  RATE_DEVELOPER_PER_MIN: number;
  /** Operations in one batched request (a JSON array), accepted from services and developers only. */
  MAX_BATCH: number;
  /** GraphQL requests one instance answers at a time; more are refused with 503 OVERLOADED. */
  MAX_IN_FLIGHT: number;
  /** While the CPU is saturated: no more requests at a time than finish in this many ms (concurrency-limit.ts). */
  MAX_QUEUE_MS: number;
  /** Subscriptions one caller keeps open on one instance at a time (an anonymous one counted by its address, as for rate limits). */
  MAX_SUBSCRIPTIONS_PER_CALLER: number;
  /** Events one subscriber may have waiting, unread: one that falls further behind is ended (SUBSCRIPTION_TOO_SLOW). */
  MAX_EVENTS_QUEUED: number;
  /** Interval of the keep-alive on an open subscription, in ms: an SSE comment, a WebSocket ping (a connection that misses two pongs is closed). */
  KEEPALIVE_MS: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  MAX_BODY_BYTES: 2 * 1024 * 1024,
  BODY_TIMEOUT_MS: 10_000,
  MAX_VARIABLES_DEPTH: 32,
  MAX_JSON_VALUES: 50_000,
  MAX_TOKENS: 2_000,
  MAX_DEPTH: 15,
  MAX_ALIASES: 30,
  MAX_DIRECTIVES: 50,
  MAX_SELECTIONS: 5_000,
  MAX_COST_ANONYMOUS: 2_000,
  MAX_COST_USER: 10_000,
  MAX_COST_SERVICE: 50_000,
  MAX_COST_DEVELOPER: 100_000,
  RATE_ANONYMOUS_PER_MIN: 300,
  RATE_USER_PER_MIN: 1_200,
  RATE_SERVICE_PER_MIN: 12_000,
  RATE_DEVELOPER_PER_MIN: 3_000,
  MAX_BATCH: 10,
  MAX_IN_FLIGHT: 512,
  MAX_QUEUE_MS: 500,
  MAX_SUBSCRIPTIONS_PER_CALLER: 20,
  MAX_EVENTS_QUEUED: 100,
  KEEPALIVE_MS: 12_000,
});

/** The scope that makes a caller a developer: introspection in production, larger limits. */
export const DEVELOPER_SCOPE = 'junction:developer';

export type CallerKind = 'anonymous' | 'user' | 'service' | 'developer';

export function callerKind(principal: Principal): CallerKind {
  if (principal.scopes.has(DEVELOPER_SCOPE)) return 'developer';
  return principal.kind;
}

export function maxCostFor(limits: Limits, principal: Principal): number {
  const kind = callerKind(principal);
  return { anonymous: limits.MAX_COST_ANONYMOUS, user: limits.MAX_COST_USER, service: limits.MAX_COST_SERVICE, developer: limits.MAX_COST_DEVELOPER }[kind];
}

export function ratePerMinFor(limits: Limits, principal: Principal): number {
  const kind = callerKind(principal);
  return { anonymous: limits.RATE_ANONYMOUS_PER_MIN, user: limits.RATE_USER_PER_MIN, service: limits.RATE_SERVICE_PER_MIN, developer: limits.RATE_DEVELOPER_PER_MIN }[kind];
}

/** Services and developers may batch and send documents outside the persisted list; browsers may not. */
export function isTrustedCaller(principal: Principal): boolean {
  const kind = callerKind(principal);
  return kind === 'service' || kind === 'developer';
}
