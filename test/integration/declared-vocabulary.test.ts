import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphQLObjectType } from 'graphql';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { declaredEnv, LINKED, TEXTS_LINK } from '../helpers/declared.ts';
import { createMemoryStore } from '../../gateway/cache/store.ts';
import { readMeshConfig } from '../../gateway/composition/byo/mesh-config.ts';
import type { SourceName } from '../../sources/demo/index.ts';
import type { StatsSnapshot } from '../../sources/demo/stats.ts';

/**
 * The vocabulary a Mesh v0 file may use around its sources, each word with the figure it must
 * give: Mesh v1's `@resolveTo`, conflicts between sources, code resolvers over the in-context SDK,
 * and the contract's policy directives (`@cacheControl`, `@rateLimit`) on declared types and
 * fields; and the file's mistakes, all reported at once. Every file is written to a temporary
 * folder, with absolute paths to the demo backends' specs.
 */

const DIR = mkdtempSync(join(tmpdir(), 'junction-vocabulary-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const SPEC = (path: string) => `${process.cwd()}/sources/${path}`;
let files = 0;
/** Writes `text` to a new file in the temporary folder; its path. */
function tmpFile(name: string, text: string): string {
  const path = join(DIR, `${files++}-${name}`);
  writeFileSync(path, text);
  return path;
}

/** The payments backend as a REST source, and the messaging backend as a GraphQL one. */
const BILLING = (extra = '') => `
  - name: Billing
    handler:
      openapi:
        source: ${SPEC('payments/openapi.yaml')}
        endpoint: '{env.BILLING_URL}'
        ignoreErrorResponses: true
        operationHeaders:
          Authorization: 'Bearer {env.BILLING_KEY}'${extra}`;
const SMS = (name = 'Sms', transforms = '', source = SPEC('messaging/schema.graphql'), extra = '') => `
  - name: ${name}
    handler:
      graphql:
        endpoint: '{env.SMS_URL}/graphql'
        source: ${source}
        operationHeaders:
          Authorization: '{env.SMS_AUTHORIZATION}'${extra}${transforms ? `\n    transforms:${transforms}` : ''}`;
const SMS_PREFIXED = `
      - prefix: { value: Sms_, includeRootOperations: true }
      - filterSchema: { filters: ['Mutation.!*'] }`;


function start(config: string, options: { cacheStore?: ReturnType<typeof createMemoryStore> } = {}): Promise<Harness> {
  return startHarness({
    meshConfig: tmpFile('.meshrc.yaml', config),
    env: declaredEnv,
    ...options,
  });
}

const calls = (stats: Record<SourceName, StatsSnapshot>) => ({ payments: stats.payments.total, messaging: stats.messaging.total });

/** A seeded customer with at least `n` messages, and those messages newest first. */
function customerWithMessages(h: Harness, n = 2) {
  for (const customer of h.seed.customers) {
    const messages = h.seed.messages.filter((m) => m.customerId === customer.id).sort((a, b) => b.sentAt.localeCompare(a.sentAt));
    if (messages.length >= n) return { customer, messages };
  }
  throw new Error(`no seeded customer has ${n} messages`);
}


describe("Mesh v1's @resolveTo, written on a field in additionalTypeDefs", () => {
  let resolveTo: Harness;
  let additionalResolvers: Harness;
  beforeAll(async () => {
    [resolveTo, additionalResolvers] = await Promise.all([
      start(`sources:${BILLING()}${SMS('Sms', SMS_PREFIXED)}
additionalTypeDefs: |
  extend type Customer {
    texts: [Sms_Message!] @resolveTo(requiredSelectionSet: "{ id }", sourceName: "Sms", sourceTypeName: "Query", sourceFieldName: "Sms_messagesForCustomers", keyField: "id", keysArg: "customerIds", result: "messages")
  }
  extend type Sms_Message {
    recipient: Customer @resolveTo(requiredSelectionSet: "{ customerId }", sourceName: "Billing", sourceTypeName: "Query", sourceFieldName: "listCustomers", keyField: "customerId", keysArg: "ids", additionalArgs: { limit: null }, result: "data", valueKeyField: "id")
  }
`),
      // The same links in the additionalResolvers form (no @requiresScopes, unlike test/fixtures/declared).
      start(`sources:${BILLING()}${SMS('Sms', SMS_PREFIXED)}
additionalTypeDefs: |
  extend type Customer {
    texts: [Sms_Message!]
  }
  extend type Sms_Message {
    recipient: Customer
  }
additionalResolvers:${TEXTS_LINK}
  - targetTypeName: Sms_Message
    targetFieldName: recipient
    requiredSelectionSet: '{ customerId }'
    sourceName: Billing
    sourceTypeName: Query
    sourceFieldName: listCustomers
    keyField: customerId
    keysArg: ids
    additionalArgs: { limit: null }
    result: data
    valueKeyField: id
`),
    ]);
  });
  afterAll(() => Promise.all([resolveTo?.close(), additionalResolvers?.close()]));
  beforeEach(() => Promise.all([resolveTo.resetStats(), additionalResolvers.resetStats()]));

  it('links batched exactly as the additionalResolvers form: the same answer, one call per backend and level for 5 parents', async () => {
    const viaDirective = await resolveTo.query(LINKED);
    const viaEntries = await additionalResolvers.query(LINKED);
    expect(viaDirective.body.errors).toBeUndefined();
    expect(viaDirective.body).toEqual(viaEntries.body);

    const customers = viaDirective.body.data!.listCustomers.data as { id: string; name: string; texts: { id: string; customerId: string; recipient: { id: string; name: string } }[] }[];
    expect(customers).toHaveLength(5);
    let texts = 0;
    for (const customer of customers) {
      const seeded = resolveTo.seed.messages.filter((m) => m.customerId === customer.id);
      // messagesForCustomers answers the newest 10 per customer by default.
      expect(customer.texts.map((t) => t.id).sort()).toEqual(seeded.sort((a, b) => b.sentAt.localeCompare(a.sentAt)).slice(0, 10).map((m) => m.id).sort());
      for (const text of customer.texts) expect(text.recipient).toEqual({ id: customer.id, name: customer.name });
      texts += customer.texts.length;
    }
    expect(texts).toBeGreaterThan(5);

    const [a, b] = await Promise.all([resolveTo.stats(), additionalResolvers.stats()]);
    // listCustomers, then one batch of 5 customer ids to messaging, then one batch of recipients.
    expect(calls(a)).toEqual({ payments: 2, messaging: 1 });
    expect(a.messaging.batchSizes).toEqual({ messagesForCustomers: [5] });
    expect(a.payments.operations).toEqual({ listCustomers: 2 });
    expect({ operations: a.payments.operations, batchSizes: a.payments.batchSizes, messaging: a.messaging.batchSizes })
      .toEqual({ operations: b.payments.operations, batchSizes: b.payments.batchSizes, messaging: b.messaging.batchSizes });
  });

  it('keeps @resolveTo out of the served schema: the link is a resolver, not a directive clients see', () => {
    const customer = resolveTo.gateway.schema.getType('Customer') as GraphQLObjectType;
    expect(customer.getFields().texts!.astNode?.directives?.map((d) => d.name.value) ?? []).not.toContain('resolveTo');
    expect(customer.getFields().texts!.resolve).toBeTypeOf('function');
  });
});

describe('two sources that define the same names', () => {
  const CHAT_SCHEMA = tmpFile('chat.graphql', `type Query {
  message(id: ID!): Message
}
"A message, as another service shapes it: fewer fields than messaging's."
type Message {
  id: ID!
  body: String!
}
`);

  it('stop start-up when they define a type differently, naming the type and both sources', async () => {
    const failure = await start(`sources:${SMS()}${SMS('Chat', `
      - prefix: { includeTypes: false, includeRootOperations: true, value: Chat_ }`, CHAT_SCHEMA)}
`).then(() => undefined, (err: unknown) => err);
    expect(failure).toMatchObject({
      name: 'CompositionError',
      problems: ['type Message is defined differently by Sms and by Chat: give one a prefix or rename transform, or namespace: true'],
    });
  });

  it('stop start-up when they define the same root field, naming it and both sources; both problems at once', async () => {
    const failure = await start(`sources:${SMS()}${SMS('Chat', '', CHAT_SCHEMA)}
`).then(() => undefined, (err: unknown) => err);
    expect(failure).toMatchObject({
      name: 'CompositionError',
      problems: [
        'type Message is defined differently by Sms and by Chat: give one a prefix or rename transform, or namespace: true',
        'Query.message is defined by Sms and by Chat: give one a prefix transform (includeRootOperations: true), filter it out, or namespace: true',
      ],
    });
    expect((failure as Error).message).toContain('type Message is defined differently by Sms and by Chat');
  });

  it('same-shaped types only: every root field two copies of one schema share is named, and no type', async () => {
    const failure = await start(`sources:${SMS()}${SMS('Sms2')}
`).then(() => undefined, (err: unknown) => err);
    expect(failure).toMatchObject({
      name: 'CompositionError',
      problems: ['Query.message', 'Query.messages', 'Query.messagesForCustomers', 'Mutation.sendMessage'].map((field) =>
        `${field} is defined by Sms and by Sms2: give one a prefix transform (includeRootOperations: true), filter it out, or namespace: true`),
    });
  });

  it('start once a prefix transform sets one apart, and answer from both', async () => {
    const h = await start(`sources:${SMS()}${SMS('Chat', `
      - prefix: { value: Chat_, includeRootOperations: true }`, CHAT_SCHEMA)}
`);
    try {
      const { customer, messages } = customerWithMessages(h);
      const id = messages[0]!.id;
      const { body } = await h.query('query ($id: ID!) { message(id: $id) { id body customerId } Chat_message(id: $id) { id body } }', { id });
      expect(body).toEqual({ data: {
        message: { id, body: messages[0]!.body, customerId: customer.id },
        Chat_message: { id, body: messages[0]!.body },
      } });
      expect(h.gateway.schema.getType('Chat_Message')).toBeDefined();
      const stats = await h.stats();
      expect(stats.messaging.operations).toEqual({ message: 2 });
    } finally {
      await h.close();
    }
  });

  it('merge identical same-named types: two sources over one schema, their root fields split by filterSchema', async () => {
    const h = await start(`sources:${SMS('Sms', `
      - filterSchema: { filters: ['Query.{message,messages}'] }`)}${SMS('Inbox', `
      - filterSchema: { filters: ['Query.messagesForCustomers', 'Mutation.!*'] }`)}
`);
    try {
      expect(Object.keys(h.gateway.schema.getQueryType()!.getFields()).sort()).toEqual(['message', 'messages', 'messagesForCustomers']);
      const { customer, messages } = customerWithMessages(h);
      const { body } = await h.query('query ($id: ID!, $c: ID!) { message(id: $id) { id status } messagesForCustomers(customerIds: [$c], first: 2) { customerId messages { id status } } }', { id: messages[0]!.id, c: customer.id });
      expect(body).toEqual({ data: {
        message: { id: messages[0]!.id, status: messages[0]!.status.toUpperCase() },
        messagesForCustomers: [{ customerId: customer.id, messages: messages.slice(0, 2).map((m) => ({ id: m.id, status: m.status.toUpperCase() })) }],
      } });
      expect((await h.stats()).messaging.operations).toEqual({ message: 1, messagesForCustomers: 1 });
    } finally {
      await h.close();
    }
  });
});

describe('a code resolver over the in-context SDK (additionalResolvers: a module path)', () => {
  const MODULE = tmpFile('resolvers.mjs', `
const messagesOf = (subtree) => ({ kind: 'SelectionSet', selections: [{ kind: 'Field', name: { kind: 'Name', value: 'messages' }, selectionSet: subtree }] });
export const resolvers = {
  Query: {
    inboxOf: (root, args, context, info) => context.Sms.Query.Sms_messagesForCustomers({
      root, args: { customerIds: [args.customerId], first: 2 }, context, info,
    }),
  },
  Customer: {
    inbox: {
      selectionSet: '{ id }',
      resolve: (root, _args, context, info) => context.Sms.Query.Sms_messagesForCustomers({
        root, key: root.id, argsFromKeys: (customerIds) => ({ customerIds }), context, info,
      }),
    },
    texts: {
      selectionSet: '{ id }',
      resolve: (root, _args, context, info) => context.Sms.Query.Sms_messagesForCustomers({
        root, key: root.id, argsFromKeys: (customerIds) => ({ customerIds }), context, info,
        selectionSet: messagesOf,
        valuesFromResults: (results) => results.map((r) => (r == null || r instanceof Error ? r : r.messages)),
      }),
    },
  },
};
`);
  let h: Harness;
  beforeAll(async () => {
    // Billing is open to anyone; Sms answers signed-in callers only.
    h = await start(`sources:${BILLING(`
        public: true`)}${SMS('Sms', SMS_PREFIXED)}
additionalTypeDefs: |
  extend type Customer {
    inbox: Sms_CustomerMessages
    texts: [Sms_Message!]
  }
  extend type Query {
    inboxOf(customerId: ID!): [Sms_CustomerMessages!]
  }
additionalResolvers:
  - ${MODULE}
`);
  });
  afterAll(() => h?.close());
  beforeEach(() => h.resetStats());

  it('batches: one messaging call for 5 customers, each answered its own messages', async () => {
    const { body } = await h.query('{ listCustomers(limit: 5) { data { id inbox { customerId messages { id customerId } } } } }');
    expect(body.errors).toBeUndefined();
    const customers = body.data!.listCustomers.data as { id: string; inbox: { customerId: string; messages: { id: string; customerId: string }[] } }[];
    expect(customers).toHaveLength(5);
    for (const customer of customers) {
      expect(customer.inbox.customerId).toBe(customer.id);
      const seeded = h.seed.messages.filter((m) => m.customerId === customer.id).sort((a, b) => b.sentAt.localeCompare(a.sentAt)).slice(0, 10);
      expect(customer.inbox.messages).toEqual(seeded.map((m) => ({ id: m.id, customerId: customer.id })));
    }
    const stats = await h.stats();
    expect(calls(stats)).toEqual({ payments: 1, messaging: 1 });
    expect(stats.messaging.batchSizes).toEqual({ messagesForCustomers: [5] });
  });

  it('batches with its own selectionSet and valuesFromResults: one messaging call for 5 customers', async () => {
    const { body } = await h.query('{ listCustomers(limit: 5) { data { id texts { id customerId } } } }');
    expect(body.errors).toBeUndefined();
    const customers = body.data!.listCustomers.data as { id: string; texts: { id: string; customerId: string }[] }[];
    for (const customer of customers) {
      const seeded = h.seed.messages.filter((m) => m.customerId === customer.id).sort((a, b) => b.sentAt.localeCompare(a.sentAt)).slice(0, 10);
      expect(customer.texts).toEqual(seeded.map((m) => ({ id: m.id, customerId: customer.id })));
    }
    expect(customers.flatMap((c) => c.texts).length).toBeGreaterThan(5);
    const stats = await h.stats();
    expect(calls(stats)).toEqual({ payments: 1, messaging: 1 });
    expect(stats.messaging.batchSizes).toEqual({ messagesForCustomers: [5] });
  });

  it('is refused for anonymous callers, Sms not being public: UNAUTHENTICATED at each field, no messaging call', async () => {
    const { body } = await h.query('{ listCustomers(limit: 3) { data { id inbox { customerId } } } }', {}, { authorization: '' });
    const customers = body.data!.listCustomers.data as { id: string; inbox: unknown }[];
    expect(customers.map((c) => c.inbox)).toEqual([null, null, null]);
    expect(body.errors!.map((e) => [e.path!.join('.'), e.extensions!.code])).toEqual([0, 1, 2].map((i) => [`listCustomers.data.${i}.inbox`, 'UNAUTHENTICATED']));
    expect(calls(await h.stats())).toEqual({ payments: 1, messaging: 0 });
  });

  it('answers a root field of its own through the SDK (one call), and refuses it to anonymous callers before any call', async () => {
    const { customer, messages } = customerWithMessages(h);
    const query = 'query ($c: ID!) { inboxOf(customerId: $c) { customerId messages { id } } }';
    const signedIn = await h.query(query, { c: customer.id });
    expect(signedIn.body).toEqual({ data: { inboxOf: [{ customerId: customer.id, messages: messages.slice(0, 2).map((m) => ({ id: m.id })) }] } });
    expect(calls(await h.stats())).toEqual({ payments: 0, messaging: 1 });
    const anonymous = await h.query(query, { c: customer.id }, { authorization: '' });
    expect(anonymous.body.data).toEqual({ inboxOf: null });
    expect(anonymous.body.errors!.map((e) => [e.path!.join('.'), e.extensions!.code])).toEqual([['inboxOf', 'UNAUTHENTICATED']]);
    expect(calls(await h.stats())).toEqual({ payments: 0, messaging: 1 });
  });

  it('is read from the file\'s folder when its path is relative, with a named export (`./file.mjs#resolvers`)', async () => {
    const dir = mkdtempSync(join(DIR, 'relative-'));
    writeFileSync(join(dir, 'links.mjs'), `export const resolvers = { Customer: { inbox: { selectionSet: '{ id }', resolve: (root, _a, context, info) => context.Sms.Query.Sms_messagesForCustomers({ root, key: root.id, argsFromKeys: (customerIds) => ({ customerIds }), context, info }) } } };\n`);
    const file = join(dir, '.meshrc.yaml');
    writeFileSync(file, `sources:${BILLING()}${SMS('Sms', SMS_PREFIXED)}
additionalTypeDefs: |
  extend type Customer { inbox: Sms_CustomerMessages }
additionalResolvers:
  - ./links.mjs#resolvers
`);
    const relative = await startHarness({
      meshConfig: file,
      env: declaredEnv,
    });
    try {
      const { body } = await relative.query('{ listCustomers(limit: 4) { data { id inbox { customerId } } } }');
      expect(body.errors).toBeUndefined();
      expect((body.data!.listCustomers.data as { id: string; inbox: { customerId: string } }[]).map((c) => c.inbox.customerId === c.id)).toEqual([true, true, true, true]);
      expect((await relative.stats()).messaging.batchSizes).toEqual({ messagesForCustomers: [4] });
    } finally {
      await relative.close();
    }
  });
});

describe('@cacheControl on declared types and fields', () => {
  const config = (typeDefs: string, links = '') => `sources:${BILLING()}${SMS('Sms', SMS_PREFIXED)}
additionalTypeDefs: |
${typeDefs.trim().split('\n').map((l) => `  ${l}`).join('\n')}
${links ? `additionalResolvers:${links}\n` : ''}`;
  const twice = async (h: Harness, query: string, variables: Record<string, unknown>) => {
    const first = await h.query(query, variables);
    const afterFirst = calls(await h.stats());
    const second = await h.query(query, variables);
    const afterSecond = calls(await h.stats());
    expect(first.body.errors).toBeUndefined();
    expect(second.body).toEqual(first.body);
    return { afterFirst, afterSecond, body: first.body };
  };

  it('on a type (`extend type Customer @cacheControl(maxAge: 60, scope: PUBLIC)`): the second identical query is answered without a backend call, until 60 s have passed', async () => {
    let now = Date.now();
    const h = await start(config(`
extend type Customer @cacheControl(maxAge: 60, scope: PUBLIC)
`), { cacheStore: createMemoryStore({ now: () => now }) });
    try {
      const { customer } = customerWithMessages(h);
      const query = 'query ($id: String!) { getCustomer(id: $id) { id name email } }';
      const { afterFirst, afterSecond, body } = await twice(h, query, { id: customer.id });
      expect(body.data).toEqual({ getCustomer: { id: customer.id, name: customer.name, email: customer.email } });
      expect(afterFirst).toEqual({ payments: 1, messaging: 0 });
      expect(afterSecond).toEqual({ payments: 1, messaging: 0 });
      now += 59_000;
      await h.query(query, { id: customer.id });
      expect(calls(await h.stats())).toEqual({ payments: 1, messaging: 0 });
      now += 2_000;
      await h.query(query, { id: customer.id });
      expect(calls(await h.stats())).toEqual({ payments: 2, messaging: 0 });
    } finally {
      await h.close();
    }
  });

  it('on a declared field (`texts: [Sms_Message!] @cacheControl(maxAge: 60, scope: PUBLIC)`): the second identical query calls neither backend', async () => {
    const h = await start(config(`
extend type Customer {
  texts: [Sms_Message!] @cacheControl(maxAge: 60, scope: PUBLIC)
}
`, TEXTS_LINK), { cacheStore: createMemoryStore() });
    try {
      const { customer, messages } = customerWithMessages(h);
      const query = 'query ($id: String!) { getCustomer(id: $id) { id texts { id } } }';
      const { afterFirst, afterSecond, body } = await twice(h, query, { id: customer.id });
      expect(body.data).toEqual({ getCustomer: { id: customer.id, texts: messages.slice(0, 10).map((m) => ({ id: m.id })) } });
      expect(afterFirst).toEqual({ payments: 1, messaging: 1 });
      expect(afterSecond).toEqual({ payments: 1, messaging: 1 });
    } finally {
      await h.close();
    }
  });

  it('without the directive, nothing is kept: the same two queries reach the backends twice', async () => {
    const h = await start(config(`
extend type Customer {
  texts: [Sms_Message!]
}
`, TEXTS_LINK), { cacheStore: createMemoryStore() });
    try {
      const { customer } = customerWithMessages(h);
      const { afterFirst, afterSecond } = await twice(h, 'query ($id: String!) { getCustomer(id: $id) { id texts { id } } }', { id: customer.id });
      expect(afterFirst).toEqual({ payments: 1, messaging: 1 });
      expect(afterSecond).toEqual({ payments: 2, messaging: 2 });
    } finally {
      await h.close();
    }
  });
});

describe('@rateLimit on a declared field', () => {
  it('@rateLimit(max: 2, window: "1m"): the third call in the window is RATE_LIMITED, without a backend call; another caller still gets through', async () => {
    const h = await start(`sources:${BILLING()}${SMS('Sms', SMS_PREFIXED)}
additionalTypeDefs: |
  extend type Customer {
    texts: [Sms_Message!] @rateLimit(max: 2, window: "1m")
  }
additionalResolvers:${TEXTS_LINK}
`);
    try {
      const { customer, messages } = customerWithMessages(h);
      const alice = { authorization: `Bearer ${await h.issuer.token({ sub: 'alice' })}` };
      const bob = { authorization: `Bearer ${await h.issuer.token({ sub: 'bob' })}` };
      const query = 'query ($id: String!) { getCustomer(id: $id) { id texts { id } } }';
      const answered = { data: { getCustomer: { id: customer.id, texts: messages.slice(0, 10).map((m) => ({ id: m.id })) } } };
      expect((await h.query(query, { id: customer.id }, alice)).body).toEqual(answered);
      expect((await h.query(query, { id: customer.id }, alice)).body).toEqual(answered);
      expect(calls(await h.stats())).toEqual({ payments: 2, messaging: 2 });

      const third = await h.query(query, { id: customer.id }, alice);
      expect(third.body.data).toEqual({ getCustomer: { id: customer.id, texts: null } });
      expect(third.body.errors).toHaveLength(1);
      expect(third.body.errors![0]!.path).toEqual(['getCustomer', 'texts']);
      expect(third.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      const retryAfter = third.body.errors![0]!.extensions!.retryAfter as number;
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(calls(await h.stats())).toEqual({ payments: 3, messaging: 2 });

      expect((await h.query(query, { id: customer.id }, bob)).body).toEqual(answered);
      expect(calls(await h.stats())).toEqual({ payments: 4, messaging: 3 });
    } finally {
      await h.close();
    }
  });
});

describe('mistakes in the file, all reported at once with where they are', () => {
  it('refuses an unknown transform, keyField without keysArg, a caller\'s credentials in operationHeaders, a link to no source, root-level transforms and a subscription from a topic no webhook publishes; serve and cache are not among them', async () => {
    const file = tmpFile('mistakes.meshrc.yaml', `sources:${BILLING().replace("'Bearer {env.BILLING_KEY}'", "'{context.headers.authorization}'")}${SMS('Sms', `
      - encapsulate:
          name: sms`)}
transforms:
  - prefix: { value: All_ }
additionalTypeDefs: |
  extend type Customer { texts: [Message!] orders: [String] }
additionalResolvers:
  - targetTypeName: Customer
    targetFieldName: texts
    sourceName: Sms
    sourceTypeName: Query
    sourceFieldName: messagesForCustomers
    keyField: id
  - targetTypeName: Customer
    targetFieldName: orders
    sourceName: Shop
    sourceTypeName: Query
    sourceFieldName: listOrders
  - targetTypeName: Subscription
    targetFieldName: paid
    pubsubTopic: payments
serve:
  port: 4000
cache:
  localforage: {}
`);
    const failure = await startHarness({ meshConfig: file, env: () => ({ BILLING_URL: 'http://127.0.0.1:9', SMS_URL: 'http://127.0.0.1:9', SMS_AUTHORIZATION: 'x' }) })
      .then(() => undefined, (err: unknown) => err);
    expect(failure).toMatchObject({ name: 'SourceConfigError', file });
    expect((failure as { problems: string[] }).problems).toEqual([
      'transforms: transforms of the whole schema are not supported yet; put them on the sources they apply to',
      "sources[0] (Billing).handler.openapi: {context.*} would send what a caller sent to the backend; Junction never forwards a caller's headers or credentials (a first-party backend can learn who calls with forwardIdentity: true)",
      'sources[1] (Sms).transforms[0]: "encapsulate" is not a transform Junction serves (prefix, rename, filterSchema)',
      'additionalResolvers[0]: keyField and keysArg go together (a batched link needs both)',
      'additionalResolvers[1].sourceName: "Shop" is not a source in this file',
      'additionalResolvers[2].pubsubTopic: "payments" is the topic of no webhook or poll in this file (none is declared)',
    ]);
    expect((failure as Error).message).toContain(`${file} has 6 problem(s) with its sources:`);
  });

  it('holds a @resolveTo link to the same rules as an additionalResolvers entry, and a code resolver module to existing', async () => {
    const file = tmpFile('resolve-to-mistakes.meshrc.yaml', `sources:${BILLING()}${SMS('Sms', SMS_PREFIXED)}
additionalTypeDefs: |
  extend type Customer {
    a: [Sms_Message!] @resolveTo(sourceName: "Shop", sourceTypeName: "Query", sourceFieldName: "listOrders", keyField: "id", keysArg: "ids")
    b: [Sms_CustomerMessages!] @resolveTo(sourceName: "Sms", sourceTypeName: "Query", sourceFieldName: "Sms_messagesForCustomers", keyField: "id")
    c: String @resolveTo(pubsubTopic: "payments")
  }
additionalResolvers:
  - ./missing-resolvers.mjs#resolvers
`);
    const failure = await startHarness({ meshConfig: file, env: () => ({ BILLING_URL: 'http://127.0.0.1:9', BILLING_KEY: 'k', SMS_URL: 'http://127.0.0.1:9', SMS_AUTHORIZATION: 'x' }) })
      .then(() => undefined, (err: unknown) => err);
    expect(failure).toMatchObject({ name: 'SourceConfigError' });
    expect((failure as { problems: string[] }).problems).toEqual([
      'additionalTypeDefs: @resolveTo on Customer.a (sourceName): "Shop" is not a source in this file',
      'additionalTypeDefs: @resolveTo on Customer.b: keyField and keysArg go together (a batched link needs both)',
      'additionalTypeDefs: @resolveTo on Customer.c: a subscription from a pubsubTopic is declared in additionalResolvers (targetTypeName: Subscription), not with @resolveTo',
      `additionalResolvers[0]: ./missing-resolvers.mjs does not exist (paths are read from ${DIR})`,
    ]);
  });

  it('stops start-up on a link to a field its source does not serve (here: named without the prefix the source\'s transform gives)', async () => {
    const failure = await start(`sources:${BILLING()}${SMS('Sms', SMS_PREFIXED)}
additionalTypeDefs: |
  extend type Customer {
    texts: [Sms_Message!] @resolveTo(requiredSelectionSet: "{ id }", sourceName: "Sms", sourceTypeName: "Query", sourceFieldName: "messagesForCustomers", keyField: "id", keysArg: "customerIds", result: "messages")
    inbox: Sms_CustomerMessages
  }
additionalResolvers:
  - targetTypeName: Customer
    targetFieldName: inbox
    sourceName: Sms
    sourceTypeName: Mutation
    sourceFieldName: Sms_sendMessage
`).then(() => undefined, (err: unknown) => err);
    expect(failure).toMatchObject({
      name: 'CompositionError',
      problems: [
        'additionalResolvers[0]: Sms has no root type Mutation',
        '@resolveTo on Customer.texts: Sms has no field Query.messagesForCustomers (after its transforms; its Query fields: Sms_message, Sms_messages, Sms_messagesForCustomers)',
      ],
    });
  });

  it('accepts Mesh-only top-level keys (serve, cache) and ignores them: the gateway starts and answers', async () => {
    const text = `sources:${BILLING()}
serve:
  port: 4999
  playground: true
cache:
  localforage:
    driver: [LOCALSTORAGE]
`;
    const file = tmpFile('serve-cache.meshrc.yaml', text);
    expect(readMeshConfig(file, { BILLING_URL: 'http://127.0.0.1:9', BILLING_KEY: 'k' }).ignored).toEqual(['serve', 'cache']);
    const h = await start(text);
    try {
      const { body } = await h.query('{ listCustomers(limit: 2) { data { id name } } }');
      expect(body.errors).toBeUndefined();
      const seeded = new Map(h.seed.customers.map((c) => [c.id, c.name]));
      const customers = body.data!.listCustomers.data as { id: string; name: string }[];
      expect(customers).toHaveLength(2);
      for (const c of customers) expect(c.name).toBe(seeded.get(c.id));
      expect(calls(await h.stats())).toEqual({ payments: 1, messaging: 0 });
    } finally {
      await h.close();
    }
  });
});
