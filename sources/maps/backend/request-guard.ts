import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  MAPS_OPERATIONS, SOAP11_ENVELOPE_NAMESPACE, SOAP12_ENVELOPE_NAMESPACE, soapActionFor,
} from '../contract.ts';
import { child, parseXml, XmlError, type XmlElement } from '../../../gateway/index.ts';
import { WSSE_NAMESPACE } from '../../../gateway/index.ts';
import { sendFault } from './soap-fault.ts';

/** Largest SOAP request body read, in bytes. Default 1 MiB: a full 100-address batch is under 20 KiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

const KNOWN_ACTIONS: ReadonlySet<string> = new Set(MAPS_OPERATIONS.map(soapActionFor));
const XML_MEDIA_TYPES: ReadonlySet<string> = new Set(['text/xml', 'application/soap+xml', 'application/xml']);

/**
 * Reads a SOAP POST and checks it before the soap package parses it; answers with a
 * soap:Client (or soap:VersionMismatch) fault and resolves undefined when it is refused.
 *
 * The soap package would otherwise read an unlimited body, gunzip without a cap, and answer
 * malformed XML, a DTD or an unknown SOAPAction with faults that are not SOAP 1.1 (a faultcode
 * of "500", an invented WS-Security header, a SOAP 1.2 Code/Reason). None of these reach an
 * operation, so none is counted in /_stats.
 */
export async function readSoapRequest(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<{ xml: string; root: XmlElement } | undefined> {
  const refuse = (message: string, headers: Record<string, string> = {}) => {
    sendFault(res, 'Client', message, headers);
    return undefined;
  };

  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    req.resume();
    return refuse(`Content-Encoding ${encoding} is not supported; send the envelope uncompressed`);
  }
  const mediaType = (req.headers['content-type'] ?? 'text/xml').split(';')[0]!.trim().toLowerCase();
  if (!XML_MEDIA_TYPES.has(mediaType)) {
    req.resume();
    return refuse(`Content-Type ${mediaType} is not supported; SOAP 1.1 requests are text/xml`);
  }

  const body = await readCapped(req, maxBytes);
  if (body === undefined) {
    // The rest of the body is never read, so this connection cannot carry another request.
    return refuse(`request body exceeds ${maxBytes} bytes`, { connection: 'close' });
  }
  const xml = body.replace(/^\uFEFF/, '');
  if (xml.trim() === '') return refuse('request body is empty; expected a SOAP envelope');

  // SOAP 1.1 §3: "A SOAP message MUST NOT contain a Document Type Declaration". Refusing any
  // DTD outright also removes entity expansion (billion laughs, external entities) as a threat.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return refuse('a SOAP message must not contain a Document Type Declaration');

  let root: XmlElement;
  try {
    root = parseXml(xml, 'request');
  } catch (err) {
    if (!(err instanceof XmlError)) throw err;
    return refuse(err.message);
  }

  const envelopeProblem = checkEnvelope(root);
  if (envelopeProblem === 'version') {
    sendFault(res, 'VersionMismatch', `the Envelope must be in the SOAP 1.1 namespace ${SOAP11_ENVELOPE_NAMESPACE}`);
    return undefined;
  }
  if (envelopeProblem === 'not-envelope') return refuse('the root element must be a SOAP Envelope');

  const action = soapAction(req);
  // An empty SOAPAction ("") means "the request URI says it all" (SOAP 1.1 §6.1.1); an absent
  // one is tolerated too, since GraphQL Mesh's SOAP executor sends none. Both dispatch by body element.
  if (action !== undefined && action !== '' && !KNOWN_ACTIONS.has(action)) {
    return refuse(`unknown SOAPAction "${action}"`);
  }
  return { xml, root };
}

function soapAction(req: IncomingMessage): string | undefined {
  const header = req.headers.soapaction;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
}

/**
 * SOAP 1.2 envelopes are accepted as well (and answered in SOAP 1.1): GraphQL Mesh's SOAP
 * executor sends them regardless of the binding. Any other namespace is a version mismatch.
 */
function checkEnvelope(root: XmlElement): 'version' | 'not-envelope' | undefined {
  if (root.local !== 'Envelope') return 'not-envelope';
  return root.ns === SOAP11_ENVELOPE_NAMESPACE || root.ns === SOAP12_ENVELOPE_NAMESPACE ? undefined : 'version';
}

/**
 * The body as UTF-8 text, or undefined as soon as it grows past `maxBytes`. The rest is left
 * unread (the caller answers with `connection: close`); destroying the request instead would
 * destroy the socket the fault must still be written to. Rejects when the client aborts.
 */
function readCapped(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > maxBytes) {
        stop();
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error) => {
      stop();
      reject(err);
    };
    const onClose = () => onError(new Error('the client closed the request before its body ended'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * The WS-Security UsernameToken of a request (OASIS UsernameToken Profile 1.0, PasswordText), as
 * `wsse <username>:<password>`, or '' when the envelope carries none.
 */
export function usernameTokenOf(root: XmlElement): string {
  const header = child(root, 'Header', root.ns);
  const token = header && child(header, 'Security', WSSE_NAMESPACE);
  const usernameToken = token && child(token, 'UsernameToken', WSSE_NAMESPACE);
  if (!usernameToken) return '';
  const username = child(usernameToken, 'Username', WSSE_NAMESPACE)?.text ?? '';
  const password = child(usernameToken, 'Password', WSSE_NAMESPACE)?.text ?? '';
  return `wsse ${username}:${password}`;
}
