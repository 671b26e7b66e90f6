/**
 * XSD -> type model. Types are resolved lazily, from the operations' messages outwards, so a
 * schema's unused corners (HTTP-only messages, Workday's hundreds of helper types) cost nothing
 * and cannot break the build. Named types are cached by QName and anonymous ones by their node,
 * and a complex type is cached before its content is read, so recursive types resolve.
 *
 * Covered: sequence/all/choice (choice members become optional), nested groups and anonymous
 * types, `element ref=`, `group ref=`, `attributeGroup ref=`, attributes (named and `ref=`),
 * complexContent extension (inherits the base's content) and restriction, simpleContent
 * extension/restriction (text + attributes), SOAP-encoded arrays, simpleType restriction
 * (enumerations -> enum), `xs:list`, `xs:union` (-> String), `xsd:any` and `anyType` (-> JSON).
 * A reference that resolves to nothing becomes JSON with a Downgrade instead of failing the build.
 */
import { builtinType, jsonType, stringType } from './builtins.ts';
import type { AttributeDef, ComplexDef, FieldDef, TypeRef } from './model.ts';
import { NameScope, joinTypeName } from './naming.ts';
import { readEncodedArray } from './xsd-encoded-array.ts';
import { readSimpleType } from './xsd-simple.ts';
import { documentationOf, qnameAttr, type SchemaContext, type SchemaIndex } from './wsdl-reader.ts';
import { NS, attr, children, isXsdNamespace, qnameKey, type QName, type XmlElement } from './xml.ts';

export interface ElementInfo {
  name: string;
  ns: string;
  type: TypeRef;
  nillable: boolean;
  doc?: string;
}

interface Occurs {
  min: number;
  max: number;
}

const occursOf = (node: XmlElement, outer: Occurs): Occurs => {
  const min = Number(attr(node, 'minOccurs') ?? '1');
  const maxAttr = attr(node, 'maxOccurs') ?? '1';
  const max = maxAttr === 'unbounded' ? Infinity : Number(maxAttr);
  const times = (a: number, b: number) => (a === 0 || b === 0 ? 0 : a * b);
  return { min: times(outer.min, Number.isFinite(min) ? min : 1), max: times(outer.max, Number.isNaN(max) ? 1 : max) };
};

export class XsdModeler {
  private readonly named = new Map<string, TypeRef>();
  private readonly anonymous = new WeakMap<XmlElement, TypeRef>();
  private readonly scopes = new WeakMap<ComplexDef, NameScope>();
  private nextId = 1;

  constructor(private readonly index: SchemaIndex) {}

  /** A type by QName (`type="tns:Foo"`, `base="xsd:string"`). */
  typeByName(qname: QName): TypeRef {
    if (isXsdNamespace(qname.ns) || qname.ns === NS.soapEncoding) {
      const builtin = builtinType(qname.local);
      if (builtin) return builtin;
      if (qname.ns === NS.soapEncoding && qname.local === 'Array') {
        return { kind: 'list', item: jsonType('soapenc:Array without an item type: items typed as JSON') };
      }
    }
    const key = qnameKey(qname);
    const cached = this.named.get(key);
    if (cached) return cached;
    const simple = this.index.lookup('simpleType', qname);
    if (simple) {
      const ref = this.simpleType(simple.node, simple.schema, qname.local, qname);
      this.named.set(key, ref);
      return ref;
    }
    const complex = this.index.lookup('complexType', qname);
    if (complex) return this.complexType(complex.node, complex.schema, qname.local, qname);
    // An unprefixed built-in name used without the XSD namespace in scope.
    const loose = qname.ns === '' ? builtinType(qname.local) : undefined;
    return loose ?? jsonType(`type ${key} is not defined in the WSDL's schemas: typed as JSON`);
  }

  /** A global element by QName, with its type. */
  globalElement(qname: QName): ElementInfo | undefined {
    const entry = this.index.lookup('element', qname);
    if (!entry) return undefined;
    return {
      name: attr(entry.node, 'name') ?? qname.local,
      ns: entry.schema.tns,
      type: this.elementType(entry.node, entry.schema, qname.local),
      nillable: attr(entry.node, 'nillable') === 'true',
      doc: documentationOf(entry.node),
    };
  }

  /** A complex type made here rather than read from a schema (rpc parts, multi-part messages). */
  syntheticType(baseName: string): ComplexDef {
    return this.newDef(baseName);
  }

  /** Adds a field to a synthetic type, claiming a unique GraphQL name from `gqlBase`. */
  addSyntheticField(def: ComplexDef, field: Omit<FieldDef, 'gqlName'>, gqlBase: string): FieldDef {
    const full = { ...field, gqlName: this.scopeOf(def).claim(gqlBase) };
    def.fields.push(full);
    return full;
  }

  private newDef(baseName: string, qname?: QName): ComplexDef {
    const def: ComplexDef = { id: this.nextId++, baseName, fields: [], attributes: [] };
    if (qname) def.qname = qname;
    this.scopes.set(def, new NameScope());
    return def;
  }

  private scopeOf(def: ComplexDef): NameScope {
    return this.scopes.get(def)!;
  }

  private elementType(node: XmlElement, schema: SchemaContext, pathName: string): TypeRef {
    const typeName = qnameAttr(node, 'type');
    if (typeName) return this.typeByName(typeName);
    const complex = children(node, 'complexType')[0];
    if (complex) {
      const ref = this.complexType(complex, schema, pathName);
      if (ref.kind === 'complex' && ref.def.doc === undefined) {
        const doc = documentationOf(node);
        if (doc !== undefined) ref.def.doc = doc;
      }
      return ref;
    }
    const simple = children(node, 'simpleType')[0];
    if (simple) return this.simpleType(simple, schema, pathName);
    return jsonType('element without a type (xsd:anyType): typed as JSON');
  }

  private simpleType(node: XmlElement, schema: SchemaContext, pathName: string, qname?: QName): TypeRef {
    const cached = this.anonymous.get(node);
    if (cached) return cached;
    const ref = readSimpleType(node, pathName, qname, {
      byName: (q) => this.typeByName(q),
      inline: (inner, name) => this.simpleType(inner, schema, name),
    });
    this.anonymous.set(node, ref);
    return ref;
  }

  private complexType(node: XmlElement, schema: SchemaContext, pathName: string, qname?: QName): TypeRef {
    const key = qname ? qnameKey(qname) : undefined;
    const cached = key ? this.named.get(key) : this.anonymous.get(node);
    if (cached) return cached;
    const def = this.newDef(pathName, qname);
    const ref: TypeRef = { kind: 'complex', def };
    if (key) this.named.set(key, ref);
    else this.anonymous.set(node, ref);
    const doc = documentationOf(node);
    if (doc !== undefined) def.doc = doc;
    this.content(def, node, schema, { min: 1, max: 1 });
    return ref;
  }

  /** Reads the children of a complexType (or of an extension/restriction) into `def`. */
  private content(def: ComplexDef, node: XmlElement, schema: SchemaContext, occurs: Occurs): void {
    for (const item of node.children) {
      switch (item.local) {
        case 'sequence': case 'all': case 'choice': case 'group': case 'element': case 'any':
          this.particle(def, item, schema, occurs);
          break;
        case 'attribute': case 'attributeGroup':
          this.attribute(def, item, schema);
          break;
        case 'complexContent':
          this.derivation(def, item, schema, false);
          break;
        case 'simpleContent':
          this.derivation(def, item, schema, true);
          break;
        default:
          break;
      }
    }
  }

  private particle(def: ComplexDef, node: XmlElement, schema: SchemaContext, outer: Occurs): void {
    const occurs = occursOf(node, outer);
    if (occurs.max === 0) return;
    switch (node.local) {
      case 'sequence': case 'all':
        for (const c of node.children) this.particle(def, c, schema, occurs);
        return;
      case 'choice':
        for (const c of node.children) this.particle(def, c, schema, { min: 0, max: occurs.max });
        return;
      case 'group': {
        const ref = qnameAttr(node, 'ref');
        const group = ref ? this.index.lookup('group', ref) : undefined;
        if (group) for (const c of group.node.children) this.particle(def, c, group.schema, occurs);
        else for (const c of node.children) this.particle(def, c, schema, occurs);
        return;
      }
      case 'any':
        def.any ??= { gqlName: this.scopeOf(def).claim('_any') };
        return;
      case 'element':
        this.element(def, node, schema, occurs);
        return;
      default:
        return;
    }
  }

  private element(def: ComplexDef, node: XmlElement, schema: SchemaContext, occurs: Occurs): void {
    let name: string;
    let ns: string;
    let type: TypeRef;
    let nillable = attr(node, 'nillable') === 'true';
    let doc = documentationOf(node);
    const ref = qnameAttr(node, 'ref');
    if (ref) {
      const global = this.globalElement(ref);
      name = global?.name ?? ref.local;
      ns = global?.ns ?? ref.ns;
      type = global?.type ?? jsonType(`element ${qnameKey(ref)} is not defined in the WSDL's schemas: typed as JSON`);
      nillable ||= global?.nillable ?? false;
      doc ??= global?.doc;
    } else {
      name = attr(node, 'name') ?? '';
      const form = attr(node, 'form');
      ns = (form ? form === 'qualified' : schema.elementQualified) ? schema.tns : '';
      type = this.elementType(node, schema, joinTypeName(def.baseName, name));
    }
    if (name === '') return;
    const existing = def.fields.find((f) => f.name === name && f.ns === ns);
    if (existing) {
      // The same element twice in one content model (a, b, a): one repeated field.
      existing.maxOccurs = Infinity;
      existing.minOccurs = Math.min(existing.minOccurs, occurs.min);
      return;
    }
    const field: FieldDef = {
      name, ns, type, gqlName: this.scopeOf(def).claim(name), minOccurs: occurs.min, maxOccurs: occurs.max, nillable,
    };
    if (doc !== undefined) field.doc = doc;
    def.fields.push(field);
  }

  private attribute(def: ComplexDef, node: XmlElement, schema: SchemaContext): void {
    if (node.local === 'attributeGroup') {
      const ref = qnameAttr(node, 'ref');
      const group = ref ? this.index.lookup('attributeGroup', ref) : undefined;
      if (group) for (const c of children(group.node)) this.attribute(def, c, group.schema);
      else for (const c of children(node)) this.attribute(def, c, schema);
      return;
    }
    if (node.local !== 'attribute' || attr(node, 'use') === 'prohibited') return;
    let decl = node;
    let declSchema = schema;
    let name = attr(node, 'name');
    let ns = '';
    const ref = qnameAttr(node, 'ref');
    if (ref) {
      const global = this.index.lookup('attribute', ref);
      if (!global) return; // e.g. soapenc:arrayType outside an encoded array: nothing to carry.
      decl = global.node;
      declSchema = global.schema;
      name = ref.local;
      ns = global.schema.tns;
    } else {
      const form = attr(node, 'form');
      ns = (form ? form === 'qualified' : schema.attributeQualified) ? schema.tns : '';
    }
    if (!name || def.attributes.some((a) => a.name === name && a.ns === ns)) return;
    const typeName = qnameAttr(decl, 'type');
    const inline = children(decl, 'simpleType')[0];
    let type = typeName ? this.typeByName(typeName) : inline ? this.simpleType(inline, declSchema, joinTypeName(def.baseName, name)) : stringType();
    if (type.kind === 'complex') type = stringType();
    const attribute: AttributeDef = { name, ns, type, gqlName: this.scopeOf(def).claim(name), required: attr(node, 'use') === 'required' };
    const doc = documentationOf(node) ?? documentationOf(decl);
    if (doc !== undefined) attribute.doc = doc;
    def.attributes.push(attribute);
  }

  /** complexContent / simpleContent with an extension or restriction. */
  private derivation(def: ComplexDef, node: XmlElement, schema: SchemaContext, simple: boolean): void {
    const derivation = children(node).find((c) => c.local === 'extension' || c.local === 'restriction');
    if (!derivation) return;
    const base = qnameAttr(derivation, 'base');
    if (!simple && base?.ns === NS.soapEncoding && base.local === 'Array') {
      def.encodedArray = readEncodedArray(derivation, def.baseName, {
        byName: (q) => this.typeByName(q),
        element: (node, pathName) => this.elementType(node, schema, pathName),
        newDef: (name) => this.newDef(name),
      });
      return;
    }
    const baseType = base ? this.typeByName(base) : undefined;
    const ownParticles = children(derivation).some((c) => ['sequence', 'all', 'choice', 'group'].includes(c.local) && c.children.length > 0);
    if (baseType?.kind === 'complex') {
      // An extension adds to its base; a restriction restates its content model, so the base's
      // elements are inherited only when the restriction states none.
      this.inherit(def, baseType.def, derivation.local === 'extension' || !ownParticles);
    }
    // simpleContent: the element's text, typed by the simple base (or inherited with a complex one).
    if (simple && !def.text) {
      const textType = baseType && baseType.kind !== 'complex' ? baseType : stringType();
      def.text = { gqlName: this.scopeOf(def).claim('value'), type: textType };
    }
    this.content(def, derivation, schema, { min: 1, max: 1 });
  }

  private inherit(def: ComplexDef, base: ComplexDef, withElements: boolean): void {
    const scope = this.scopeOf(def);
    if (withElements) for (const f of base.fields) def.fields.push({ ...f, gqlName: scope.claim(f.gqlName) });
    for (const a of base.attributes) def.attributes.push({ ...a, gqlName: scope.claim(a.gqlName) });
    if (base.text) def.text ??= { gqlName: scope.claim(base.text.gqlName), type: base.text.type };
    if (base.any) def.any ??= { gqlName: scope.claim(base.any.gqlName) };
    if (base.encodedArray) def.encodedArray ??= base.encodedArray;
  }
}
