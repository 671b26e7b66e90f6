import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DemoBackend } from '../../demo/server.ts';
import { startMapsBackend } from './backend.ts';
import { MAPS_NAMESPACE, SOAP12_ENVELOPE_NAMESPACE } from '../contract.ts';
import { DEFAULT_MAX_REQUEST_BYTES } from './request-guard.ts';
import { demoSecurity, envelope, faultOf, postSoap, readStats, resetBackend } from './test-support.ts';

/** The HTTP surface around the operations: probe, WSDL, and the checks made before soap parses a request. */
let backend: DemoBackend;

beforeAll(async () => {
  backend = await startMapsBackend();
});
afterAll(async () => {
  await backend?.close();
});
beforeEach(async () => {
  await resetBackend(backend.url);
});

const geocode = envelope('<m:GeocodeRequest><m:address>Berlin</m:address></m:GeocodeRequest>');

describe('maps backend HTTP surface', () => {
  it('binds 127.0.0.1 on a free port by default', () => {
    expect(backend.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(backend.name).toBe('maps');
  });

  it('answers the GET / probe with 200 {service:"maps"} and does not count it', async () => {
    const response = await fetch(`${backend.url}/`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ service: 'maps' });
    expect((await readStats(backend.url)).total).toBe(0);
  });

  it('serves the WSDL at GET /soap?wsdl with the address it actually listens on, uncounted', async () => {
    const response = await fetch(`${backend.url}/soap?wsdl`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/xml; charset=utf-8');
    const wsdl = await response.text();
    expect(wsdl).toContain(`<soap:address location="${backend.url}/soap"/>`);
    expect(wsdl).toContain(`targetNamespace="${MAPS_NAMESPACE}"`);
    expect((await readStats(backend.url)).total).toBe(0);
  });

  it('answers 404 for an unknown path and 405 for PUT /soap', async () => {
    expect((await fetch(`${backend.url}/nope`)).status).toBe(404);
    const put = await fetch(`${backend.url}/soap`, { method: 'PUT', body: geocode });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST');
  });

  it('accepts a SOAP 1.2 envelope without SOAPAction, as GraphQL Mesh sends, and answers in SOAP 1.1', async () => {
    const reply = await postSoap(backend.url, undefined,
      `<soap:Envelope xmlns:soap="${SOAP12_ENVELOPE_NAMESPACE}"><soap:Header>${demoSecurity('soap')}</soap:Header><soap:Body xmlns="${MAPS_NAMESPACE}">`
      + '<GetPlaceRequest><id>plc_nope</id></GetPlaceRequest></soap:Body></soap:Envelope>',
      { 'content-type': 'application/soap+xml; charset=utf-8' });
    expect(reply.status).toBe(200);
    expect(reply.text).toContain(`<GetPlaceResponse xmlns="${MAPS_NAMESPACE}"></GetPlaceResponse>`);
    expect((await readStats(backend.url)).operations).toEqual({ GetPlace: 1 });
  });
});

describe('requests refused before any operation runs (soap:Client, HTTP 500, not counted)', () => {
  const refusals: [string, () => Promise<Awaited<ReturnType<typeof postSoap>>>, string, string][] = [
    ['malformed XML', () => postSoap(backend.url, 'Geocode', geocode.replace('</m:address>', '')), 'soap:Client',
      "request is not well-formed XML: unexpected close tag (line 1, column 638)"],
    ['an empty body', () => postSoap(backend.url, 'Geocode', ''), 'soap:Client', 'request body is empty; expected a SOAP envelope'],
    ['a root element that is not an Envelope', () => postSoap(backend.url, 'Geocode', `<m:GeocodeRequest xmlns:m="${MAPS_NAMESPACE}"/>`),
      'soap:Client', 'the root element must be a SOAP Envelope'],
    ['an Envelope in an unknown namespace', () => postSoap(backend.url, 'Geocode', geocode.replace('http://schemas.xmlsoap.org/soap/envelope/', 'http://example.com/envelope')),
      'soap:VersionMismatch', 'the Envelope must be in the SOAP 1.1 namespace http://schemas.xmlsoap.org/soap/envelope/'],
    ['an unknown SOAPAction', () => postSoap(backend.url, 'Teleport', geocode), 'soap:Client', `unknown SOAPAction "${MAPS_NAMESPACE}/Teleport"`],
    ['a gzip-encoded body', () => postSoap(backend.url, 'Geocode', gzipSync(geocode), { 'content-encoding': 'gzip' }),
      'soap:Client', 'Content-Encoding gzip is not supported; send the envelope uncompressed'],
    ['a JSON content type', () => postSoap(backend.url, 'Geocode', geocode, { 'content-type': 'application/json' }),
      'soap:Client', 'Content-Type application/json is not supported; SOAP 1.1 requests are text/xml'],
  ];

  for (const [what, send, faultcode, faultstring] of refusals) {
    it(`refuses ${what}`, async () => {
      const reply = await send();
      expect(reply.status).toBe(500);
      expect(reply.contentType).toBe('text/xml; charset=utf-8');
      expect(faultOf(reply.text)).toEqual({ faultcode, faultstring });
      expect((await readStats(backend.url)).total).toBe(0);
    });
  }

  it('refuses a body over 1 MiB with a declared length, then serves the next connection', async () => {
    const big = geocode.replace('Berlin', 'x'.repeat(DEFAULT_MAX_REQUEST_BYTES));
    const reply = await postSoap(backend.url, 'Geocode', big);
    expect(reply.status).toBe(500);
    expect(faultOf(reply.text)).toEqual({ faultcode: 'soap:Client', faultstring: 'request body exceeds 1048576 bytes' });
    expect((await postSoap(backend.url, 'Geocode', geocode)).status).toBe(200);
    expect((await readStats(backend.url)).operations).toEqual({ Geocode: 1 });
  });

  it('refuses a streamed body once it passes 1 MiB', async () => {
    const piece = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // 2 MiB in all, so the cap is crossed mid-stream, not by a declared length.
        if (sent >= 2 * DEFAULT_MAX_REQUEST_BYTES) controller.close();
        else {
          sent += piece.byteLength;
          controller.enqueue(piece);
        }
      },
    });
    const response = await fetch(`${backend.url}/soap`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(500);
    expect(faultOf(await response.text())?.faultstring).toBe('request body exceeds 1048576 bytes');
  });

  it('accepts a body of exactly 1 MiB', async () => {
    const filler = DEFAULT_MAX_REQUEST_BYTES - Buffer.byteLength(geocode) + 'Berlin'.length - 'Berlin '.length;
    const exact = geocode.replace('Berlin', `Berlin ${'x'.repeat(filler)}`);
    expect(Buffer.byteLength(exact)).toBe(DEFAULT_MAX_REQUEST_BYTES);
    const reply = await postSoap(backend.url, 'Geocode', exact);
    expect(reply.status).toBe(200);
    expect((await readStats(backend.url)).operations).toEqual({ Geocode: 1 });
  });
});
