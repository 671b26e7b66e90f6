/**
 * Reads a WSDL 1.1 document and every schema it reaches into indexes by QName.
 *
 * - Any prefixes: everything is matched by namespace URI, never by prefix.
 * - `wsdl:types` may hold several schemas with different targetNamespaces, or a schema with no
 *   attributes at all (CyberSource: it only imports).
 * - `xsd:import` / `xsd:include` / `xsd:redefine` with `schemaLocation`, and `wsdl:import` with
 *   `location`, are resolved relative to the document that contains them (a file path or a URL),
 *   never relative to the working directory. An import without a location refers to a schema
 *   already inline (NASA CDAS) or to a well-known namespace (SOAP encoding) and is skipped.
 * - Documents are refused when they declare a DTD (see xml.ts); remote ones go through the
 *   loader (callUpstream: one deadline, size cap).
 */
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { NS, attr, children, deepText, parseXml, qnameKey, resolveQName, type QName, type XmlElement } from './xml.ts';

/** Reads a document's text: a file path or an http(s) URL. */
export type DocumentLoader = (location: string) => Promise<string>;

export interface SchemaContext {
  tns: string;
  elementQualified: boolean;
  attributeQualified: boolean;
}

export interface SchemaEntry {
  node: XmlElement;
  schema: SchemaContext;
}

export type SchemaComponent = 'element' | 'complexType' | 'simpleType' | 'attribute' | 'group' | 'attributeGroup';

const COMPONENTS: readonly SchemaComponent[] = ['element', 'complexType', 'simpleType', 'attribute', 'group', 'attributeGroup'];

/** Global schema components by `{namespace}local`. */
export class SchemaIndex {
  private readonly entries = new Map<SchemaComponent, Map<string, SchemaEntry>>(COMPONENTS.map((c) => [c, new Map()]));

  add(kind: SchemaComponent, qname: QName, entry: SchemaEntry): void {
    const map = this.entries.get(kind)!;
    if (!map.has(qnameKey(qname))) map.set(qnameKey(qname), entry);
  }

  /**
   * Exact QName first. Real WSDLs get namespaces wrong (an unprefixed reference with no default
   * namespace, a chameleon include), so a miss falls back to the one component of that kind
   * with that local name, when there is exactly one.
   */
  lookup(kind: SchemaComponent, qname: QName): SchemaEntry | undefined {
    const map = this.entries.get(kind)!;
    const exact = map.get(qnameKey(qname));
    if (exact) return exact;
    const suffix = `}${qname.local}`;
    const byLocal = [...map.entries()].filter(([key]) => key.endsWith(suffix));
    return byLocal.length === 1 ? byLocal[0]![1] : undefined;
  }

  size(kind: SchemaComponent): number {
    return this.entries.get(kind)!.size;
  }
}

export interface WsdlComponent {
  node: XmlElement;
  /** targetNamespace of the definitions it was declared in. */
  tns: string;
}

export interface WsdlDocument {
  location: string;
  name?: string;
  tns: string;
  doc?: string;
  messages: Map<string, WsdlComponent>;
  portTypes: WsdlComponent[];
  bindings: WsdlComponent[];
  services: WsdlComponent[];
  schemas: SchemaIndex;
}

const isUrl = (location: string): boolean => /^https?:\/\//i.test(location);

/** Resolves `relative` against the document at `base` (a file path or an http(s) URL). */
export function resolveLocation(base: string, relative: string): string {
  if (isUrl(relative)) return relative;
  if (isUrl(base)) {
    const url = new URL(relative, base);
    // A remote document must not reach into the local file system (file:, or any other scheme).
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`refused to load ${relative} from ${base}`);
    return url.href;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(relative) && !/^[a-z]:[\\/]/i.test(relative)) {
    throw new Error(`refused to load ${relative}: only files and http(s) URLs are read`);
  }
  return isAbsolute(relative) ? relative : resolvePath(dirname(base), relative);
}

/** Loads the WSDL at `location` (absolute path or URL) and everything it imports or includes. */
export async function readWsdl(location: string, load: DocumentLoader): Promise<WsdlDocument> {
  const root = parseXml(await load(location), `WSDL ${location}`);
  if (root.local !== 'definitions' || root.ns !== NS.wsdl) {
    const what = root.local === 'description' ? 'WSDL 2.0 is not supported' : `root element is ${root.name}`;
    throw new Error(`${location} is not a WSDL 1.1 document: ${what}`);
  }
  const doc: WsdlDocument = {
    location,
    name: attr(root, 'name'),
    tns: attr(root, 'targetNamespace') ?? '',
    doc: documentationOf(root),
    messages: new Map(),
    portTypes: [],
    bindings: [],
    services: [],
    schemas: new SchemaIndex(),
  };
  const seen = new Set<string>([location]);
  await addDefinitions(doc, root, location, load, seen);
  return doc;
}

async function addDefinitions(doc: WsdlDocument, root: XmlElement, location: string, load: DocumentLoader, seen: Set<string>): Promise<void> {
  const tns = attr(root, 'targetNamespace') ?? '';
  for (const node of root.children) {
    if (node.ns !== NS.wsdl) continue;
    switch (node.local) {
      case 'import': {
        const target = attr(node, 'location');
        if (!target) break;
        const resolved = resolveLocation(location, target);
        if (seen.has(resolved)) break;
        seen.add(resolved);
        const imported = parseXml(await load(resolved), `document ${resolved}`);
        if (imported.local === 'definitions' && imported.ns === NS.wsdl) await addDefinitions(doc, imported, resolved, load, seen);
        else if (imported.local === 'schema') await addSchema(doc.schemas, imported, resolved, load, seen);
        break;
      }
      case 'types':
        for (const schema of children(node, 'schema')) await addSchema(doc.schemas, schema, location, load, seen);
        break;
      case 'message':
        doc.messages.set(qnameKey({ ns: tns, local: attr(node, 'name') ?? '' }), { node, tns });
        break;
      case 'portType':
        doc.portTypes.push({ node, tns });
        break;
      case 'binding':
        doc.bindings.push({ node, tns });
        break;
      case 'service':
        doc.services.push({ node, tns });
        break;
      default:
        break;
    }
  }
}

/**
 * Indexes one schema's global components, then follows its imports and includes. An included
 * schema without a targetNamespace takes the includer's (a "chameleon" include).
 */
async function addSchema(
  index: SchemaIndex, node: XmlElement, location: string, load: DocumentLoader, seen: Set<string>, chameleonTns?: string,
): Promise<void> {
  const schema: SchemaContext = {
    tns: attr(node, 'targetNamespace') ?? chameleonTns ?? '',
    elementQualified: attr(node, 'elementFormDefault') === 'qualified',
    attributeQualified: attr(node, 'attributeFormDefault') === 'qualified',
  };
  const includes: { target: string; chameleon?: string }[] = [];
  for (const item of node.children) {
    if (item.local === 'import' || item.local === 'include' || item.local === 'redefine') {
      const target = attr(item, 'schemaLocation');
      if (target) includes.push({ target, chameleon: item.local === 'import' ? undefined : schema.tns });
      continue;
    }
    if ((COMPONENTS as readonly string[]).includes(item.local)) {
      const name = attr(item, 'name');
      if (name) index.add(item.local as SchemaComponent, { ns: schema.tns, local: name }, { node: item, schema });
    }
  }
  for (const { target, chameleon } of includes) {
    const resolved = resolveLocation(location, target);
    if (seen.has(resolved)) continue;
    seen.add(resolved);
    const root = parseXml(await load(resolved), `schema ${resolved}`);
    if (root.local !== 'schema') throw new Error(`${resolved} (from ${location}) is not an XML Schema: root element is ${root.name}`);
    await addSchema(index, root, resolved, load, seen, chameleon);
  }
}

/** `wsdl:documentation` or `xsd:annotation/xsd:documentation` text, whitespace collapsed. */
export function documentationOf(node: XmlElement): string | undefined {
  const parts: string[] = [];
  for (const c of node.children) {
    if (c.local === 'documentation') parts.push(deepText(c));
    else if (c.local === 'annotation') for (const d of children(c, 'documentation')) parts.push(deepText(d));
  }
  const text = parts.map((p) => p.replace(/\s+/g, ' ').trim()).filter(Boolean).join('\n\n');
  return text === '' ? undefined : text;
}

/** Resolves a QName-valued attribute of `node`, or undefined when the attribute is absent. */
export function qnameAttr(node: XmlElement, name: string): QName | undefined {
  const value = attr(node, name);
  return value === undefined ? undefined : resolveQName(node, value);
}
