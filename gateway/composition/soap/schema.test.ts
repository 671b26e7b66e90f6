import {
  GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, getNamedType, printType, validateSchema, type GraphQLSchema,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import JunctionSoapHandler from './mesh-handler.ts';
import { RPC_WSDL, SHOP_FILES, WRITES_WSDL } from './test-fixtures.ts';
import { loadInline, writeFiles, wsdl } from './test-kit.ts';
import { loadSoapSource } from './index.ts';

const objectType = (schema: GraphQLSchema, name: string) => schema.getType(name) as GraphQLObjectType;
const fieldTypes = (schema: GraphQLSchema, name: string) =>
  Object.fromEntries(Object.entries(objectType(schema, name).getFields()).map(([k, f]) => [k, String(f.type)]));

describe('SOAP handler: building the schema', () => {
  it('builds a valid schema from a doc/literal WSDL with an imported XSD (relative schemaLocation, URN namespaces)', async () => {
    const { source } = await loadInline(SHOP_FILES);
    expect(validateSchema(source.schema)).toEqual([]);
    expect(source.kind).toBe('soap');
    expect(source.declaredOperations).toBe(5); // 4 on ShopSoap + 1 on ShopHttpGet
    expect(source.exposedOperations).toBe(4);
    expect(source.downgrades).toContainEqual({ location: 'wsdl:binding ShopHttpGet', reason: expect.stringContaining('HTTP GET binding ignored') });
  });

  it('exposes a port type bound by SOAP 1.1 and 1.2 once, and flattens wrappers into arguments and results', async () => {
    const { source } = await loadInline(SHOP_FILES);
    const query = objectType(source.schema, 'Query').getFields();
    const mutation = objectType(source.schema, 'Mutation').getFields();
    expect(Object.keys(query)).toEqual(['getCustomer', 'listCustomers']);
    expect(Object.keys(mutation)).toEqual(['updateStatus', 'ping']);
    // document/literal wrapper -> one argument per child (and attribute); single child -> returned directly.
    expect(query.getCustomer!.args.map((a) => `${a.name}: ${String(a.type)}`)).toEqual(['id: Int!']);
    expect(String(query.getCustomer!.type)).toBe('Customer_record');
    expect(query.listCustomers!.args).toEqual([]);
    expect(String(query.listCustomers!.type)).toBe('[Customer_record]');
    expect(mutation.updateStatus!.args.map((a) => `${a.name}: ${String(a.type)}`)).toEqual([
      'id: Int!', 'status: Status!', 'tags: [String!]', 'addresses: [TAddressInput]', 'balance: MoneyInput',
      'customer: Customer_recordInput', 'dryRun: Boolean',
    ]);
    // Two children: the wrapper object itself, named after the element.
    expect(String(mutation.updateStatus!.type)).toBe('UpdateStatusResponse');
    // A message without parts: no arguments, Boolean result.
    expect(String(mutation.ping!.type)).toBe('Boolean');
  });

  it('maps XSD structures: extension, simpleContent, lists, ArrayOf wrappers, choice, refs, anyType, recursion', async () => {
    const { source } = await loadInline(SHOP_FILES);
    expect(fieldTypes(source.schema, 'Customer_record')).toEqual({
      name: 'String', address: 'TAddress', id: 'Int', // inherited from Party, attribute included
      email: 'String', status: 'Status', tags: '[String]', addresses: '[TAddress]', balance: 'Money', extra: 'JSON',
      visits: 'String', referrer: 'Customer_record', note: '[String]', phone: 'String', fax: 'String',
    });
    expect(fieldTypes(source.schema, 'Money')).toEqual({ value: 'String', currency: 'String' });
    const input = source.schema.getType('Customer_recordInput') as GraphQLInputObjectType;
    const inputFields = Object.fromEntries(Object.entries(input.getFields()).map(([k, f]) => [k, String(f.type)]));
    // Required on input unless optional, nillable, or a choice member; recursion stays nullable.
    expect(inputFields).toMatchObject({ name: 'String!', status: 'Status!', referrer: 'Customer_recordInput', phone: 'String', fax: 'String', addresses: '[TAddressInput]' });
    expect(String((source.schema.getType('MoneyInput') as GraphQLInputObjectType).getFields().currency!.type)).toBe('String!');
    expect(source.downgrades).toEqual(expect.arrayContaining([
      { location: 'Customer_record.visits', reason: expect.stringContaining('xsd:long') },
      { location: 'Customer_record.extra', reason: expect.stringContaining('JSON') },
      { location: 'Money.value', reason: expect.stringContaining('xsd:decimal') },
    ]));
  });

  it('maps enumerations to GraphQL enums with reversible names', async () => {
    const { source } = await loadInline(SHOP_FILES);
    const status = source.schema.getType('Status') as GraphQLEnumType;
    expect(status.getValues().map((v) => [v.name, v.value])).toEqual([['in_progress', 'in-progress'], ['in_progress2', 'in_progress'], ['done', 'done']]);
    expect(status.getValue('in_progress')?.description).toContain('Being worked on.');
    const previous = getNamedType(objectType(source.schema, 'UpdateStatusResponse').getFields().previous!.type) as GraphQLEnumType;
    expect(previous.name).toBe('UpdateStatusResponsePrevious');
    expect(previous.getValues().map((v) => v.name)).toEqual(['new', 'old_style']);
  });

  it('carries wsdl:documentation and xsd:documentation into descriptions', async () => {
    const { source } = await loadInline(SHOP_FILES);
    expect(objectType(source.schema, 'Query').getFields().getCustomer!.description).toContain('Finds one customer by id.');
    expect(objectType(source.schema, 'Customer_record').description).toBe('A customer of the shop.');
    expect(objectType(source.schema, 'Customer_record').getFields().email!.description).toBe('Where receipts go.');
    expect(objectType(source.schema, 'TAddress').description).toBe('A postal address.');
  });

  it('picks the SOAP 1.2 binding when asked', async () => {
    const { source } = await loadInline(SHOP_FILES, { soapVersion: '1.2' });
    expect(objectType(source.schema, 'Query').getFields().getCustomer!.description).toContain('SOAP 1.2');
    expect(source.exposedOperations).toBe(4);
  });

  it('builds rpc/encoded: one argument per part, SOAP-encoded arrays as lists, no-part messages', async () => {
    const { source } = await loadInline({ 'rpc.wsdl': RPC_WSDL });
    expect(validateSchema(source.schema)).toEqual([]);
    const query = objectType(source.schema, 'Query').getFields();
    const mutation = objectType(source.schema, 'Mutation').getFields();
    expect(query.findItems!.args.map((a) => `${a.name}: ${String(a.type)}`)).toEqual(['names: [String]!', 'limit: Int!']);
    expect(String(query.findItems!.type)).toBe('[Item]');
    expect(fieldTypes(source.schema, 'Item')).toEqual({ name: 'String', size: 'String', tags: '[String]' });
    expect(mutation.reset!.args).toEqual([]);
  });

  it('gives a schema of writes a Query._operations field and prefixes shared operation names with the port type', async () => {
    const { source } = await loadInline({ 'writes.wsdl': WRITES_WSDL });
    expect(validateSchema(source.schema)).toEqual([]);
    expect(Object.keys(objectType(source.schema, 'Mutation').getFields())).toEqual(['retail_submitOrder', 'wholesale_submitOrder']);
    expect(printType(objectType(source.schema, 'Query'))).toContain('_operations: [String!]!');
    expect(source.declaredOperations).toBe(2);
    expect(source.exposedOperations).toBe(2);
  });

  it('refuses a WSDL or an imported XSD that declares a DOCTYPE', async () => {
    const dtd = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>';
    await expect(loadInline({ 'evil.wsdl': `${dtd}<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"/>` }))
      .rejects.toThrow(/DOCTYPE/);
    await expect(loadInline({ ...SHOP_FILES, 'types/common.xsd': `${dtd}<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>` }))
      .rejects.toThrow(/DOCTYPE/);
  });

  it('builds recursive and mutually recursive types, with nullable recursion on input', async () => {
    const { source } = await loadInline({ 'tree.wsdl': wsdl('urn:tree', `
      <xsd:schema targetNamespace="urn:tree">
        <xsd:complexType name="Node"><xsd:sequence>
          <xsd:element name="label" type="xsd:string"/><xsd:element name="owner" type="tns:Owner"/>
          <xsd:element name="children" type="tns:Node" minOccurs="0" maxOccurs="unbounded"/>
        </xsd:sequence></xsd:complexType>
        <xsd:complexType name="Owner"><xsd:sequence><xsd:element name="root" type="tns:Node"/></xsd:sequence></xsd:complexType>
        <xsd:complexType name="Chain"><xsd:sequence><xsd:element name="next" type="tns:Chain" maxOccurs="unbounded"/></xsd:sequence></xsd:complexType>
        <xsd:element name="GetTree"><xsd:complexType><xsd:sequence><xsd:element name="node" type="tns:Node"/><xsd:element name="chain" type="tns:Chain"/></xsd:sequence></xsd:complexType></xsd:element>
        <xsd:element name="GetTreeResponse"><xsd:complexType><xsd:sequence><xsd:element name="node" type="tns:Node"/><xsd:element name="chain" type="tns:Chain"/></xsd:sequence></xsd:complexType></xsd:element>
      </xsd:schema>`, `
      <wsdl:message name="In"><wsdl:part name="p" element="tns:GetTree"/></wsdl:message>
      <wsdl:message name="Out"><wsdl:part name="p" element="tns:GetTreeResponse"/></wsdl:message>
      <wsdl:portType name="T"><wsdl:operation name="GetTree"><wsdl:input message="tns:In"/><wsdl:output message="tns:Out"/></wsdl:operation></wsdl:portType>
      <wsdl:binding name="B" type="tns:T"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
        <wsdl:operation name="GetTree"><soap:operation soapAction="x"/><wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation></wsdl:binding>`) });
    expect(validateSchema(source.schema)).toEqual([]);
    expect(fieldTypes(source.schema, 'Node')).toEqual({ label: 'String', owner: 'Owner', children: '[Node]' });
    // A wrapper of itself is not flattened (it would be an endless list).
    expect(fieldTypes(source.schema, 'Chain')).toEqual({ next: '[Chain]' });
  });

  it('works as a GraphQL Mesh v0 handler (baseDir resolves the source)', async () => {
    const baseDir = writeFiles(SHOP_FILES);
    const handler = new JunctionSoapHandler({ name: 'shop', config: { source: './shop.wsdl', endpoint: 'http://x.test/' }, baseDir });
    const { schema } = await handler.getMeshSource({ fetchFn: fetch });
    expect(Object.keys(objectType(schema, 'Query').getFields())).toEqual(['getCustomer', 'listCustomers']);
  });

  it('reads a WSDL from a URL, resolving its XSD import against that URL (and never into the file system)', async () => {
    const fetched: string[] = [];
    const serve = (async (input: string | URL | Request) => {
      const url = String(input);
      fetched.push(url);
      const path = new URL(url).pathname;
      const text = path === '/svc/shop.wsdl' ? SHOP_FILES['shop.wsdl'] : path === '/svc/types/common.xsd' ? SHOP_FILES['types/common.xsd'] : undefined;
      return new Response(text ?? 'not found', { status: text ? 200 : 404 });
    }) as typeof fetch;
    const source = await loadSoapSource({ name: 'remote', source: 'https://wsdl.example/svc/shop.wsdl', fetch: serve });
    expect(fetched).toEqual(['https://wsdl.example/svc/shop.wsdl', 'https://wsdl.example/svc/types/common.xsd']);
    expect(source.exposedOperations).toBe(4);

    const sneaky = SHOP_FILES['shop.wsdl'].replace('schemaLocation="types/common.xsd"', 'schemaLocation="file:///etc/passwd"');
    const refuse = (async () => new Response(sneaky)) as typeof fetch;
    await expect(loadSoapSource({ name: 'remote', source: 'https://wsdl.example/svc/shop.wsdl', fetch: refuse })).rejects.toThrow(/refused to load file:/);
  });

  it('reports a missing WSDL with the source name', async () => {
    await expect(loadSoapSource({ name: 'ghost', source: './nope.wsdl', cwd: writeFiles({}) })).rejects.toThrow(/SOAP source ghost/);
  });
});
