import { createHash } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import { hashApiKey } from '../../gateway/auth/api-keys.ts';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRateLimitEngine } from '../../gateway/plugins/limits/rate-limits.ts';
import { createUpstreamQuota } from '../../gateway/plugins/limits/upstream-quota.ts';
import { callCounts, startHarness, type Harness } from '../helpers/harness.ts';
import { sharedRedis, startOwnRedis, uniquePrefix } from '../helpers/redis.ts';

/** hardening.md's GraphQL-surface and rate-limit rows, each with its figure. */

const post = (h: Harness, body: BodyInit, headers: Record<string, string> = {}) =>
  h.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
    .then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() as { data?: unknown; errors?: { message: string; extensions?: Record<string, any> }[] } }));

describe('documents refused before execution', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    // The figures are what a refusal costs a running gateway. The first refusals of each kind in a
    // new process also pay for compiling their code path (measured: 17-32 ms, then 2-3 ms), which no
    // document causes, and which a busy CI machine stretched past 50 ms: paid here, twice, with
    // documents of the same shapes but not the same text (so no cache can answer the measured ones).
    const warmUps = [
      `{ ${'payments { edges { node { customer { '.repeat(2500)}name${' } } } }'.repeat(2500)} }`,
      `{ merchant(id: "w") { ${'id '.repeat(5000)} } }`,
      `{ ${Array.from({ length: 2000 }, (_, i) => `w${i}: merchant(id: "w") { id }`).join(' ')} }`,
      `{ merchant(id: "w") { name ${'@skip(if: false) '.repeat(2000)} } }`,
      `{ ${'payments { edges { node { customer { '.repeat(4)}name${' } } } }'.repeat(4)} }`,
      `{ ${Array.from({ length: 31 }, (_, i) => `w${i}: merchant(id: "w") { id }`).join(' ')} }`,
      `{ merchant(id: "w") { name ${'@skip(if: false) '.repeat(51)} } }`,
    ];
    for (let round = 0; round < 2; round++) {
      for (const query of warmUps) expect((await post(h, JSON.stringify({ query }), { accept: 'application/graphql-response+json' })).status).toBe(400);
    }
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  const refusedFast = async (query: string, limit: string) => {
    const started = performance.now();
    // A client that speaks GraphQL over HTTP's own media type gets the 400 (application/json-only clients get 200, as the spec says).
    const { status, body } = await post(h, JSON.stringify({ query }), { accept: 'application/graphql-response+json' });
    const elapsed = performance.now() - started;
    expect(status).toBe(400);
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_LARGE', limit });
    expect(elapsed).toBeLessThan(50);
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
  };

  it('a document nested 10000 deep: 400 in under 50 ms, no backend call', async () => {
    await refusedFast(`{ ${'payments { edges { node { customer { '.repeat(2500)}id${' } } } }'.repeat(2500)} }`, 'MAX_TOKENS');
  });

  it('5000 repeated fields, 2000 aliases, 2000 directives: each refused the same way', async () => {
    await refusedFast(`{ merchant(id: "m") { ${'name '.repeat(5000)} } }`, 'MAX_TOKENS');
    await refusedFast(`{ ${Array.from({ length: 2000 }, (_, i) => `a${i}: merchant(id: "m") { id }`).join(' ')} }`, 'MAX_TOKENS');
    await refusedFast(`{ merchant(id: "m") { id ${'@include(if: true) '.repeat(2000)} } }`, 'MAX_TOKENS');
  });

  it('depth, aliases and directives have their own limits under the token limit', async () => {
    await refusedFast(`{ ${'payments { edges { node { customer { '.repeat(4)}id${' } } } }'.repeat(4)} }`, 'MAX_DEPTH');
    await refusedFast(`{ ${Array.from({ length: 31 }, (_, i) => `a${i}: merchant(id: "m") { id }`).join(' ')} }`, 'MAX_ALIASES');
    await refusedFast(`{ merchant(id: "m") { id ${'@include(if: true) '.repeat(51)} } }`, 'MAX_DIRECTIVES');
  });

  it('refuses `first: 1000000` under another list by its cost, naming the cost, with no backend call', async () => {
    const { status, body } = await post(h, JSON.stringify({
      query: '{ payments(first: 100) { edges { node { customer { payments(first: 1000000) { edges { node { id } } } } } } } }',
    }), { authorization: `Bearer ${await h.issuer.token()}` });
    expect(status).toBe(400);
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY', maxCost: 10_000 });
    expect(body.errors![0]!.extensions!.cost).toBeGreaterThan(100_000_000);
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
  });

  it('lets the Dashboard through (cost 551 of a user\'s 10000)', async () => {
    const { status, body } = await post(h, JSON.stringify({ query: `{ payments(first: 50) { edges { node { id
      customer { id address { city location { lat } } messages(first: 3) { id } } merchant { id place { name location { lat } } } } } } }` }),
    { authorization: `Bearer ${await h.issuer.token()}` });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });
});

describe('request bodies', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('a 3 MB body: 413 without reading it', async () => {
    const query = `{ merchant(id: "${'x'.repeat(3 * 1024 * 1024)}") { id } }`;
    const { status, body } = await post(h, JSON.stringify({ query }));
    expect(status).toBe(413);
    expect(body.errors![0]!.extensions!.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a gzip body inflating to 100 MB: 413, inflated no further than the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(100 * 1024 * 1024, 0x20));
    expect(bomb.byteLength).toBeLessThan(200 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    const { status, body } = await post(h, bomb, { 'content-encoding': 'gzip' });
    expect(status).toBe(413);
    expect(body.errors![0]!.extensions!.code).toBe('PAYLOAD_TOO_LARGE');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(20 * 1024 * 1024);
  });

  it('a Content-Length that is not one non-negative integer (a list, a sign): 400 before the body is read', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    for (const declared of [`${body.length}, ${body.length}`, '-1', '+12', '1e3', ' ']) {
      const answer = await post(h, body, { 'content-length': declared });
      expect(answer.status, declared).toBe(400);
      expect(answer.body.errors![0]!.extensions!.code, declared).toBe('BAD_REQUEST');
      expect(answer.body.errors![0]!.message, declared).toMatch(/Content-Length/);
    }
    expect((await post(h, body, { 'content-length': String(Buffer.byteLength(body)) })).status).toBe(200);
  });

  it('reads a gzip or deflate body under the limit', async () => {
    const query = JSON.stringify({ query: '{ merchant(id: "nope") { id } }' });
    for (const [encoding, bytes] of [['gzip', gzipSync(query)], ['deflate', deflateSync(query)]] as const) {
      const { status, body } = await post(h, bytes, { 'content-encoding': encoding });
      expect(status, encoding).toBe(200);
      expect(body).toEqual({ data: { merchant: null } });
    }
  });

  it('malformed JSON, invalid UTF-8, deeply nested variables, a batch: 400 with a GraphQL error, never a 5xx', async () => {
    const nested = JSON.stringify({ query: 'query($v: String) { merchant(id: $v) { id } }', variables: { v: JSON.parse(`${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}`) } });
    const cases: [string, BodyInit][] = [
      ['malformed JSON', '{"query": "{ merchant(id: \\"m\\") { id } }"'],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
      ['nested variables', nested],
      ['a batch', JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }])],
    ];
    for (const [what, body] of cases) {
      const answer = await post(h, body);
      expect(answer.status, what).toBe(400);
      expect(answer.body.errors![0]!.extensions!.code, what).toBe('BAD_REQUEST');
    }
  });
});

describe('rate limits', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = await sharedRedis();
  });
  afterAll(() => redis.disconnect());

  it('200 concurrent sendMessage calls by one caller against @rateLimit(max: 10): 10 sent, 190 RATE_LIMITED, shared through Redis', async () => {
    const prefix = uniquePrefix();
    // Two gateway instances on one Redis, the calls split between them: the count is shared.
    const [one, two] = await Promise.all([0, 1].map(() => startHarness({ rateLimits: createRateLimitEngine(redis, prefix) })));
    try {
      const token = { authorization: `Bearer ${await one!.issuer.token({ sub: 'spammer' })}` };
      const token2 = { authorization: `Bearer ${await two!.issuer.token({ sub: 'spammer' })}` };
      await Promise.all([one!.resetStats(), two!.resetStats()]);
      const SEND = 'mutation { sendMessage(input: { phone: "+4930111222333", body: "hi" }) { id } }';
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? two! : one!).query(SEND, {}, i % 2 ? token2 : token)));
      const sent = answers.filter((a) => a.body.data?.sendMessage);
      const limited = answers.filter((a) => a.body.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
      expect(sent).toHaveLength(10);
      expect(limited).toHaveLength(190);
      expect(limited[0]!.body.errors![0]!.extensions!.retryAfter).toBeGreaterThan(0);
      expect((await one!.stats()).messaging.total + (await two!.stats()).messaging.total).toBe(10);
    } finally {
      await Promise.all([one!.close(), two!.close()]);
    }
  });

  it('a caller over its endpoint budget gets 429 with Retry-After, before any backend call; others are not affected', async () => {
    const h = await startHarness({ limits: { RATE_USER_PER_MIN: 5, RATE_ANONYMOUS_PER_MIN: 3 }, rateLimits: createRateLimitEngine(redis, uniquePrefix()) });
    try {
      const Q = '{ merchant(id: "m") { id } }';
      const alice = { authorization: `Bearer ${await h.issuer.token({ sub: 'alice' })}` };
      for (let i = 0; i < 5; i++) expect((await h.query(Q, {}, alice)).status).toBe(200);
      await h.resetStats();
      const refused = await h.query(Q, {}, alice);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: Number(refused.headers.get('retry-after')) });
      expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
      // Bob, and anonymous clients at two addresses, each have their own budget.
      expect((await h.query(Q, {}, { authorization: `Bearer ${await h.issuer.token({ sub: 'bob' })}` })).status).toBe(200);
      const from = (address: string, extra: Record<string, string> = {}) => h.query(Q, {}, { authorization: '', 'x-test-remote-address': address, ...extra });
      for (let i = 0; i < 3; i++) expect((await from('198.51.100.1')).status).toBe(200);
      expect((await from('198.51.100.1')).status).toBe(429);
      expect((await from('198.51.100.2')).status).toBe(200);
      // x-forwarded-for from an untrusted peer changes nothing.
      expect((await from('198.51.100.1', { 'x-forwarded-for': '203.0.113.9' })).status).toBe(429);
    } finally {
      await h.close();
    }
  });

  it('behind a trusted proxy, anonymous clients are told apart by x-forwarded-for', async () => {
    const h = await startHarness({ limits: { RATE_ANONYMOUS_PER_MIN: 1 }, trustedProxies: ['10.0.0.1'] });
    try {
      const via = (client: string) => h.query('{ merchant(id: "m") { id } }', {}, { authorization: '', 'x-test-remote-address': '10.0.0.1', 'x-forwarded-for': `${client}, 10.0.0.1` });
      expect((await via('203.0.113.1')).status).toBe(200);
      expect((await via('203.0.113.2')).status).toBe(200);
      expect((await via('203.0.113.1')).status).toBe(429);
    } finally {
      await h.close();
    }
  });
});

describe('rate limits when Redis fails', () => {
  let own: Awaited<ReturnType<typeof startOwnRedis>>;
  let h: Harness;
  beforeEach(async () => {
    own = await startOwnRedis();
    h = await startHarness({ limits: { RATE_USER_PER_MIN: 10 }, rateLimits: createRateLimitEngine(own.redis, uniquePrefix()) });
  });
  afterEach(async () => {
    await h.close();
    await own.close();
  });

  it('Redis killed mid-run: limits still hold, per instance, never none', async () => {
    const alice = { authorization: `Bearer ${await h.issuer.token({ sub: 'alice' })}` };
    const Q = '{ merchant(id: "m") { id } }';
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      if (i === 5) own.kill();
      statuses.push((await h.query(Q, {}, alice)).status);
    }
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    // 5 counted in Redis; after the kill the in-memory limiter of the same size takes over.
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(15);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(25);
  });
});

describe('production surface for developers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ mode: 'production' });
  });
  afterAll(() => h.close());

  it('introspection is refused to everyone but a caller with the junction:developer scope', async () => {
    const INTROSPECT = '{ __schema { queryType { name } } }';
    expect((await h.query(INTROSPECT)).status).toBe(400);
    const dev = await h.query(INTROSPECT, {}, { authorization: `Bearer ${await h.issuer.token({ scopes: ['junction:developer'] })}` });
    expect(dev.status).toBe(200);
    expect(dev.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });
});

describe('protecting the providers\' quotas', () => {
  it('honours a 429\'s Retry-After: the error says when, and the backend is not called again before then', async () => {
    const h = await startHarness();
    try {
      const Q = 'query($c: ID!) { customer(id: $c) { id } }';
      const response = await fetch(`${h.backends.payments.url}/_faults`, { method: 'POST', body: JSON.stringify({ operation: 'listCustomers', retryAfter: 30 }) });
      expect(response.status).toBe(200);
      const first = await h.query(Q, { c: h.seed.customers[0]!.id });
      expect(first.body.data).toEqual({ customer: null });
      expect(first.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'payments', retryAfter: 30 });
      await h.resetStats();
      const second = await h.query(Q, { c: h.seed.customers[1]!.id });
      expect(second.body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'payments' });
      expect(second.body.errors![0]!.extensions!.retryAfter).toBeLessThanOrEqual(30);
      expect(callCounts(await h.stats()).payments).toBe(0);
    } finally {
      await h.close();
    }
  });

  it('keeps messaging at its sends per second: a short queue, then a clear refusal, never more than the provider allows', async () => {
    const h = await startHarness({
      // messaging's entry counts sendMessage (MESSAGING_MAX_SENDS_PER_SEC); here 2 a second with a queue of 1.
      env: () => ({ MESSAGING_MAX_SENDS_PER_SEC: '2' }),
      sourceQuotas: (source, spec) => (spec ? createUpstreamQuota({ source, ...spec, maxQueue: 1 }) : undefined),
    });
    try {
      const SEND = 'mutation { sendMessage(input: { phone: "+4930111222333", body: "hi" }) { id } }';
      const answers = await Promise.all(Array.from({ length: 5 }, () => h.query(SEND)));
      const sent = answers.filter((a) => a.body.data?.sendMessage);
      const refused = answers.filter((a) => a.body.errors?.[0]?.extensions?.code === 'SOURCE_RATE_LIMITED');
      expect(sent).toHaveLength(3); // 2 at once, 1 after waiting for the next second
      expect(refused).toHaveLength(2);
      expect(refused[0]!.body.errors![0]!.extensions).toMatchObject({ source: 'messaging', retryAfter: 1 });
      expect((await h.stats()).messaging.operations).toEqual({ sendMessage: 3 });
    } finally {
      await h.close();
    }
  });
});

describe('batches and persisted documents', () => {
  const KEY = 'jk_test_reports';
  const LISTED = '{ merchant(id: "m") { id } }';
  const hash = createHash('sha256').update(LISTED).digest('hex');
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      persistedDocuments: new Map([[hash, LISTED]]),
      auth: () => ({ apiKeys: [{ service: 'reports', sha256: hashApiKey(KEY), scopes: [] }] }),
    });
  });
  afterAll(() => h.close());

  const user = async () => ({ authorization: `Bearer ${await h.issuer.token()}` });
  const accept = { accept: 'application/graphql-response+json' };

  it('accepts a batch of up to 10 operations from a service, none from a browser', async () => {
    const two = JSON.stringify([{ query: LISTED }, { query: '{ merchant(id: "n") { name } }' }]);
    const service = await post(h, two, { 'x-api-key': KEY });
    expect(service.status).toBe(200);
    expect(service.body).toEqual([{ data: { merchant: null } }, { data: { merchant: null } }]);
    const browser = await post(h, two, await user());
    expect(browser.status).toBe(400);
    expect(browser.body.errors![0]!.extensions!.code).toBe('BAD_REQUEST');
    const eleven = await post(h, JSON.stringify(Array.from({ length: 11 }, () => ({ query: LISTED }))), { 'x-api-key': KEY });
    expect(eleven.status).toBe(400);
    expect(eleven.body.errors![0]!.message).toMatch(/1 to 10 operations; this one has 11/);
  });

  it('lets browsers send only listed documents, by hash; services may send any', async () => {
    const byHash = await post(h, JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }), await user());
    expect(byHash.body).toEqual({ data: { merchant: null } });
    const arbitrary = await post(h, JSON.stringify({ query: '{ merchant(id: "other") { id } }' }), { ...(await user()), ...accept });
    expect(arbitrary.status).toBe(400);
    expect(arbitrary.body.errors![0]!.extensions!.code).toBe('PERSISTED_DOCUMENT_REQUIRED');
    const unknown = await post(h, JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }), { ...(await user()), ...accept });
    expect(unknown.body.errors![0]!.extensions!.code).toBe('PERSISTED_DOCUMENT_NOT_FOUND');
    const service = await post(h, JSON.stringify({ query: '{ merchant(id: "other") { id } }' }), { 'x-api-key': KEY });
    expect(service.body).toEqual({ data: { merchant: null } });
  });
});
