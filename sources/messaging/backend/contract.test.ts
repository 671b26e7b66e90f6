import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  buildClientSchema, buildSchema, getIntrospectionQuery, lexicographicSortSchema, parse, printSchema, validate,
} from 'graphql';
import type { GraphQLSchema, IntrospectionQuery } from 'graphql';
import { createSeed } from '../../demo/seed.ts';
import type { MessageRecord } from '../../demo/seed.ts';
import type { DemoBackend } from '../../demo/server.ts';
import { startMessagingBackend } from './backend.ts';
import { readMessagingSdl } from './schema.ts';
import { armFault, errorCodes, postGraphql, readStats, resetBackend, setAutomaticStatuses } from './test-support.ts';

const seed = createSeed();
const contract: GraphQLSchema = buildSchema(readMessagingSdl());
const MESSAGE_FIELDS = 'id to from body status sentAt customerId';

/** A seed customer's messages as the contract promises them: newest first. */
function seedMessagesOf(customerId: string): MessageRecord[] {
  return seed.messages
    .filter((m) => m.customerId === customerId)
    .sort((a, b) => (a.sentAt < b.sentAt ? 1 : a.sentAt > b.sentAt ? -1 : 0));
}

const customersByMessageCount = seed.customers
  .map((c) => ({ id: c.id, count: seedMessagesOf(c.id).length }))
  .sort((a, b) => b.count - a.count);
const busiest = customersByMessageCount[0]!;
const quietest = customersByMessageCount.find((c) => c.count > 0 && c.count < 10)!;
/** The customer sendMessage writes to, so no other test's expectations depend on test order. */
const recipient = customersByMessageCount[20]!;
const someMessage = seed.messages[7]!;

/** The seed record as the GraphQL contract shows it. */
function asGraphql(record: MessageRecord) {
  return { ...record, status: record.status.toUpperCase() };
}

function expectMessageShape(value: unknown): void {
  expect(value).toEqual({
    id: expect.stringMatching(/^SM[0-9a-f]{32}$/),
    to: expect.stringMatching(/^\+[1-9]\d{6,14}$/),
    from: expect.stringMatching(/^\+[1-9]\d{6,14}$/),
    body: expect.any(String),
    status: expect.stringMatching(/^(QUEUED|SENT|DELIVERED|FAILED|UNDELIVERED)$/),
    sentAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    customerId: expect.toSatisfy((v: unknown) => v === null || typeof v === 'string'),
  });
}

let backend: DemoBackend;
beforeAll(async () => {
  backend = await startMessagingBackend({ seed });
  // A message sent here stays queued, as these tests read it back (status-callbacks.test.ts moves them).
  await setAutomaticStatuses(backend.url, false);
});
afterAll(async () => {
  await backend.close();
});
beforeEach(async () => {
  await resetBackend(backend.url);
});

describe('messaging contract: schema', () => {
  it('serves exactly the schema written in schema.graphql, descriptions included', async () => {
    const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, schemaDescription: true });
    const answer = await postGraphql(backend.url, query);
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
    const served = buildClientSchema(answer.body.data as unknown as IntrospectionQuery);
    expect(printSchema(lexicographicSortSchema(served))).toBe(printSchema(lexicographicSortSchema(contract)));
  });

  it('does not count introspection, __typename, the probe or /_stats as operations', async () => {
    await postGraphql(backend.url, getIntrospectionQuery());
    await postGraphql(backend.url, '{ __typename }');
    const probe = await fetch(`${backend.url}/`);
    expect(probe.status).toBe(200);
    expect(await probe.json()).toEqual({ service: 'messaging' });
    await readStats(backend.url);
    expect(await readStats(backend.url)).toEqual({ total: 0, probes: 1, operations: {}, batchSizes: {} });
  });

  it('describes every type, field, argument and enum value', () => {
    const missing: string[] = [];
    for (const type of Object.values(contract.getTypeMap())) {
      if (type.name.startsWith('__') || ['String', 'ID', 'Int', 'Boolean', 'Float'].includes(type.name)) continue;
      if (!type.description) missing.push(type.name);
      const fields = 'getFields' in type ? Object.values(type.getFields()) : [];
      for (const field of fields) {
        if (!field.description) missing.push(`${type.name}.${field.name}`);
        for (const arg of 'args' in field ? field.args : []) if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
      for (const value of 'getValues' in type ? type.getValues() : []) if (!value.description) missing.push(`${type.name}.${value.name}`);
    }
    expect(missing).toEqual([]);
  });
});

/** One valid document per root field; the first test proves the list covers them all. */
const ROOT_FIELD_CALLS: Record<string, { query: string; variables: Record<string, unknown> }> = {
  message: { query: `query($id: ID!) { message(id: $id) { ${MESSAGE_FIELDS} } }`, variables: { id: someMessage.id } },
  messages: {
    query: `query($ids: [ID!]!) { messages(ids: $ids) { ${MESSAGE_FIELDS} } }`,
    variables: { ids: [someMessage.id, 'SM00000000000000000000000000000000'] },
  },
  messagesForCustomers: {
    query: `query($ids: [ID!]!) { messagesForCustomers(customerIds: $ids) { customerId messages { ${MESSAGE_FIELDS} } } }`,
    variables: { ids: [busiest.id] },
  },
  sendMessage: {
    query: `mutation($to: String!, $body: String!) { sendMessage(to: $to, body: $body) { ${MESSAGE_FIELDS} } }`,
    variables: { to: '+4930123456789', body: 'Your table is ready.' },
  },
};

describe('messaging contract: every root field over HTTP', () => {
  it('has a call for every Query and Mutation field of the contract', () => {
    const rootFields = [contract.getQueryType()!, contract.getMutationType()!].flatMap((t) => Object.keys(t.getFields()));
    expect(Object.keys(ROOT_FIELD_CALLS).sort()).toEqual(rootFields.sort());
  });

  for (const [field, call] of Object.entries(ROOT_FIELD_CALLS)) {
    it(`answers a valid ${field} document with data of the contract's shape, counted once`, async () => {
      expect(validate(contract, parse(call.query))).toEqual([]);
      const answer = await postGraphql(backend.url, call.query, call.variables);
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      const value = answer.body.data?.[field];
      if (field === 'messagesForCustomers') {
        const entries = value as { customerId: string; messages: unknown[] }[];
        expect(entries.map((e) => e.customerId)).toEqual([busiest.id]);
        expect(entries[0]!.messages).toHaveLength(10);
        entries[0]!.messages.forEach(expectMessageShape);
      } else if (field === 'messages') {
        expect(value).toEqual([asGraphql(someMessage)]);
      } else {
        expectMessageShape(value);
      }
      const stats = await readStats(backend.url);
      expect(stats.total).toBe(1);
      expect(stats.operations).toEqual({ [field]: 1 });
    });
  }

  it('answers message with the seed record, and null for an unknown id', async () => {
    const query = `query($a: ID!, $b: ID!) { a: message(id: $a) { ${MESSAGE_FIELDS} } b: message(id: $b) { id } }`;
    const answer = await postGraphql(backend.url, query, { a: someMessage.id, b: 'SMffffffffffffffffffffffffffffffff' });
    expect(answer.body).toEqual({ data: { a: asGraphql(someMessage), b: null } });
    expect((await readStats(backend.url)).operations).toEqual({ message: 2 });
  });
});

describe('messaging contract: batching', () => {
  it('answers messagesForCustomers for 3 ids in one request, batchSize 3, an unknown id getting an empty list', async () => {
    const ids = [quietest.id, 'cus_doesnotexist00', busiest.id];
    const query = `query($ids: [ID!]!) { messagesForCustomers(customerIds: $ids, first: 12) { customerId messages { ${MESSAGE_FIELDS} } } }`;
    const answer = await postGraphql(backend.url, query, { ids });
    expect(answer.body).toEqual({
      data: {
        messagesForCustomers: [
          { customerId: quietest.id, messages: seedMessagesOf(quietest.id).map(asGraphql) },
          { customerId: 'cus_doesnotexist00', messages: [] },
          { customerId: busiest.id, messages: seedMessagesOf(busiest.id).slice(0, 12).map(asGraphql) },
        ],
      },
    });
    expect(await readStats(backend.url)).toEqual({
      probes: 0,
      total: 1,
      operations: { messagesForCustomers: 1 },
      batchSizes: { messagesForCustomers: [3] },
    });
  });

  it('answers messages in the order asked, leaving unknown ids out, with batchSize = ids asked', async () => {
    const [m1, m2, m3] = [seed.messages[3]!, seed.messages[900]!, seed.messages[42]!];
    const ids = [m1.id, 'SM0123456789abcdef0123456789abcdef', m2.id, m3.id];
    const answer = await postGraphql(backend.url, `query($ids: [ID!]!) { messages(ids: $ids) { ${MESSAGE_FIELDS} } }`, { ids });
    expect(answer.body).toEqual({ data: { messages: [m1, m2, m3].map(asGraphql) } });
    expect((await readStats(backend.url)).batchSizes).toEqual({ messages: [4] });
  });

  it('fails messages and messagesForCustomers with TOO_MANY_IDS above 100 ids, still counting the calls', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => `SM${i.toString(16).padStart(32, '0')}`);
    const messages = await postGraphql(backend.url, 'query($ids: [ID!]!) { messages(ids: $ids) { id } }', { ids });
    const perCustomer = await postGraphql(
      backend.url, 'query($ids: [ID!]!) { messagesForCustomers(customerIds: $ids) { customerId } }', { ids },
    );
    for (const answer of [messages, perCustomer]) {
      expect(answer.status).toBe(200);
      expect(answer.body.data).toBeNull();
      expect(errorCodes(answer)).toEqual(['TOO_MANY_IDS']);
    }
    expect((await readStats(backend.url)).batchSizes).toEqual({ messages: [101], messagesForCustomers: [101] });
  });

  it('accepts first from 0 to 50 and fails INVALID_ARGUMENT outside', async () => {
    const query = 'query($ids: [ID!]!, $first: Int) { messagesForCustomers(customerIds: $ids, first: $first) { messages { id } } }';
    const zero = await postGraphql(backend.url, query, { ids: [busiest.id], first: 0 });
    expect(zero.body).toEqual({ data: { messagesForCustomers: [{ messages: [] }] } });
    const fifty = await postGraphql(backend.url, query, { ids: [busiest.id], first: 50 });
    expect((fifty.body.data?.['messagesForCustomers'] as { messages: unknown[] }[])[0]!.messages).toHaveLength(busiest.count);
    for (const first of [-1, 51]) {
      const answer = await postGraphql(backend.url, query, { ids: [busiest.id], first });
      expect(errorCodes(answer)).toEqual(['INVALID_ARGUMENT']);
      expect(answer.body.errors?.[0]?.extensions).toMatchObject({ argument: 'first' });
    }
  });
});

describe('messaging contract: sendMessage', () => {
  const send = 'mutation($to: String!, $body: String!, $customerId: ID) ' +
    `{ sendMessage(to: $to, body: $body, customerId: $customerId) { ${MESSAGE_FIELDS} } }`;

  it('queues a message from the sender number, readable afterwards by id and as the customer\'s newest', async () => {
    const before = Date.now();
    const answer = await postGraphql(backend.url, send, { to: '+4930555123', body: 'Your parcel arrives today.', customerId: recipient.id });
    const sent = answer.body.data?.['sendMessage'] as Record<string, string>;
    expect(sent).toEqual({
      id: expect.stringMatching(/^SM[0-9a-f]{32}$/),
      to: '+4930555123',
      from: '+15005550006',
      body: 'Your parcel arrives today.',
      status: 'QUEUED',
      sentAt: expect.any(String),
      customerId: recipient.id,
    });
    expect(Date.parse(sent['sentAt']!)).toBeGreaterThanOrEqual(before - 1000);
    const byId = await postGraphql(backend.url, `query($id: ID!) { message(id: $id) { ${MESSAGE_FIELDS} } }`, { id: sent['id'] });
    expect(byId.body).toEqual({ data: { message: sent } });
    const newest = await postGraphql(
      backend.url, 'query($ids: [ID!]!) { messagesForCustomers(customerIds: $ids, first: 1) { messages { id } } }', { ids: [recipient.id] },
    );
    expect(newest.body).toEqual({ data: { messagesForCustomers: [{ messages: [{ id: sent['id'] }] }] } });
  });

  it.each([
    ['a number without +', { to: '4930555123', body: 'hi' }, 'INVALID_PHONE_NUMBER', 21211],
    ['a too short number', { to: '+49305', body: 'hi' }, 'INVALID_PHONE_NUMBER', 21211],
    ['a number with a leading 0 country code', { to: '+04930555123', body: 'hi' }, 'INVALID_PHONE_NUMBER', 21211],
    ['an empty body', { to: '+4930555123', body: '' }, 'INVALID_BODY', 21602],
    ['a 1601-character body', { to: '+4930555123', body: 'x'.repeat(1601) }, 'INVALID_BODY', 21617],
  ])('rejects %s with %s (Twilio %i) and stores nothing', async (_, variables, code, twilioCode) => {
    const answer = await postGraphql(backend.url, send, variables);
    expect(answer.status).toBe(200);
    expect(answer.body.data).toBeNull();
    expect(answer.body.errors).toHaveLength(1);
    expect(answer.body.errors?.[0]?.extensions).toEqual({
      code,
      argument: code === 'INVALID_BODY' ? 'body' : 'to',
      twilioCode,
      moreInfo: `https://www.twilio.com/docs/errors/${twilioCode}`,
    });
    expect((await readStats(backend.url)).operations).toEqual({ sendMessage: 1 });
  });

  it('accepts a body of exactly 1600 characters, counting an emoji as one', async () => {
    const answer = await postGraphql(backend.url, send, { to: '+4930555123', body: `${'x'.repeat(1599)}🚲` });
    expect(answer.body.errors).toBeUndefined();
  });
});

describe('messaging contract: faults', () => {
  it('turns the next armed call into an INJECTED_FAULT error (HTTP 200), counting it, then recovers', async () => {
    await armFault(backend.url, 'message', 1);
    const query = 'query($id: ID!) { message(id: $id) { id } }';
    const failed = await postGraphql(backend.url, query, { id: someMessage.id });
    expect(failed.status).toBe(200);
    expect(failed.body.data).toEqual({ message: null });
    expect(errorCodes(failed)).toEqual(['INJECTED_FAULT']);
    expect(failed.body.errors?.[0]?.message).toBe('Injected fault for message');
    const recovered = await postGraphql(backend.url, query, { id: someMessage.id });
    expect(recovered.body).toEqual({ data: { message: { id: someMessage.id } } });
    expect((await readStats(backend.url)).operations).toEqual({ message: 2 });
  });

  it('counts every root field of a request, answering only the armed one with an error', async () => {
    await armFault(backend.url, 'messagesForCustomers', 1);
    const answer = await postGraphql(
      backend.url,
      'query($id: ID!, $ids: [ID!]!) { message(id: $id) { id } messagesForCustomers(customerIds: $ids) { customerId } }',
      { id: someMessage.id, ids: [busiest.id] },
    );
    expect(answer.body.data).toBeNull();
    expect(errorCodes(answer)).toEqual(['INJECTED_FAULT']);
    expect((await readStats(backend.url)).operations).toEqual({ message: 1, messagesForCustomers: 1 });
  });
});
