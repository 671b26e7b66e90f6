/**
 * SOAP-encoded arrays (SOAP 1.1 section 5): `complexContent/restriction base="soapenc:Array"`
 * with the item type in `wsdl:arrayType="tns:X[]"` (JAX-RPC, Axis), or, less often, in an item
 * element of the restriction's sequence. They become GraphQL lists of the item type; on the wire
 * the items are `<item>` elements and requests carry `soapenc:arrayType="ns:X[n]"`.
 */
import { jsonType } from './builtins.ts';
import type { ComplexDef, TypeRef } from './model.ts';
import { qnameAttr } from './wsdl-reader.ts';
import { NS, attr, children, resolveQName, type QName, type XmlElement } from './xml.ts';

export interface EncodedArrayResolver {
  byName(qname: QName): TypeRef;
  /** The type of an item element declared inline. */
  element(node: XmlElement, pathName: string): TypeRef;
  /** A new, empty complex type (for the inner levels of a multi-rank array). */
  newDef(baseName: string): ComplexDef;
}

export function readEncodedArray(restriction: XmlElement, baseName: string, resolve: EncodedArrayResolver): NonNullable<ComplexDef['encodedArray']> {
  const declared = children(restriction, 'attribute').map((a) => ({ a, value: attr(a, 'arrayType', NS.wsdl) })).find((x) => x.value);
  if (declared?.value) {
    const match = /^(.*?)((?:\[[0-9,\s]*\])+)$/.exec(declared.value.trim());
    const itemQName = resolveQName(declared.a, match?.[1] ?? declared.value);
    let item = resolve.byName(itemQName);
    // `xsd:string[][]`: every extra rank is one more level of array.
    const ranks = (match?.[2]?.match(/\[/g) ?? ['[']).length;
    for (let rank = 1; rank < ranks; rank++) {
      const inner = resolve.newDef(`${baseName}Item`);
      inner.encodedArray = { item, itemQName };
      item = { kind: 'complex', def: inner };
    }
    return { item, itemQName };
  }
  const itemElement = children(restriction).flatMap((c) => (c.local === 'sequence' || c.local === 'all' ? children(c, 'element') : []))[0];
  if (itemElement) {
    const typeName = qnameAttr(itemElement, 'type');
    return typeName ? { item: resolve.byName(typeName), itemQName: typeName } : { item: resolve.element(itemElement, `${baseName}Item`) };
  }
  return { item: jsonType('soapenc:Array without an item type: items typed as JSON') };
}
