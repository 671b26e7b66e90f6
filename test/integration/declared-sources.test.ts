import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { declaredEnv, LINKED } from '../helpers/declared.ts';
import { createMemoryStore } from '../../gateway/cache/store.ts';
import { exampleQueryFor } from '../../gateway/example-query.ts';

/**
 * A GraphQL Mesh v0 configuration served by Junction unchanged (test/fixtures/declared/): a REST
 * source and a GraphQL source merged at the root, transforms, declared links batched by key.
 */
function startDeclared(): Promise<Harness> {
  return startHarness({
    meshConfig: 'test/fixtures/declared/linked.meshrc.yaml',
    env: declaredEnv,
  });
}


describe('a Mesh v0 configuration with declared links', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startDeclared();
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  it('merges the sources at the root as Mesh does, prefixes and filters as its transforms say, and serves no curated contract', () => {
    const query = Object.keys(h.gateway.schema.getQueryType()!.getFields());
    expect(query).toEqual(expect.arrayContaining(['listCustomers', 'getCustomer', 'listPayments', 'Sms_message', 'Sms_messages', 'Sms_messagesForCustomers']));
    expect(query).not.toContain('payments');
    expect(query).not.toContain('message');
    const mutation = Object.keys(h.gateway.schema.getMutationType()!.getFields());
    expect(mutation).toEqual(expect.arrayContaining(['createPayment', 'createRefund']));
    expect(mutation).not.toContain('Sms_sendMessage');
    expect(h.gateway.schema.getType('Sms_Message')).toBeDefined();
    expect(h.gateway.schema.getType('Message')).toBeUndefined();
  });

  it('answers a two-level link with one backend call per level', async () => {
    const { body } = await h.query(LINKED);
    expect(body.errors).toBeUndefined();
    const customers = body.data!.listCustomers.data as { id: string; name: string; texts: { customerId: string; recipient: { id: string; name: string } }[] }[];
    expect(customers).toHaveLength(5);
    const seeded = new Map(h.seed.customers.map((c) => [c.id, c]));
    let texts = 0;
    for (const customer of customers) {
      expect(customer.name).toBe(seeded.get(customer.id)!.name);
      for (const text of customer.texts) {
        texts++;
        expect(text.customerId).toBe(customer.id);
        expect(text.recipient).toEqual({ id: customer.id, name: customer.name });
      }
    }
    expect(texts).toBeGreaterThan(0);
    const stats = await h.stats();
    // listCustomers, then one batch of messages for the five, then one batch of their recipients.
    expect(stats.payments.total).toBe(2);
    expect(stats.messaging.total).toBe(1);
  });

  it('reads aliased fields through a link whose result is a path, with or without the key selected', async () => {
    const { body } = await h.query('{ listCustomers(limit: 5) { data { id texts { b: body s: status } } } }');
    expect(body.errors).toBeUndefined();
    const customers = body.data!.listCustomers.data as { id: string; texts: { b: string; s: string }[] }[];
    const texts = customers.flatMap((c) => c.texts);
    expect(texts.length).toBeGreaterThan(0);
    const bodies = new Set(h.seed.messages.map((m) => m.body));
    for (const t of texts) {
      expect(bodies.has(t.b)).toBe(true);
      expect(typeof t.s).toBe('string');
    }
  });

  it('holds a declared field to its @requiresScopes: null and FORBIDDEN without the scope, and no call to its source', async () => {
    const token = await h.issuer.token({ sub: 'billing-clerk', scopes: ['payments:read'] });
    const { body } = await h.query('{ listCustomers(limit: 2) { data { id texts { id } } } }', {}, { authorization: `Bearer ${token}` });
    const customers = body.data!.listCustomers.data as { id: string; texts: unknown }[];
    expect(customers.map((c) => c.texts)).toEqual([null, null]);
    expect(body.errors!.map((e) => e.extensions!.code)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    const stats = await h.stats();
    expect([stats.payments.total, stats.messaging.total]).toEqual([1, 0]);
  });

  it('splits a batched link at the source\'s batchSize: 5 keys at batchSize 2 are 3 calls', async () => {
    const file = join(tmpdir(), `junction-batch-size-${process.pid}.meshrc.yaml`);
    writeFileSync(file, readFileSync('test/fixtures/declared/linked.meshrc.yaml', 'utf8')
      .replaceAll('../../../sources/', `${process.cwd()}/sources/`)
      .replace('        source: ' + `${process.cwd()}/sources/messaging/schema.graphql`, `        source: ${process.cwd()}/sources/messaging/schema.graphql\n        batchSize: 2`));
    const small = await startHarness({
      meshConfig: file,
      env: declaredEnv,
    });
    try {
      const { body } = await small.query('{ listCustomers(limit: 5) { data { id texts { id } } } }');
      expect(body.errors).toBeUndefined();
      const stats = await small.stats();
      expect(stats.messaging.batchSizes).toEqual({ messagesForCustomers: [2, 2, 1] });
    } finally {
      await small.close();
    }
  });

  it('answers a key without a match with an empty list or null, as Mesh does', async () => {
    const { body } = await h.query('{ Sms_messagesForCustomers(customerIds: ["cus_nobody"]) { customerId messages { id recipient { id } } } }');
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ Sms_messagesForCustomers: [{ customerId: 'cus_nobody', messages: [] }] });
  });

  it('refuses anonymous callers at every root field and link of a source not declared public, before any call', async () => {
    const { body } = await h.query(LINKED, {}, { authorization: '' });
    expect(body.data).toEqual({ listCustomers: null });
    expect(body.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
    const stats = await h.stats();
    expect(stats.payments.total + stats.messaging.total).toBe(0);
  });

  it('encodes a path argument as exactly one segment: no traversal to another path with the gateway\'s key', async () => {
    for (const id of ['../admin/users?all=1#', 'cus_1/../../v1/customers', 'a?b#c&ids=cus_x']) {
      const { body } = await h.query('query ($id: String!) { getCustomer(id: $id) { id } }', { id });
      // The backend looked up one customer by that (odd) id, found none and said so.
      expect(body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_REJECTED', source: 'Billing', upstreamCode: 'resource_missing' });
    }
    expect((await h.stats()).payments.operations).toEqual({ getCustomer: 3 });
    const { body } = await h.query('{ getCustomer(id: "..") { id } }');
    expect(body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect((await h.stats()).payments.total).toBe(3);
  });
});

describe("the README's worked example: three backends of a user's own, linked and guarded, no TypeScript", () => {
  const FILE = 'docs/examples/own-backends.meshrc.yaml';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      meshConfig: FILE,
      env: (b, c) => ({
        SHOP_URL: b.payments.url,
        SHOP_SECRET_KEY: c.payments.secretKey,
        GEO_URL: b.maps.url,
        GEO_USERNAME: c.maps.username,
        GEO_API_KEY: c.maps.apiKey,
        CHAT_URL: b.messaging.url,
        CHAT_ACCOUNT: c.messaging.accountSid,
        CHAT_TOKEN: c.messaging.authToken,
      }),
    });
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  it('is the file the README shows, verbatim', () => {
    expect(readFileSync('README.md', 'utf8')).toContain(readFileSync(FILE, 'utf8').trim());
  });

  it('answers across the three backends with one call per backend and link level', async () => {
    const { body } = await h.query(`{
      listMerchants(limit: 4) { data { id premises { id name location { lat lng } } } }
      listCustomers(limit: 5) { data { id texts { id recipient { id } } } }
    }`);
    expect(body.errors).toBeUndefined();
    const texts = (body.data!.listCustomers.data as { id: string; texts: { recipient: { id: string } }[] }[])
      .flatMap((c) => c.texts.map((t) => [c.id, t.recipient.id]));
    expect(texts.length).toBeGreaterThan(0);
    for (const [customer, recipient] of texts) expect(recipient).toBe(customer);
    const merchants = body.data!.listMerchants.data as { id: string; premises: { id: string } }[];
    expect(merchants).toHaveLength(4);
    const seeded = new Map(h.seed.merchants.map((m) => [m.id, m]));
    for (const m of merchants) expect(m.premises.id).toBe(seeded.get(m.id)!.place);
    const stats = await h.stats();
    // listMerchants + listCustomers, then the texts' recipients in one batch; one GetPlaces; one messagesForCustomers.
    expect(stats.payments.total).toBe(3);
    expect(stats.maps.operations).toEqual({ GetPlaces: 1 });
    expect(stats.messaging.total).toBe(1);
  });

  it('opens GraphiQL on a query of its own sources that answers (not the demo contract\'s)', async () => {
    const example = exampleQueryFor(h.gateway.schema);
    expect(example).toMatch(/listCustomers|listMerchants|listPayments/);
    const { body } = await h.query(example);
    expect(body.errors).toBeUndefined();
    expect(Object.keys(body.data!).length).toBeGreaterThan(0);
  });

  it('guards as declared: anonymous callers get the public maps source only', async () => {
    const { body } = await h.query('{ Geo_getPlace(id: "plc_x") { id } listMerchants(limit: 1) { data { id } } }', {}, { authorization: '' });
    expect(body.data).toEqual({ Geo_getPlace: null, listMerchants: null });
    expect(body.errors!.map((e) => [e.path!.join('.'), e.extensions!.code])).toEqual([['listMerchants', 'UNAUTHENTICATED']]);
    const stats = await h.stats();
    expect([stats.payments.total, stats.maps.total]).toEqual([0, 1]);
  });
});

describe('a source\'s policy defaults in its entry', () => {
  let h: Harness;
  beforeAll(async () => {
    const file = join(tmpdir(), `junction-policy-${process.pid}.meshrc.yaml`);
    writeFileSync(file, readFileSync('test/fixtures/declared/linked.meshrc.yaml', 'utf8')
      .replaceAll('../../../sources/', `${process.cwd()}/sources/`)
      .replace(`        source: ${process.cwd()}/sources/messaging/schema.graphql`, `        source: ${process.cwd()}/sources/messaging/schema.graphql
        policy:
          requiresScopes: [[messages:read]]
          rateLimit: { max: 2, window: 1m }
          cacheControl: { maxAge: 60, scope: PRIVATE }`));
    h = await startHarness({
      meshConfig: file,
      cacheStore: createMemoryStore(),
      env: declaredEnv,
    });
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  it('guards every root field of the source that says nothing itself: FORBIDDEN without the scope, no call', async () => {
    const token = await h.issuer.token({ sub: 'clerk', scopes: ['payments:read'] });
    const { body } = await h.query('{ Sms_messages(ids: []) { id } }', {}, { authorization: `Bearer ${token}` });
    expect(body.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    expect((await h.stats()).messaging.total).toBe(0);
  });

  it('keeps an answer for maxAge, for the same caller only, and limits calls per caller', async () => {
    const as = async (sub: string) => ({ authorization: `Bearer ${await h.issuer.token({ sub, scopes: ['messages:read'] })}` });
    const alice = await as('alice-policy');
    const query = '{ Sms_messages(ids: []) { id } }';
    expect((await h.query(query, {}, alice)).body).toEqual({ data: { Sms_messages: [] } });
    expect((await h.query(query, {}, alice)).body).toEqual({ data: { Sms_messages: [] } });
    // The second answer came from the response cache; bob's is his own.
    expect((await h.stats()).messaging.total).toBe(1);
    const bob = await as('bob-policy');
    const other = '{ Sms_messages(ids: ["SMx"]) { id } }';
    await h.query(other, {}, bob);
    await h.query('{ Sms_messages(ids: ["SMy"]) { id } }', {}, bob);
    const third = await h.query('{ Sms_messages(ids: ["SMz"]) { id } }', {}, bob);
    expect(third.body.errors![0]!.extensions!.code).toBe('RATE_LIMITED');
    expect((await h.stats()).messaging.total).toBe(3);
  });
});

describe('a declared link with @cacheControl keeps each key in the entity cache', () => {
  let h: Harness;
  beforeAll(async () => {
    const file = join(tmpdir(), `junction-link-cache-${process.pid}.meshrc.yaml`);
    writeFileSync(file, readFileSync('test/fixtures/declared/linked.meshrc.yaml', 'utf8')
      .replaceAll('../../../sources/', `${process.cwd()}/sources/`)
      .replace('@requiresScopes(scopes: [["messages:read"]])', '@requiresScopes(scopes: [["messages:read"]]) @cacheControl(maxAge: 60)'));
    h = await startHarness({ meshConfig: file, cacheStore: createMemoryStore(), env: declaredEnv });
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  it('answers later requests for the same keys from the store, whatever else they ask, and fetches only the missing keys', async () => {
    const first = await h.query('{ listCustomers(limit: 3) { data { id texts { id body } } } }');
    expect(first.body.errors).toBeUndefined();
    expect((await h.stats()).messaging.batchSizes).toEqual({ messagesForCustomers: [3] });
    // Five customers, three of them known: one call, for the two others only.
    const second = await h.query('{ listCustomers(limit: 5) { data { name texts { id body } } } }');
    expect(second.body.errors).toBeUndefined();
    expect((await h.stats()).messaging.batchSizes).toEqual({ messagesForCustomers: [3, 2] });
    const firstTexts = (first.body.data!.listCustomers.data as { texts: unknown }[]).map((c) => c.texts);
    const secondTexts = (second.body.data!.listCustomers.data as { texts: unknown }[]).slice(0, 3).map((c) => c.texts);
    expect(secondTexts).toEqual(firstTexts);
    // The same again, by another caller: the values are the gateway's own, not the caller's.
    const other = await h.query('{ listCustomers(limit: 5) { data { id texts { id body } } } }', {}, { authorization: `Bearer ${await h.issuer.token({ sub: 'someone-else' })}` });
    expect(other.body.errors).toBeUndefined();
    expect((await h.stats()).messaging.total).toBe(2);
    // Another shape of the link is another entry.
    await h.query('{ listCustomers(limit: 3) { data { id texts { id status } } } }');
    expect((await h.stats()).messaging.total).toBe(3);
  });

  it('keeps a selection with aliases, read back by its aliases', async () => {
    const query = '{ listCustomers(limit: 2) { data { id texts { i: id b: body } } } }';
    const first = await h.query(query);
    const second = await h.query(query);
    expect(second.body).toEqual(first.body);
    expect(JSON.stringify(first.body)).toMatch(/"i":"SM/);
    expect((await h.stats()).messaging.total).toBe(1);
  });

  it('never serves one fragment\'s entry for another of the same name', async () => {
    const a = await h.query('{ listCustomers(limit: 2) { data { id texts { ...T } } } } fragment T on Sms_Message { id }');
    const b = await h.query('{ listCustomers(limit: 2) { data { id texts { ...T } } } } fragment T on Sms_Message { status }');
    expect(a.body.errors).toBeUndefined();
    expect(b.body.errors).toBeUndefined();
    const statuses = (b.body.data!.listCustomers.data as { texts: { status?: string }[] }[]).flatMap((c) => c.texts.map((t) => t.status));
    expect(statuses.length).toBeGreaterThan(0);
    for (const status of statuses) expect(typeof status).toBe('string');
    expect((await h.stats()).messaging.total).toBe(2);
  });
});

describe('a source\'s quota in its entry', () => {
  it('keeps the provider\'s rate: at 2 calls per second with no queue, the third concurrent call is SOURCE_RATE_LIMITED and never sent', async () => {
    const file = join(tmpdir(), `junction-quota-${process.pid}.meshrc.yaml`);
    writeFileSync(file, readFileSync('test/fixtures/declared/linked.meshrc.yaml', 'utf8')
      .replaceAll('../../../sources/', `${process.cwd()}/sources/`)
      .replace(`        source: ${process.cwd()}/sources/messaging/schema.graphql`, `        source: ${process.cwd()}/sources/messaging/schema.graphql
        quota: { perSec: 2, maxQueue: 0 }`));
    const h = await startHarness({ meshConfig: file, env: declaredEnv });
    try {
      const answers = await Promise.all(['SMa', 'SMb', 'SMc'].map((id) => h.query('query ($id: ID!) { Sms_message(id: $id) { id } }', { id })));
      const codes = answers.map((a) => a.body.errors?.[0]?.extensions?.code ?? 'ok').sort();
      expect(codes).toEqual(['SOURCE_RATE_LIMITED', 'ok', 'ok']);
      expect((await h.stats()).messaging.total).toBe(2);
    } finally {
      await h.close();
    }
  });
});

describe('a GraphQL source without an SDL', () => {
  it('is introspected at start and served', async () => {
    const file = join(tmpdir(), `junction-introspected-${process.pid}.meshrc.yaml`);
    writeFileSync(file, `sources:
  - name: Sms
    handler:
      graphql:
        endpoint: '{env.SMS_URL}/graphql'
        operationHeaders:
          Authorization: '{env.SMS_AUTHORIZATION}'
`);
    const h = await startHarness({ meshConfig: file, env: declaredEnv });
    try {
      expect(Object.keys(h.gateway.schema.getQueryType()!.getFields())).toEqual(['message', 'messages', 'messagesForCustomers']);
      await h.resetStats();
      const { body } = await h.query('{ messagesForCustomers(customerIds: ["cus_nobody"]) { customerId messages { id } } }');
      expect(body).toEqual({ data: { messagesForCustomers: [{ customerId: 'cus_nobody', messages: [] }] } });
      expect((await h.stats()).messaging.total).toBe(1);
    } finally {
      await h.close();
    }
  });
});

describe('a source of your own that has a demo source\'s name', () => {
  it('is yours: merged as declared, with no curated contract and no demo wiring', async () => {
    const file = join(tmpdir(), `junction-named-payments-${process.pid}.meshrc.yaml`);
    writeFileSync(file, `sources:
  - name: payments
    handler:
      graphql:
        endpoint: '{env.LEDGER_URL}/graphql'
        source: ${join(process.cwd(), 'sources/messaging/schema.graphql')}
        auth: { basic: { username: '{env.SID}', password: '{env.TOKEN}' } }
`);
    const h = await startHarness({ meshConfig: file, env: (b, c) => ({ LEDGER_URL: b.messaging.url, SID: c.messaging.accountSid, TOKEN: c.messaging.authToken }) });
    try {
      expect(Object.keys(h.gateway.schema.getQueryType()!.getFields())).toEqual(['message', 'messages', 'messagesForCustomers']);
      const { body } = await h.query('{ messages(ids: []) { id } }');
      expect(body).toEqual({ data: { messages: [] } });
      expect((await h.stats()).messaging.total).toBe(1);
    } finally {
      await h.close();
    }
  });
});
