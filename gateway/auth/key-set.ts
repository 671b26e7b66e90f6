import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/**
 * The identity provider's signing keys, fetched from one fixed URL (never from `jku` or `x5u` in
 * a token) and kept so that an identity-provider outage does not lock every client out.
 *
 * Why not jose's createRemoteJWKSet: once its copy is older than `cacheMaxAge` and the URL does
 * not answer, it fails every verification (stack notes). This keeps serving the last good set
 * for `staleIfErrorMs` while it retries, and still refreshes it every `maxAgeMs` when the URL
 * answers, so removed (revoked) keys stop working within that time. Key selection (kid, alg,
 * use) stays jose's, through createLocalJWKSet.
 */
export interface RemoteKeySetOptions {
  /** Age after which the set is fetched again before use. Default 10 min. */
  maxAgeMs?: number;
  /** How long a set past `maxAgeMs` is still used while the URL fails. Default 24 h. */
  staleIfErrorMs?: number;
  /** Least time between two fetches caused by unknown `kid`s (a flood of forged kids costs one fetch). Default 30 s. */
  cooldownMs?: number;
  /** Time allowed for one fetch, headers and body. Default 5 s. */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
  /** Clock, in ms (tests fake it). Default Date.now. */
  now?: () => number;
}

export const KEY_SET_DEFAULTS = Object.freeze({ maxAgeMs: 10 * 60_000, staleIfErrorMs: 24 * 3_600_000, cooldownMs: 30_000, timeoutMs: 5_000 });

/** No key set could be obtained: the gateway cannot judge any token (503, never 401 or 500). */
export class KeySetUnavailable extends Error {
  override readonly name = 'KeySetUnavailable';
}

export interface RemoteKeySet {
  getKey: JWTVerifyGetKey;
  /** Fetches made so far, and the age of the set in use (for /readyz and tests). */
  status(): { fetches: number; ageMs: number | undefined; lastError: string | undefined };
}

export function createRemoteKeySet(url: string, options: RemoteKeySetOptions = {}): RemoteKeySet {
  const { maxAgeMs, staleIfErrorMs, cooldownMs, timeoutMs } = { ...KEY_SET_DEFAULTS, ...options };
  const doFetch = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  let current: { select: JWTVerifyGetKey; fetchedAt: number } | undefined;
  let lastFetchAt = Number.NEGATIVE_INFINITY;
  let pending: Promise<void> | undefined;
  let fetches = 0;
  let lastError: string | undefined;

  const load = async (): Promise<void> => {
    fetches += 1;
    lastFetchAt = now();
    const response = await doFetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    if (!response.ok) throw new Error(`the key set URL answered HTTP ${response.status}`);
    const body = (await response.json()) as JSONWebKeySet;
    if (!body || !Array.isArray(body.keys)) throw new Error('the key set URL answered without a "keys" array');
    current = { select: createLocalJWKSet(body), fetchedAt: now() };
    lastError = undefined;
  };
  /** One fetch at a time; callers arriving meanwhile wait for it. */
  const refresh = (): Promise<void> => {
    pending ??= load().catch((err: unknown) => {
      lastError = err instanceof Error ? err.message : String(err);
      throw err;
    }).finally(() => {
      pending = undefined;
    });
    return pending;
  };
  const ensureFresh = async (): Promise<void> => {
    const age = current ? now() - current.fetchedAt : Number.POSITIVE_INFINITY;
    if (age < maxAgeMs) return;
    try {
      await refresh();
    } catch (err) {
      if (!current || age >= maxAgeMs + staleIfErrorMs) {
        throw new KeySetUnavailable(`no usable signing keys: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      // Stale but within staleIfErrorMs: keep verifying with it.
    }
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    await ensureFresh();
    try {
      return await current!.select(header, token);
    } catch (err) {
      // An unknown kid may be a key the provider just rotated in: look again, at most once per cooldown.
      if (!(err instanceof joseErrors.JWKSNoMatchingKey) || now() - lastFetchAt < cooldownMs) throw err;
      await refresh().catch(() => undefined);
      return current!.select(header, token);
    }
  };

  return {
    getKey,
    status: () => ({ fetches, ageMs: current ? now() - current.fetchedAt : undefined, lastError }),
  };
}
