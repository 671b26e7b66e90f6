import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';

const SEND = 'mutation { sendMessage(input: { phone: "+4930111222333", body: "forged" }) { id } }';

describe('production mode (the default)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ mode: 'production' });
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  it('refuses a mutation sent as a cross-site form POST, and the backend sees no call', async () => {
    const response = await h.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: SEND }).toString(),
    });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.errors[0].extensions.code).toBe('CSRF_REFUSED');
    expect((await h.stats()).messaging.total).toBe(0);
  });

  it('refuses text/plain and multipart bodies without a preflight header too', async () => {
    for (const contentType of ['text/plain', 'multipart/form-data; boundary=x']) {
      const response = await h.fetch('/graphql', { method: 'POST', headers: { 'content-type': contentType }, body: JSON.stringify({ query: SEND }) });
      expect(response.status, contentType).toBe(400);
      // Refused by the CSRF check, not by some other 400 that a parser might give.
      expect((await response.json()).errors[0].extensions.code, contentType).toBe('CSRF_REFUSED');
    }
    expect((await h.stats()).messaging.total).toBe(0);
  });

  it('never runs a mutation from a GET', async () => {
    const response = await h.fetch(`/graphql?query=${encodeURIComponent(SEND)}`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(405);
    expect((await h.stats()).messaging.total).toBe(0);
  });

  it('hides the schema: introspection is refused and typos get no suggestions', async () => {
    const introspection = await h.query('{ __schema { types { name } } }');
    expect(introspection.status).toBe(400);
    expect(introspection.body.errors![0]!.message).toMatch(/introspection/i);
    const typo = await h.query('{ paymnt(id: "x") { id } }');
    expect(typo.body.errors![0]!.message).toBe('Cannot query field "paymnt" on type "Query".');
  });

  it('serves no GraphiQL', async () => {
    const response = await h.fetch('/graphql', { headers: { accept: 'text/html' } });
    expect(await response.text()).not.toMatch(/graphiql/i);
  });
});

describe('development mode', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ mode: 'development' });
  });
  afterAll(() => h.close());

  it('serves GraphiQL with the example query that reaches all three backends', async () => {
    const response = await h.fetch('/graphql', { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toMatch(/graphiql/i);
    expect(html).toContain('query Dashboard');
  });

  it('answers introspection with the documented schema', async () => {
    const { body } = await h.query('{ __type(name: "Customer") { description fields { name description } } }');
    const name = body.data!.__type.fields.find((f: any) => f.name === 'name');
    expect(name.description).toBe("The customer's full name.");
  });
});
