/**
 * The one XML reader of the project: a small namespace-aware element tree over saxes, a strict
 * (well-formedness checking) single-pass parser. Used for SOAP replies on the request path
 * (Junction's SOAP handler) and WSDL/XSD documents at start-up; exported (gateway/index.ts) for
 * code beside the gateway, such as a SOAP backend written for tests. Every name is resolved to its namespace URI here, so callers never look at
 * a prefix.
 *
 * Why saxes: on a 13 KB GeocodeBatch reply it builds this tree in 0.16 ms, where fast-xml-parser
 * 5.12 took 1.04 ms (validate, then parse: two passes, and its path matcher runs per element);
 * the reply parse was a fifth of the gateway's CPU on the Dashboard benchmark.
 *
 * Safety: a document containing `<!DOCTYPE` or `<!ENTITY` is refused before it is parsed, so no
 * DTD entity can ever be expanded; saxes itself expands only the five predefined entities and
 * character references, and calls any other entity an error. Truncated documents (unclosed
 * elements), a second root and unbound prefixes are errors too.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { describeCharacter, UnsendableValueError } from './upstream-error.ts';

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
  attrs: readonly XmlAttribute[];
  children: readonly XmlElement[];
  /** The element's own character data (text and CDATA), decoded, untrimmed. */
  text: string;
  /** Prefixes in scope ('' is the default namespace), for QName-valued attributes and text. */
  scope: ReadonlyMap<string, string>;
}

export class XmlError extends Error {
  override readonly name = 'XmlError';
}

/**
 * True when a SOAP reply is a fault that blames the request: SOAP 1.1 `faultcode` Client (or
 * Client.Something), SOAP 1.2 `Code/Value` Sender. Read from the text without parsing it, for
 * telling a refusal from a failure before the reply is decoded.
 */
export function isSoapSenderFault(text: string): boolean {
  return /<(?:[\w.-]+:)?faultcode\b[^>]*>\s*(?:[\w.-]+:)?Client\b/.test(text)
    || /<(?:[\w.-]+:)?Code\b[^>]*>\s*<(?:[\w.-]+:)?Value\b[^>]*>\s*(?:[\w.-]+:)?Sender\s*</.test(text);
}

/** True when the text declares a DTD or an entity: such documents are never parsed. */
export const hasDtd = (text: string): boolean => /<!DOCTYPE|<!ENTITY/i.test(text);

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };

/** Characters XML 1.0 cannot carry, escaped or not: C0 controls but tab, CR and LF; lone surrogates; U+FFFE and U+FFFF. */
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * Escapes text for element content or a quoted attribute. A carriage return becomes `&#13;`
 * because XML parsers fold a literal CR LF into LF, which would change the text the reader sees.
 * Text holding a character no XML document may contain is refused (UnsendableValueError): sent,
 * it would be a malformed request that the backend rejects, as a fault that looks like its own.
 */
export function escapeXml(text: string): string {
  const bad = NOT_XML.exec(text);
  if (bad) throw new UnsendableValueError(`The text holds a character XML cannot carry (${describeCharacter(text, bad.index)}).`);
  return text.replace(/[&<>"'\r]/g, (c) => ESCAPES[c] ?? c);
}

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
const NO_SCOPE: ReadonlyMap<string, string> = new Map([['xml', XML_NS]]);

/**
 * Parses a document into its root element. Throws `XmlError` for a DTD, malformed XML or a
 * document without an element; `what` names the document in messages (with line and column).
 *
 * Namespaces are resolved here rather than by saxes' own `xmlns` mode, which makes two
 * dictionary objects per element and one object per attribute: on a batch reply of a few hundred
 * elements that was a quarter of everything the gateway allocated per request. Positions are not
 * tracked either; a document that fails is parsed again with them, for the message.
 */
export function parseXml(input: string, what: string): XmlElement {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input; // a byte order mark, common in files saved on Windows
  if (hasDtd(text)) throw new XmlError(`${what} declares a DOCTYPE or ENTITY; refused without parsing`);
  try {
    return parseWith(text, what, false);
  } catch (first) {
    if (first instanceof XmlError && !(first.cause instanceof Error)) throw first; // not a parse error: no position to add
    // Parsed again with positions, for the line and column of the first error.
    return parseWith(text, what, true);
  }
}

/**
 * What an element without attributes, or without children, holds: one frozen empty list for all
 * of them (most elements of a reply are leaves without attributes), replaced by a list of its own
 * when the parser finds the first. Readers only read them.
 */
const NO_ATTRS: readonly XmlAttribute[] = Object.freeze([]);
const NO_CHILDREN: readonly XmlElement[] = Object.freeze([]);

/** Thrown from inside the handlers: a namespace error, reported with the parser's position. */
class NamespaceError extends Error {}

function parseWith(text: string, what: string, position: boolean): XmlElement {
  const parser = new SaxesParser({ position });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;

  parser.on('opentag', (opened) => {
    const tag = opened as SaxesTagPlain;
    const parent = stack[stack.length - 1];
    const inherited = parent?.scope ?? NO_SCOPE;
    let scope = inherited;
    const raw = tag.attributes;
    let declared = false;
    for (const name in raw) {
      if (name === 'xmlns' || name.startsWith('xmlns:')) {
        declared = true;
        if (scope === inherited) scope = new Map(inherited);
        const prefix = name === 'xmlns' ? '' : name.slice(6);
        if (name !== 'xmlns' && prefix === '') throw new NamespaceError('"xmlns:" declares no prefix');
        const uri = raw[name]!.trim(); // as saxes' namespace mode reads it
        checkDeclaration(prefix, uri);
        (scope as Map<string, string>).set(prefix, uri);
      }
    }
    let attrs: XmlAttribute[] = NO_ATTRS as XmlAttribute[];
    for (const name in raw) {
      if (declared && (name === 'xmlns' || name.startsWith('xmlns:'))) continue;
      if (attrs === NO_ATTRS) attrs = [];
      const colon = name.indexOf(':');
      if (colon < 0) {
        attrs.push({ name, local: name, ns: '', value: raw[name]! });
        continue;
      }
      const [prefix, local] = qname(name, colon);
      const ns = resolve(scope, prefix, name);
      // Two prefixes bound to one namespace must not name the same attribute twice.
      if (attrs.some((a) => a.local === local && a.ns === ns)) throw new NamespaceError(`attribute {${ns}}${local} appears twice`);
      attrs.push({ name, local, ns, value: raw[name]! });
    }
    const colon = tag.name.indexOf(':');
    const [prefix, local] = colon < 0 ? ['', tag.name] : qname(tag.name, colon);
    const ns = colon < 0 ? scope.get('') ?? '' : resolve(scope, prefix, tag.name);
    const element: XmlElement = { name: tag.name, local, ns, attrs, children: NO_CHILDREN as XmlElement[], text: '', scope };
    if (!parent) root = element;
    else if (parent.children === NO_CHILDREN) parent.children = [element];
    else (parent.children as XmlElement[]).push(element);
    stack.push(element);
  });
  const addText = (data: string) => {
    const current = stack[stack.length - 1];
    if (current) current.text += data;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.on('closetag', () => {
    stack.pop();
  });

  try {
    parser.write(text).close();
  } catch (cause) {
    // saxes prefixes its messages with "line:column: " and ends them with a period.
    const reason = (cause instanceof Error ? cause.message : String(cause)).replace(/^\d+:\d+: /, '').replace(/\.$/, '');
    const where = position ? ` (line ${parser.line}, column ${parser.column})` : '';
    throw new XmlError(`${what} is not well-formed XML: ${reason}${where}`, { cause });
  }
  if (!root) throw new XmlError(`${what} has no root element`);
  return root;
}

/** A prefixed name's prefix and local part; a name with an empty part or a second colon is no QName. */
function qname(name: string, colon: number): [string, string] {
  const prefix = name.slice(0, colon);
  const local = name.slice(colon + 1);
  if (prefix === '' || local === '' || local.includes(':')) throw new NamespaceError(`${JSON.stringify(name)} is not a qualified name`);
  return [prefix, local];
}

function resolve(scope: ReadonlyMap<string, string>, prefix: string, name: string): string {
  if (prefix === 'xmlns') throw new NamespaceError(`the xmlns prefix is reserved (${JSON.stringify(name)})`);
  const uri = scope.get(prefix);
  if (uri === undefined || uri === '') throw new NamespaceError(`unbound namespace prefix: ${JSON.stringify(prefix)}`);
  return uri;
}

/** The rules of Namespaces in XML 1.0 for one declaration, as saxes' own namespace mode keeps them. */
function checkDeclaration(prefix: string, uri: string): void {
  if (prefix === 'xmlns') throw new NamespaceError('the xmlns prefix cannot be declared');
  if (prefix === 'xml' && uri !== XML_NS) throw new NamespaceError(`the xml prefix must be bound to ${XML_NS}`);
  if (prefix !== 'xml' && uri === XML_NS) throw new NamespaceError(`${XML_NS} may be bound to the xml prefix only`);
  if (uri === XMLNS_NS) throw new NamespaceError(`${XMLNS_NS} cannot be declared`);
  if (prefix !== '' && uri === '') throw new NamespaceError(`the ${prefix} prefix cannot be bound to the empty namespace`);
  if (prefix.includes(':')) throw new NamespaceError(`${JSON.stringify(prefix)} is not a prefix`);
}

/** The value of an attribute by local name, in no namespace (or in `ns` when given). */
export function attr(element: XmlElement, local: string, ns = ''): string | undefined {
  return element.attrs.find((a) => a.local === local && a.ns === ns)?.value;
}

/** Child elements in `ns` (any namespace when `ns` is undefined) with the local name (any when undefined). */
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
