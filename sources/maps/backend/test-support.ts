import { DEMO_CREDENTIALS } from '../../demo/credentials.ts';
import { plainUsernameTokenHeader } from '../../../gateway/index.ts';
/**
 * Helpers for the maps tests: raw SOAP over fetch (no client code under test in the way) and
 * the /_stats and /_faults endpoints.
 */
import { MAPS_NAMESPACE, MAPS_SOAP_PATH, SOAP11_ENVELOPE_NAMESPACE } from '../contract.ts';
import { child, parseXml, type XmlElement } from '../../../gateway/index.ts';

/** The text of a text-only child element. */
export function textOf(parent: XmlElement | undefined, name: string): string | undefined {
  const found = parent && child(parent, name);
  return found && found.children.length === 0 ? found.text : undefined;
}

/** The demo account's UsernameToken header block, for envelopes written by hand. */
export const demoSecurity = (prefix: string): string => plainUsernameTokenHeader(DEMO_CREDENTIALS.maps.username, DEMO_CREDENTIALS.maps.apiKey, prefix);

export function envelope(body: string): string {
  return '<?xml version="1.0" encoding="utf-8"?>'
    + `<soapenv:Envelope xmlns:soapenv="${SOAP11_ENVELOPE_NAMESPACE}" xmlns:m="${MAPS_NAMESPACE}">`
    + `<soapenv:Header>${demoSecurity('soapenv')}</soapenv:Header>`
    + `<soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;
}

export interface RawReply {
  status: number;
  contentType: string;
  text: string;
}

/** POSTs a SOAP 1.1 request; `action` is the bare operation name, sent as the quoted full SOAPAction. */
export async function postSoap(baseUrl: string, action: string | undefined, xml: BodyInit, headers: Record<string, string> = {}): Promise<RawReply> {
  const response = await fetch(`${baseUrl}${MAPS_SOAP_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'text/xml; charset=utf-8',
      ...(action === undefined ? {} : { soapaction: `"${MAPS_NAMESPACE}/${action}"` }),
      ...headers,
    },
    body: xml,
  });
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text() };
}

/** faultcode and faultstring of a SOAP 1.1 fault reply, or undefined when it is not one. */
export function faultOf(text: string): { faultcode: string; faultstring: string } | undefined {
  const root = parseXml(text, 'reply');
  const body = root.local === 'Envelope' ? child(root, 'Body') : undefined;
  const fault = body && child(body, 'Fault');
  return fault ? { faultcode: textOf(fault, 'faultcode') ?? '', faultstring: textOf(fault, 'faultstring') ?? '' } : undefined;
}

export { readStats, resetBackend, armFault } from '../../demo/test-surface.ts';
