import { DEMO_CREDENTIALS } from '../../demo/credentials.ts';
import { fileURLToPath } from 'node:url';
import * as soap from 'soap';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSeed, formatAddress, type PlaceRecord } from '../../demo/seed.ts';
import type { DemoBackend } from '../../demo/server.ts';
import { MAPS_WSDL_URL, startMapsBackend } from './backend.ts';
import { MAPS_NAMESPACE, SOAP11_ENVELOPE_NAMESPACE } from '../contract.ts';
import { armFault, envelope, faultOf, postSoap, readStats, resetBackend } from './test-support.ts';

/**
 * The contract test: service.wsdl describes what the backend does. The soap package's own
 * client, built from nothing but the document, calls every operation; hand-written envelopes
 * pin the exact XML on the wire.
 */
const seed = createSeed();
const place = (index: number) => seed.places[index] as PlaceRecord;
const customerPlace = (address: string) => seed.places.find((p) => p.formattedAddress === address) as PlaceRecord;

let backend: DemoBackend;
let client: soap.Client;

beforeAll(async () => {
  backend = await startMapsBackend({ seed });
  client = await soap.createClientAsync(fileURLToPath(MAPS_WSDL_URL), { endpoint: `${backend.url}/soap` });
  // The soap package's own WS-Security: a stock SOAP client authenticates the way Junction does.
  client.setSecurity(new soap.WSSecurity(DEMO_CREDENTIALS.maps.username, DEMO_CREDENTIALS.maps.apiKey, { passwordType: 'PasswordText' }));
});
afterAll(async () => {
  await backend?.close();
});
beforeEach(async () => {
  await resetBackend(backend.url);
});

describe('service.wsdl', () => {
  it('describes MapsService/MapsPort with the seven operations, each with its SOAPAction', () => {
    const description = client.describe() as Record<string, Record<string, Record<string, unknown>>>;
    const operations = Object.keys(description.MapsService?.MapsPort ?? {});
    expect(operations).toEqual(['Geocode', 'GeocodeBatch', 'ReverseGeocode', 'GetPlace', 'GetPlaces', 'ListPlaces', 'Distance']);
    const methods = client.wsdl.definitions.bindings.MapsSoapBinding?.methods ?? {};
    expect(operations.map((name) => (methods[name] as { soapAction?: string } | undefined)?.soapAction))
      .toEqual(operations.map((name) => `${MAPS_NAMESPACE}/${name}`));
  });

  it('lets the soap package client call every operation and get well-formed results', async () => {
    const home = place(0);
    const shop = place(seed.customers.length); // the first merchant's place

    const [geocode] = await client.GeocodeAsync({ address: home.formattedAddress });
    expect(geocode.place[0]).toEqual(home);

    const [batch] = await client.GeocodeBatchAsync({ address: [home.formattedAddress, 'Nowhere Lane 0'] });
    expect(batch.result).toHaveLength(2);
    expect(batch.result[0]).toEqual({ query: home.formattedAddress, place: [home] });
    expect(batch.result[1]).toEqual({ query: 'Nowhere Lane 0' });

    const [reverse] = await client.ReverseGeocodeAsync({ lat: shop.location.lat, lng: shop.location.lng });
    expect(reverse.place).toEqual(shop);

    const [found] = await client.GetPlaceAsync({ id: shop.id });
    expect(found.place).toEqual(shop);
    const [missing] = await client.GetPlaceAsync({ id: 'plc_doesnotexist' });
    expect(missing?.place).toBeUndefined();

    const [many] = await client.GetPlacesAsync({ id: [home.id, 'plc_doesnotexist', shop.id] });
    expect(many.place).toEqual([home, shop]);

    const [businesses] = await client.ListPlacesAsync({ kind: 'business' });
    expect(businesses.place).toEqual(seed.places.filter((p) => p.kind === 'business'));
    const [all] = await client.ListPlacesAsync({});
    expect(all.place).toHaveLength(seed.places.length);

    const [distance] = await client.DistanceAsync({ from: { lat: 52.52, lng: 13.405 }, to: { lat: 48.8566, lng: 2.3522 } });
    expect(distance.meters).toBe(877464.5);

    expect((await readStats(backend.url)).operations).toEqual({
      Geocode: 1, GeocodeBatch: 1, ReverseGeocode: 1, GetPlace: 2, GetPlaces: 1, ListPlaces: 2, Distance: 1,
    });
  });
});

describe('the wire format', () => {
  it('answers a hand-written GetPlace envelope with a qualified GetPlaceResponse in the service namespace', async () => {
    const p = place(3);
    const reply = await postSoap(backend.url, 'GetPlace', envelope(`<m:GetPlaceRequest><m:id>${p.id}</m:id></m:GetPlaceRequest>`));
    expect(reply.status).toBe(200);
    expect(reply.contentType).toBe('text/xml; charset=utf-8');
    expect(reply.text).toMatch(new RegExp(`^<\\?xml version="1\\.0" encoding="utf-8"\\?><soap:Envelope xmlns:soap="${SOAP11_ENVELOPE_NAMESPACE}"[^>]*><soap:Body>`));
    const body = /<soap:Body>([\s\S]*)<\/soap:Body>/.exec(reply.text)?.[1];
    expect(body).toBe(
      `<GetPlaceResponse xmlns="${MAPS_NAMESPACE}"><place><id>${p.id}</id><name>${p.name}</name>`
      + `<formattedAddress>${p.formattedAddress}</formattedAddress><kind>${p.kind}</kind>`
      + `<location><lat>${p.location.lat}</lat><lng>${p.location.lng}</lng></location></place></GetPlaceResponse>`,
    );
  });

  it('answers an unknown id with an empty GetPlaceResponse, not a fault', async () => {
    const reply = await postSoap(backend.url, 'GetPlace', envelope('<m:GetPlaceRequest><m:id>plc_nope</m:id></m:GetPlaceRequest>'));
    expect(reply.status).toBe(200);
    expect(/<soap:Body>([\s\S]*)<\/soap:Body>/.exec(reply.text)?.[1]).toBe(`<GetPlaceResponse xmlns="${MAPS_NAMESPACE}"></GetPlaceResponse>`);
  });

  it('answers Distance with one meters element rounded to 0.1 m', async () => {
    const reply = await postSoap(backend.url, 'Distance', envelope(
      '<m:DistanceRequest><m:from><m:lat>51.5072</m:lat><m:lng>-0.1276</m:lng></m:from>'
      + '<m:to><m:lat>48.8566</m:lat><m:lng>2.3522</m:lng></m:to></m:DistanceRequest>',
    ));
    expect(/<soap:Body>([\s\S]*)<\/soap:Body>/.exec(reply.text)?.[1]).toBe(`<DistanceResponse xmlns="${MAPS_NAMESPACE}"><meters>343530.3</meters></DistanceResponse>`);
  });
});

describe('a place changed by its owner (POST /_places/<id>)', () => {
  it('is answered changed by every operation from then on, and never counted; the seed is left as it was', async () => {
    const shop = place(seed.customers.length + 1);
    const changed = await fetch(`${backend.url}/_places/${shop.id}`, { method: 'POST', body: JSON.stringify({ name: 'Renamed Bakery', location: { lat: 1.5, lng: 2.5 } }) });
    expect(changed.status).toBe(200);
    const now = { ...shop, name: 'Renamed Bakery', location: { lat: 1.5, lng: 2.5 } };
    expect(await changed.json()).toEqual(now);
    expect((await client.GetPlaceAsync({ id: shop.id }))[0].place).toEqual(now);
    expect((await client.ListPlacesAsync({ kind: 'business' }))[0].place).toContainEqual(now);
    expect((await client.ReverseGeocodeAsync({ lat: 1.5, lng: 2.5 }))[0].place).toEqual(now);
    expect(seed.places.find((p) => p.id === shop.id)!.name).toBe(shop.name);
    expect((await readStats(backend.url)).operations).toEqual({ GetPlace: 1, ListPlaces: 1, ReverseGeocode: 1 });
    await fetch(`${backend.url}/_places/${shop.id}`, { method: 'POST', body: JSON.stringify({ name: shop.name, location: shop.location }) }).then((r) => r.arrayBuffer());
  });

  it('refuses an unknown id (404), a field that does not change (400) and a position off the globe (400)', async () => {
    const post = (id: string, body: unknown) => fetch(`${backend.url}/_places/${id}`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post('plc_nope', { name: 'x' })).status).toBe(404);
    expect(await (await post(place(0).id, { kind: 'business' })).json()).toEqual({ error: 'only name, formattedAddress and location change; not kind' });
    expect((await post(place(0).id, { location: { lat: 91, lng: 0 } })).status).toBe(400);
  });
});

describe('faults', () => {
  it('answers ListPlaces of a kind it does not know with soap:Client', async () => {
    const reply = await postSoap(backend.url, 'ListPlaces', envelope('<m:ListPlacesRequest><m:kind>shop</m:kind></m:ListPlacesRequest>'));
    expect(reply.status).toBe(500);
    expect(faultOf(reply.text)).toEqual({ faultcode: 'soap:Client', faultstring: 'ListPlacesRequest/kind must be "address" or "business"' });
  });

  it('answers a latitude out of range with HTTP 500 and faultcode soap:Client', async () => {
    const reply = await postSoap(backend.url, 'ReverseGeocode', envelope('<m:ReverseGeocodeRequest><m:lat>91</m:lat><m:lng>0</m:lng></m:ReverseGeocodeRequest>'));
    expect(reply.status).toBe(500);
    expect(reply.contentType).toBe('text/xml; charset=utf-8');
    expect(faultOf(reply.text)).toEqual({ faultcode: 'soap:Client', faultstring: 'ReverseGeocodeRequest/lat must be a latitude between -90 and 90' });
  });

  it('answers a missing required element with soap:Client', async () => {
    const reply = await postSoap(backend.url, 'Geocode', envelope('<m:GeocodeRequest/>'));
    expect(reply.status).toBe(500);
    expect(faultOf(reply.text)).toEqual({ faultcode: 'soap:Client', faultstring: 'GeocodeRequest/address is required' });
  });

  it('answers 101 ids with soap:Client and still counts the call with its batch size', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => `<m:id>plc_${i}</m:id>`).join('');
    const reply = await postSoap(backend.url, 'GetPlaces', envelope(`<m:GetPlacesRequest>${ids}</m:GetPlacesRequest>`));
    expect(reply.status).toBe(500);
    expect(faultOf(reply.text)).toEqual({ faultcode: 'soap:Client', faultstring: 'GetPlaces accepts at most 100 id elements, got 101' });
    expect((await readStats(backend.url)).batchSizes).toEqual({ GetPlaces: [101] });
  });

  it('answers an injected fault with soap:Server naming the operation, once per armed count', async () => {
    await armFault(backend.url, 'Geocode');
    const request = envelope('<m:GeocodeRequest><m:address>Berlin</m:address></m:GeocodeRequest>');
    const failed = await postSoap(backend.url, 'Geocode', request);
    expect(failed.status).toBe(500);
    expect(faultOf(failed.text)).toEqual({ faultcode: 'soap:Server', faultstring: 'Geocode failed: injected fault' });
    expect((await postSoap(backend.url, 'Geocode', request)).status).toBe(200);
    expect((await readStats(backend.url)).operations).toEqual({ Geocode: 2 });
  });
});

describe('batching', () => {
  it('counts a GeocodeBatch of 3 addresses (one unknown) as one request of batch size 3', async () => {
    const addresses = [place(0).formattedAddress, 'Atlantis Road 1, 00000 Atlantis, XX', place(1).formattedAddress];
    const [batch] = await client.GeocodeBatchAsync({ address: addresses });
    expect(batch.result.map((r: { query: string; place?: unknown[] }) => [r.query, r.place?.length ?? 0]))
      .toEqual([[addresses[0], 1], [addresses[1], 0], [addresses[2], 1]]);
    const stats = await readStats(backend.url);
    expect(stats.total).toBe(1);
    expect(stats.batchSizes).toEqual({ GeocodeBatch: [3] });
  });

  it('geocodes every seed customer address to that customer\'s place, exact match first', async () => {
    const addresses = seed.customers.map((c) => formatAddress(c.address));
    for (let i = 0; i < addresses.length; i += 100) {
      const chunk = addresses.slice(i, i + 100);
      const [batch] = await client.GeocodeBatchAsync({ address: chunk });
      const firstIds = batch.result.map((r: { place: PlaceRecord[] }) => r.place[0]?.id);
      expect(firstIds).toEqual(chunk.map((a) => customerPlace(a).id));
    }
    expect((await readStats(backend.url)).batchSizes).toEqual({ GeocodeBatch: [100, 100, 100] });
  });
});

describe('XML entity bomb', () => {
  it('refuses a request with a DTD as soap:Client without expanding it, and counts nothing', async () => {
    const bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
      + Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('')
      + ']>'
      + envelope('<m:GeocodeRequest><m:address>&lol9;</m:address></m:GeocodeRequest>').replace(/^<\?xml[^>]*\?>/, '');
    const reply = await postSoap(backend.url, 'Geocode', bomb);
    expect(reply.status).toBe(500);
    expect(faultOf(reply.text)).toEqual({ faultcode: 'soap:Client', faultstring: 'a SOAP message must not contain a Document Type Declaration' });
    expect(reply.text.length).toBeLessThan(400);
    expect((await readStats(backend.url)).total).toBe(0);
  });

  it('refuses an external entity declaration the same way', async () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
      + envelope('<m:GeocodeRequest><m:address>&xxe;</m:address></m:GeocodeRequest>').replace(/^<\?xml[^>]*\?>/, '');
    const reply = await postSoap(backend.url, 'Geocode', xxe);
    expect(reply.status).toBe(500);
    expect(faultOf(reply.text)?.faultcode).toBe('soap:Client');
    expect(reply.text).not.toContain('root:');
  });
});
