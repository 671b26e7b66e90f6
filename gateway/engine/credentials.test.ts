import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { json, startRecordingServer, type Seen } from '../../test/helpers/recording-server.ts';
import { basicAuth } from './credentials.ts';
import { UpstreamError } from '../upstream/upstream-error.ts';
import { authSchema, type AuthConfig } from './credentials.ts';
import { createSourceRuntime, type RuntimeHooks, type SourceRuntime } from './runtime.ts';

/**
 * The runtime a declared source gets (runtime.ts) with each kind of `auth:` (credentials.ts),
 * against a tiny backend that records every request it receives: what reaches the backend is
 * what is asserted, not what the runtime meant to send.
 */

type Handler = (request: Seen, res: ServerResponse) => void;

interface Recorder {
  url: string;
  /** Every request, in arrival order. */
  seen: Seen[];
  /** Requests to the token endpoint (`/oauth/token`). */
  tokenCalls(): Seen[];
  /** Requests to anything else. */
  apiCalls(): Seen[];
  /** What the backend answers; default 200 `{"ok":true}`. */
  handle: Handler;
  /** What the token endpoint answers; default a fresh `tok-<n>` per call, valid 3600 s. */
  token: Handler;
  close(): Promise<void>;
}

async function startRecorder(): Promise<Recorder> {
  let issued = 0;
  const recorder: Recorder = {
    url: '',
    seen: [],
    tokenCalls: () => recorder.seen.filter((s) => s.url.startsWith('/oauth/token')),
    apiCalls: () => recorder.seen.filter((s) => !s.url.startsWith('/oauth/token')),
    handle: (_req, res) => json(res, 200, { ok: true }),
    token: (_req, res) => json(res, 200, { access_token: `tok-${++issued}`, token_type: 'Bearer', expires_in: 3600 }),
    close: async () => undefined,
  };
  const server = await startRecordingServer((seen, res) => {
    recorder.seen.push(seen);
    (seen.url.startsWith('/oauth/token') ? recorder.token : recorder.handle)(seen, res);
  });
  recorder.url = server.url;
  recorder.close = server.close;
  return recorder;
}

const runtimeFor = (recorder: Recorder, auth: unknown, hooks: RuntimeHooks = {}): SourceRuntime =>
  // Parsed as the sources file's `auth:` is, so only what a user can write is tested.
  createSourceRuntime({ name: 'Acme', url: recorder.url, timeoutMs: 2_000, maxResponseBytes: 1 << 20, auth: authSchema.parse(auth) as AuthConfig }, hooks);

const get = (runtime: SourceRuntime, url: string, headers: Record<string, string> = {}) =>
  runtime.call({ operation: 'getThing', url, init: { method: 'GET', headers } });

let backend: Recorder;
beforeEach(async () => {
  backend = await startRecorder();
});
afterEach(async () => {
  vi.useRealTimers();
  await backend.close();
});

describe('static credentials', () => {
  it('bearer: every call carries Authorization: Bearer <token>, over a header of that name the call itself set', async () => {
    const runtime = runtimeFor(backend, { bearer: 'sk_live_123' });
    const answer = await get(runtime, `${backend.url}/things/1`, { Authorization: 'Bearer caller-token' });
    expect(answer.status).toBe(200);
    expect(backend.seen).toHaveLength(1);
    expect(backend.seen[0]!.headers.authorization).toBe('Bearer sk_live_123');
  });

  it('basic: Authorization: Basic base64(username:password)', async () => {
    const runtime = runtimeFor(backend, { basic: { username: 'AC123', password: 's3cret:with:colons' } });
    await get(runtime, `${backend.url}/things/1`);
    expect(backend.seen[0]!.headers.authorization).toBe(basicAuth('AC123', 's3cret:with:colons'));
    expect(Buffer.from(backend.seen[0]!.headers.authorization!.slice(6), 'base64').toString()).toBe('AC123:s3cret:with:colons');
  });

  it('apiKey in a header: the named header carries the key, whatever the call set under that name (in any case)', async () => {
    const runtime = runtimeFor(backend, { apiKey: { in: 'header', name: 'X-Api-Key', value: 'key-123' } });
    await get(runtime, `${backend.url}/things/1`, { 'x-API-key': 'caller-key' });
    expect(backend.seen).toHaveLength(1);
    expect(backend.seen[0]!.headers['x-api-key']).toBe('key-123');
    // One header, not the caller's value beside the gateway's.
    expect(backend.seen[0]!.headers['x-api-key']).not.toContain('caller-key');
    expect(backend.seen[0]!.headers.authorization).toBeUndefined();
  });

  it('apiKey in the query: appended to every URL, the other parameters sent as written, and a value already there replaced, never doubled', async () => {
    const runtime = runtimeFor(backend, { apiKey: { in: 'query', name: 'key', value: 'geo-key' } });
    await get(runtime, `${backend.url}/geocode`);
    await get(runtime, `${backend.url}/geocode?address=1600%20Amphitheatre&region=us`);
    await get(runtime, `${backend.url}/geocode?key=callers-own&address=x&%6Bey=another`);
    // Sent as written, but for the key: no re-encoding of the other pairs (%20 stays %20, ~ stays ~).
    await get(runtime, `${backend.url}/geocode?q=a%20b~c&filter%5Bname%5D=x%2Cy`);
    expect(backend.seen.map((s) => s.url)).toEqual([
      '/geocode?key=geo-key',
      '/geocode?address=1600%20Amphitheatre&region=us&key=geo-key',
      '/geocode?address=x&key=geo-key',
      '/geocode?q=a%20b~c&filter%5Bname%5D=x%2Cy&key=geo-key',
    ]);
    const queries = backend.seen.map((s) => new URL(s.url, 'http://x').searchParams);
    expect(queries.map((q) => q.getAll('key'))).toEqual([['geo-key'], ['geo-key'], ['geo-key'], ['geo-key']]);
    expect(queries[1]!.get('address')).toBe('1600 Amphitheatre');
    expect(queries[1]!.get('region')).toBe('us');
    expect(queries[2]!.get('address')).toBe('x');
    // And no header credential at all.
    expect(backend.seen.every((s) => s.headers.authorization === undefined)).toBe(true);
  });

  it('a 401 to a static credential is the answer: not retried (1 call)', async () => {
    backend.handle = (_req, res) => json(res, 401, { error: 'invalid_key' });
    const runtime = runtimeFor(backend, { bearer: 'sk_revoked' });
    const answer = await get(runtime, `${backend.url}/things/1`);
    expect(answer.status).toBe(401);
    expect(backend.seen).toHaveLength(1);
  });

  it('the probe carries the credentials too (a backend that refuses anonymous probes is still up)', async () => {
    const runtime = runtimeFor(backend, { apiKey: { in: 'query', name: 'key', value: 'geo-key' } });
    await runtime.probe();
    expect(backend.seen).toHaveLength(1);
    expect(new URL(backend.seen[0]!.url, 'http://x').searchParams.get('key')).toBe('geo-key');
  });
});

describe('OAuth 2 client credentials', () => {
  const oauth = (extra: Record<string, unknown> = {}) => ({
    oauth2: { tokenUrl: `${backend.url}/oauth/token`, clientId: 'client-1', clientSecret: 'secret-1', ...extra },
  });

  it('fetches one token for 20 concurrent calls, with a client_credentials grant authenticated by HTTP Basic', async () => {
    const runtime = runtimeFor(backend, oauth({ scope: 'read write', audience: 'https://api.acme.test' }));
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => get(runtime, `${backend.url}/things/${i}`)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(backend.tokenCalls()).toHaveLength(1);
    expect(backend.apiCalls()).toHaveLength(20);
    expect(new Set(backend.apiCalls().map((s) => s.headers.authorization))).toEqual(new Set(['Bearer tok-1']));
    const [request] = backend.tokenCalls();
    expect(request!.method).toBe('POST');
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.headers.authorization).toBe(basicAuth('client-1', 'secret-1'));
    expect(Object.fromEntries(new URLSearchParams(request!.body))).toEqual({ grant_type: 'client_credentials', scope: 'read write', audience: 'https://api.acme.test' });
    // Later calls reuse it.
    await get(runtime, `${backend.url}/things/20`);
    expect(backend.tokenCalls()).toHaveLength(1);
  });

  it('with clientAuth: body, sends the client id and secret in the form instead of a Basic header', async () => {
    const runtime = runtimeFor(backend, oauth({ clientAuth: 'body' }));
    await get(runtime, `${backend.url}/things/1`);
    const [request] = backend.tokenCalls();
    expect(request!.headers.authorization).toBeUndefined();
    expect(Object.fromEntries(new URLSearchParams(request!.body))).toEqual({ grant_type: 'client_credentials', client_id: 'client-1', client_secret: 'secret-1' });
  });

  it('keeps a token until 60 s before it expires, then fetches a new one', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    let issued = 0;
    backend.token = (_req, res) => json(res, 200, { access_token: `tok-${++issued}`, expires_in: 3600 });
    const runtime = runtimeFor(backend, oauth());
    await get(runtime, `${backend.url}/things/1`);
    vi.setSystemTime(start + 3_540_000 - 1);
    await get(runtime, `${backend.url}/things/2`);
    expect(backend.tokenCalls()).toHaveLength(1);
    vi.setSystemTime(start + 3_540_000 + 1);
    await get(runtime, `${backend.url}/things/3`);
    expect(backend.tokenCalls()).toHaveLength(2);
    expect(backend.apiCalls().map((s) => s.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2']);
  });

  it('renews a short-lived token at half its life (expires_in: 2 → after 1 s)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    let issued = 0;
    backend.token = (_req, res) => json(res, 200, { access_token: `tok-${++issued}`, expires_in: 2 });
    const runtime = runtimeFor(backend, oauth());
    await get(runtime, `${backend.url}/things/1`);
    vi.setSystemTime(start + 999);
    await get(runtime, `${backend.url}/things/2`);
    expect(backend.tokenCalls()).toHaveLength(1);
    vi.setSystemTime(start + 1_001);
    await get(runtime, `${backend.url}/things/3`);
    expect(backend.tokenCalls()).toHaveLength(2);
  });

  it('a 401 from the backend drops the token: the call is sent once more with a new one and answers', async () => {
    // The backend no longer takes tok-1 (revoked before it expired).
    backend.handle = (req, res) => (req.headers.authorization === 'Bearer tok-1' ? json(res, 401, { error: 'invalid_token' }) : json(res, 200, { ok: true }));
    const runtime = runtimeFor(backend, oauth());
    const answer = await get(runtime, `${backend.url}/things/1`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ ok: true });
    expect(backend.tokenCalls()).toHaveLength(2);
    expect(backend.apiCalls().map((s) => s.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    // The new token is kept.
    await get(runtime, `${backend.url}/things/2`);
    expect(backend.tokenCalls()).toHaveLength(2);
  });

  it('retries once only: a backend that refuses every token gets 2 calls, and its 401 is the answer', async () => {
    backend.handle = (_req, res) => json(res, 401, { error: 'invalid_token' });
    const runtime = runtimeFor(backend, oauth());
    const answer = await get(runtime, `${backend.url}/things/1`);
    expect(answer.status).toBe(401);
    expect(backend.apiCalls()).toHaveLength(2);
    expect(backend.tokenCalls()).toHaveLength(2);
  });

  it('concurrent calls refused with the same revoked token are each retried with one new token', async () => {
    // Five calls in flight with tok-1 when the backend stops taking it: every one must be sent
    // again with tok-2 (one new token for all), none must fail, and tok-2 must not be thrown away.
    backend.handle = (req, res) => (req.headers.authorization === 'Bearer tok-1' ? json(res, 401, { error: 'invalid_token' }) : json(res, 200, { ok: true }));
    const runtime = runtimeFor(backend, oauth());
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => get(runtime, `${backend.url}/things/${i}`)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(backend.apiCalls()).toHaveLength(10);
    expect(backend.tokenCalls()).toHaveLength(2);
  });

  it('a token endpoint refusing the client: an UpstreamError naming the source and oauth2-token, and no call to the backend', async () => {
    backend.token = (_req, res) => json(res, 401, { error: 'invalid_client', error_description: 'Client authentication failed' });
    const runtime = runtimeFor(backend, oauth());
    const error = await get(runtime, `${backend.url}/things/1`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ source: 'Acme', operation: 'oauth2-token', status: 401, upstreamCode: 'invalid_client' });
    expect((error as Error).message).not.toContain('secret-1');
    expect(backend.tokenCalls()).toHaveLength(1);
    expect(backend.apiCalls()).toHaveLength(0);
  });

  it('a token endpoint answering 200 without an access_token is refused the same way', async () => {
    backend.token = (_req, res) => json(res, 200, { token_type: 'Bearer' });
    const runtime = runtimeFor(backend, oauth());
    await expect(get(runtime, `${backend.url}/things/1`)).rejects.toMatchObject({ name: 'UpstreamError', source: 'Acme', operation: 'oauth2-token', status: 200 });
    expect(backend.apiCalls()).toHaveLength(0);
  });
});

describe('the request deadline', () => {
  it('cuts a call to what is left of the deadline: a hanging backend is given up at the deadline, not at the source timeout', async () => {
    backend.handle = () => undefined; // never answers
    const deadline = Date.now() + 200;
    const runtime = createSourceRuntime(
      { name: 'Acme', url: backend.url, timeoutMs: 5_000, maxResponseBytes: 1 << 20 },
      { deadline: () => deadline },
    );
    const started = performance.now();
    const error = await get(runtime, `${backend.url}/things/1`).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ source: 'Acme', operation: 'getThing', failure: 'timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(1_000);
    // A timeout has used the caller's time: not retried.
    expect(backend.seen).toHaveLength(1);
  });

  it('holds a token fetch to the deadline of the request whose call needed it, found by the call\'s context', async () => {
    backend.token = () => undefined; // the token endpoint never answers
    const request = {};
    const deadline = Date.now() + 200;
    const runtime = createSourceRuntime(
      { name: 'Acme', url: backend.url, timeoutMs: 5_000, maxResponseBytes: 1 << 20, auth: authSchema.parse({ oauth2: { tokenUrl: `${backend.url}/oauth/token`, clientId: 'c', clientSecret: 's' } }) as AuthConfig },
      { deadline: (context) => (context === request ? deadline : undefined) },
    );
    const started = performance.now();
    const error = await runtime.call({ context: request, operation: 'getThing', url: `${backend.url}/things/1`, init: { method: 'GET' } }).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ source: 'Acme', operation: 'oauth2-token', failure: 'timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(1_000);
    expect(backend.apiCalls()).toHaveLength(0);
  });

  it('reports every call to onCall with the source and operation', async () => {
    const records: unknown[] = [];
    const runtime = createSourceRuntime({ name: 'Acme', url: backend.url, timeoutMs: 2_000, maxResponseBytes: 1 << 20 }, { onCall: (r) => records.push(r) });
    await get(runtime, `${backend.url}/things/1`);
    expect(records).toEqual([expect.objectContaining({ source: 'Acme', operation: 'getThing', status: 200, coalesced: false })]);
  });
});
