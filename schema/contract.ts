import type { Principal } from './principal.ts';
import type { TypeOrigin } from './origins.ts';

/**
 * What a code contract is, as the gateway reads it from the module the sources file names under
 * `contract:` (schema/index.ts is the demo's). A contract serves its own types in place of the
 * sources it names: they are loaded, run and guarded by the engine like every other source (pool,
 * deadline, retries, breaker, quota, credentials, debug record), but only the contract's fields are
 * public. Its resolvers reach the sources through the context: `context.sources.<name>` runs one
 * operation, `context.loaders.<name>` batches and caches look-ups declared in `loaders`.
 *
 * Types only: a contract imports nothing from the gateway.
 */
export interface Contract {
  /** The sources (entries of the sources file, by name) the contract is served over. */
  sources: readonly string[];
  typeDefs: readonly string[];
  resolvers: readonly object[];
  /**
   * Where public types come from in the sources' compiled contracts: checked at start-up (a spec
   * that no longer has them stops it: CONTRACT_MISMATCH) and used to carry the specs' descriptions.
   */
  origins?: readonly TypeOrigin[];
  /** Batched look-ups, made per request on `context.loaders` (see BatchSpec). */
  loaders?: Readonly<Record<string, BatchSpec>>;
  /** What GraphiQL opens on. Default: a query the gateway writes from the schema. */
  exampleQuery?: string;
}

/** One source's operations, as the engine runs them. */
export interface SourceOperations {
  readonly name: string;
  /**
   * Runs the operation (a REST operation or a SOAP operation: a root field of the source's
   * compiled contract, by name) with these arguments; resolves to the backend's answer (REST: its
   * JSON; SOAP: the reply as the WSDL types it). A failure is thrown as the source's catalogued
   * error (SOURCE_*), a refusal of the caller's input before any call as BAD_USER_INPUT.
   */
  call<T = unknown>(operation: string, args?: Record<string, unknown>): Promise<T>;
  /**
   * GraphQL sources: sends a document and resolves to its `data`. GraphQL errors in the answer
   * are thrown as the source's error with the backend's code (`upstreamCode`).
   */
  request<T = Record<string, unknown>>(document: string, variables?: Record<string, unknown>): Promise<T>;
}

/**
 * A batched look-up over one source: every key asked for in one tick of one request goes in as
 * few calls as the backend allows. Either declared (`operation` with `keysArg` and `keyField`,
 * Mesh's words for a batched link) or, where a declaration cannot say it, code (`load`).
 */
export type BatchSpec<K = any, V = any> = {
  source: string;
  /** Most keys in one call; more are split into calls sent together. Default 100. */
  maxBatch?: number;
  /**
   * Keys that name nothing the backend could hold (an id with a comma): answered `empty` without a
   * call. Besides these, the engine never sends an empty key, one over 1,000 characters, or one
   * holding a control character or a lone surrogate.
   */
  skip?: (key: K) => boolean;
  /** The answer for a key the backend does not hold, or skipped. Default null. */
  empty?: V;
  /** Keys that are objects need a string form (`${first}:${customerId}`). */
  cacheKeyFn?: (key: K) => string;
  /**
   * Kept in the gateway's entity cache, shared by every caller (what a backend answers here
   * depends only on the gateway's own credentials; who may see it is decided before a loader is
   * called). `staleMs`: public data only, served marked stale while the backend fails.
   */
  cache?: { namespace: string; ttlMs: number; staleMs?: number; key: (key: K) => string; tags?: (value: V) => string[] };
} & (
  | {
    /** The operation that answers a list of keys at once (`listCustomers`). */
    operation: string;
    /** Its argument that takes the keys (`ids`). */
    keysArg: string;
    /** The field of each item that holds its key (`id`). */
    keyField: string;
    /** Where the list is in the answer (`data` for `{ data: [...] }`). Default: the answer itself. */
    result?: string;
    /** Every item with the key, as a list (refunds of a payment), rather than the one item. */
    many?: boolean;
  }
  | {
    /** One call for these distinct keys (at most maxBatch), answering each in key order. */
    load: (keys: readonly K[], source: SourceOperations) => Promise<readonly V[]>;
    /** The argument (or GraphQL variable) its calls carry the keys in, for the debug extension's `batchSize`. */
    keysArg?: string;
  }
);

/** A loader on `context.loaders`: DataLoader's `load`, `loadMany`, `prime` and `clear`. */
export interface Loader<K = any, V = any> {
  load(key: K): Promise<V>;
  loadMany(keys: readonly K[]): Promise<(V | Error)[]>;
  prime(key: K, value: V): unknown;
  clear(key: K): unknown;
}

/** An event a source sent (a verified webhook), as published on its topic. */
export interface SourceEvent {
  source: string;
  /** The entry's `pubsubTopic`. */
  topic: string;
  /** The provider's event id (deduplicated on). */
  id: string;
  type: string | null;
  /** The delivery's body, parsed (JSON, or a form's fields). */
  payload: unknown;
  /** ms since the epoch. */
  receivedAt: number;
  /**
   * Where the event sits in its topic's stream (`<ms>-<sequence>`): a subscription's message
   * carries it as `extensions.cursor`, and a client resumes after it. Absent: the event was not kept.
   */
  cursor?: string;
}

/** What every contract resolver receives. */
export interface ContractContext {
  principal: Principal;
  /** Drops cached entries (responses and entities) carrying any of these entity tags, e.g. `Customer:cus_1`. */
  invalidate: (tags: readonly string[]) => Promise<void>;
  sources: Readonly<Record<string, SourceOperations>>;
  loaders: Readonly<Record<string, Loader>>;
  /**
   * Every event published on a topic from now on, across instances, that `accept` takes (a
   * subscription's `subscribe`), preceded by those it missed when the client resumes from a cursor
   * (`Last-Event-ID` or `extensions.cursor`). Ending it (a subscriber leaving) stops listening at
   * once; each event is resolved with fresh `loaders`.
   */
  subscribe(topic: string, accept?: (event: SourceEvent) => boolean): AsyncIterable<SourceEvent>;
}
