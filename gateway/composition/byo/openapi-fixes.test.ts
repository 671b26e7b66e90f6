import { describe, expect, it } from 'vitest';
import { buildSchema, graphql } from 'graphql';
import { expandableReferences, readIdStringsAsObjects, removeCredentialParameters } from './openapi-fixes.ts';

type Json = Record<string, any>;

const ok = (schema: Json) => ({ 200: { description: 'ok', content: { 'application/json': { schema } } } });

/** An OpenAPI 3 document whose one GET answers `answer`, with `schemas` as its components. */
function oas3(answer: Json, schemas: Json = {}, extra: Json = {}): Json {
  return { openapi: '3.0.3', info: { title: 't', version: '1' }, paths: { '/thing': { get: { operationId: 'getThing', responses: ok(answer) } } }, components: { schemas }, ...extra };
}

const ID = { type: 'string', maxLength: 5000 };
const customer = { type: 'object', required: ['id', 'object', 'email'], properties: { id: { type: 'string', description: 'Unique identifier for the object.' }, object: { type: 'string', enum: ['customer'] }, email: { type: 'string' } } };

describe('expandableReferences: an anyOf of a string and objects that have an id', () => {
  it('becomes one named type, id required and every other field optional; nullable places stay nullable', () => {
    const document = oas3(
      { $ref: '#/components/schemas/charge' },
      {
        customer,
        charge: {
          type: 'object',
          required: ['id', 'customer', 'owner'],
          properties: {
            id: { type: 'string' },
            customer: { anyOf: [ID, { $ref: '#/components/schemas/customer' }], nullable: true, description: 'The customer.', 'x-expansionResources': { oneOf: [{ $ref: '#/components/schemas/customer' }] } },
            owner: { anyOf: [ID, { $ref: '#/components/schemas/customer' }] },
            watchers: { type: 'array', items: { anyOf: [ID, { $ref: '#/components/schemas/customer' }] } },
          },
        },
      },
    );
    expect(expandableReferences(document)).toEqual(['customer_or_id']);
    const { properties } = document.components.schemas.charge;
    expect(properties.customer).toEqual({ anyOf: [{ $ref: '#/components/schemas/customer_or_id' }], nullable: true, description: 'The customer.' });
    expect(properties.owner).toEqual({ $ref: '#/components/schemas/customer_or_id' });
    expect(properties.watchers.items).toEqual({ $ref: '#/components/schemas/customer_or_id' });
    const made = document.components.schemas.customer_or_id;
    expect(made).toMatchObject({ type: 'object', title: 'customer_or_id', required: ['id'] });
    expect(made.properties.id).toEqual({ type: 'string', description: 'Unique identifier for the object.' });
    expect(made.properties.email).toBe(customer.properties.email);
    // The object itself is unchanged where the API always answers it whole.
    expect(document.components.schemas.customer.required).toEqual(['id', 'object', 'email']);
  });

  it('merges several members: one schema kept, enums joined, primitives of one type kept, anything else untyped', () => {
    const refund = { type: 'object', properties: { id: { type: 'string' }, object: { type: 'string', enum: ['refund'] }, amount: { type: 'integer' }, status: { type: 'string', maxLength: 5000 }, details: { $ref: '#/components/schemas/details' } } };
    const charge = { type: 'object', properties: { id: { type: 'string' }, object: { type: 'string', enum: ['charge'] }, amount: { type: 'integer', nullable: true }, status: { type: 'string', enum: ['paid'] }, details: { type: 'string' } } };
    const document = oas3(
      { type: 'object', properties: { source: { anyOf: [ID, { $ref: '#/components/schemas/refund' }, { $ref: '#/components/schemas/charge' }] } } },
      { refund, charge, details: { type: 'object', properties: { a: { type: 'string' } } } },
    );
    expect(expandableReferences(document)).toEqual(['refund_or_charge_or_id']);
    const { properties } = document.components.schemas.refund_or_charge_or_id;
    expect(properties.object).toEqual({ type: 'string', enum: ['refund', 'charge'] });
    expect(properties.amount).toBe(refund.properties.amount);
    expect(properties.status).toEqual({ type: 'string' });
    expect(properties.details).toEqual({});
  });

  it('names a type of many members after where it is, never after a name the document uses, and reuses it for the same members', () => {
    const member = (name: string) => ({ type: 'object', properties: { id: { type: 'string' }, [name]: { type: 'string' } } });
    const schemas: Json = { a: member('a'), b: member('b'), c: member('c'), d: member('d'), a_or_id: { type: 'object', properties: {} } };
    const many = { anyOf: [ID, ...['a', 'b', 'c', 'd'].map((n) => ({ $ref: `#/components/schemas/${n}` }))] };
    schemas.ledger = { type: 'object', properties: { entry: many, other: structuredClone(many), first: { anyOf: [ID, { $ref: '#/components/schemas/a' }] } } };
    const document = oas3({ $ref: '#/components/schemas/ledger' }, schemas);
    expect(expandableReferences(document)).toEqual(['ledger_entry_or_id', 'a_or_id2']);
    expect(schemas.ledger.properties.other).toEqual({ $ref: '#/components/schemas/ledger_entry_or_id' });
  });

  it('puts Swagger 2.0 types under definitions', () => {
    const document = {
      swagger: '2.0',
      info: { title: 't', version: '1' },
      paths: { '/thing': { get: { responses: { 200: { description: 'ok', schema: { type: 'object', properties: { customer: { anyOf: [ID, { $ref: '#/definitions/customer' }] } } } } } } } },
      definitions: { customer },
    };
    expect(expandableReferences(document)).toEqual(['customer_or_id']);
    expect(document.paths['/thing'].get.responses[200].schema.properties.customer).toEqual({ $ref: '#/definitions/customer_or_id' });
    expect((document.definitions as Json).customer_or_id.required).toEqual(['id']);
  });

  it('leaves alone what clients send, and anyOfs that are not an id or its object', () => {
    const inBody = { anyOf: [ID, { $ref: '#/components/schemas/customer' }] };
    const document = oas3(
      {
        type: 'object',
        properties: {
          unset: { anyOf: [{ type: 'string', enum: [''] }, { $ref: '#/components/schemas/customer' }] },
          noId: { anyOf: [ID, { type: 'object', properties: { name: { type: 'string' } } }] },
          twoStrings: { anyOf: [ID, { type: 'string', format: 'uuid' }, { $ref: '#/components/schemas/customer' }] },
        },
      },
      { customer, input: { type: 'object', properties: { customer: inBody } } },
    );
    document.paths['/thing'].post = {
      requestBody: { content: { 'application/x-www-form-urlencoded': { schema: { $ref: '#/components/schemas/input' } } } },
      responses: ok({ type: 'string' }),
    };
    const before = structuredClone(document);
    expect(expandableReferences(document)).toEqual([]);
    expect(document).toEqual(before);
  });
});

describe('readIdStringsAsObjects', () => {
  it('reads a string as { id } wherever the type is used, an object as it is', async () => {
    const schema = buildSchema(`
      type Query { one: customer_or_id!, maybe: customer_or_id, list: [customer_or_id!]!, nested: [[customer_or_id]] }
      type customer_or_id { id: String!, email: String, deleted: Boolean }
    `);
    expect(readIdStringsAsObjects(schema, ['customer_or_id', 'not_there'])).toBe(1);
    const rootValue = { one: 'cus_1', maybe: { id: 'cus_2', email: 'a@example.com' }, list: ['cus_3', { id: 'cus_4', deleted: true }], nested: [['cus_5', null]] };
    const result = await graphql({ schema, rootValue, source: '{ one { id email } maybe { id email } list { id deleted } nested { id } }' });
    expect(result).toEqual({
      data: {
        one: { id: 'cus_1', email: null },
        maybe: { id: 'cus_2', email: 'a@example.com' },
        list: [{ id: 'cus_3', deleted: null }, { id: 'cus_4', deleted: true }],
        nested: [[{ id: 'cus_5' }, null]],
      },
    });
  });
});

describe('removeCredentialParameters', () => {
  function document(): Json {
    return {
      openapi: '3.0.3',
      info: { title: 't', version: '1' },
      components: {
        securitySchemes: { key: { type: 'apiKey', in: 'query', name: 'api_key' }, bearer: { type: 'http', scheme: 'bearer' } },
        parameters: { Authorization: { name: 'authorization', in: 'header', required: true, schema: { type: 'string' } } },
        schemas: { Note: { type: 'object', properties: { token: { type: 'string' }, text: { type: 'string' } } } },
      },
      paths: {
        '/things/{id}': {
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, { name: 'api_key', in: 'query', schema: { type: 'string' } }],
          get: {
            parameters: [{ $ref: '#/components/parameters/Authorization' }, { name: 'token', in: 'query', required: true, schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer' } }, { name: 'api_key', in: 'header', schema: { type: 'string' } }],
            responses: ok({ type: 'string' }),
          },
          post: {
            requestBody: { content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', required: ['token', 'text'], properties: { token: { type: 'string' }, text: { type: 'string' } } } } } },
            responses: ok({ type: 'string' }),
          },
          put: {
            requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Note' } } } },
            responses: ok({ type: 'string' }),
          },
        },
      },
    };
  }

  it("takes off the security schemes' parameters and the configured names, wherever declared, and no other", () => {
    const doc = document();
    expect(removeCredentialParameters(doc, ['token']).sort()).toEqual(['api_key', 'authorization', 'token']);
    const item = doc.paths['/things/{id}'];
    expect(item.parameters.map((p: Json) => p.name)).toEqual(['id']);
    // The scheme says api_key in the query: a header of that name is not the credential.
    expect(item.get.parameters.map((p: Json) => p.name)).toEqual(['limit', 'api_key']);
    const form = item.post.requestBody.content['application/x-www-form-urlencoded'].schema;
    expect([Object.keys(form.properties), form.required]).toEqual([['text'], ['text']]);
    // A JSON body's `token` is data, not a credential parameter.
    expect(Object.keys(doc.components.schemas.Note.properties)).toEqual(['token', 'text']);
  });

  it('takes Swagger 2.0 formData and header parameters, and form bodies made of formData', () => {
    const doc: Json = {
      swagger: '2.0',
      info: { title: 't', version: '1' },
      securityDefinitions: { slackAuth: { type: 'oauth2', flow: 'accessCode', authorizationUrl: 'https://example.com', tokenUrl: 'https://example.com', scopes: {} } },
      paths: {
        '/chat.postMessage': {
          post: {
            consumes: ['application/x-www-form-urlencoded'],
            parameters: [{ name: 'token', in: 'header', required: true, type: 'string' }, { name: 'channel', in: 'formData', required: true, type: 'string' }],
            responses: { 200: { description: 'ok' } },
          },
        },
        '/dnd.setSnooze': {
          post: {
            consumes: ['application/x-www-form-urlencoded'],
            parameters: [{ name: 'token', in: 'formData', required: true, type: 'string' }, { name: 'num_minutes', in: 'formData', required: true, type: 'string' }],
            responses: { 200: { description: 'ok' } },
          },
        },
        '/files.upload': {
          post: {
            consumes: ['application/x-www-form-urlencoded'],
            parameters: [{ in: 'body', name: 'input', schema: { type: 'object', required: ['token'], properties: { token: { type: 'string' }, title: { type: 'string' } } } }],
            responses: { 200: { description: 'ok' } },
          },
        },
      },
    };
    expect(removeCredentialParameters(doc, ['token'])).toEqual(['token']);
    expect(doc.paths['/chat.postMessage'].post.parameters.map((p: Json) => p.name)).toEqual(['channel']);
    expect(doc.paths['/dnd.setSnooze'].post.parameters.map((p: Json) => p.name)).toEqual(['num_minutes']);
    expect(doc.paths['/files.upload'].post.parameters[0].schema).toEqual({ type: 'object', required: [], properties: { title: { type: 'string' } } });
  });

  it('changes nothing without schemes or names', () => {
    const doc = { openapi: '3.0.3', info: { title: 't', version: '1' }, paths: { '/a': { get: { parameters: [{ name: 'token', in: 'query' }], responses: {} } } } };
    expect(removeCredentialParameters(doc)).toEqual([]);
    expect(doc.paths['/a'].get.parameters).toHaveLength(1);
  });
});
