import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callCounts, startHarness, type Harness } from '../helpers/harness.ts';
import { TEST_AUTH } from '../helpers/test-issuer.ts';
import { hashApiKey } from '../../gateway/auth/api-keys.ts';
import { INVALID_TOKEN_MESSAGE } from '../../gateway/auth/authenticator.ts';
import { basicAuth } from '../../sources/demo/credentials.ts';
import { SOURCE_NAMES } from '../../sources/demo/index.ts';

const PAYMENT = 'query($id: ID!) { payment(id: $id) { id amount } }';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Every refusal looks the same to the client, whatever the cause, and costs no backend call. */
async function expectRefused(h: Harness, headers: Record<string, string>) {
  await h.resetStats();
  const { status, headers: responseHeaders, body } = await h.query(PAYMENT, { id: h.seed.payments[0]!.id }, headers);
  expect(status).toBe(401);
  expect(responseHeaders.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  expect(body.data).toBeUndefined();
  expect(body.errors).toEqual([{ message: INVALID_TOKEN_MESSAGE, extensions: { code: 'INVALID_TOKEN' } }]);
  expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
}

describe('bearer tokens (hardening.md, token rows)', () => {
  let h: Harness;
  let clock = Date.now();
  beforeAll(async () => {
    h = await startHarness({ now: () => clock });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    clock = Date.now();
  });

  it('accepts a valid access token', async () => {
    const { status, body } = await h.query(PAYMENT, { id: h.seed.payments[0]!.id }, bearer(await h.issuer.token()));
    expect(status).toBe(200);
    expect(body.data).toEqual({ payment: { id: h.seed.payments[0]!.id, amount: h.seed.payments[0]!.amount } });
  });

  it('refuses alg "none"', async () => {
    const unsecured = new UnsecuredJWT({ scope: 'payments:read', sub: 'mallory' })
      .setIssuer(TEST_AUTH.issuer!).setAudience(TEST_AUTH.audience!).setExpirationTime('5m').encode();
    // UnsecuredJWT writes no typ; give it the access-token typ so only the algorithm is wrong.
    const [, payload] = unsecured.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    await expectRefused(h, bearer(`${header}.${payload}.`));
  });

  it('refuses HS256 signed with the RS public key as the HMAC secret (key confusion)', async () => {
    const publicKey: KeyObject = createPublicKey({ key: h.issuer.jwks.keys[0] as never, format: 'jwk' });
    const secret = new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const forged = await new SignJWT({ scope: 'payments:read' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: h.issuer.kid })
      .setIssuer(TEST_AUTH.issuer!).setAudience(TEST_AUTH.audience!).setSubject('mallory').setExpirationTime('5m')
      .sign(secret);
    await expectRefused(h, bearer(forged));
  });

  it('refuses a token without exp', async () => {
    await expectRefused(h, bearer(await h.issuer.token({ claims: { exp: undefined } })));
  });

  it('refuses an expired token, allowing 30 s of clock skew', async () => {
    const token = await h.issuer.token({ ttlSec: 60 });
    clock += 60_000 + 20_000; // 20 s past exp: within tolerance
    expect((await h.query(PAYMENT, { id: h.seed.payments[0]!.id }, bearer(token))).status).toBe(200);
    clock += 20_000; // 40 s past exp
    await expectRefused(h, bearer(token));
  });

  it('refuses a token that is not yet valid (nbf beyond the skew)', async () => {
    const nbf = Math.floor(clock / 1000) + 120;
    await expectRefused(h, bearer(await h.issuer.token({ claims: { nbf } })));
  });

  it('refuses a wrong issuer and a wrong audience', async () => {
    await expectRefused(h, bearer(await h.issuer.token({ claims: { iss: 'https://evil.example/' } })));
    await expectRefused(h, bearer(await h.issuer.token({ claims: { aud: 'https://someone-else.example' } })));
  });

  it('refuses an ID token (typ JWT, or no typ) where an access token belongs', async () => {
    await expectRefused(h, bearer(await h.issuer.token({ header: { typ: 'JWT' } })));
    await expectRefused(h, bearer(await h.issuer.token({ header: { typ: undefined } })));
  });

  it('refuses a token signed by a key the issuer does not publish, and garbage', async () => {
    const other = await (await import('../helpers/test-issuer.ts')).createTestIssuer();
    await expectRefused(h, bearer(await other.token()));
    await expectRefused(h, bearer('not.a.token'));
    await expectRefused(h, { authorization: 'Basic dXNlcjpwYXNz' });
  });

  it('never logs a token, accepted or refused', async () => {
    const good = await h.issuer.token();
    const bad = await h.issuer.token({ claims: { iss: 'https://evil.example/' } });
    await h.query(PAYMENT, { id: 'pay_nope' }, bearer(good));
    await h.query(PAYMENT, { id: 'pay_nope' }, bearer(bad));
    const logged = JSON.stringify(h.logs);
    expect(logged).toContain('credentials refused');
    for (const token of [good, bad]) expect(logged).not.toContain(token.split('.')[2]);
  });
});

describe('scopes on fields: partial results, decided before any backend call', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  const customer = () => h.seed.customers[0]!;
  const MIXED = `query($c: ID!, $a: String!) {
    customer(id: $c) { id name messages(first: 2) { id } }
    geocode(address: $a) { id }
  }`;

  it('a token with payments:read only gets the customer, a FORBIDDEN null for messages, and the public maps field', async () => {
    const token = await h.issuer.token({ scopes: ['payments:read'] });
    const { status, body } = await h.query(MIXED, { c: customer().id, a: h.seed.places[0]!.formattedAddress }, bearer(token));
    expect(status).toBe(200);
    expect(body.data).toEqual({ customer: { id: customer().id, name: customer().name, messages: null }, geocode: [{ id: h.seed.places[0]!.id }] });
    expect(body.errors).toEqual([{
      message: 'Customer.messages needs scope messages:read.',
      locations: [{ line: 2, column: 32 }],
      path: ['customer', 'messages'],
      extensions: { code: 'FORBIDDEN', requiredScopes: [['messages:read']] },
    }]);
    expect(callCounts(await h.stats())).toEqual({ payments: 1, maps: 1, messaging: 0 });
  });

  it('an anonymous caller gets the public fields; payment data is null with UNAUTHENTICATED and payments is never called', async () => {
    const { status, body } = await h.query(MIXED, { c: customer().id, a: h.seed.places[0]!.formattedAddress }, { authorization: '' });
    expect(status).toBe(200);
    expect(body.data).toEqual({ customer: null, geocode: [{ id: h.seed.places[0]!.id }] });
    expect(body.errors).toMatchObject([{ path: ['customer'], extensions: { code: 'UNAUTHENTICATED' } }]);
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 1, messaging: 0 });
  });

  it('a mutation needs its own scope: payments:read cannot create a payment, and the backend sees no call', async () => {
    const token = await h.issuer.token({ scopes: ['payments:read'] });
    const { body } = await h.query(
      'mutation($c: ID!) { createPayment(input: { customerId: $c, merchantId: "mer_x", amount: 100, currency: "eur" }) { id } }',
      { c: customer().id }, bearer(token),
    );
    expect(body.data).toEqual({ createPayment: null });
    expect(body.errors![0]!.extensions).toEqual({ code: 'FORBIDDEN', requiredScopes: [['payments:write']] });
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
  });

  it('scopes come from scope, scp or permissions, whichever the provider uses', async () => {
    for (const claims of [{ scope: 'payments:read' }, { scp: ['payments:read'] }, { permissions: ['payments:read'] }]) {
      const token = await h.issuer.token({ scopes: [], claims });
      const { body } = await h.query('query($c: ID!) { customer(id: $c) { id } }', { c: customer().id }, bearer(token));
      expect(body, JSON.stringify(claims)).toEqual({ data: { customer: { id: customer().id } } });
    }
  });
});

describe('services: API keys and client-credentials tokens', () => {
  const KEY = 'jk_test_billing_service_key';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      auth: () => ({ apiKeys: [{ service: 'billing', sha256: hashApiKey(KEY), scopes: ['payments:read'] }] }),
    });
  });
  afterAll(() => h.close());

  it('an API key acts as its service, with the scopes configured for it', async () => {
    const { status, body } = await h.query('query($c: ID!) { customer(id: $c) { id messages { id } } }', { c: h.seed.customers[0]!.id }, { 'x-api-key': KEY });
    expect(status).toBe(200);
    expect(body.data).toEqual({ customer: { id: h.seed.customers[0]!.id, messages: null } });
    expect(body.errors![0]!.extensions!.code).toBe('FORBIDDEN');
  });

  it('refuses an unknown key, and a request carrying both a key and a token', async () => {
    await expectRefused(h, { 'x-api-key': 'jk_unknown' });
    await expectRefused(h, { 'x-api-key': KEY, authorization: `Bearer ${await h.issuer.token()}` });
  });

  it('a client-credentials token with the service audience acts as its client', async () => {
    const token = await h.issuer.token({ scopes: ['payments:read'], claims: { aud: TEST_AUTH.serviceAudience, sub: undefined, client_id: 'reports' } });
    const { body } = await h.query('query($c: ID!) { customer(id: $c) { id } }', { c: h.seed.customers[0]!.id }, bearer(token));
    expect(body).toEqual({ data: { customer: { id: h.seed.customers[0]!.id } } });
  });
});

describe('upstream credentials', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('every backend saw the gateway\'s own credentials and never the client\'s token', async () => {
    const token = await h.issuer.token();
    const { body } = await h.query(`query($c: ID!, $a: String!) {
      customer(id: $c) { id messages(first: 1) { id } address { location { lat } } }
      geocode(address: $a) { id }
    }`, { c: h.seed.customers[0]!.id, a: h.seed.places[0]!.formattedAddress }, { ...bearer(token), 'x-junction-principal': 'admin' });
    expect(body.errors).toBeUndefined();
    const seen = Object.fromEntries(await Promise.all(SOURCE_NAMES.map(async (name) =>
      [name, await (await fetch(`${h.backends[name].url}/_stats/credentials`)).json()] as const)));
    expect(seen).toEqual({
      payments: [`Bearer ${h.credentials.payments.secretKey}`],
      maps: [`wsse ${h.credentials.maps.username}:${h.credentials.maps.apiKey}`],
      messaging: [basicAuth(h.credentials.messaging.accountSid, h.credentials.messaging.authToken)],
    });
    expect(JSON.stringify(seen)).not.toContain(token);
  });

  it('the demo backends answer 401 to a call without them', async () => {
    const payments = await fetch(`${h.backends.payments.url}/v1/customers?ids=${h.seed.customers[0]!.id}`);
    expect(payments.status).toBe(401);
    expect(payments.headers.get('www-authenticate')).toBe('Bearer realm="payments"');
    const messaging = await fetch(`${h.backends.messaging.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    expect(messaging.status).toBe(401);
    const maps = await fetch(`${h.backends.maps.url}/soap`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8' },
      body: '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetPlaceRequest xmlns="http://junction.dev/maps/v1"><id>x</id></GetPlaceRequest></soap:Body></soap:Envelope>',
    });
    expect(maps.status).toBe(401);
    expect(await maps.text()).toContain('WS-Security UsernameToken');
  });
});

/** A real identity provider's key endpoint: serves the issuer's JWKS, counts fetches, can fail. */
async function startJwksServer(jwks: () => object): Promise<{ url: string; fetches: () => number; down: (v: boolean) => void; close: () => Promise<void> }> {
  let fetches = 0;
  let isDown = false;
  const server: Server = createServer((req, res) => {
    fetches += 1;
    if (isDown) {
      res.writeHead(503).end('down');
      return;
    }
    const body = JSON.stringify(jwks());
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    fetches: () => fetches,
    down: (v) => {
      isDown = v;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('keys from a JWKS URL', () => {
  let h: Harness;
  let idp: Awaited<ReturnType<typeof startJwksServer>>;
  let clock = Date.now();
  beforeEach(async () => {
    clock = Date.now();
    let issuerJwks: object = { keys: [] };
    idp = await startJwksServer(() => issuerJwks);
    h = await startHarness({ now: () => clock, auth: (issuer) => {
      issuerJwks = issuer.jwks;
      return { keys: { kind: 'remote', url: idp.url } };
    } });
  });
  afterEach(async () => {
    await h.close();
    await idp.close();
  });

  it('500 tokens with unknown kids in one burst: all 401, one JWKS fetch in all', async () => {
    const first = await h.query(PAYMENT, { id: h.seed.payments[0]!.id }, bearer(await h.issuer.token()));
    expect(first.status).toBe(200);
    expect(idp.fetches()).toBe(1);
    const forged = await Promise.all(Array.from({ length: 500 }, (_, i) => h.issuer.token({ header: { kid: `forged-${i}` } })));
    const answers = await Promise.all(forged.map((t) => h.query(PAYMENT, { id: 'pay_x' }, bearer(t))));
    expect(answers.filter((a) => a.status === 401)).toHaveLength(500);
    // The first fetch was under 30 s ago: the cooldown lets none of the 500 cause another.
    expect(idp.fetches()).toBe(1);
    clock += 31_000;
    await Promise.all(forged.slice(0, 50).map((t) => h.query(PAYMENT, { id: 'pay_x' }, bearer(t))));
    expect(idp.fetches()).toBe(2); // past the cooldown: one refetch for fifty unknown kids
  });

  it('picks up a rotated key with one refetch', async () => {
    expect((await h.query(PAYMENT, { id: 'pay_x' }, bearer(await h.issuer.token()))).status).toBe(200);
    await h.issuer.rotate();
    clock += 31_000;
    const rotated = await h.issuer.token({ now: clock });
    expect((await h.query(PAYMENT, { id: h.seed.payments[0]!.id }, bearer(rotated))).status).toBe(200);
    expect(idp.fetches()).toBe(2);
  });

  it('rides out an identity-provider outage on the cached keys, then answers 503 (never 500) once they are too old', async () => {
    expect((await h.query(PAYMENT, { id: 'pay_x' }, bearer(await h.issuer.token()))).status).toBe(200);
    idp.down(true);
    clock += 11 * 60_000; // past the 10 min max age: a refetch fails, the stale keys still verify
    expect((await h.query(PAYMENT, { id: 'pay_x' }, bearer(await h.issuer.token({ now: clock })))).status).toBe(200);
    clock += 24 * 3_600_000; // past the stale-if-error window
    const { status, headers, body } = await h.query(PAYMENT, { id: 'pay_x' }, bearer(await h.issuer.token({ now: clock })));
    expect(status).toBe(503);
    expect(headers.get('retry-after')).toBe('5');
    expect(body.errors![0]!.extensions).toEqual({ code: 'AUTH_UNAVAILABLE' });
    idp.down(false);
    clock += 1_000;
    expect((await h.query(PAYMENT, { id: 'pay_x' }, bearer(await h.issuer.token({ now: clock })))).status).toBe(200);
  });

  it('answers 503 when the provider is down and nothing was ever fetched', async () => {
    idp.down(true);
    const { status, body } = await h.query(PAYMENT, { id: 'pay_x' }, bearer(await h.issuer.token()));
    expect(status).toBe(503);
    expect(body.errors![0]!.extensions).toEqual({ code: 'AUTH_UNAVAILABLE' });
  });
});

describe('first-party backends told who is calling (forwardIdentity)', () => {
  let h: Harness;
  let accounts: Server;
  beforeAll(async () => {
    // A first-party service that answers with the identity headers it received.
    const yoga = createYoga({
      schema: createSchema({
        typeDefs: 'type Query { whoami: String! }',
        resolvers: { Query: { whoami: (_: unknown, __: unknown, { request }: { request: Request }) => JSON.stringify({
          principal: request.headers.get('x-junction-principal'),
          scopes: request.headers.get('x-junction-scopes'),
          authorization: request.headers.get('authorization'),
        }) } },
      }),
      logging: false,
    });
    accounts = createServer(yoga);
    await new Promise<void>((resolve) => accounts.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(accounts.address() as AddressInfo).port}`;
    h = await startHarness({ meshConfig: 'test/fixtures/first-party.meshrc.yaml', env: () => ({ ACCOUNTS_URL: url }) });
  });
  afterAll(async () => {
    await h.close();
    await new Promise<void>((resolve) => accounts.close(() => resolve()));
  });

  it('sends the verified principal and scopes, never the client\'s copies or its token', async () => {
    const token = await h.issuer.token({ sub: 'alice', scopes: ['payments:read', 'messages:read'] });
    const { body } = await h.query('{ accounts { whoami } }', {}, { ...bearer(token), 'x-junction-principal': 'service:admin', 'x-junction-scopes': 'payments:write' });
    expect(JSON.parse(body.data!.accounts.whoami)).toEqual({ principal: 'user:alice', scopes: 'payments:read messages:read', authorization: null });
  });

  it('says anonymous when nobody signed in', async () => {
    const { body } = await h.query('{ accounts { whoami } }', {}, { authorization: '', 'x-junction-principal': 'user:alice' });
    expect(JSON.parse(body.data!.accounts.whoami)).toEqual({ principal: 'anonymous', scopes: '', authorization: null });
  });
});
