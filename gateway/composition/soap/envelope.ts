/**
 * Writes request envelopes from GraphQL argument values, guided by the type model.
 *
 * - Element order follows the XSD (attributes first, then the text, then elements in content-model
 *   order); an argument left out is not written; `null` is `xsi:nil="true"` where the element is
 *   nillable and left out otherwise.
 * - Qualified elements get a generated prefix (`ns1`, ...) declared once on the Envelope;
 *   unqualified ones none (no default namespace is ever declared, so they stay in no namespace).
 * - Encoded messages (`use="encoded"`) carry `xsi:type` on every value, and the rpc wrapper
 *   `soap:encodingStyle`. SOAP-encoded arrays carry `soapenc:arrayType="ns:Item[n]"`.
 * - Values are escaped; JSON values (xsd:any, anyType) become elements by key, `@key` attributes
 *   and `#text` text, and a key that is not an XML name is refused.
 */
import { arrayItemOf, qnameOf, shapeOf, type ComplexDef, type MessageShape, type TypeRef } from './model.ts';
import { NS, escapeXml } from './xml.ts';

const WELL_KNOWN: Record<string, string> = { [NS.xsd]: 'xsd', [NS.xsi]: 'xsi', [NS.soapEncoding]: 'soapenc' };

/** Prefixes for the namespaces a message uses, declared on the Envelope. */
export class NamespaceTable {
  private readonly prefixes = new Map<string, string>();

  prefixFor(uri: string): string {
    let prefix = this.prefixes.get(uri);
    if (prefix === undefined) {
      prefix = WELL_KNOWN[uri] ?? `ns${[...this.prefixes.values()].filter((p) => p.startsWith('ns')).length + 1}`;
      this.prefixes.set(uri, prefix);
    }
    return prefix;
  }

  declarations(): string {
    return [...this.prefixes].map(([uri, prefix]) => ` xmlns:${prefix}="${escapeXml(uri)}"`).join('');
  }
}

export const ENVELOPE_NAMESPACE = { '1.1': NS.soap11Envelope, '1.2': NS.soap12Envelope } as const;
const ENCODING_STYLE = { '1.1': NS.soapEncoding, '1.2': NS.soap12Encoding } as const;

interface Writer {
  ns: NamespaceTable;
  encoded: boolean;
}

interface Content {
  attrs: string;
  body: string;
}

/** The Body content for one call: the wrapper element (if any) with the arguments inside. */
export function writeBody(shape: MessageShape, args: Record<string, unknown>, version: '1.1' | '1.2', ns: NamespaceTable): string {
  const writer: Writer = { ns, encoded: shape.encoded };
  const { attrs, body } = membersContent(shape.def, args, writer);
  if (!shape.wrapper) return body;
  const tag = qualified(shape.wrapper.name, shape.wrapper.ns, writer);
  const style = shape.encoded ? ` soap:encodingStyle="${ENCODING_STYLE[version]}"` : '';
  return `<${tag}${attrs}${style}>${body}</${tag}>`;
}

/** The whole envelope; `headers` are complete header blocks (already XML). */
export function writeEnvelope(version: '1.1' | '1.2', headers: readonly string[], body: string, ns: NamespaceTable): string {
  const header = headers.length > 0 ? `<soap:Header>${headers.join('')}</soap:Header>` : '';
  return '<?xml version="1.0" encoding="utf-8"?>'
    + `<soap:Envelope xmlns:soap="${ENVELOPE_NAMESPACE[version]}"${ns.declarations()}>${header}<soap:Body>${body}</soap:Body></soap:Envelope>`;
}

/**
 * HTTP headers for a call. SOAP 1.1: `text/xml` and a quoted `SOAPAction` (quoted even when empty,
 * as the spec asks). SOAP 1.2: `application/soap+xml` with the action as a media type parameter
 * (left out when the WSDL gives no action).
 */
export function httpHeaders(version: '1.1' | '1.2', soapAction: string): Record<string, string> {
  if (version === '1.1') return { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${soapAction.replace(/"/g, '')}"` };
  const action = soapAction === '' ? '' : `; action="${soapAction.replace(/"/g, '')}"`;
  return { 'content-type': `application/soap+xml; charset=utf-8${action}` };
}

function qualified(name: string, ns: string, writer: Writer): string {
  return ns === '' ? name : `${writer.ns.prefixFor(ns)}:${name}`;
}

function membersContent(def: ComplexDef, value: Record<string, unknown>, writer: Writer): Content {
  let attrs = '';
  let body = '';
  for (const a of def.attributes) {
    const v = value[a.gqlName];
    if (v === undefined || v === null) continue;
    attrs += ` ${qualified(a.name, a.ns, writer)}="${escapeXml(simpleText(a.type, v))}"`;
  }
  if (def.text) {
    const v = value[def.text.gqlName];
    if (v !== undefined && v !== null) body += escapeXml(simpleText(def.text.type, v));
  }
  for (const f of def.fields) {
    const v = value[f.gqlName];
    const items = f.maxOccurs > 1 && Array.isArray(v) ? v : [v];
    for (const item of items) body += element(f.name, f.ns, f.type, item, f.nillable, writer);
  }
  if (def.any) {
    const v = value[def.any.gqlName];
    if (v !== undefined && v !== null) body += jsonContent(v, writer).body;
  }
  return { attrs, body };
}

function element(name: string, ns: string, type: TypeRef, value: unknown, nillable: boolean, writer: Writer): string {
  if (value === undefined) return '';
  const tag = qualified(name, ns, writer);
  if (value === null) return nillable ? `<${tag} ${writer.ns.prefixFor(NS.xsi)}:nil="true"/>` : '';
  if (type.kind === 'complex' && shapeOf(type.def) === 'empty' && value === false) return '';
  const { attrs, body } = content(type, value, writer);
  return `<${tag}${typeAttribute(type, writer)}${attrs}>${body}</${tag}>`;
}

function typeAttribute(type: TypeRef, writer: Writer): string {
  if (!writer.encoded) return '';
  if (type.kind === 'complex' && type.def.encodedArray) {
    return ` ${writer.ns.prefixFor(NS.xsi)}:type="${writer.ns.prefixFor(NS.soapEncoding)}:Array"`;
  }
  const qname = qnameOf(type, NS.xsd);
  if (!qname || (type.kind === 'scalar' && type.scalar === 'JSON')) return '';
  return ` ${writer.ns.prefixFor(NS.xsi)}:type="${writer.ns.prefixFor(qname.ns)}:${qname.local}"`;
}

function content(type: TypeRef, value: unknown, writer: Writer): Content {
  if (type.kind !== 'complex') {
    if (type.kind === 'scalar' && type.scalar === 'JSON') return jsonContent(value, writer);
    return { attrs: '', body: escapeXml(simpleText(type, value)) };
  }
  const def = type.def;
  switch (shapeOf(def)) {
    case 'array': {
      const item = arrayItemOf(def);
      const items = Array.isArray(value) ? value : [value];
      let attrs = '';
      if (def.encodedArray) {
        const q = item.qname ?? qnameOf(item.type, NS.xsd);
        const itemType = q ? `${writer.ns.prefixFor(q.ns)}:${q.local}` : `${writer.ns.prefixFor(NS.xsd)}:anyType`;
        attrs = ` ${writer.ns.prefixFor(NS.soapEncoding)}:arrayType="${itemType}[${items.length}]"`;
      }
      return { attrs, body: items.map((v) => element(item.name, item.ns, item.type, v, item.nillable, writer)).join('') };
    }
    case 'json': return jsonContent(value, writer);
    case 'empty': return { attrs: '', body: '' };
    case 'text': return { attrs: '', body: escapeXml(simpleText(def.text!.type, value)) };
    case 'object': return membersContent(def, (value ?? {}) as Record<string, unknown>, writer);
  }
}

/** Lexical form of a simple value: booleans as true/false, lists space-separated. */
function simpleText(type: TypeRef, value: unknown): string {
  if (type.kind === 'list') return (Array.isArray(value) ? value : [value]).map((v) => simpleText(type.item, v)).join(' ');
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

const XML_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** JSON -> XML content for xsd:any and anyType. */
function jsonContent(value: unknown, writer: Writer): Content {
  if (value === null || value === undefined) return { attrs: '', body: '' };
  if (typeof value !== 'object' || Array.isArray(value)) {
    if (Array.isArray(value)) throw new Error('a JSON array can only be the value of a key (a repeated element)');
    return { attrs: '', body: escapeXml(simpleText({ kind: 'scalar', scalar: 'String', xsd: 'string' }, value)) };
  }
  let attrs = '';
  let body = '';
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key === '#text') {
      body += escapeXml(String(v));
      continue;
    }
    const name = key.startsWith('@') ? key.slice(1) : key;
    if (!XML_NAME.test(name)) throw new Error(`JSON key "${key}" is not an XML name`);
    if (key.startsWith('@')) {
      attrs += ` ${name}="${escapeXml(String(v))}"`;
      continue;
    }
    for (const item of Array.isArray(v) ? v : [v]) {
      const inner = jsonContent(item, writer);
      body += `<${name}${inner.attrs}>${inner.body}</${name}>`;
    }
  }
  return { attrs, body };
}
