import { child, escapeXml, hasDtd, isSoapSenderFault, parseXml, XmlError, type XmlElement } from '../../gateway/upstream/xml.ts';
import { UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import { plainUsernameTokenHeader } from '../../gateway/upstream/ws-security.ts';
import { callUpstream, joinUrl, type SourceClientOptions } from '../../gateway/upstream/upstream-fetch.ts';
import {
  MAPS_NAMESPACE, MAPS_SOAP_PATH, SOAP11_ENVELOPE_NAMESPACE, requestElementFor, responseElementFor, soapActionFor,
  type MapsOperation,
} from './contract.ts';

/** Source name in every UpstreamError the maps client throws. */
export const MAPS_SOURCE = 'maps';

/**
 * The text of `parent`'s child element `name` when it holds text only; undefined when the child
 * is missing or has elements of its own. Values stay untrimmed (a GeocodeBatch query must come
 * back exactly as sent); the client turns lat, lng and meters into numbers itself.
 */
export function textOf(parent: XmlElement | undefined, name: string): string | undefined {
  const found = parent && child(parent, name);
  return found && found.children.length === 0 ? found.text : undefined;
}

/** A text-only element in the service namespace (prefix `m`, declared on the envelope). */
export function element(name: string, text: string | number): string {
  return `<m:${name}>${escapeXml(String(text))}</m:${name}>`;
}

function envelope(operation: MapsOperation, content: string, header: string): string {
  const request = requestElementFor(operation);
  return '<?xml version="1.0" encoding="utf-8"?>'
    + `<soap:Envelope xmlns:soap="${SOAP11_ENVELOPE_NAMESPACE}" xmlns:m="${MAPS_NAMESPACE}">`
    + `${header}<soap:Body><m:${request}>${content}</m:${request}></soap:Body></soap:Envelope>`;
}

/** The gateway's account with the maps service, sent as a WS-Security UsernameToken. */
export interface MapsCredentials {
  username: string;
  apiKey: string;
}

/** `batchSize`: keys asked for by a batch operation, for the call's record. */
export type SoapCaller = (operation: MapsOperation, content: string, batchSize?: number) => Promise<XmlElement>;

/**
 * Sends one SOAP 1.1 request and returns the operation's response element. A SOAP Fault becomes
 * `soap_fault` (upstreamCode = faultcode without its prefix), any other HTTP error `http`, a
 * reply that is not the expected envelope `bad_response`.
 */
export function createSoapCaller(options: SourceClientOptions, credentials?: MapsCredentials): SoapCaller {
  const header = credentials ? `<soap:Header>${plainUsernameTokenHeader(credentials.username, credentials.apiKey)}</soap:Header>` : '';
  const endpoint = joinUrl(options.url, MAPS_SOAP_PATH);

  return async (operation, content, batchSize) => {
    const fail = (message: string, failure: 'http' | 'bad_response' | 'soap_fault', extra: { status?: number; upstreamCode?: string; cause?: unknown } = {}) =>
      new UpstreamError(message, { source: MAPS_SOURCE, operation, failure, ...extra });

    const { status, headers, text } = await callUpstream({
      source: MAPS_SOURCE,
      operation,
      url: endpoint,
      // Every maps operation only reads, so identical calls in flight may share one answer.
      read: true,
      // A Client fault is the request's fault, though SOAP sends it with HTTP 500.
      rejected: (response) => isSoapSenderFault(response.text),
      ...(batchSize !== undefined ? { batchSize } : {}),
      init: {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${soapActionFor(operation)}"` },
        body: envelope(operation, content, header),
      },
    }, options);

    if (hasDtd(text)) {
      throw fail(`${MAPS_SOURCE} answered ${operation} with a DTD, refused unparsed`, 'bad_response', { status });
    }
    const isXml = /\bxml\b/i.test(headers.get('content-type') ?? '');
    let document: XmlElement | undefined;
    if (isXml) {
      try {
        // Strict: a truncated reply is an error, never a lenient parse that reads as "not found".
        document = parseXml(text, `${MAPS_SOURCE} ${operation} reply`);
      } catch (cause) {
        if (!(cause instanceof XmlError)) throw cause;
        if (status < 400) throw fail(`${MAPS_SOURCE} answered ${operation} with malformed XML`, 'bad_response', { status, cause });
      }
    }
    const body = document?.local === 'Envelope' ? child(document, 'Body') : undefined;
    const fault = body && child(body, 'Fault');
    if (fault) {
      const code = textOf(fault, 'faultcode')?.replace(/^.*:/, '');
      const faultstring = textOf(fault, 'faultstring');
      const message = faultstring ? faultstring : `${MAPS_SOURCE} answered ${operation} with a SOAP Fault`;
      throw fail(message, 'soap_fault', { status, ...(code !== undefined ? { upstreamCode: code } : {}) });
    }
    if (status !== 200) throw fail(`${MAPS_SOURCE} answered ${operation} with HTTP ${status}`, 'http', { status });
    const response = body && child(body, responseElementFor(operation));
    if (!response) {
      throw fail(`${MAPS_SOURCE} answered ${operation} without a ${responseElementFor(operation)} envelope`, 'bad_response', { status });
    }
    return response;
  };
}
