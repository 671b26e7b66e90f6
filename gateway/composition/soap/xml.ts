/**
 * A small namespace-aware XML tree over fast-xml-parser, shared by the WSDL/XSD reader and the
 * reply reader. WSDLs use any prefixes (`wsdl:`, `s:`, none, `soapbind:`), so every name is
 * resolved to its namespace URI here and the rest of the handler never looks at a prefix.
 *
 * Safety: a document containing `<!DOCTYPE` or `<!ENTITY` is refused before it is parsed, and the
 * parser runs with entity processing off, so no DTD entity can ever be expanded. The five
 * predefined entities and numeric character references are decoded per value instead.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface XmlAttribute {
  /** As written, with its prefix. */
  name: string;
  local: string;
  /** Namespace URI; '' for an unprefixed attribute (attributes take no default namespace). */
  ns: string;
  value: string;
}

export interface XmlElement {
  name: string;
  local: string;
  /** Namespace URI; '' when the element is in no namespace. */
  ns: string;
  /** Non-`xmlns` attributes. */
  attrs: XmlAttribute[];
  children: XmlElement[];
  /** The element's own character data (text and CDATA), decoded, untrimmed. */
  text: string;
  /** Prefixes in scope ('' is the default namespace). */
  scope: ReadonlyMap<string, string>;
}

export const NS = {
  xsd: 'http://www.w3.org/2001/XMLSchema',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  wsdl: 'http://schemas.xmlsoap.org/wsdl/',
  soap11Binding: 'http://schemas.xmlsoap.org/wsdl/soap/',
  soap12Binding: 'http://schemas.xmlsoap.org/wsdl/soap12/',
  httpBinding: 'http://schemas.xmlsoap.org/wsdl/http/',
  soapEncoding: 'http://schemas.xmlsoap.org/soap/encoding/',
  soap11Envelope: 'http://schemas.xmlsoap.org/soap/envelope/',
  soap12Envelope: 'http://www.w3.org/2003/05/soap-envelope',
  soap12Encoding: 'http://www.w3.org/2003/05/soap-encoding',
} as const;

/** Older drafts of XML Schema still seen in the wild. */
const XSD_NAMESPACES = new Set([NS.xsd, 'http://www.w3.org/1999/XMLSchema', 'http://www.w3.org/2000/10/XMLSchema']);
export const isXsdNamespace = (ns: string): boolean => XSD_NAMESPACES.has(ns);

export class XmlError extends Error {
  override readonly name = 'XmlError';
}

/** True when the text declares a DTD or an entity: such documents are never parsed. */
export const hasDtd = (text: string): boolean => /<!DOCTYPE|<!ENTITY/i.test(text);

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  cdataPropName: '#cdata',
  commentPropName: '#comment',
  ignoreDeclaration: true,
  ignorePiTags: true,
});

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes the predefined entities and numeric character references; anything else stays as written. */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (whole, ref: string) => {
    if (ref[0] !== '#') return NAMED[ref] ?? whole;
    const code = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };

/** Escapes text for element content or a quoted attribute (CR as `&#13;` so parsers keep it). */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r]/g, (c) => ESCAPES[c] ?? c);
}

type RawNode = Record<string, unknown>;

/**
 * Parses a document into its root element. Throws `XmlError` for a DTD, malformed XML or a
 * document without an element. `what` names the document in messages.
 */
export function parseXml(input: string, what: string): XmlElement {
  const text = input.replace(/^\uFEFF/, ''); // a byte order mark, common in files saved on Windows
  if (hasDtd(text)) throw new XmlError(`${what} declares a DOCTYPE or ENTITY; refused without parsing`);
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new XmlError(`${what} is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const nodes = parser.parse(text) as RawNode[];
  for (const node of nodes) {
    const element = toElement(node, new Map());
    if (element) return element;
  }
  throw new XmlError(`${what} has no root element`);
}

function splitName(name: string): [prefix: string, local: string] {
  const colon = name.indexOf(':');
  return colon < 0 ? ['', name] : [name.slice(0, colon), name.slice(colon + 1)];
}

function toElement(node: RawNode, parentScope: ReadonlyMap<string, string>): XmlElement | undefined {
  const name = Object.keys(node).find((key) => key !== ':@' && !key.startsWith('#'));
  if (name === undefined) return undefined;
  const rawAttrs = (node[':@'] ?? {}) as Record<string, string>;
  let scope = parentScope;
  for (const [key, value] of Object.entries(rawAttrs)) {
    if (key === 'xmlns' || key.startsWith('xmlns:')) {
      if (scope === parentScope) scope = new Map(parentScope);
      (scope as Map<string, string>).set(key === 'xmlns' ? '' : key.slice(6), decodeEntities(value));
    }
  }
  const attrs: XmlAttribute[] = [];
  for (const [key, value] of Object.entries(rawAttrs)) {
    if (key === 'xmlns' || key.startsWith('xmlns:')) continue;
    const [prefix, local] = splitName(key);
    const ns = prefix === '' ? '' : prefix === 'xml' ? 'http://www.w3.org/XML/1998/namespace' : scope.get(prefix) ?? '';
    attrs.push({ name: key, local, ns, value: decodeEntities(value) });
  }
  const [prefix, local] = splitName(name);
  const element: XmlElement = { name, local, ns: scope.get(prefix) ?? '', attrs, children: [], text: '', scope };
  for (const child of (node[name] ?? []) as RawNode[]) {
    if ('#text' in child) element.text += decodeEntities(String(child['#text']));
    else if ('#cdata' in child) {
      for (const part of child['#cdata'] as RawNode[]) element.text += String(part['#text'] ?? '');
    } else if (!('#comment' in child)) {
      const sub = toElement(child, scope);
      if (sub) element.children.push(sub);
    }
  }
  return element;
}

/** The value of an attribute by local name, in no namespace (or in `ns` when given). */
export function attr(element: XmlElement, local: string, ns = ''): string | undefined {
  return element.attrs.find((a) => a.local === local && a.ns === ns)?.value;
}

/** Child elements in `ns` (any namespace when `ns` is undefined) with the local name. */
export function children(element: XmlElement, local?: string, ns?: string): XmlElement[] {
  return element.children.filter((c) => (local === undefined || c.local === local) && (ns === undefined || c.ns === ns));
}

export function child(element: XmlElement, local: string, ns?: string): XmlElement | undefined {
  return element.children.find((c) => c.local === local && (ns === undefined || c.ns === ns));
}

/** All text below an element, for documentation nodes that may contain markup. */
export function deepText(element: XmlElement): string {
  return element.text + element.children.map(deepText).join('');
}

export interface QName {
  ns: string;
  local: string;
}

/**
 * Resolves a QName-valued attribute ("tns:Foo", "Foo") against the element's scope. An
 * unprefixed name takes the default namespace, or none; an unknown prefix resolves to ''.
 */
export function resolveQName(element: XmlElement, value: string): QName {
  const [prefix, local] = splitName(value.trim());
  return { ns: element.scope.get(prefix) ?? '', local };
}

export const qnameKey = (q: QName): string => `{${q.ns}}${q.local}`;
