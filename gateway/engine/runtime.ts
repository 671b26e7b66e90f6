import { isPromise } from '@graphql-tools/utils';
import { Agent } from 'undici';
import { callUpstream, headerRecord, type SourceClientOptions, type UpstreamCall, type UpstreamCallRecord, type UpstreamResponse, type UpstreamTracing } from '../upstream/upstream-fetch.ts';
import { createResilience, type BreakerState, type ResilienceOptions } from '../upstream/resilience.ts';
import { sourceCredentials, type AuthConfig, type SourceCredentials } from './credentials.ts';

/**
 * What every source gets, whatever its kind, built from its entry. One keep-alive pool; a timeout per call cut to the request's deadline;
 * budgeted retries of safe calls and a circuit breaker (resilience.ts); the provider's
 * `Retry-After` (and a 429 body's `retry_after`) honoured for every later call; a quota, when the
 * gateway keeps one for it; single flight for identical reads; the gateway's own credentials
 * (credentials.ts); every call reported to the debug extension; a probe for `/readyz`.
 */
export interface SourceRuntime {
  readonly name: string;
  /** One call to the backend, with the source's credentials, through all of the above. */
  call(call: Omit<UpstreamCall, 'source'>): Promise<UpstreamResponse>;
  /** Resolves when the backend answers at all (any status under 500), for `/readyz`. */
  probe(): Promise<void>;
  breaker(): BreakerState;
  /**
   * Arguments that carry a batch of keys (the `keysArg` of every declared link into this source):
   * a call with one of them reports its size as `batchSize` to the debug extension.
   */
  readonly keyArgs: Set<string>;
  /** The transport settings, for a caller that needs them bare (the OAuth token endpoint). */
  client(): SourceClientOptions;
}

/** A provider's rate limit as a source's entry says it (`quota:`). */
export interface SourceQuota {
  perSec: number;
  /** Only these operations count; default all. */
  operations?: readonly string[];
  /** Calls that may wait for room; more are refused. Default 100. */
  maxQueue?: number;
}

/** Hooks the gateway gives every source: the request's deadline, the debug record, breaker settings. */
export interface RuntimeHooks {
  /** The deadline (ms since the epoch) of the request whose GraphQL context a call carries, if any. */
  deadline?: (context?: object) => number | undefined;
  /** Told about every call (debugging), with the context of the request it was made for. */
  onCall?: (record: UpstreamCallRecord, context?: object) => void;
  /** A span per call and the trace context sent with it (gateway/tracing/); absent: tracing off. */
  tracing?: UpstreamTracing;
  /** Breaker and retry settings over the defaults (tests shorten them). */
  resilience?: Partial<Omit<ResilienceOptions, 'source'>>;
  /** Injected fetch (tests); default: undici over the source's own pool. */
  fetch?: typeof globalThis.fetch;
  /**
   * Waits for room in a provider's quota, per source (gateway/plugins/limits/upstream-quota.ts):
   * given the source's name and its entry's `quota`, if any.
   */
  quota?: (source: string, spec?: SourceQuota) => ((operation: string) => Promise<void>) | undefined;
}

export interface RuntimeOptions {
  name: string;
  /** Where the probe goes: the backend's base URL or endpoint. */
  url: string;
  timeoutMs: number;
  maxResponseBytes: number;
  auth?: AuthConfig;
  /** The provider's rate limit, from the source's entry. */
  quota?: SourceQuota;
  /** What the probe asks. Default: GET of `url`. */
  probe?: { method: 'GET' | 'POST' | 'HEAD'; body?: string; headers?: Record<string, string> };
}

export function createSourceRuntime(options: RuntimeOptions, hooks: RuntimeHooks = {}): SourceRuntime {
  const { name } = options;
  const resilience = createResilience({ source: name, ...hooks.resilience });
  const quota = hooks.quota?.(name, options.quota);
  const client: SourceClientOptions = {
    url: options.url,
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes,
    inFlight: new Map(),
    // Idle connections closed after 10 s.
    dispatcher: new Agent({ keepAliveTimeout: 10_000 }),
    backoff: { until: 0 },
    resilience,
    ...(hooks.fetch ? { fetch: hooks.fetch } : {}),
    ...(hooks.deadline ? { deadline: hooks.deadline } : {}),
    ...(hooks.onCall ? { onCall: hooks.onCall } : {}),
    ...(hooks.tracing ? { tracing: hooks.tracing } : {}),
    ...(quota ? { quota } : {}),
  };
  const credentials: SourceCredentials = sourceCredentials(name, options.auth, () => client);
  const queryEntries = Object.entries(credentials.query);
  const queryNames = new Set(queryEntries.map(([key]) => key));
  const queryPairs = queryEntries.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  // The credentials' parameters, over any of the same name, last; every other pair is sent as the
  // call wrote it (a URL's searchParams would re-encode them all: a %20 as +, a ~ as %7E).
  const withQuery = (url: string) => {
    if (queryPairs.length === 0) return url;
    const hashAt = url.indexOf('#');
    const bare = hashAt < 0 ? url : url.slice(0, hashAt);
    const queryAt = bare.indexOf('?');
    const path = queryAt < 0 ? bare : bare.slice(0, queryAt);
    const kept = queryAt < 0 ? [] : bare.slice(queryAt + 1).split('&').filter((pair) => pair !== '' && !queryNames.has(pairName(pair)));
    return `${path}?${[...kept, ...queryPairs].join('&')}`;
  };
  /** One call with the credentials of the moment; returns the answer and the credentials it carried. */
  const send = (call: Omit<UpstreamCall, 'source'>): Promise<{ response: UpstreamResponse; sent: Record<string, string> }> => {
    const own = credentials.headers(call.context);
    return isPromise(own) ? own.then((known) => sendWith(call, known)) : sendWith(call, own);
  };
  const sendWith = async (call: Omit<UpstreamCall, 'source'>, own: Record<string, string>) => {
    // The call's headers and the credentials, merged once into the record the call sends.
    const headers = Object.assign(headerRecord(call.init.headers), own);
    const response = await callUpstream({ ...call, source: name, url: withQuery(call.url), headers }, client);
    return { response, sent: own };
  };
  return {
    name,
    keyArgs: new Set(),
    client: () => client,
    async call(call) {
      const { response, sent } = await send(call);
      // An OAuth token the backend no longer takes: once more with a fresh one.
      if (response.status === 401 && credentials.rejected(sent)) return (await send(call)).response;
      return response;
    },
    async probe() {
      const { method = 'GET', body, headers } = options.probe ?? {};
      const { response } = await send({ operation: 'probe', url: options.url, init: { method, ...(body ? { body } : {}), ...(headers ? { headers } : {}) } });
      if (response.status >= 500) throw new Error(`${name} answered its probe with HTTP ${response.status}`);
    },
    breaker: () => resilience.state(),
  };
}

/** How many keys a call carries, when one of its arguments takes a batch of keys (`keyArgs`). */
export function batchSizeOf(keyArgs: ReadonlySet<string>, args: Record<string, unknown>): number | undefined {
  for (const name of keyArgs) {
    const value = args[name];
    if (Array.isArray(value)) return value.length;
  }
  return undefined;
}

/** A query pair's name, decoded as a backend reads it (`+` is a space). */
function pairName(pair: string): string {
  const name = pair.split('=', 1)[0]!.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}
