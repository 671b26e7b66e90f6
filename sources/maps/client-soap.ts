import { XMLParser } from 'fast-xml-parser';
import { UpstreamError } from '../common/upstream-error.ts';
import { callUpstream, joinUrl, type SourceClientOptions } from '../common/upstream-fetch.ts';
import {
  MAPS_NAMESPACE, MAPS_SOAP_PATH, SOAP11_ENVELOPE_NAMESPACE, requestElementFor, responseElementFor, soapActionFor,
  type MapsOperation,
} from './contract.ts';
import { decodeXmlEntities, escapeXml } from './xml-text.ts';

/** Source name in every UpstreamError the maps client throws. */
export const MAPS_SOURCE = 'maps';

/** A parsed element: child elements by local name, text as strings (or '' when empty). */
export type XmlNode = Record<string, unknown>;

/** Elements that may repeat, by path; forced to arrays so one match and many read the same. */
const REPEATED: ReadonlySet<string> = new Set([
  'Envelope.Body.GeocodeResponse.place',
  'Envelope.Body.GeocodeBatchResponse.result',
  'Envelope.Body.GeocodeBatchResponse.result.place',
  'Envelope.Body.GetPlacesResponse.place',
]);

/**
 * Entity processing is off so no DTD entity can ever be expanded (replies with a DTD are refused
 * before parsing anyway); the predefined entities are decoded per value instead. Values stay
 * strings and untrimmed (a GeocodeBatch query must come back exactly as sent); the client turns
 * lat, lng and meters into numbers itself. Caveat: text inside CDATA is entity-decoded too,
 * which this service never sends.
 */
function createReplyParser(): XMLParser {
  return new XMLParser({
    removeNSPrefix: true,
    processEntities: false,
    ignoreAttributes: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
    parseTagValue: false,
    trimValues: false,
    // Called for every element: compare the name first, so most never pay for the path string.
    isArray: (name, jPath) => (name === 'place' || name === 'result') && REPEATED.has(String(jPath)),
    tagValueProcessor: (_name, value) => decodeXmlEntities(value),
  });
}

/** A text-only element in the service namespace (prefix `m`, declared on the envelope). */
export function element(name: string, text: string | number): string {
  return `<m:${name}>${escapeXml(String(text))}</m:${name}>`;
}

function envelope(operation: MapsOperation, content: string): string {
  const request = requestElementFor(operation);
  return '<?xml version="1.0" encoding="utf-8"?>'
    + `<soap:Envelope xmlns:soap="${SOAP11_ENVELOPE_NAMESPACE}" xmlns:m="${MAPS_NAMESPACE}">`
    + `<soap:Body><m:${request}>${content}</m:${request}></soap:Body></soap:Envelope>`;
}

function asNode(value: unknown): XmlNode | undefined {
  if (value === '') return {}; // an empty element, e.g. <GetPlaceResponse/>
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as XmlNode) : undefined;
}

/** `batchSize`: keys asked for by a batch operation, for the call's record. */
export type SoapCaller = (operation: MapsOperation, content: string, batchSize?: number) => Promise<XmlNode>;

/**
 * Sends one SOAP 1.1 request and returns the operation's response element. A SOAP Fault becomes
 * `soap_fault` (upstreamCode = faultcode without its prefix), any other HTTP error `http`, a
 * reply that is not the expected envelope `bad_response`.
 */
export function createSoapCaller(options: SourceClientOptions): SoapCaller {
  const parser = createReplyParser();
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
      ...(batchSize !== undefined ? { batchSize } : {}),
      init: {
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${soapActionFor(operation)}"` },
        body: envelope(operation, content),
      },
    }, options);

    if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
      throw fail(`${MAPS_SOURCE} answered ${operation} with a DTD, refused unparsed`, 'bad_response', { status });
    }
    const isXml = /\bxml\b/i.test(headers.get('content-type') ?? '');
    let document: XmlNode | undefined;
    if (isXml) {
      try {
        // Validated first: without it a truncated reply parses leniently and reads as "not found".
        document = asNode(parser.parse(text, true));
      } catch (cause) {
        if (status < 400) throw fail(`${MAPS_SOURCE} answered ${operation} with malformed XML`, 'bad_response', { status, cause });
      }
    }
    const body = asNode(asNode(document?.Envelope)?.Body);
    const fault = asNode(body?.Fault);
    if (fault) {
      const code = typeof fault.faultcode === 'string' ? fault.faultcode.replace(/^.*:/, '') : undefined;
      const message = typeof fault.faultstring === 'string' && fault.faultstring !== ''
        ? fault.faultstring
        : `${MAPS_SOURCE} answered ${operation} with a SOAP Fault`;
      throw fail(message, 'soap_fault', { status, upstreamCode: code });
    }
    if (status !== 200) throw fail(`${MAPS_SOURCE} answered ${operation} with HTTP ${status}`, 'http', { status });
    const response = asNode(body?.[responseElementFor(operation)]);
    if (!response) {
      throw fail(`${MAPS_SOURCE} answered ${operation} without a ${responseElementFor(operation)} envelope`, 'bad_response', { status });
    }
    return response;
  };
}
