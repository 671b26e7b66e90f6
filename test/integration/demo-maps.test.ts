import { createServer, type Server } from 'node:http';
import type { GraphQLError } from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import { formatAddress, type PlaceRecord } from '../../sources/demo/seed.ts';
import { closeServer, listen } from '../../sources/demo/server.ts';
import { armFault, credentialsSeen, loadDemoSources, readStats, resetBackend, startTestSources, type DemoSources, type TestSources } from '../helpers/demo-sources.ts';
import { RESILIENCE_DEFAULTS } from '../../gateway/upstream/resilience.ts';

const READ_ATTEMPTS = 1 + RESILIENCE_DEFAULTS.maxRetries;
import { MAPS_MAX_BATCH } from '../../sources/maps/contract.ts';
import type { Place } from '../../sources/maps/loaders.ts';

let t: TestSources;
let url: string;
const place = (index: number) => t.seed.places[index] as PlaceRecord;
const maps = () => t.source('maps');

beforeAll(async () => {
  t = await startTestSources(['maps']);
  url = t.backends.maps!.url;
});
afterAll(async () => {
  await t?.close();
});
beforeEach(async () => {
  await resetBackend(url);
});

async function failureOf(promise: Promise<unknown>): Promise<UpstreamError> {
  const outcome = await promise.then((value) => ({ value }), (error: unknown) => ({ error }));
  if (!('error' in outcome)) throw new Error(`expected an UpstreamError, resolved with ${JSON.stringify(outcome.value)}`);
  if (!(outcome.error instanceof UpstreamError)) throw new Error(`expected an UpstreamError, got ${String(outcome.error)}`);
  return outcome.error;
}

/** The catalogued error (a GraphQLError with `extensions.code`) `promise` must reject with. */
async function cataloguedOf(promise: Promise<unknown>): Promise<GraphQLError> {
  const error = await promise.then(() => undefined, (err: unknown) => err);
  if (!(error instanceof Error) || !('extensions' in error)) throw new Error(`expected a catalogued error, got ${String(error)}`);
  return error as GraphQLError;
}

describe('maps source against the real backend', () => {
  it('geocodes a customer address to that customer\'s place, exact match first', async () => {
    const customer = t.seed.customers[7]!;
    const places = await maps().call<Place[]>('geocode', { address: formatAddress(customer.address) });
    expect(places[0]).toEqual(t.seed.places[7]);
    expect((await readStats(url)).operations).toEqual({ Geocode: 1 });
  });

  it('geocodes a loose address (case, punctuation, word order ignored) to at most 5 places', async () => {
    const target = place(0);
    expect((await maps().call<Place[]>('geocode', { address: target.formattedAddress.toUpperCase().replace(/,/g, ' ; ') }))[0]).toEqual(target);
    expect(await maps().call('geocode', { address: 'Paris' })).toHaveLength(5);
  });

  it('returns an empty list for an unknown address, and sends XML-special characters intact', async () => {
    expect(await maps().call('geocode', { address: 'Atlantis <Road> & "Sons" 1' })).toEqual([]);
    expect((await readStats(url)).operations).toEqual({ Geocode: 1 });
  });

  it('geocodes a batch in one call, answering each address as given, unknown and blank ones empty', async () => {
    const known = place(2).formattedAddress;
    const padded = `  ${place(3).formattedAddress} `;
    const odd = 'Nowhere & <Co>\r\n1';
    const results = await t.loaders().geocode.loadMany([known, padded, odd, known, '   ']);
    expect((results[0] as Place[])[0]).toEqual(place(2));
    expect((results[1] as Place[])[0]).toEqual(place(3));
    expect(results[2]).toEqual([]);
    expect(results[3]).toEqual(results[0]);
    expect(results[4]).toEqual([]);
    // Duplicates and blanks are not sent: one call asking for 3 addresses.
    expect((await readStats(url)).batchSizes).toEqual({ GeocodeBatch: [3] });
  });


  it('splits a batch of 250 addresses into calls of at most 100', async () => {
    const addresses = t.seed.places.slice(0, 250).map((p) => p.formattedAddress);
    const results = await t.loaders().geocode.loadMany(addresses);
    expect(results).toHaveLength(250);
    expect(addresses.every((_, i) => (results[i] as Place[])[0]?.id === t.seed.places[i]!.id)).toBe(true);
    const sizes = (await readStats(url)).batchSizes.GeocodeBatch ?? [];
    expect([...sizes].sort((a, b) => b - a)).toEqual([MAPS_MAX_BATCH, MAPS_MAX_BATCH, 50]);
  });

  it('reverse geocodes a place\'s own position to it, and open sea to null', async () => {
    const shop = place(t.seed.customers.length);
    expect(await maps().call('reverseGeocode', { lat: shop.location.lat, lng: shop.location.lng })).toEqual(shop);
    expect(await maps().call('reverseGeocode', { lat: 0, lng: -30 })).toBeNull();
  });

  it('gets a place by id, and null for an unknown id, by its operation and by its loader', async () => {
    expect(await maps().call('getPlace', { id: place(11).id })).toEqual(place(11));
    expect(await maps().call('getPlace', { id: 'plc_doesnotexist' })).toBeNull();
    expect(await t.loaders().place.loadMany([place(11).id, 'plc_doesnotexist'])).toEqual([place(11), null]);
  });

  it('loads places each once, under their own ids, in calls of at most 100 ids', async () => {
    const ids = t.seed.places.slice(0, 149).map((p) => p.id);
    const found = await t.loaders().place.loadMany([...ids, 'plc_doesnotexist', ids[0]!]);
    expect(found).toEqual([...t.seed.places.slice(0, 149), null, t.seed.places[0]]);
    const sizes = (await readStats(url)).batchSizes.GetPlaces ?? [];
    expect([...sizes].sort((a, b) => b - a)).toEqual([100, 50]);
  });

  it('makes no call for an empty batch', async () => {
    const loaders = t.loaders();
    expect(await loaders.place.loadMany([])).toEqual([]);
    expect(await loaders.geocode.loadMany([])).toEqual([]);
    expect(await loaders.geocode.load('   ')).toEqual([]);
    expect((await readStats(url)).total).toBe(0);
  });

  it('measures Berlin to Paris as 877464.5 m', async () => {
    expect(await maps().call('distance', { from: { lat: 52.52, lng: 13.405 }, to: { lat: 48.8566, lng: 2.3522 } })).toBe(877464.5);
  });

  it('sends the gateway\'s WS-Security UsernameToken, and nothing else', async () => {
    await maps().call('getPlace', { id: place(1).id });
    await t.loaders().place.load(place(2).id);
    expect(await credentialsSeen(url)).toEqual([`wsse ${t.credentials.maps.username}:${t.credentials.maps.apiKey}`]);
  });

  it('probes GET / without counting an operation', async () => {
    await expect(t.loaded.maps!.runtime!.probe()).resolves.toBeUndefined();
    expect(await readStats(url)).toMatchObject({ total: 0, probes: 1 });
  });
});

describe('maps source failures', () => {
  it('turns an injected fault into UpstreamError soap_fault with upstreamCode Server, once every retry of the read failed too', async () => {
    // Fresh sources: a breaker of their own, so this test's failures count for no other test.
    const sources = await t.reload();
    await armFault(url, 'GetPlaces', READ_ATTEMPTS);
    const error = await failureOf(sources.loaders().place.load(place(0).id));
    expect({ ...error, message: error.message }).toMatchObject({
      source: 'maps', operation: 'GetPlaces', failure: 'soap_fault', status: 500, upstreamCode: 'Server',
      message: 'GetPlaces failed: injected fault',
    });
    // A maps look-up is a read (a WSDL operation served as a query): retried, as every read is.
    expect((await readStats(url)).operations).toEqual({ GetPlaces: READ_ATTEMPTS });
  });

  it('turns bad input into soap_fault with upstreamCode Client', async () => {
    const error = await failureOf(maps().call('distance', { from: { lat: 0, lng: 0 }, to: { lat: 0, lng: 200 } }));
    expect(error).toMatchObject({ source: 'maps', operation: 'Distance', failure: 'soap_fault', status: 500, upstreamCode: 'Client' });
    expect(error.message).toBe('DistanceRequest/to/lng must be a longitude between -180 and 180');
  });

  it('reports a closed port as unreachable', async () => {
    const gone = createServer();
    const goneUrl = await listen(gone);
    await closeServer(gone);
    const closed = await loadDemoSources({ urls: { maps: goneUrl }, credentials: t.credentials });
    expect(await failureOf(closed.source('maps').call('getPlace', { id: 'plc_x' }))).toMatchObject({ source: 'maps', operation: 'GetPlace', failure: 'unreachable' });
    expect(await failureOf(closed.loaded.maps!.runtime!.probe())).toMatchObject({ operation: 'probe', failure: 'unreachable' });
  });
});

describe('maps source against a misbehaving server', () => {
  let fake: Server;
  let fakeUrl: string;
  let reply: { status: number; contentType: string; body: string };
  let seen: { url: string; body: string }[];
  let sources: DemoSources;
  const credentials = { payments: { secretKey: 'sk', webhookSecret: 'whsec_odd' }, maps: { username: 'odd-user', apiKey: 'odd-key' }, messaging: { accountSid: 'AC1', authToken: 't' } };

  beforeAll(async () => {
    fake = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        seen.push({ url: req.url ?? '', body });
        res.writeHead(reply.status, { 'content-type': reply.contentType });
        res.end(reply.body);
      });
    });
    fakeUrl = await listen(fake);
    sources = await loadDemoSources({ urls: { maps: fakeUrl }, credentials });
  });
  afterAll(async () => {
    await closeServer(fake);
  });
  beforeEach(() => {
    seen = [];
  });

  const soapReply = (body: string) =>
    `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>${body}</s:Body></s:Envelope>`;
  const fakeMaps = () => sources.source('maps');

  it('sends each call to <url>/soap with the UsernameToken the entry configures', async () => {
    reply = { status: 200, contentType: 'text/xml', body: soapReply('<GetPlaceResponse/>') };
    expect(await fakeMaps().call('getPlace', { id: 'p' })).toBeNull();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/soap');
    expect(seen[0]!.body).toMatch(/<(\w+:)?Username>odd-user<\/(\w+:)?Username>/);
    expect(seen[0]!.body).toMatch(/<(\w+:)?Password[^>]*>odd-key<\/(\w+:)?Password>/);
  });

  it('refuses a reply with a DTD as bad_response without parsing it', async () => {
    reply = { status: 200, contentType: 'text/xml', body: `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>${soapReply('<GetPlaceResponse/>').slice(21)}` };
    expect(await failureOf(fakeMaps().call('getPlace', { id: 'p' }))).toMatchObject({ source: 'maps', failure: 'bad_response', operation: 'GetPlace' });
  });

  it('reports a non-SOAP 502 as http with its status', async () => {
    reply = { status: 502, contentType: 'text/html', body: '<html>Bad Gateway</html>' };
    expect(await failureOf(fakeMaps().call('geocode', { address: 'x' }))).toMatchObject({ source: 'maps', operation: 'Geocode', failure: 'http', status: 502 });
  });

  it('reports a probe answered with 503 as failed, and a 404 as up', async () => {
    reply = { status: 503, contentType: 'text/plain', body: 'down' };
    await expect(sources.loaded.maps!.runtime!.probe()).rejects.toThrow('maps answered its probe with HTTP 503');
    reply = { status: 404, contentType: 'text/plain', body: 'no' };
    await expect(sources.loaded.maps!.runtime!.probe()).resolves.toBeUndefined();
  });

  it('reports malformed XML as bad_response', async () => {
    reply = { status: 200, contentType: 'text/xml', body: soapReply('<GetPlaceResponse>') };
    expect(await failureOf(fakeMaps().call('getPlace', { id: 'p' }))).toMatchObject({ failure: 'bad_response', operation: 'GetPlace' });
  });

  // Not "no such place": a Body holding something else is not the operation's answer.
  it('reports a reply without the operation\'s response element as bad_response', async () => {
    reply = { status: 200, contentType: 'text/xml', body: soapReply('<SomethingElse/>') };
    expect(await failureOf(fakeMaps().call('getPlace', { id: 'p' }))).toMatchObject({ failure: 'bad_response' });
  });

  it('reports a non-numeric distance as bad_response', async () => {
    reply = { status: 200, contentType: 'text/xml', body: soapReply('<DistanceResponse><meters>far</meters></DistanceResponse>') };
    expect(await failureOf(fakeMaps().call('distance', { from: { lat: 0, lng: 0 }, to: { lat: 1, lng: 1 } }))).toMatchObject({ failure: 'bad_response' });
  });

  it('reports a GeocodeBatch reply missing a query as SOURCE_BAD_RESPONSE, never matching by position', async () => {
    reply = { status: 200, contentType: 'text/xml', body: soapReply('<GeocodeBatchResponse><result><query>b</query></result></GeocodeBatchResponse>') };
    const error = await cataloguedOf(sources.loaders().geocode.load('a'));
    expect(error.extensions).toMatchObject({ code: 'SOURCE_BAD_RESPONSE', source: 'maps' });
  });

  it('answers each place id with its own place, whatever the order of the reply', async () => {
    const placeXml = (id: string) => `<place><id>${id}</id><name>${id}</name><formattedAddress>1 A St</formattedAddress><kind>address</kind><location><lat>1</lat><lng>2</lng></location></place>`;
    reply = { status: 200, contentType: 'text/xml', body: soapReply(`<GetPlacesResponse>${placeXml('p2')}${placeXml('p1')}</GetPlacesResponse>`) };
    const found = await sources.loaders().place.loadMany(['p1', 'p2', 'p3']);
    expect(found.map((p) => (p instanceof Error ? p : p?.id ?? null))).toEqual(['p1', 'p2', null]);
    expect(seen).toHaveLength(1);
  });

  it('decodes escaped text in a reply', async () => {
    reply = {
      status: 200,
      contentType: 'text/xml; charset=utf-8',
      body: soapReply('<GetPlaceResponse><place><id>p1</id><name>Tom &amp; Jerry&#39;s &lt;Caf&#xE9;&gt;</name>'
        + '<formattedAddress>1 A St</formattedAddress><kind>business</kind><location><lat>1.5</lat><lng>-2</lng></location></place></GetPlaceResponse>'),
    };
    expect(await fakeMaps().call('getPlace', { id: 'p1' })).toEqual({
      id: 'p1', name: "Tom & Jerry's <Café>", formattedAddress: '1 A St', kind: 'business', location: { lat: 1.5, lng: -2 },
    });
  });
});
