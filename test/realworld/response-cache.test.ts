import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenApiStandIn, type OpenApiStandIn } from './openapi-stand-in.ts';
import { startHarness, type Harness, type HarnessOptions } from '../helpers/harness.ts';
import { basicAuth } from '../../sources/demo/credentials.ts';
import { createMemoryStore } from '../../gateway/cache/store.ts';

/**
 * User sources (test/fixtures/byo.meshrc.yaml: the demo backends added again as REST, SOAP and
 * GraphQL user sources) behind the gateway's response cache. The cache adds
 * `__responseCacheTypeName: __typename` and `__responseCacheId: id` to every document it runs, to
 * learn which entities an answer holds; those keys are the gateway's, and no answer may carry them.
 */
function startByo(options: HarnessOptions = {}) {
  return startHarness({
    meshConfig: 'test/fixtures/byo.meshrc.yaml',
    env: (b, c) => ({
      LEDGER_URL: b.payments.url,
      LEDGER_TOKEN: c.payments.secretKey,
      GEO_URL: b.maps.url,
      GEO_USERNAME: c.maps.username,
      GEO_API_KEY: c.maps.apiKey,
      SMS_URL: b.messaging.url,
      SMS_AUTHORIZATION: basicAuth(c.messaging.accountSid, c.messaging.authToken),
    }),
    ...options,
  });
}

/** Every key of every object in a JSON value. */
function keysOf(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => keysOf(v, into));
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      into.add(key);
      keysOf(v, into);
    }
  }
  return into;
}

const leaked = (body: unknown) => [...keysOf(body)].filter((key) => key.startsWith('__responseCache'));

describe('user sources behind the response cache', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startByo({ cacheStore: createMemoryStore() });
  });
  afterAll(() => h.close());

  const queries = (h: Harness) => ({
    ledger: [`{ ledger { client(id: "${h.seed.customers[0]!.id}") { ... on Ledger_Client { name } } } }`, { ledger: { client: { name: h.seed.customers[0]!.name } } }],
    geo: [`{ geo { geocode(address: "${h.seed.places[0]!.formattedAddress}") { name } } }`, { geo: { geocode: [{ name: h.seed.places[0]!.name }] } }],
    sms: [`{ sms { message(id: "${h.seed.messages[0]!.id}") { body } } }`, { sms: { message: { body: h.seed.messages[0]!.body } } }],
  }) as const;

  it('never puts __responseCacheId or __responseCacheTypeName in an answer, asked twice', async () => {
    for (const [name, [query]] of Object.entries(queries(h))) {
      for (const round of [1, 2]) {
        const { body } = await h.query(query);
        expect(leaked(body), `${name}, round ${round}: ${JSON.stringify(body)}`).toEqual([]);
      }
    }
  });

  it('answers a selection without the id, as without the cache', async () => {
    for (const [name, [query, data]] of Object.entries(queries(h))) {
      const { body } = await h.query(query);
      expect(body, name).toEqual({ data });
    }
  });
});

describe('user sources without the cache', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startByo();
  });
  afterAll(() => h.close());

  it('answer an aliased field (the cache aliases `id` in every document it runs)', async () => {
    const customer = h.seed.customers[0]!;
    const place = h.seed.places[0]!;
    const message = h.seed.messages[0]!;
    const { body } = await h.query(
      `{ ledger { c: client(id: "${customer.id}") { ... on Ledger_Client { key: id who: name } } }
         geo { geocode(address: "${place.formattedAddress}") { key: id } }
         sms { message(id: "${message.id}") { key: id text: body } } }`,
    );
    expect(body).toEqual({
      data: {
        ledger: { c: { key: customer.id, who: customer.name } },
        geo: { geocode: [{ key: place.id }] },
        sms: { message: { key: message.id, text: message.body } },
      },
    });
  });
});

/** A REST API whose things have an optional id, as many contracts say (`id` not in `required`). */
const THINGS = {
  openapi: '3.0.3',
  info: { title: 'Things', version: '1' },
  servers: [{ url: 'https://things.example.com' }],
  paths: {
    '/things/{id}': {
      get: {
        operationId: 'getThing',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: { description: 'A thing.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } } },
      },
    },
  },
  components: { schemas: { Thing: { type: 'object', required: ['name'], properties: { id: { type: 'string' }, name: { type: 'string' } } } } },
};

describe('a user source whose entity comes back without its id, behind the response cache', () => {
  let standIn: OpenApiStandIn;
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    standIn = await startOpenApiStandIn(THINGS, { respond: () => ({ status: 200, body: { name: 'Widget' } }) });
    dir = mkdtempSync(join(tmpdir(), 'junction-response-cache-'));
    writeFileSync(join(dir, 'things.json'), JSON.stringify(THINGS));
    const meshConfig = join(dir, '.meshrc.yaml');
    writeFileSync(meshConfig, yaml.dump({ sources: [{ name: 'things', handler: { openapi: { source: join(dir, 'things.json'), endpoint: standIn.endpoint, namespace: true } } }] }));
    h = await startHarness({ meshConfig, cacheStore: createMemoryStore() });
  });
  afterAll(async () => {
    await h?.close();
    await standIn?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers without __responseCacheId (the cache asked for `id` and got null; the plugin only removes ids that are set)', async () => {
    const { body } = await h.query('{ things { getThing(id: "t1") { name } } }');
    expect(body).toEqual({ data: { things: { getThing: { name: 'Widget' } } } });
  });
});
