/**
 * The type model between XSD and GraphQL: what the reader understood of the schema, in the terms
 * both the schema builder and the (de)serialisers need. XML names and namespaces are kept for the
 * wire; GraphQL names of fields are fixed here (unique per type); type names are given out later
 * by the schema builder, only for types that end up in the schema.
 */
import type { QName } from './xml.ts';

export type ScalarKind = 'String' | 'Int' | 'Float' | 'Boolean' | 'JSON';

export interface ScalarRef {
  kind: 'scalar';
  scalar: ScalarKind;
  /** The XSD built-in it stands for (`long`, `dateTime`), written as `xsi:type` when encoded. */
  xsd: string;
  /** Set when GraphQL cannot express the XSD type faithfully: becomes a Downgrade where used. */
  downgrade?: string;
}

export interface EnumRef {
  kind: 'enum';
  def: EnumDef;
}

/** `xs:list`: one element or attribute whose text is a whitespace-separated list. */
export interface ListRef {
  kind: 'list';
  item: TypeRef;
}

export interface ComplexRef {
  kind: 'complex';
  def: ComplexDef;
}

export type TypeRef = ScalarRef | EnumRef | ListRef | ComplexRef;

export interface EnumDef {
  /** Base for the GraphQL name (the simpleType's name, or its element path when anonymous). */
  baseName: string;
  qname?: QName;
  doc?: string;
  values: { name: string; value: string; doc?: string }[];
}

export interface FieldDef {
  /** XML local name of the child element. */
  name: string;
  /** Namespace of the element on the wire; '' when unqualified. */
  ns: string;
  /** GraphQL field (and argument) name, unique within its type. */
  gqlName: string;
  type: TypeRef;
  minOccurs: number;
  /** `Infinity` for unbounded. More than 1 makes the field a list. */
  maxOccurs: number;
  nillable: boolean;
  doc?: string;
}

export interface AttributeDef {
  name: string;
  ns: string;
  gqlName: string;
  /** Simple types only (scalar, enum, list). */
  type: TypeRef;
  required: boolean;
  doc?: string;
}

export interface ComplexDef {
  id: number;
  /** Base for the GraphQL name: the XSD type name, or the element path of an anonymous type. */
  baseName: string;
  /** Named types keep their QName (for `xsi:type` when encoded). */
  qname?: QName;
  doc?: string;
  fields: FieldDef[];
  attributes: AttributeDef[];
  /** simpleContent: the element's own text, exposed as field `value` (or a free name). */
  text?: { gqlName: string; type: TypeRef };
  /** `xsd:any`: children matching no declared field, as JSON under `gqlName`. */
  any?: { gqlName: string };
  /** SOAP-encoded array (`soapenc:Array` restriction with `wsdl:arrayType`). */
  encodedArray?: { item: TypeRef; itemQName?: QName };
}

/** A field's GraphQL-level type: its type, as a list when it may repeat. */
export const isRepeated = (field: { maxOccurs: number }): boolean => field.maxOccurs > 1;

/**
 * How a complex type appears in GraphQL:
 * - `array`: a SOAP-encoded array, or an `ArrayOfX` wrapper (only child one repeated element, no
 *   attributes). Wrappers are flattened to `[X]` everywhere, in and out; on the wire the wrapper
 *   element and its item elements are still written and read.
 * - `json`: nothing but `xsd:any`.
 * - `empty`: no content at all: `Boolean` (true when the element was there).
 * - `text`: simpleContent without attributes: the text's own type.
 * - `object`: everything else.
 */
export type Shape = 'array' | 'json' | 'empty' | 'text' | 'object';

export function shapeOf(def: ComplexDef): Shape {
  if (def.encodedArray && def.fields.length === 0 && def.attributes.length === 0) return 'array';
  if (isWrapper(def) && !wrapsItself(def)) return 'array';
  if (def.fields.length === 0 && def.attributes.length === 0) {
    if (def.any) return 'json';
    if (def.text) return 'text';
    return 'empty';
  }
  return 'object';
}

const isWrapper = (def: ComplexDef): boolean =>
  def.fields.length === 1 && isRepeated(def.fields[0]!) && def.attributes.length === 0 && !def.text && !def.any;

/** A wrapper of itself (`Node { node* }`, or through other wrappers) would be an endless list type. */
function wrapsItself(start: ComplexDef): boolean {
  const seen = new Set<ComplexDef>([start]);
  let current: ComplexDef = start;
  for (;;) {
    const item = current.fields[0]?.type;
    if (!item || item.kind !== 'complex' || !isWrapper(item.def)) return false;
    if (seen.has(item.def)) return true;
    seen.add(item.def);
    current = item.def;
  }
}

/** The item type and element of an `array`-shaped type. */
export function arrayItemOf(def: ComplexDef): { type: TypeRef; name: string; ns: string; nillable: boolean; qname?: QName } {
  if (def.encodedArray) return { type: def.encodedArray.item, name: 'item', ns: '', nillable: true, qname: def.encodedArray.itemQName };
  const field = def.fields[0]!;
  return { type: field.type, name: field.name, ns: field.ns, nillable: field.nillable };
}

/** The XSD QName of a type, for `xsi:type` and `soapenc:arrayType`. */
export function qnameOf(type: TypeRef, xsdNamespace: string): QName | undefined {
  switch (type.kind) {
    case 'scalar': return type.scalar === 'JSON' ? { ns: xsdNamespace, local: 'anyType' } : { ns: xsdNamespace, local: type.xsd };
    case 'enum': return type.def.qname ?? { ns: xsdNamespace, local: 'string' };
    case 'list': return { ns: xsdNamespace, local: 'string' };
    case 'complex': return type.def.qname;
  }
}

/** What one operation's input or output looks like on the wire. */
export interface MessageShape {
  /** The element that wraps the parts (document: the part's element; rpc: the operation). */
  wrapper?: { name: string; ns: string };
  /** The parts, or the wrapper element's content: one GraphQL argument per field (and attribute). */
  def: ComplexDef;
  /** rpc/encoded and document/encoded: values carry `xsi:type`. */
  encoded: boolean;
}

export interface OperationModel {
  portType: string;
  /** The WSDL operation name. */
  name: string;
  doc?: string;
  binding: string;
  soapVersion: '1.1' | '1.2';
  soapAction: string;
  style: 'document' | 'rpc';
  /** The port's `soap:address` location, when the WSDL gives one. */
  address?: string;
  input: MessageShape;
  /** Undefined for one-way operations (they resolve to `true`). */
  output?: MessageShape;
}

/**
 * What a root field returns:
 * - `none`: no output message (or an empty one): `Boolean`, true once the call succeeded.
 * - `field`: the response wrapper's single child, returned directly (flattened).
 * - `def`: the wrapper as a whole (several children, or attributes).
 */
export type ResultPlan = { kind: 'none' } | { kind: 'field'; field: FieldDef } | { kind: 'def'; def: ComplexDef };

export function resultPlan(output: MessageShape | undefined): ResultPlan {
  if (!output) return { kind: 'none' };
  const { def } = output;
  if (def.fields.length === 1 && def.attributes.length === 0 && !def.text && !def.any && !def.encodedArray) {
    return { kind: 'field', field: def.fields[0]! };
  }
  return shapeOf(def) === 'empty' ? { kind: 'none' } : { kind: 'def', def };
}
