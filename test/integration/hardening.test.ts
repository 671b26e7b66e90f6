import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callCounts, startHarness, type Harness } from '../helpers/harness.ts';

/**
 * Regression tests for what an outside probe of 0.2.0 found (issue 14), each through the public
 * HTTP surface and named after the behaviour it protects. Production mode throughout.
 */

const post = (h: Harness, body: BodyInit, headers: Record<string, string> = {}) =>
  h.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers }, body })
    .then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }))
    .then((r) => ({ ...r, body: JSON.parse(r.text) as { data?: any; errors?: { message: string; path?: unknown[]; extensions?: Record<string, any> }[] } }));

/** Six levels of fragments, each spreading the one below `spreads` times: spreads^6 paths in about 1 KB. */
function fragmentFanOut(spreads: number, levels = 6): string {
  const fragments = Array.from({ length: levels }, (_, i) => i === levels - 1
    ? `fragment F${i} on Merchant { id name }`
    : `fragment F${i} on Merchant { ${`...F${i + 1} `.repeat(spreads)}}`);
  return `query($m: ID!) { merchant(id: $m) { ...F0 } } ${fragments.join(' ')}`;
}

describe('document walks', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  it('refuses fragments that spread each other many times over in milliseconds, without holding the event loop', async () => {
    const token = `Bearer ${await h.issuer.token()}`;
    // The first refusal in a new process also compiles its code path (tens of ms, whatever the
    // document): paid once with a document of the same shape but other names, as a running gateway has.
    const warm = await post(h, JSON.stringify({ query: fragmentFanOut(20).replaceAll('F', 'W'), variables: { m: 'w' } }), { authorization: token });
    expect(warm.status).toBe(400);
    for (const spreads of [20, 25]) {
      const query = fragmentFanOut(spreads);
      expect(query.length).toBeLessThan(1_100);
      const started = performance.now();
      const health = h.fetch('/healthz').then(() => performance.now() - started);
      const { status, body } = await post(h, JSON.stringify({ query, variables: { m: h.seed.merchants[0]!.id } }), { authorization: token });
      const elapsed = performance.now() - started;
      expect(status).toBe(400);
      expect(body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY', limit: 'MAX_SELECTIONS', maxSelections: 5_000 });
      // Before, compiling alone took 650 ms (20 spreads) and 2.3 s (25); 150 ms leaves room for a busy machine.
      expect(elapsed).toBeLessThan(150);
      expect(await health).toBeLessThan(150);
    }
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
  });

  it('answers fragments that spread each other a few times (486 selections written out)', async () => {
    const merchant = h.seed.merchants[0]!;
    const { status, body } = await post(h, JSON.stringify({ query: fragmentFanOut(3), variables: { m: merchant.id } }), { authorization: `Bearer ${await h.issuer.token()}` });
    expect(status).toBe(200);
    expect(body).toEqual({ data: { merchant: { id: merchant.id, name: merchant.name } } });
  });

  it('counts list sizes given by variables\' default values against the cost limit, as it counts literals', async () => {
    const token = { authorization: `Bearer ${await h.issuer.token()}` };
    const nested = (first: string, second: string) => `{ payments(first: ${first}) { edges { node { customer { payments(first: ${second}) { edges { node { id } } } } } } } }`;
    const literal = await post(h, JSON.stringify({ query: nested('100', '100') }), token);
    expect(literal.status).toBe(400);
    expect(literal.body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY' });
    const defaults = await post(h, JSON.stringify({ query: `query($a: Int = 100, $b: Int = 100) ${nested('$a', '$b')}` }), token);
    expect(defaults.status).toBe(400);
    expect(defaults.body.errors![0]!.extensions).toEqual(literal.body.errors![0]!.extensions);
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
  });
});

describe('one reader for every request', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ limits: { BODY_TIMEOUT_MS: 200 } });
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  // A developer may batch, as a service may.
  const developer = async () => ({ authorization: `Bearer ${await h.issuer.token({ sub: 'dev', scopes: ['junction:developer'] })}` });
  const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

  it('holds the body limit, batch rule and nesting limit for every content type it parses, and refuses the others with 415', async () => {
    const big = JSON.stringify({ query: `{ merchant(id: "${'x'.repeat(3 * 1024 * 1024)}") { id } }` });
    const batch = JSON.stringify(Array.from({ length: 10 }, () => ({ query: '{ __typename }' })));
    const nested = JSON.stringify({ query: 'query($v: [[Int]]) { __typename }' }).replace('}', `, "variables": { "v": ${deep(5_000)} } }`);
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/json, text/plain', 'APPLICATION/JSON', 'application/graphql+json']) {
      // Sent as a stream, with no declared length: the reader must count, not trust a header.
      const chunked = await h.fetch('/graphql', { method: 'POST', headers: { 'content-type': type }, body: new Blob([big]).stream(), duplex: 'half' } as RequestInit);
      expect(chunked.status, type).toBe(413);
      expect((await chunked.json()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
      const anonymousBatch = await post(h, batch, { 'content-type': type });
      expect(anonymousBatch.status, type).toBe(400);
      expect(anonymousBatch.body.errors![0]!.message).toMatch(/services only/);
      const tooDeep = await post(h, nested, { 'content-type': type });
      expect(tooDeep.status, type).toBe(400);
      expect(tooDeep.body.errors![0]!.extensions!.code).toBe('BAD_REQUEST');
    }
    // application/graphql carries the document itself: bounded the same way.
    const document = await h.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/graphql' }, body: new Blob([`{ merchant(id: "${'x'.repeat(3 * 1024 * 1024)}") { id } }`]).stream(), duplex: 'half' } as RequestInit);
    expect(document.status).toBe(413);
    // A form (with the CSRF header a browser form cannot send) gets the variables' nesting limit.
    const form = await h.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-graphql-csrf': '1', accept: 'application/graphql-response+json' },
      body: new URLSearchParams({ query: 'query($v: [[Int]]) { __typename }', variables: `{"v": ${deep(5_000)}}` }).toString(),
    });
    expect(form.status).toBe(400);
    expect((await form.json()).errors[0].extensions.code).toBe('BAD_REQUEST');
    // So does a GET's query string.
    const get = await h.fetch(`/graphql?${new URLSearchParams({ query: '{ __typename }', variables: `{"v": ${deep(2_000)}}` })}`, { headers: { accept: 'application/graphql-response+json' } });
    expect(get.status).toBe(400);
    for (const type of ['multipart/form-data; boundary=x', 'text/plain', 'application/xml', 'application/octet-stream', 'constructor', '__proto__']) {
      const refused = await h.fetch('/graphql', { method: 'POST', headers: { 'content-type': type, 'x-graphql-csrf': '1' }, body: '{"query":"{ __typename }"}' });
      expect(refused.status, type).toBe(415);
      expect((await refused.json()).errors[0].extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
  });

  it('still takes a batch from a trusted caller through any JSON content type', async () => {
    const batch = JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    const { status, body } = await post(h, batch, { 'content-type': 'application/json; charset=utf-8', ...(await developer()) });
    expect(status).toBe(200);
    expect(body).toEqual([{ data: { __typename: 'Query' } }, { data: { __typename: 'Query' } }]);
  });

  it('refuses 2 MB of variables nested a million levels before parsing them, in milliseconds', async () => {
    const levels = 1_000_000;
    const body = `{"query":"query($v: [[Int]]) { __typename }","variables":{"v":${deep(levels)}}}`;
    expect(body.length).toBeGreaterThan(2_000_000);
    const started = performance.now();
    const { status, body: answer } = await post(h, body);
    const elapsed = performance.now() - started;
    expect(status).toBe(400);
    expect(answer.errors![0]!.extensions!.code).toBe('BAD_REQUEST');
    // JSON.parse alone spent 600 ms on such a body; 150 ms leaves room for a busy machine.
    expect(elapsed).toBeLessThan(150);
  });

  it('refuses 2 MB holding 644,000 empty objects, or a million numbers, before parsing them, in milliseconds', async () => {
    for (const list of [`[${'{},'.repeat(644_183)}{}]`, `[${'0,'.repeat(1_000_000)}0]`]) {
      const body = `{"query":"query($after: String) { payments(after: $after) { edges { cursor } } }","variables":{"after":${list}}}`;
      expect(body.length).toBeGreaterThan(1_900_000);
      const started = performance.now();
      const { status, body: answer } = await post(h, body);
      const elapsed = performance.now() - started;
      expect(status).toBe(400);
      expect(answer.errors![0]).toMatchObject({ message: expect.stringMatching(/more than 50000 JSON values/), extensions: { code: 'BAD_REQUEST' } });
      // JSON.parse alone spent 270 ms on the objects; 150 ms leaves room for a busy machine.
      expect(elapsed).toBeLessThan(150);
    }
  });

  it('refuses a body that does not arrive within BODY_TIMEOUT_MS with 408, and closes the connection', async () => {
    const dripping = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"query": "{ __typename'));
      },
    });
    const started = performance.now();
    const response = await h.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: dripping, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(408);
    expect(response.headers.get('connection')).toBe('close');
    expect((await response.json()).errors[0].extensions.code).toBe('REQUEST_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('keeps answering while hundreds of clients are still sending their bodies: they hold no place in MAX_IN_FLIGHT', async () => {
    const slow = await startHarness({ limits: { MAX_IN_FLIGHT: 8, BODY_TIMEOUT_MS: 5_000 } });
    const controllers: ReadableStreamDefaultController<Uint8Array>[] = [];
    try {
      const pending = Array.from({ length: 600 }, () => slow.fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new ReadableStream<Uint8Array>({ start: (c) => void controllers.push(c) }),
        duplex: 'half',
      } as RequestInit));
      await new Promise((r) => setImmediate(r));
      const merchant = slow.seed.merchants[0]!;
      const answers = await Promise.all(Array.from({ length: 5 }, () => slow.query('query($m: ID!) { merchant(id: $m) { id } }', { m: merchant.id })));
      for (const { status, body } of answers) {
        expect(status).toBe(200);
        expect(body.data).toEqual({ merchant: { id: merchant.id } });
      }
      expect(slow.gateway.shedding.state().inFlight).toBe(0);
      // The slow bodies finish at last, and are answered.
      for (const c of controllers) {
        c.enqueue(new TextEncoder().encode('{"query":"{ __typename }"}'));
        c.close();
      }
      const late = await Promise.all(pending);
      expect(late.filter((r) => r.status === 200).length + late.filter((r) => r.status === 503).length).toBe(600);
    } finally {
      await slow.close();
    }
  });
});

describe('health', () => {
  it('/readyz under a flood probes each backend at most once per READY_CACHE_MS', async () => {
    const h = await startHarness();
    try {
      await h.resetStats();
      const answers = await Promise.all(Array.from({ length: 1_000 }, () => h.fetch('/readyz', { headers: { 'x-test-remote-address': '198.51.100.7' } })));
      expect(answers.every((r) => r.status === 200)).toBe(true);
      const stats = await h.stats();
      // One round: each backend's probe once (`/` of each backend, outside its operations).
      expect(Object.values(stats).map((s) => s.probes ?? 0)).toEqual([1, 1, 1]);
    } finally {
      await h.close();
    }
  });
});

describe('CORS', () => {
  const preflight = (h: Harness, origin: string) => h.fetch('/graphql', {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
  });

  it('gives a foreign origin nothing: no Access-Control-Allow-* on a preflight or an answer', async () => {
    const h = await startHarness();
    try {
      const response = await preflight(h, 'https://evil.example');
      expect(response.status).toBe(204);
      expect([...response.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
      const answer = await h.fetch('/graphql', { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
      expect(answer.status).toBe(200);
      expect([...answer.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
      expect(answer.headers.get('vary')).toMatch(/Origin/);
    } finally {
      await h.close();
    }
  });

  it('answers an origin in CORS_ORIGINS with its own name, never with credentials, and still nothing for others', async () => {
    const h = await startHarness({ corsOrigins: ['https://app.example.com'] });
    try {
      const allowed = await preflight(h, 'https://app.example.com');
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      expect(allowed.headers.get('access-control-allow-methods')).toBe('GET, POST');
      expect(allowed.headers.get('access-control-allow-headers')).toBe('content-type, authorization');
      expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
      const foreign = await preflight(h, 'https://app.example.com.evil.example');
      expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await h.close();
    }
  });
});

describe('a caller\'s bad input is the caller\'s error', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => Promise.all([h.resetStats(), h.clearFaults()]));

  const GEO = 'query($a: String!) { geocode(address: $a) { id } }';

  it('refuses characters XML cannot carry with BAD_USER_INPUT before any SOAP call, and leaves the maps breaker closed', async () => {
    for (const address of ['Main St\u0001', 'a\u0000b', 'x\u001bz', 'lone \ud800 surrogate', '\uffff']) {
      for (let i = 0; i < 3; i++) {
        const { status, body } = await h.query(GEO, { a: address }, { authorization: '' });
        expect(status).toBe(200);
        expect(body.data).toEqual({ geocode: null });
        expect(body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      }
    }
    // Linked fields build their SOAP requests the same way (GeocodeBatch for a customer's address).
    expect(callCounts(await h.stats()).maps).toBe(0);
    expect(h.gateway.breakers().maps).toBe('closed');
    const place = h.seed.places[0]!;
    const good = await h.query(GEO, { a: place.formattedAddress });
    expect(good.body).toEqual({ data: { geocode: [{ id: place.id }] } });
  });

  it('geocodes an address that looks like XML markup as the text it is', async () => {
    for (const address of ['<![CDATA[x]]>', '<![CDATA[<a/>]]>', '</m:address><evil/>', ']]>']) {
      const { body } = await h.query(GEO, { a: address }, { authorization: '' });
      expect(body, address).toEqual({ data: { geocode: [] } });
    }
  });

  it('refuses CR, LF and NUL in an idempotency key with BAD_USER_INPUT, before any call', async () => {
    const customer = h.seed.customers[0]!;
    const merchant = h.seed.merchants[0]!;
    for (const key of ['a\r\nx-injected: 1', 'a\nb', 'a\u0000b']) {
      const { status, body } = await h.query(
        'mutation($i: CreatePaymentInput!) { createPayment(input: $i) { id } }',
        { i: { customerId: customer.id, merchantId: merchant.id, amount: 100, currency: 'eur', idempotencyKey: key } },
      );
      expect(status).toBe(200);
      expect(body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    }
    expect(callCounts(await h.stats()).payments).toBe(0);
  });

  it('sends an id holding "../", "?" or "#" as a value, never as part of a path or query', async () => {
    for (const id of ['../admin/users?all=1#', 'pay_1/../../v1/customers', 'a?b#c&ids=pay_x', '..']) {
      const { body } = await h.query('query($p: ID!) { payment(id: $p) { id } }', { p: id });
      expect(body).toEqual({ data: { payment: null } });
    }
    expect((await h.stats()).payments.operations).toEqual({ listPayments: 4 });
  });

  it('does not retry a SOAP Client fault sent with HTTP 500, nor count it against the breaker, and passes on only its first line in production', async () => {
    await h.fault('maps', 'GeocodeBatch', 20, 'rejection');
    for (let i = 0; i < 8; i++) {
      const { body } = await h.query(GEO, { a: `refused ${i}` }, { authorization: '' });
      expect(body.data).toEqual({ geocode: null });
      expect(body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_REJECTED', source: 'maps', upstreamCode: 'Client' });
      expect(body.errors![0]!.message).toBe('System.ArgumentException: The request was refused on purpose (POST /_faults).');
    }
    // Eight calls, one each: none retried, and the breaker (5 failures in a row) still closed.
    expect((await h.stats()).maps.operations).toEqual({ GeocodeBatch: 8 });
    expect(h.gateway.breakers().maps).toBe('closed');
  });

  it('passes on only the first line of a REST or GraphQL backend\'s refusal in production', async () => {
    await h.fault('payments', 'listCustomers', 1, 'rejection');
    const rest = await h.query('query($c: ID!) { customer(id: $c) { id } }', { c: h.seed.customers[0]!.id });
    expect(rest.body.errors![0]).toMatchObject({
      message: 'System.ArgumentException: The request was refused on purpose (POST /_faults).',
      extensions: { code: 'SOURCE_REJECTED', source: 'payments' },
    });
    await h.fault('messaging', 'messages', 1, 'rejection');
    const graphql = await h.query('query($m: ID!) { message(id: $m) { id } }', { m: 'msg_1' });
    expect(graphql.body.errors![0]).toMatchObject({
      message: 'System.ArgumentException: The request was refused on purpose (POST /_faults).',
      extensions: { code: 'SOURCE_REJECTED', source: 'messaging' },
    });
    expect(JSON.stringify([rest.body, graphql.body])).not.toMatch(/Service\.cs|   at /);
  });
});

describe('a failing source costs only its own fields', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.clearFaults());

  it('answers a payment beside a geocode whose backend failed: only geocode is null', async () => {
    await h.fault('maps', 'GeocodeBatch', 3); // the call and both retries
    const payment = h.seed.payments[0]!;
    const { status, body } = await h.query('query($p: ID!, $a: String!) { payment(id: $p) { id amount } geocode(address: $a) { id } }', { p: payment.id, a: h.seed.places[0]!.formattedAddress });
    expect(status).toBe(200);
    expect(body.data).toEqual({ payment: { id: payment.id, amount: payment.amount }, geocode: null });
    expect(body.errors).toMatchObject([{ path: ['geocode'], extensions: { code: 'SOURCE_ERROR', source: 'maps' } }]);
  });

  it('keeps a page of payments when the look-up of their customers fails: only each customer is null', async () => {
    await h.fault('payments', 'listCustomers', 3);
    const { status, body } = await h.query('{ payments(first: 2) { edges { node { id customer { name } } } } }');
    expect(status).toBe(200);
    expect(body.data!.payments.edges).toHaveLength(2);
    for (const edge of body.data!.payments.edges) expect(edge.node).toEqual({ id: expect.any(String), customer: null });
    expect(body.errors!.every((e) => e.extensions!.code === 'SOURCE_ERROR' && e.path!.at(-1) === 'customer')).toBe(true);
  });
});

describe('tenancy', () => {
  it('keeps an idempotency key to its caller: a second caller with the same key gets neither the first\'s payment nor word of its use', async () => {
    const h = await startHarness();
    try {
      const [customer, other] = h.seed.customers;
      const merchant = h.seed.merchants[0]!;
      const CREATE = 'mutation($i: CreatePaymentInput!) { createPayment(input: $i) { id amount customer { id } } }';
      const input = (c: { id: string }, amount: number) => ({ customerId: c.id, merchantId: merchant.id, amount, currency: 'eur', idempotencyKey: 'order-1001' });
      const as = async (sub: string) => ({ authorization: `Bearer ${await h.issuer.token({ sub })}` });
      const alice = await h.query(CREATE, { i: input(customer!, 1_000) }, await as('alice'));
      expect(alice.body.errors).toBeUndefined();
      // Alice's retry replays her payment: the key still works for its owner.
      const again = await h.query(CREATE, { i: input(customer!, 1_000) }, await as('alice'));
      expect(again.body.data!.createPayment.id).toBe(alice.body.data!.createPayment.id);
      // Bob, same key and parameters: a payment of his own, not Alice's.
      const bob = await h.query(CREATE, { i: input(customer!, 1_000) }, await as('bob'));
      expect(bob.body.errors).toBeUndefined();
      expect(bob.body.data!.createPayment.id).not.toBe(alice.body.data!.createPayment.id);
      // Carol, same key, other parameters: no error that would say the key was used.
      const carol = await h.query(CREATE, { i: input(other!, 2_500) }, await as('carol'));
      expect(carol.body.errors).toBeUndefined();
      expect(carol.body.data!.createPayment).toMatchObject({ amount: 2_500, customer: { id: other!.id } });
      expect((await h.stats()).payments.operations).toMatchObject({ createPayment: 4 });
    } finally {
      await h.close();
    }
  });
});

describe('the catalogue covers every error a client can receive', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  const raw = (path: string, init: RequestInit) => h.fetch(path, init).then(async (r) => ({ status: r.status, body: await r.json().catch(() => null) as any }));
  const json = (body: unknown, headers: Record<string, string> = {}) =>
    raw('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers }, body: JSON.stringify(body) });

  it('gives each refusal a catalogued code and the status the README names', async () => {
    const cases: [string, Promise<{ status: number; body: any }>, string, number][] = [
      ['a syntax error', json({ query: '{ merchant(id: ' }), 'GRAPHQL_PARSE_FAILED', 400],
      ['an unknown field', json({ query: '{ nope }' }), 'GRAPHQL_VALIDATION_FAILED', 400],
      ['a subscription', json({ query: 'subscription { paymentSucceeded { id } }' }), 'GRAPHQL_VALIDATION_FAILED', 400],
      ['a subscription to __typename', json({ query: 'subscription { __typename }' }), 'GRAPHQL_VALIDATION_FAILED', 400],
      ['an unknown operation name', json({ query: 'query A { __typename } query B { __typename }', operationName: 'C' }), 'OPERATION_RESOLUTION_FAILURE', 400],
      ['two operations, no name', json({ query: 'query A { __typename } query B { __typename }' }), 'OPERATION_RESOLUTION_FAILURE', 400],
      ['no query', json({ variables: {} }), 'BAD_REQUEST', 400],
      ['a variable of the wrong type', json({ query: 'query($n: Int) { payments(first: $n) { edges { cursor } } }', variables: { n: 'ten' } }), 'BAD_USER_INPUT', 400],
      ['a required variable missing', json({ query: 'query($id: ID!) { merchant(id: $id) { id } }' }), 'BAD_USER_INPUT', 400],
      ['a required variable null', json({ query: 'query($id: ID!) { merchant(id: $id) { id } }', variables: { id: null } }), 'BAD_USER_INPUT', 400],
      ['an input object missing a field', json({ query: 'mutation($i: CreatePaymentInput!) { createPayment(input: $i) { id } }', variables: { i: { amount: 1 } } }), 'BAD_USER_INPUT', 400],
      ['a mutation over GET', raw(`/graphql?query=${encodeURIComponent('mutation { sendMessage(input: { phone: "+4930123456", body: "x" }) { id } }')}`, { headers: { accept: 'application/graphql-response+json' } }), 'METHOD_NOT_ALLOWED', 405],
      ['a PUT', raw('/graphql', { method: 'PUT', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' }, body: '{"query":"{ __typename }"}' }), 'METHOD_NOT_ALLOWED', 405],
      ['a brotli body', raw('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'br' }, body: 'x' }), 'UNSUPPORTED_MEDIA_TYPE', 415],
      ['a multipart body', raw('/graphql', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x', 'x-graphql-csrf': '1' }, body: '--x--' }), 'UNSUPPORTED_MEDIA_TYPE', 415],
    ];
    for (const [what, pending, code, status] of cases) {
      const { status: got, body } = await pending;
      expect(body?.errors?.[0]?.extensions?.code, what).toBe(code);
      expect(got, what).toBe(status);
      expect(JSON.stringify(body), what).not.toMatch(/INTERNAL_SERVER_ERROR|\s+at\s+\S+\s+\(/);
    }
    expect(h.logs.filter((l) => l.level >= 50)).toEqual([]);
  });
});

describe('ids', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.resetStats());

  it('answers a look-up by an id no backend id can be (empty, a comma list, 20,000 characters) as not found, without a call', async () => {
    for (const id of ['', ',', `${h.seed.customers[0]!.id},${h.seed.customers[1]!.id}`, 'a'.repeat(20_000)]) {
      const { body } = await h.query('query($c: ID!) { customer(id: $c) { id } merchant(id: $c) { id } payment(id: $c) { id } }', { c: id });
      expect(body).toEqual({ data: { customer: null, merchant: null, payment: null } });
    }
    expect(callCounts(await h.stats()).payments).toBe(0);
  });

  it('refuses a write naming an empty or oversized id with BAD_USER_INPUT before any call', async () => {
    for (const id of ['', '😀'.repeat(300_000)]) {
      const refund = await h.query('mutation($p: ID!) { refundPayment(paymentId: $p) { id } }', { p: id });
      expect(refund.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'paymentId' });
      const send = await h.query('mutation($c: ID) { sendMessage(input: { customerId: $c, body: "hi" }) { id } }', { c: id });
      expect(send.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    }
    expect(callCounts(await h.stats())).toEqual({ payments: 0, maps: 0, messaging: 0 });
  });
});
