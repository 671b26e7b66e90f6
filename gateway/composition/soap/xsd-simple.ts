/**
 * XSD simpleType -> type model:
 * - restriction with enumerations: an enum (reversible names, see naming.ts `enumValueNames`);
 * - restriction without: its base type (facets such as length or pattern are not enforced;
 *   the service still checks them);
 * - `xs:list`: a list of the item type (whitespace-separated on the wire);
 * - `xs:union`: String, with a Downgrade.
 */
import { stringType } from './builtins.ts';
import type { EnumDef, TypeRef } from './model.ts';
import { enumValueNames } from './naming.ts';
import { documentationOf, qnameAttr } from './wsdl-reader.ts';
import { attr, children, type QName, type XmlElement } from './xml.ts';

export interface SimpleTypeResolver {
  /** A type by QName (base or itemType). */
  byName(qname: QName): TypeRef;
  /** An inline anonymous simpleType, named after `pathName`. */
  inline(node: XmlElement, pathName: string): TypeRef;
}

export function readSimpleType(node: XmlElement, pathName: string, qname: QName | undefined, resolve: SimpleTypeResolver): TypeRef {
  const restriction = children(node, 'restriction')[0];
  if (restriction) {
    const values = children(restriction, 'enumeration');
    if (values.length > 0) return enumType(node, values, pathName, qname);
    const base = qnameAttr(restriction, 'base');
    const inline = children(restriction, 'simpleType')[0];
    const ref = base ? resolve.byName(base) : inline ? resolve.inline(inline, `${pathName}Base`) : stringType();
    // A simple restriction of a complex type (simpleContent) keeps only its text type.
    return ref.kind === 'complex' ? ref.def.text?.type ?? stringType() : ref;
  }
  const list = children(node, 'list')[0];
  if (list) {
    const itemName = qnameAttr(list, 'itemType');
    const inline = children(list, 'simpleType')[0];
    return { kind: 'list', item: itemName ? resolve.byName(itemName) : inline ? resolve.inline(inline, `${pathName}Item`) : stringType() };
  }
  if (children(node, 'union')[0]) {
    return { kind: 'scalar', scalar: 'String', xsd: 'string', downgrade: 'xsd:union of simple types: typed as String' };
  }
  return stringType();
}

function enumType(node: XmlElement, values: XmlElement[], pathName: string, qname: QName | undefined): TypeRef {
  const names = enumValueNames(values.map((v) => attr(v, 'value') ?? ''));
  const def: EnumDef = {
    baseName: pathName,
    values: names.map((n) => {
      const doc = documentationOf(values.find((v) => (attr(v, 'value') ?? '') === n.value)!);
      return doc === undefined ? n : { ...n, doc };
    }),
  };
  if (qname) def.qname = qname;
  const doc = documentationOf(node);
  if (doc !== undefined) def.doc = doc;
  return { kind: 'enum', def };
}
