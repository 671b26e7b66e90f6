import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import * as soap from 'soap';
import { createFaults, handleFaultsRoute } from '../../demo/faults.ts';
import { createSeed } from '../../demo/seed.ts';
import { closeServer, listen, type DemoBackend, type DemoBackendOptions } from '../../demo/server.ts';
import { createStats, handleStatsRoute, sendJson } from '../../demo/stats.ts';
import { MAPS_SOAP_PATH } from '../contract.ts';
import { createPlaceIndex } from './place-index.ts';
import { handlePlacesRoute } from './place-admin.ts';
import { DEFAULT_MAX_REQUEST_BYTES, readSoapRequest, usernameTokenOf } from './request-guard.ts';
import { DEMO_CREDENTIALS } from '../../demo/credentials.ts';
import { createMapsService } from './service.ts';
import { sendFault } from './soap-fault.ts';

/** The contract document, as committed (its soap:address is the default port 4102). */
export const MAPS_WSDL_URL = new URL('../service.wsdl', import.meta.url);

export interface MapsBackendOptions extends DemoBackendOptions {
  /** Largest SOAP request body accepted, in bytes; larger is a soap:Client fault. Default 1 MiB. */
  maxRequestBytes?: number;
}

/** The WSDL with its soap:address pointing at where this backend actually listens, as ASMX and WCF do. */
function wsdlFor(wsdl: string, endpoint: string): string {
  return wsdl.replace(/(<soap:address\s+location=")[^"]*(")/, `$1${endpoint}$2`);
}

/**
 * Starts the maps demo backend: a SOAP 1.1 document/literal service described by service.wsdl,
 * at `{url}/soap` (WSDL at `GET {url}/soap?wsdl`), with `/_stats`, `/_faults`, `/_places/<id>`
 * (a place's owner changing it) and a `GET /` probe.
 */
export async function startMapsBackend(options: MapsBackendOptions = {}): Promise<DemoBackend> {
  const { port = 0, host = '127.0.0.1', seed = createSeed(), maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES, credentials = DEMO_CREDENTIALS } = options;
  const accepted = `wsse ${credentials.maps.username}:${credentials.maps.apiKey}`;
  const stats = createStats();
  const faults = createFaults();
  const index = createPlaceIndex(seed.places);
  const services = createMapsService({ index, stats, faults });
  const wsdl = readFileSync(MAPS_WSDL_URL, 'utf8');

  const server = createServer();
  // soap.listen installs its own 'request' listener, which answers its path before any other
  // listener and reads the body itself. Taken off the server, it runs behind our handler, which
  // hands it the already-checked body through `req.body` (the hook it keeps for Express).
  await new Promise<void>((resolve, reject) => {
    soap.listen(server, {
      path: MAPS_SOAP_PATH,
      services,
      xml: wsdl,
      suppressStack: true,
      callback: (err: unknown) => (err ? reject(err) : resolve()),
    });
  });
  const soapListeners = server.listeners('request') as RequestListener[];
  const soapListener = soapListeners[0];
  if (soapListeners.length !== 1 || !soapListener) throw new Error('soap.listen did not install exactly one request listener');
  server.removeAllListeners('request');

  let servedWsdl = wsdl;
  const handleSoap = async (req: IncomingMessage, res: ServerResponse, search: string) => {
    if (req.method === 'GET' && search.toLowerCase().startsWith('?wsdl')) {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8', 'content-length': Buffer.byteLength(servedWsdl) });
      res.end(servedWsdl);
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      sendJson(res, 405, { error: 'POST a SOAP envelope, or GET ?wsdl' }, { allow: 'GET, POST' });
      return;
    }
    const read = await readSoapRequest(req, res, maxRequestBytes);
    if (read === undefined) return;
    // The account's API key in a WS-Security UsernameToken (PasswordText), as SOAP services carry it.
    const presented = usernameTokenOf(read.root);
    stats.sawCredential(presented);
    if (presented !== accepted) {
      sendFault(res, 'Client', 'Authentication failed: send the API key in a WS-Security UsernameToken header.',
        { 'www-authenticate': 'WSSE realm="maps", profile="UsernameToken"' }, 401);
      return;
    }
    (req as IncomingMessage & { body?: string }).body = read.xml;
    soapListener.call(server, req, res);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (handleStatsRoute(req, res, stats) || handleFaultsRoute(req, res, faults) || handlePlacesRoute(req, res, index)) return;
    const { pathname, search } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname === MAPS_SOAP_PATH || pathname === `${MAPS_SOAP_PATH}/`) {
      handleSoap(req, res, search).catch(() => {
        // The client went away mid-body, or the soap package threw synchronously.
        if (!res.headersSent) sendFault(res, 'Server', 'the request could not be processed');
        else res.destroy();
      });
      return;
    }
    req.resume();
    if (pathname === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendJson(res, 200, { service: 'maps' });
      return;
    }
    sendJson(res, 404, { error: `no route for ${req.method} ${pathname}` });
  });

  const url = await listen(server, port, host);
  servedWsdl = wsdlFor(wsdl, `${url}${MAPS_SOAP_PATH}`);
  return {
    name: 'maps',
    url,
    stats,
    close: () => closeServer(server),
  };
}
