/**
 * Junction's public API for code that runs beside the gateway: a code contract's resolvers, an
 * `embedded` module, a backend written for tests. Everything else under gateway/ is internal and
 * may change; what is here is kept. (A contract's own vocabulary, the error catalogue, the
 * caller's identity and the contract types, is in schema/ and imports nothing from here.)
 */

/** Junction's XML reader (saxes, namespace-aware, DTDs refused) and writer helpers, for SOAP. */
export { attr, child, children, deepText, escapeXml, hasDtd, isSoapSenderFault, parseXml, XmlError, type XmlAttribute, type XmlElement } from './upstream/xml.ts';
/** WS-Security UsernameToken headers, as Junction sends them to SOAP backends. */
export { plainUsernameTokenHeader, usernameTokenHeader, passwordDigest, WSSE_NAMESPACE, WSU_NAMESPACE } from './upstream/ws-security.ts';
/** An HTTP Basic `Authorization` header value, as Junction sends a source's `auth: { basic }`. */
export { basicAuth } from './engine/credentials.ts';
/** Listens on a port (0: any free one) and resolves to the URL the server answers on. */
export { listen } from './listen.ts';
