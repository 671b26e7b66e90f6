import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { offlineGraphqlSource, writeSourcesFile } from '../helpers/sources-file.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { basicAuth } from '../../sources/demo/credentials.ts';
import { readUserSources, SourceConfigError } from '../../gateway/composition/byo/mesh-config.ts';
import type { SourceName } from '../../sources/demo/index.ts';
import type { DemoBackend } from '../../sources/demo/server.ts';

/**
 * The gateway over test/fixtures/byo.meshrc.yaml: the demo backends added again as user sources
 * (ledger: REST, geo: SOAP, sms: GraphQL), pointed by default at the running demo backends.
 */
function startByoHarness(urls: (b: Record<SourceName, DemoBackend>) => Record<SourceName, string> = (b) => ({ payments: b.payments.url, maps: b.maps.url, messaging: b.messaging.url })) {
  return startHarness({
    meshConfig: 'test/fixtures/byo.meshrc.yaml',
    env: (b, c) => {
      const u = urls(b);
      return {
        LEDGER_URL: u.payments, LEDGER_TOKEN: c.payments.secretKey,
        GEO_URL: u.maps, GEO_USERNAME: c.maps.username, GEO_API_KEY: c.maps.apiKey,
        SMS_URL: u.messaging, SMS_AUTHORIZATION: basicAuth(c.messaging.accountSid, c.messaging.authToken),
      };
    },
  });
}

describe('sources a user adds in .meshrc.yaml', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startByoHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  it('appear under their own namespaces next to the unchanged curated contract', () => {
    const query = Object.keys(h.gateway.schema.getQueryType()!.getFields());
    expect(query).toEqual(['payments', 'payment', 'customer', 'merchant', 'geocode', 'place', 'message', 'ledger', 'geo', 'sms']);
    // Same backend contracts as the curated sources, yet nothing collides: every source type is prefixed.
    expect(h.gateway.schema.getType('Ledger_Client')).toBeDefined(); // renamed by the entry's `rename`
    expect(h.gateway.schema.getType('Sms_Message')).toBeDefined();
    expect(h.gateway.schema.getType('Customer')).toBeDefined();
    expect(h.gateway.reports.map((r) => [r.name, r.kind])).toEqual([['ledger', 'openapi'], ['geo', 'soap'], ['sms', 'graphql']]);
    expect(h.gateway.reports.find((r) => r.name === 'ledger')!.exposedOperations).toBe(9);
  });

  it('answer one query across REST, SOAP and GraphQL user sources with one call each', async () => {
    const customer = h.seed.customers[0]!;
    const message = h.seed.messages[0]!;
    const place = h.seed.places[0]!;
    const { status, body } = await h.query(
      `query($c: String!, $m: ID!, $a: String!) {
        ledger { client(id: $c) { ... on Ledger_Client { id name } } }
        geo { geocode(address: $a) { id name } }
        sms { message(id: $m) { id body } }
      }`,
      { c: customer.id, m: message.id, a: place.formattedAddress },
    );
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data!.ledger.client).toEqual({ id: customer.id, name: customer.name });
    expect(body.data!.sms.message).toEqual({ id: message.id, body: message.body });
    expect(JSON.stringify(body.data!.geo.geocode)).toContain(place.id);
    const stats = await h.stats();
    expect(stats.payments.operations).toEqual({ getCustomer: 1 });
    expect(stats.maps.operations).toEqual({ Geocode: 1 });
    expect(stats.messaging.operations).toEqual({ message: 1 });
  });
});

describe('who may use a user source', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startByoHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  it('refuses anonymous callers unless the entry says public: true, before any call, the rest of the query answering', async () => {
    const place = h.seed.places[0]!;
    const { status, body } = await h.query(
      `query($c: String!, $a: String!) {
        ledger { client(id: $c) { ... on Ledger_Client { id } } }
        geo { geocode(address: $a) { id } }
        sms { message(id: "m") { id } }
      }`,
      { c: h.seed.customers[0]!.id, a: place.formattedAddress },
      { authorization: '' },
    );
    expect(status).toBe(200);
    expect(body.data!.ledger).toBeNull();
    expect(body.data!.sms).toBeNull();
    expect(JSON.stringify(body.data!.geo)).toContain(place.id);
    expect(body.errors!.map((e) => [e.path, e.extensions!.code])).toEqual([[['ledger'], 'UNAUTHENTICATED'], [['sms'], 'UNAUTHENTICATED']]);
    const stats = await h.stats();
    expect([stats.payments.total, stats.messaging.total]).toEqual([0, 0]);
  });

  it('sends a path parameter holding "../", "?" or "#" as exactly one encoded segment, and refuses ".."', async () => {
    for (const id of ['../v1/payments?limit=1#', 'cus_x/../../v1/payments', 'a?b=1#c']) {
      const { body } = await h.query('query($c: String!) { ledger { client(id: $c) { ... on Ledger_Client { id } } } }', { c: id });
      // No such customer: the answer is the backend's error member of the union, never a customer.
      expect(body.data?.ledger?.client?.id, id).toBeUndefined();
    }
    // Three look-ups of one customer each, as the ids asked: never a payments list.
    expect((await h.stats()).payments.operations).toEqual({ getCustomer: 3 });
    const dots = await h.query('{ ledger { client(id: "..") { ... on Ledger_Client { id } } } }');
    expect(dots.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect((await h.stats()).payments.operations).toEqual({ getCustomer: 3 });
  });

  const CHARGE = 'mutation($k: String, $c: String!, $m: String!) { ledger { createPayment(Idempotency_Key: $k, input: { customer: $c, merchant: $m, amount: 500, currency: "eur" }) { ... on Ledger_Payment { id } } } }';

  it('keeps an idempotency key sent to a user source to its caller: a second caller with it gets a payment of their own', async () => {
    const vars = { k: 'order-77', c: h.seed.customers[0]!.id, m: h.seed.merchants[0]!.id };
    const as = async (sub: string) => ({ authorization: `Bearer ${await h.issuer.token({ sub })}` });
    const alice = await h.query(CHARGE, vars, await as('alice'));
    const again = await h.query(CHARGE, vars, await as('alice'));
    const bob = await h.query(CHARGE, vars, await as('bob'));
    const id = (r: typeof alice) => r.body.data!.ledger.createPayment.id as string;
    expect(id(alice)).toMatch(/^pay_/);
    expect(id(again)).toBe(id(alice)); // her retry replays her payment
    expect(id(bob)).not.toBe(id(alice));
    expect((await h.stats()).payments.operations).toEqual({ createPayment: 3 });
  });

  it('refuses CR or LF in an argument a user source sends as a header with BAD_USER_INPUT, before any call', async () => {
    const { body } = await h.query(CHARGE, { k: 'a\r\nx-injected: 1', c: h.seed.customers[0]!.id, m: h.seed.merchants[0]!.id });
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect((await h.stats()).payments.total).toBe(0);
  });

  it('refuses characters XML cannot carry in a SOAP user source\'s argument with BAD_USER_INPUT, before any call', async () => {
    const { body } = await h.query('{ geo { geocode(address: "Main St\\u0001") { id } } }', {}, { authorization: '' });
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect((await h.stats()).maps.total).toBe(0);
  });

  it('refuses an anonymous mutation of a user source the same way', async () => {
    const { body } = await h.query('mutation { sms { sendMessage(to: "+4930123456", body: "hi") { id } } }', {}, { authorization: '' });
    expect(body.data).toEqual({ sms: null });
    expect(body.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
    expect((await h.stats()).messaging.total).toBe(0);
  });
});

describe('when a user source\'s backend fails', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startByoHarness();
  });
  afterAll(() => h.close());

  it('gives the same catalogued errors as the curated sources, named after the user source, leaking nothing', async () => {
    // Three failures each for REST and GraphQL reads, retried twice as the demo's are. One for geo:
    // a SOAP operation is a read (retried) only when its entry lists it in `queries`, and geo lists none.
    await h.resetStats();
    await Promise.all([h.fault('payments', 'getCustomer', 3), h.fault('maps', 'Geocode', 1), h.fault('messaging', 'message', 3)]);
    const { status, body } = await h.query(`{
      ledger { client(id: "cus_x") { ... on Ledger_Client { id } } }
      geo { geocode(address: "x") { id } }
      sms { message(id: "SMx") { id } }
    }`);
    expect(status).toBe(200);
    expect(body.data).toEqual({ ledger: { client: null }, geo: { geocode: null }, sms: { message: null } });
    const byPath = Object.fromEntries(body.errors!.map((e) => [e.path!.join('.'), e]));
    expect(byPath['ledger.client']).toEqual({
      message: 'The ledger service failed to answer getCustomer.',
      // Located in the client's own document: the `client` field on line 2.
      locations: [{ line: 2, column: 16 }],
      path: ['ledger', 'client'],
      extensions: { code: 'SOURCE_ERROR', source: 'ledger', upstreamCode: 'injected_fault' },
    });
    expect(byPath['geo.geocode']!.extensions).toEqual({ code: 'SOURCE_ERROR', source: 'geo', upstreamCode: 'Server' });
    expect((await h.stats()).maps.operations).toEqual({ Geocode: 1 });
    expect(byPath['sms.message']!.extensions).toEqual({ code: 'SOURCE_ERROR', source: 'sms', upstreamCode: 'INJECTED_FAULT' });
    // No upstream URL, header or body reaches the client; the log has each failure with the request id.
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|request-id|api_error|Injected fault/);
    for (const source of ['ledger', 'geo', 'sms']) {
      expect(h.logs.some((l) => l.source === source && l.code === 'SOURCE_ERROR' && typeof l.requestId === 'string'), source).toBe(true);
    }
  });

  it('passes on a backend\'s refusal of bad input as SOURCE_REJECTED with its message', async () => {
    const { body } = await h.query('{ sms { sendMessage(to: "not-a-number", body: "hi") { id } } }'.replace('{ sms', 'mutation { sms'));
    expect(body.errors![0]!.extensions).toEqual({ code: 'SOURCE_REJECTED', source: 'sms', upstreamCode: 'INVALID_PHONE_NUMBER' });
    expect(body.errors![0]!.message).toMatch(/not a valid phone number/);
  });
});

describe('when a user source cannot be reached', () => {
  let h: Harness;
  beforeAll(async () => {
    // Port 9 (discard) is closed on loopback: every call is refused.
    h = await startByoHarness(() => ({ payments: 'http://127.0.0.1:9', maps: 'http://127.0.0.1:9', messaging: 'http://127.0.0.1:9' }));
  });
  afterAll(() => h.close());

  it('answers SOURCE_UNAVAILABLE for each, and the curated contract still answers', async () => {
    const customer = h.seed.customers[0]!;
    const { status, body } = await h.query(`query($c: ID!, $s: String!) {
      customer(id: $c) { name }
      ledger { client(id: $s) { ... on Ledger_Client { id } } }
      geo { geocode(address: "x") { id } }
      sms { message(id: "SMx") { id } }
    }`, { c: customer.id, s: customer.id });
    expect(status).toBe(200);
    expect(body.data!.customer).toEqual({ name: customer.name });
    const codes = Object.fromEntries(body.errors!.map((e) => [e.path![0], [e.extensions!.code, e.extensions!.source]]));
    expect(codes).toEqual({
      ledger: ['SOURCE_UNAVAILABLE', 'ledger'],
      geo: ['SOURCE_UNAVAILABLE', 'geo'],
      sms: ['SOURCE_UNAVAILABLE', 'sms'],
    });
  });
});

describe('a sources file with mistakes', () => {
  it('refuses a rename of something the source does not have, naming it', async () => {
    const file = writeSourcesFile(offlineGraphqlSource('sms', `        rename:
          types: { Mesage: Sms }
          fields: { Query.messages: list, Query.mesages: typo }
`));
    await expect(startHarness({ meshConfig: file })).rejects.toThrow('source "sms" could not be loaded: rename names what the source does not have: Mesage, Query.mesages');
  });

  it('is refused at start with every problem named, not half-loaded', () => {
    const file = join(tmpdir(), `junction-bad-${process.pid}.meshrc.yaml`);
    writeFileSync(
      file,
      `sources:
  - name: stripe
    handler:
      openapi:
        source: ./stripe.yaml
        selectQueryOrMutationField: []
  - name: countries
    handler:
      jsonSchema:
        source: ./countries.json
  - name: gh
    handler:
      graphql:
        endpoint: '{env.GITHUB_URL}'
  - name: 9lives
    handler:
      graphql:
        endpoint: http://x
`,
    );
    let error: unknown;
    try {
      readUserSources(file, {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SourceConfigError);
    const { problems } = error as SourceConfigError;
    // An unset variable is one problem, said once (not also "must be a URL" for the empty string left behind).
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^sources\[0\] \(stripe\)\.handler\.openapi: option\(s\) selectQueryOrMutationField are not supported/);
    expect(problems[1]).toBe('sources[1] (countries).handler: "jsonSchema" is not a handler Junction serves (openapi, graphql, soap)');
    expect(problems[2]).toBe('sources[2] (gh).handler.graphql.endpoint: {env.GITHUB_URL} is used but GITHUB_URL is not set');
    expect(problems[3]).toMatch(/^sources\[3\] \(9lives\)\.name: must start with a letter/);
  });
});
