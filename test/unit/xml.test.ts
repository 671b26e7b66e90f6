import { describe, expect, it } from 'vitest';
import { parseXml, XmlError } from '../../gateway/upstream/xml.ts';

/** The project's XML reader resolves namespaces itself (saxes' own namespace mode allocated too much). */
describe('parseXml', () => {
  it('resolves element and attribute names to their namespaces, as declared and undeclared', () => {
    const root = parseXml('<s:Envelope xmlns:s="urn:env" xmlns="urn:dflt"><s:Body a="1" s:b="2"><x><y xmlns=""><z/></y></x></s:Body></s:Envelope>', 'reply');
    expect([root.local, root.ns]).toEqual(['Envelope', 'urn:env']);
    const body = root.children[0]!;
    expect(body.attrs).toEqual([{ name: 'a', local: 'a', ns: '', value: '1' }, { name: 's:b', local: 'b', ns: 'urn:env', value: '2' }]);
    const x = body.children[0]!;
    expect([x.local, x.ns]).toEqual(['x', 'urn:dflt']); // the default namespace is inherited
    const y = x.children[0]!;
    expect([y.ns, y.children[0]!.ns]).toEqual(['', '']); // and undeclared with xmlns=""
    expect(y.scope.get('s')).toBe('urn:env');
    expect(parseXml('<a xml:lang="en"/>', 'doc').attrs[0]!.ns).toBe('http://www.w3.org/XML/1998/namespace');
    expect(parseXml('<s:a xmlns:s=" urn:env "/>', 'doc').ns).toBe('urn:env'); // declarations are trimmed, as saxes did
  });

  it('keeps text and CDATA, decoded', () => {
    expect(parseXml('<a>x &amp; y<![CDATA[<z>]]>&#65;</a>', 'doc').text).toBe('x & y<z>A');
  });

  it.each([
    ['an unbound element prefix', '<a:b/>', /unbound namespace prefix: "a" \(line 1, column \d+\)/],
    ['an unbound attribute prefix', '<b x:y="1"/>', /unbound namespace prefix: "x"/],
    ['a prefix bound to no namespace', '<a xmlns:p=""/>', /cannot be bound to the empty namespace/],
    ['a declared xmlns prefix', '<a xmlns:xmlns="urn:x"/>', /xmlns prefix cannot be declared/],
    ['xml bound elsewhere', '<a xmlns:xml="urn:x"/>', /xml prefix must be bound/],
    ['a name with two colons', '<a:b:c xmlns:a="urn:a"/>', /is not a qualified name/],
    ['a declaration without a prefix', '<a xmlns:="urn:a"/>', /not well-formed XML/],
    ['one attribute twice under two prefixes', '<a xmlns:p="urn:x" xmlns:q="urn:x" p:k="1" q:k="2"/>', /appears twice/],
    ['a truncated document', '<a><b></a>', /not well-formed XML: .* \(line 1, column \d+\)/],
    ['a second root', '<a/><b/>', /not well-formed XML/],
    ['an undefined entity', '<a>&foo;</a>', /not well-formed XML/],
  ])('refuses %s with where it is', (_what, text, message) => {
    expect(() => parseXml(text, 'reply')).toThrow(XmlError);
    expect(() => parseXml(text, 'reply')).toThrow(message);
  });

  it('refuses a DTD without parsing it, and a document with no element', () => {
    expect(() => parseXml('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', 'reply')).toThrow(/declares a DOCTYPE or ENTITY/);
    expect(() => parseXml('   ', 'reply')).toThrow(XmlError);
  });
});
