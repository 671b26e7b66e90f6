import { createServer, type Server } from 'node:http';
import { DEMO_CREDENTIALS } from '../demo/credentials.ts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSeed, formatAddress, type PlaceRecord } from '../demo/seed.ts';
import { closeServer, listen, type DemoBackend } from '../demo/server.ts';
import { UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import { startMapsBackend } from './backend/backend.ts';
import { createMapsClient, MAPS_MAX_BATCH, MAPS_SOURCE, type MapsClient } from './client.ts';
import { armFault, readStats, resetBackend } from './backend/test-support.ts';

const seed = createSeed();
const place = (index: number) => seed.places[index] as PlaceRecord;

let backend: DemoBackend;
let client: MapsClient;

beforeAll(async () => {
  backend = await startMapsBackend({ seed });
  client = createMapsClient({ url: backend.url }, DEMO_CREDENTIALS.maps);
});
afterAll(async () => {
  await backend?.close();
});
beforeEach(async () => {
  await resetBackend(backend.url);
});

async function failureOf(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(() => undefined, (err: unknown) => err);
  if (!(error instanceof UpstreamError)) throw new Error(`expected an UpstreamError, got ${String(error)}`);
  return error;
}

describe('maps client against the real backend', () => {
  it('geocodes a customer address to that customer\'s place, exact match first', async () => {
    const customer = seed.customers[7]!;
    const places = await client.geocode(formatAddress(customer.address));
    expect(places[0]).toEqual(seed.places[7]);
    expect((await readStats(backend.url)).operations).toEqual({ Geocode: 1 });
  });

  it('geocodes a loose address (case, punctuation, word order ignored) to at most 5 places', async () => {
    const target = place(0);
    expect((await client.geocode(target.formattedAddress.toUpperCase().replace(/,/g, ' ; ')))[0]).toEqual(target);
    expect(await client.geocode('Paris')).toHaveLength(5);
  });

  it('returns an empty list for an unknown address, and sends XML-special characters intact', async () => {
    expect(await client.geocode('Atlantis <Road> & "Sons" 1')).toEqual([]);
    expect((await readStats(backend.url)).operations).toEqual({ Geocode: 1 });
  });

  it('geocodes a batch in one call keyed by each address as given, unknown ones empty', async () => {
    const known = place(2).formattedAddress;
    const padded = `  ${place(3).formattedAddress} `;
    const odd = 'Nowhere & <Co>\r\n1';
    const results = await client.geocodeBatch([known, padded, odd, known, '   ']);
    expect([...results.keys()]).toEqual([known, padded, odd, '   ']);
    expect(results.get(known)?.[0]).toEqual(place(2));
    expect(results.get(padded)?.[0]).toEqual(place(3));
    expect(results.get(odd)).toEqual([]);
    expect(results.get('   ')).toEqual([]);
    // Duplicates and blanks are not sent: one call asking for 3 addresses.
    expect((await readStats(backend.url)).batchSizes).toEqual({ GeocodeBatch: [3] });
  });

  it('splits a batch of 250 addresses into calls of at most 100', async () => {
    const addresses = seed.places.slice(0, 250).map((p) => p.formattedAddress);
    const results = await client.geocodeBatch(addresses);
    expect(results.size).toBe(250);
    expect(addresses.every((a, i) => results.get(a)?.[0]?.id === seed.places[i]!.id)).toBe(true);
    const sizes = (await readStats(backend.url)).batchSizes.GeocodeBatch ?? [];
    expect([...sizes].sort((a, b) => b - a)).toEqual([MAPS_MAX_BATCH, MAPS_MAX_BATCH, 50]);
  });

  it('reverse geocodes a place\'s own position to it, and open sea to null', async () => {
    const shop = place(seed.customers.length);
    expect(await client.reverseGeocode(shop.location)).toEqual(shop);
    expect(await client.reverseGeocode({ lat: 0, lng: -30 })).toBeNull();
  });

  it('gets a place by id, and null for an unknown id', async () => {
    expect(await client.getPlace(place(11).id)).toEqual(place(11));
    expect(await client.getPlace('plc_doesnotexist')).toBeNull();
  });

  it('gets places found only, each once, in calls of at most 100 ids', async () => {
    const ids = seed.places.slice(0, 149).map((p) => p.id);
    const found = await client.getPlaces([...ids, 'plc_doesnotexist', ids[0]!]);
    expect(found.map((p) => p.id).sort()).toEqual([...ids].sort());
    const sizes = (await readStats(backend.url)).batchSizes.GetPlaces ?? [];
    expect([...sizes].sort((a, b) => b - a)).toEqual([100, 50]);
  });

  it('makes no call for an empty batch', async () => {
    expect(await client.getPlaces([])).toEqual([]);
    expect((await client.geocodeBatch([])).size).toBe(0);
    expect((await readStats(backend.url)).total).toBe(0);
  });

  it('measures Berlin to Paris as 877464.5 m', async () => {
    expect(await client.distance({ lat: 52.52, lng: 13.405 }, { lat: 48.8566, lng: 2.3522 })).toBe(877464.5);
  });

  it('probes GET / without counting an operation', async () => {
    await expect(client.probe()).resolves.toBeUndefined();
    expect((await readStats(backend.url)).total).toBe(0);
  });
});

describe('maps client failures', () => {
  it('turns an injected fault into UpstreamError soap_fault with upstreamCode Server', async () => {
    await armFault(backend.url, 'GetPlaces');
    const error = await failureOf(client.getPlaces([place(0).id]));
    expect({ ...error, message: error.message }).toMatchObject({
      source: MAPS_SOURCE, operation: 'GetPlaces', failure: 'soap_fault', status: 500, upstreamCode: 'Server',
      message: 'GetPlaces failed: injected fault',
    });
  });

  it('turns bad input into soap_fault with upstreamCode Client', async () => {
    const error = await failureOf(client.distance({ lat: 0, lng: 0 }, { lat: 0, lng: 200 }));
    expect(error).toMatchObject({ operation: 'Distance', failure: 'soap_fault', status: 500, upstreamCode: 'Client' });
    expect(error.message).toBe('DistanceRequest/to/lng must be a longitude between -180 and 180');
  });

  it('reports a closed port as unreachable', async () => {
    const gone = await startMapsBackend();
    await gone.close();
    const closed = createMapsClient({ url: gone.url }, DEMO_CREDENTIALS.maps);
    expect(await failureOf(closed.getPlace('plc_x'))).toMatchObject({ source: 'maps', operation: 'GetPlace', failure: 'unreachable' });
    expect(await failureOf(closed.probe())).toMatchObject({ operation: 'probe', failure: 'unreachable' });
  });
});

describe('maps client against a misbehaving server', () => {
  let fake: Server;
  let fakeUrl: string;
  let reply: { status: number; contentType: string; body: string };

  beforeAll(async () => {
    fake = createServer((req, res) => {
      req.resume();
      res.writeHead(reply.status, { 'content-type': reply.contentType });
      res.end(reply.body);
    });
    fakeUrl = await listen(fake);
  });
  afterAll(async () => {
    await closeServer(fake);
  });

  const soapReply = (body: string) =>
    `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>${body}</s:Body></s:Envelope>`;

  it('refuses a reply with a DTD as bad_response without parsing it', async () => {
    reply = { status: 200, contentType: 'text/xml', body: `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>${soapReply('<GetPlaceResponse/>').slice(21)}` };
    expect(await failureOf(createMapsClient({ url: fakeUrl }, DEMO_CREDENTIALS.maps).getPlace('p'))).toMatchObject({ failure: 'bad_response', operation: 'GetPlace' });
  });

  it('reports a non-SOAP 502 as http with its status', async () => {
    reply = { status: 502, contentType: 'text/html', body: '<html>Bad Gateway</html>' };
    expect(await failureOf(createMapsClient({ url: fakeUrl }, DEMO_CREDENTIALS.maps).geocode('x'))).toMatchObject({ failure: 'http', status: 502 });
  });

  it('reports a probe answered with 503 as http, and a 404 as up', async () => {
    reply = { status: 503, contentType: 'text/plain', body: 'down' };
    expect(await failureOf(createMapsClient({ url: fakeUrl }, DEMO_CREDENTIALS.maps).probe())).toMatchObject({ failure: 'http', status: 503 });
    reply = { status: 404, contentType: 'text/plain', body: 'no' };
    await expect(createMapsClient({ url: fakeUrl }, DEMO_CREDENTIALS.maps).probe()).resolves.toBeUndefined();
  });

  it('reports malformed XML, a missing response element and a bad number as bad_response', async () => {
    const maps = createMapsClient({ url: fakeUrl }, DEMO_CREDENTIALS.maps);
    reply = { status: 200, contentType: 'text/xml', body: soapReply('<GetPlaceResponse>') };
    expect(await failureOf(maps.getPlace('p'))).toMatchObject({ failure: 'bad_response' });
    reply = { status: 200, contentType: 'text/xml', body: soapReply('<SomethingElse/>') };
    expect(await failureOf(maps.getPlace('p'))).toMatchObject({ failure: 'bad_response' });
    reply = { status: 200, contentType: 'text/xml', body: soapReply('<DistanceResponse><meters>far</meters></DistanceResponse>') };
    expect(await failureOf(maps.distance({ lat: 0, lng: 0 }, { lat: 1, lng: 1 }))).toMatchObject({ failure: 'bad_response' });
  });

  it('reports a GeocodeBatch reply missing a query as bad_response, never matching by position', async () => {
    reply = { status: 200, contentType: 'text/xml', body: soapReply('<GeocodeBatchResponse><result><query>b</query></result></GeocodeBatchResponse>') };
    expect(await failureOf(createMapsClient({ url: fakeUrl }, DEMO_CREDENTIALS.maps).geocodeBatch(['a']))).toMatchObject({ failure: 'bad_response', operation: 'GeocodeBatch' });
  });

  it('decodes escaped text in a reply', async () => {
    reply = {
      status: 200,
      contentType: 'text/xml; charset=utf-8',
      body: soapReply('<GetPlaceResponse><place><id>p1</id><name>Tom &amp; Jerry&#39;s &lt;Caf&#xE9;&gt;</name>'
        + '<formattedAddress>1 A St</formattedAddress><kind>business</kind><location><lat>1.5</lat><lng>-2</lng></location></place></GetPlaceResponse>'),
    };
    expect(await createMapsClient({ url: fakeUrl }, DEMO_CREDENTIALS.maps).getPlace('p1')).toEqual({
      id: 'p1', name: "Tom & Jerry's <Café>", formattedAddress: '1 A St', kind: 'business', location: { lat: 1.5, lng: -2 },
    });
  });
});
