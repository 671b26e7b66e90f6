import type { ServerResponse } from 'node:http';
import { SOAP11_ENVELOPE_NAMESPACE } from '../contract.ts';
import { escapeXml } from '../../../gateway/index.ts';

/**
 * SOAP 1.1 faults as this service sends them: HTTP 500 (SOAP 1.1 §6.2 requires it for every
 * fault), `soap:Client` when the request is at fault, `soap:Server` when the service is,
 * `soap:VersionMismatch` for an envelope in an unknown namespace (§4.4.1).
 */
export type FaultCode = 'Client' | 'Server' | 'VersionMismatch';

/** What a soap-package service method throws to make the package answer with a fault. */
export interface ThrownSoapFault {
  Fault: { faultcode: string; faultstring: string; statusCode: number };
}

/** The soap package's envelope prefix is `soap`, so a qualified faultcode must use it too. */
export function soapFault(code: FaultCode, faultstring: string): ThrownSoapFault {
  return { Fault: { faultcode: `soap:${code}`, faultstring, statusCode: 500 } };
}

export function isThrownSoapFault(value: unknown): value is ThrownSoapFault {
  return typeof value === 'object' && value !== null && 'Fault' in value;
}

/** A whole fault envelope, for answers given before the soap package sees the request. */
export function faultEnvelope(code: FaultCode, faultstring: string): string {
  return '<?xml version="1.0" encoding="utf-8"?>'
    + `<soap:Envelope xmlns:soap="${SOAP11_ENVELOPE_NAMESPACE}"><soap:Body><soap:Fault>`
    + `<faultcode>soap:${code}</faultcode><faultstring>${escapeXml(faultstring)}</faultstring>`
    + '</soap:Fault></soap:Body></soap:Envelope>';
}

export function sendFault(res: ServerResponse, code: FaultCode, faultstring: string, headers: Record<string, string> = {}, status = 500): void {
  const body = faultEnvelope(code, faultstring);
  res.writeHead(status, {
    'content-type': 'text/xml; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}
