/**
 * XML for Junction's SOAP handler: the namespace URIs it knows and QName resolution, over the
 * project's one XML reader (`gateway/upstream/xml.ts`: saxes, namespace-aware, DTDs refused).
 * WSDLs use any prefixes (`wsdl:`, `s:`, none, `soapbind:`), so every name is resolved to its
 * namespace URI and the rest of the handler never looks at a prefix.
 */
import type { XmlElement } from '../../upstream/xml.ts';

export {
  XmlError, attr, child, children, deepText, escapeXml, hasDtd, parseXml,
  type XmlAttribute, type XmlElement,
} from '../../upstream/xml.ts';

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

function splitName(name: string): [prefix: string, local: string] {
  const colon = name.indexOf(':');
  return colon < 0 ? ['', name] : [name.slice(0, colon), name.slice(colon + 1)];
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
