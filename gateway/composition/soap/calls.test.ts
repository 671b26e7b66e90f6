import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../upstream/upstream-error.ts';
import { RPC_WSDL, SHOP_FILES } from './test-fixtures.ts';
import { SOAP11, SOAP12, envelope, fakeBackend, loadInline, run } from './test-kit.ts';
import { passwordDigest, usernameTokenHeader } from '../../upstream/ws-security.ts';
import { child, parseXml, type XmlElement } from './xml.ts';

const CUSTOMER = `<customer id="7"><name>Ada &amp; Co</name><address><street>Main</street></address>
  <status>in-progress</status><tags> a b  c </tags><addresses/><balance currency="EUR">12.50</balance>
  <extra><k>v</k><k>w</k></extra><visits>9007199254740993</visits><note>x</note><note>y</note><phone>1</phone></customer>`;

/** The Body's first element of a recorded request. */
function bodyElement(xml: string): { envelope: XmlElement; element: XmlElement } {
  const root = parseXml(xml, 'request');
  const element = child(root, 'Body')!.children[0]!;
  return { envelope: root, element };
}

const upstreamError = (result: { errors?: readonly { originalError?: unknown }[] }): UpstreamError => {
  const error = result.errors?.[0]?.originalError;
  if (!(error instanceof UpstreamError)) throw new Error(`expected an UpstreamError, got ${String(error)}`);
  return error;
};

describe('SOAP handler: calls', () => {
  it('sends a SOAP 1.1 document/literal request and reads the reply guided by the XSD', async () => {
    const backend = fakeBackend({ body: envelope(`<GetCustomerResponse xmlns="urn:example:shop">${CUSTOMER}</GetCustomerResponse>`) });
    const { source } = await loadInline(SHOP_FILES, { backend });
    const result = await run(source.schema, `{ getCustomer(id: 7) {
      id name address { street city } status tags addresses { street } balance { value currency } extra visits note phone referrer { name } } }`);
    expect(result.errors).toBeUndefined();
    expect(result.data?.getCustomer).toEqual({
      id: 7, name: 'Ada & Co', address: { street: 'Main', city: null }, status: 'in_progress', tags: ['a', 'b', 'c'],
      addresses: [], balance: { value: '12.50', currency: 'EUR' }, extra: { k: ['v', 'w'] }, visits: '9007199254740993',
      note: ['x', 'y'], phone: '1', referrer: null,
    });
    const [call] = backend.calls;
    expect(call?.method).toBe('POST');
    expect(call?.url).toBe('http://soap.test/service');
    expect(call?.headers.get('content-type')).toBe('text/xml; charset=utf-8');
    expect(call?.headers.get('soapaction')).toBe('"urn:example:shop/GetCustomer"');
    const { envelope: env, element } = bodyElement(call!.body);
    expect(env.ns).toBe(SOAP11);
    expect([element.local, element.ns]).toEqual(['GetCustomer', 'urn:example:shop']);
    expect(element.children.map((c) => [c.local, c.ns, c.text])).toEqual([['id', 'urn:example:shop', '7']]);
  });

  it('returns [] for an empty repeated element or wrapper, never [null], and quotes an empty SOAPAction', async () => {
    const backend = fakeBackend({ body: envelope('<ListCustomersResponse xmlns="urn:example:shop"/>') });
    const { source } = await loadInline(SHOP_FILES, { backend });
    expect((await run(source.schema, '{ listCustomers { name } }')).data).toEqual({ listCustomers: [] });
    backend.reply = { body: envelope('<m:ListCustomersResponse xmlns:m="urn:example:shop"><m:customer><m:name>A</m:name></m:customer></m:ListCustomersResponse>') };
    expect((await run(source.schema, '{ listCustomers { name addresses { street } note } }')).data)
      .toEqual({ listCustomers: [{ name: 'A', addresses: null, note: [] }] });
    expect(backend.calls[0]?.headers.get('soapaction')).toBe('""');
    expect(bodyElement(backend.calls[0]!.body).element.children).toEqual([]);
  });

  it('writes arguments in XSD order with enums, lists, wrappers, attributes, nil, JSON and escaping', async () => {
    const backend = fakeBackend({ body: envelope('<UpdateStatusResponse xmlns="urn:example:shop"><ok>true</ok><previous>old-style</previous></UpdateStatusResponse>') });
    const { source } = await loadInline(SHOP_FILES, { backend });
    const result = await run(source.schema, `mutation($addresses: [TAddressInput], $extra: JSON) { updateStatus(
      dryRun: true, id: 1, status: in_progress, tags: ["x", "y"], addresses: $addresses, balance: { value: "1.50", currency: "EUR" },
      customer: { name: "<A & B>", status: done, extra: $extra, phone: "5" }
    ) { ok previous } }`, {
      addresses: [{ street: 'S1' }, null, { street: 'S2', city: 'C' }],
      extra: { a: '1', b: ['2', '3'], _at: { '@kind': 'k', '#text': 't' } },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.updateStatus).toEqual({ ok: true, previous: 'old_style' });
    const body = backend.calls[0]!.body;
    const { element } = bodyElement(body);
    expect(element.attrs.map((a) => [a.local, a.value])).toEqual([['dryRun', 'true']]);
    expect(element.children.map((c) => c.local)).toEqual(['id', 'status', 'tags', 'addresses', 'balance', 'customer']);
    expect(child(element, 'status')?.text).toBe('in-progress');
    expect(child(element, 'tags')?.text).toBe('x y');
    const addresses = child(element, 'addresses')!;
    expect(addresses.children.map((c) => [c.local, c.ns, c.children.map((g) => `${g.local}=${g.text}`).join(',')])).toEqual([
      ['address', 'urn:example:common', 'street=S1'], ['address', 'urn:example:common', ''], ['address', 'urn:example:common', 'street=S2,city=C'],
    ]);
    expect(addresses.children[1]?.attrs.map((a) => `${a.local}=${a.value}`)).toEqual(['nil=true']);
    const balance = child(element, 'balance')!;
    expect([balance.text, balance.attrs.map((a) => `${a.local}=${a.value}`)]).toEqual(['1.50', ['currency=EUR']]);
    const customer = child(element, 'customer')!;
    expect(customer.children.map((c) => c.local)).toEqual(['name', 'status', 'extra', 'phone']);
    expect(child(customer, 'name')?.text).toBe('<A & B>');
    expect(body).toContain('&lt;A &amp; B&gt;');
    expect(body).toContain('<a>1</a><b>2</b><b>3</b><_at kind="k">t</_at>');
  });

  it('refuses JSON keys that are not XML names', async () => {
    const { source } = await loadInline(SHOP_FILES);
    const result = await run(source.schema, 'mutation($extra: JSON) { updateStatus(id: 1, status: done, customer: { name: "n", status: done, extra: $extra }) { ok } }', {
      extra: { 'a b': 1 },
    });
    expect(result.errors?.[0]?.message).toMatch(/not an XML name/);
  });

  it('uses the SOAP 1.2 binding: envelope namespace and the action in Content-Type', async () => {
    const backend = fakeBackend({ body: envelope('<GetCustomerResponse xmlns="urn:example:shop"><customer><name>B</name></customer></GetCustomerResponse>', '1.2') });
    const { source } = await loadInline(SHOP_FILES, { backend, soapVersion: '1.2' });
    expect((await run(source.schema, '{ getCustomer(id: 2) { name } }')).data).toEqual({ getCustomer: { name: 'B' } });
    const [call] = backend.calls;
    expect(call?.headers.get('content-type')).toBe('application/soap+xml; charset=utf-8; action="urn:example:shop/GetCustomer12"');
    expect(call?.headers.get('soapaction')).toBeNull();
    expect(bodyElement(call!.body).envelope.ns).toBe(SOAP12);
  });

  it('sends rpc/encoded calls (xsi:type, soapenc:arrayType, encodingStyle) and follows multi-references in replies', async () => {
    const reply = envelope(`<ns1:findItemsResponse xmlns:ns1="urn:example:rpc:ops"><result href="#id0"/></ns1:findItemsResponse>
      <multiRef id="id0" xmlns:enc="http://schemas.xmlsoap.org/soap/encoding/" enc:arrayType="ns2:Item[2]"><item href="#id1"/>
        <item><name>n2</name><size>12345678901</size><tags><item>t</item></tags></item></multiRef>
      <multiRef id="id1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><name>n1</name><size>1</size><tags xsi:nil="true"/></multiRef>`);
    const backend = fakeBackend({ body: reply });
    const { source } = await loadInline({ 'rpc.wsdl': RPC_WSDL }, { backend });
    const result = await run(source.schema, '{ findItems(names: ["a", "b"], limit: 5) { name size tags } }');
    expect(result.errors).toBeUndefined();
    expect(result.data?.findItems).toEqual([{ name: 'n1', size: '1', tags: null }, { name: 'n2', size: '12345678901', tags: ['t'] }]);
    const { element } = bodyElement(backend.calls[0]!.body);
    expect([element.local, element.ns]).toEqual(['findItems', 'urn:example:rpc:ops']);
    expect(element.attrs.map((a) => `${a.local}=${a.value}`)).toEqual(['encodingStyle=http://schemas.xmlsoap.org/soap/encoding/']);
    const [names, limit] = element.children;
    expect([names?.local, names?.ns, limit?.local, limit?.ns, limit?.text]).toEqual(['names', '', 'limit', '', '5']);
    expect(names?.attrs.map((a) => `${a.ns}|${a.local}=${a.value}`)).toEqual([
      'http://www.w3.org/2001/XMLSchema-instance|type=soapenc:Array', 'http://schemas.xmlsoap.org/soap/encoding/|arrayType=xsd:string[2]',
    ]);
    expect(names?.children.map((c) => `${c.local}:${c.attrs[0]?.value}:${c.text}`)).toEqual(['item:xsd:string:a', 'item:xsd:string:b']);
    expect(limit?.attrs[0]?.value).toBe('xsd:int');

    backend.reply = { body: envelope('<ns1:resetResponse xmlns:ns1="urn:example:rpc:ops"/>') };
    expect((await run(source.schema, 'mutation { reset }')).data).toEqual({ reset: true });
    expect(bodyElement(backend.calls[1]!.body).element.local).toBe('reset');
  });

  it('turns SOAP 1.1 and 1.2 Faults into soap_fault UpstreamErrors with the fault code', async () => {
    const backend = fakeBackend({
      status: 500,
      body: envelope('<s:Fault><faultcode>s:Client</faultcode><faultstring>bad id</faultstring><detail><x>1</x></detail></s:Fault>'),
    });
    const { source } = await loadInline(SHOP_FILES, { backend });
    const error11 = upstreamError(await run(source.schema, '{ getCustomer(id: 1) { name } }'));
    expect([error11.failure, error11.upstreamCode, error11.message, error11.status, error11.source, error11.operation])
      .toEqual(['soap_fault', 'Client', 'bad id', 500, 'test', 'GetCustomer']);

    backend.reply = {
      status: 500, contentType: 'application/soap+xml',
      body: envelope('<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>m:Bad</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">nope</s:Text></s:Reason></s:Fault>', '1.2'),
    };
    const error12 = upstreamError(await run(source.schema, '{ getCustomer(id: 1) { name } }'));
    expect([error12.failure, error12.upstreamCode, error12.message, error12.status]).toEqual(['soap_fault', 'Sender', 'nope', 500]);

    backend.reply = { status: 200, body: envelope('<s:Fault><faultcode>m:InvalidTicket</faultcode><faultstring/></s:Fault>') };
    const custom = upstreamError(await run(source.schema, '{ getCustomer(id: 1) { name } }'));
    expect([custom.upstreamCode, custom.message, custom.status]).toEqual(['InvalidTicket', 'test answered GetCustomer with a SOAP Fault', 200]);
  });

  it('refuses replies that are not SOAP: non-XML, a DOCTYPE, no envelope, an HTTP error page', async () => {
    const backend = fakeBackend();
    const { source } = await loadInline(SHOP_FILES, { backend });
    const failureOf = async (reply: { status?: number; body: string }) => {
      backend.reply = reply;
      const error = upstreamError(await run(source.schema, '{ getCustomer(id: 1) { name } }'));
      return [error.failure, error.status];
    };
    expect(await failureOf({ body: 'hello' })).toEqual(['bad_response', 200]);
    expect(await failureOf({ body: `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]>${envelope('<a>&x;</a>').replace(/^<\?xml[^>]*>/, '')}` }))
      .toEqual(['bad_response', 200]);
    expect(await failureOf({ body: '<html><body>hi</body></html>' })).toEqual(['bad_response', 200]);
    expect(await failureOf({ status: 502, body: '<html><body>Bad gateway</body></html>' })).toEqual(['http', 502]);
    expect(await failureOf({ status: 503, body: 'down' })).toEqual(['http', 503]);
    expect(await failureOf({ body: envelope('') })).toEqual(['bad_response', 200]);
  });

  it('uses the WSDL address unless an endpoint is configured, and needs a usable one', async () => {
    const backend = fakeBackend({ body: envelope('<ListCustomersResponse xmlns="urn:example:shop"/>') });
    const { source } = await loadInline(SHOP_FILES, { backend, endpoint: undefined });
    await run(source.schema, '{ listCustomers { name } }');
    expect(backend.calls[0]?.url).toBe('http://shop.example/soap');
    const broken = await loadInline({ 'x.wsdl': SHOP_FILES['shop.wsdl'].replaceAll('http://shop.example/soap', 'Shop_Service'), 'types/common.xsd': SHOP_FILES['types/common.xsd'] }, { endpoint: undefined });
    const error = upstreamError(await run(broken.source.schema, '{ listCustomers { name } }'));
    expect([error.failure, error.message]).toEqual(['unreachable', expect.stringContaining('set the endpoint option')]);
  });

  it('adds configured HTTP headers, raw SOAP header blocks and a WS-Security UsernameToken', async () => {
    const backend = fakeBackend({ body: envelope('<ListCustomersResponse xmlns="urn:example:shop"/>') });
    const nonce = Buffer.from('0123456789abcdef');
    const { source } = await loadInline(SHOP_FILES, {
      backend,
      operationHeaders: { authorization: 'Bearer t0k', 'content-type': 'text/plain' },
      soapHeaders: ['<h:Tenant xmlns:h="urn:tenant">acme</h:Tenant>'],
      security: { username: 'svc', password: 's3cret', passwordType: 'PasswordDigest' },
      tokenEnvironment: { now: () => new Date('2024-05-06T07:08:09.123Z'), nonce: () => nonce },
    });
    await run(source.schema, '{ listCustomers { name } }');
    const [call] = backend.calls;
    expect(call?.headers.get('authorization')).toBe('Bearer t0k');
    expect(call?.headers.get('content-type')).toBe('text/xml; charset=utf-8');
    const header = child(parseXml(call!.body, 'request'), 'Header')!;
    expect(header.children.map((c) => `${c.ns}|${c.local}`)).toEqual([
      'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd|Security', 'urn:tenant|Tenant',
    ]);
    const token = child(header.children[0]!, 'UsernameToken')!;
    const expected = createHash('sha1').update(Buffer.concat([nonce, Buffer.from('2024-05-06T07:08:09Z'), Buffer.from('s3cret')])).digest('base64');
    expect(token.children.map((c) => [c.local, c.text])).toEqual([
      ['Username', 'svc'], ['Password', expected], ['Nonce', nonce.toString('base64')], ['Created', '2024-05-06T07:08:09Z'],
    ]);
    expect(child(token, 'Password')?.attrs[0]?.value).toMatch(/#PasswordDigest$/);
    expect(call!.body).not.toContain('s3cret');
  });

  it('writes the UsernameToken header in the OASIS shape (PasswordText by default)', () => {
    const xml = usernameTokenHeader({ username: 'u<1>', password: 'p&w' }, 'soap', { now: () => new Date(Date.UTC(2020, 0, 2, 3, 4, 5)), nonce: () => Buffer.alloc(16, 1) });
    expect(xml).toBe(
      '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"'
      + ' xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" soap:mustUnderstand="1">'
      + '<wsse:UsernameToken wsu:Id="UsernameToken-1"><wsse:Username>u&lt;1&gt;</wsse:Username>'
      + '<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">p&amp;w</wsse:Password>'
      + '<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">AQEBAQEBAQEBAQEBAQEBAQ==</wsse:Nonce>'
      + '<wsu:Created>2020-01-02T03:04:05Z</wsu:Created></wsse:UsernameToken></wsse:Security>',
    );
    // Known vector: SHA-1 over nonce bytes + created + password.
    expect(passwordDigest(Buffer.from('abc'), '2020-01-01T00:00:00Z', 'pw'))
      .toBe(createHash('sha1').update('abc2020-01-01T00:00:00Zpw').digest('base64'));
  });
});
