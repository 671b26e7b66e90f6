import type { GeoPoint } from './records.ts';
import { UpstreamError } from '../../gateway/upstream/upstream-error.ts';
import { callUpstream, joinUrl, type SourceClientOptions } from '../../gateway/upstream/upstream-fetch.ts';
import { MAPS_MAX_BATCH, type MapsOperation } from './contract.ts';
import { child, children, type XmlElement } from '../../gateway/upstream/xml.ts';
import { createSoapCaller, element, MAPS_SOURCE, textOf, type MapsCredentials } from './client-soap.ts';

export { MAPS_MAX_BATCH } from './contract.ts';
export { MAPS_SOURCE } from './client-soap.ts';

export interface Place {
  id: string;
  name: string;
  formattedAddress: string;
  /** "address" or "business". */
  kind: string;
  location: GeoPoint;
}

/** The gateway's client for the maps SOAP service. Every failure is an UpstreamError from source "maps". */
export interface MapsClient {
  /** Places matching an address, best first (at most 5); empty when the address is unknown. */
  geocode(address: string): Promise<Place[]>;
  /** Places per address, keyed by the address as given; sent in calls of at most 100 addresses. */
  geocodeBatch(addresses: readonly string[]): Promise<Map<string, Place[]>>;
  /** The place nearest to a position within 5 km, else null. */
  reverseGeocode(location: GeoPoint): Promise<Place | null>;
  getPlace(id: string): Promise<Place | null>;
  /** The places found (unknown ids left out); sent in calls of at most 100 ids. */
  getPlaces(ids: readonly string[]): Promise<Place[]>;
  /** Great-circle distance in meters, rounded to 0.1 m. */
  distance(from: GeoPoint, to: GeoPoint): Promise<number>;
  /** GET {url}/: resolves on any HTTP answer below 500. */
  probe(): Promise<void>;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function pointXml(point: GeoPoint): string {
  return element('lat', point.lat) + element('lng', point.lng);
}

export function createMapsClient(options: SourceClientOptions, credentials?: MapsCredentials): MapsClient {
  const call = createSoapCaller(options, credentials);

  const malformed = (operation: MapsOperation, what: string) =>
    new UpstreamError(`${MAPS_SOURCE} answered ${operation} with ${what}`, { source: MAPS_SOURCE, operation, failure: 'bad_response', status: 200 });

  const number = (operation: MapsOperation, value: unknown, what: string): number => {
    const parsed = typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
    if (!Number.isFinite(parsed)) throw malformed(operation, `a non-numeric ${what}`);
    return parsed;
  };

  /** A `tns:Place`, checked field by field: a reply the gateway cannot trust is a bad_response. */
  const place = (operation: MapsOperation, node: XmlElement): Place => {
    const location = child(node, 'location');
    const [id, name, formattedAddress, kind] = ['id', 'name', 'formattedAddress', 'kind'].map((field) => textOf(node, field));
    if (id === undefined || id === '' || name === undefined || formattedAddress === undefined || kind === undefined || !location) {
      throw malformed(operation, 'a malformed place');
    }
    return {
      id, name, formattedAddress, kind,
      location: { lat: number(operation, textOf(location, 'lat'), 'latitude'), lng: number(operation, textOf(location, 'lng'), 'longitude') },
    };
  };

  const places = (operation: MapsOperation, parent: XmlElement): Place[] =>
    children(parent, 'place').map((item) => place(operation, item));

  const optionalPlace = (operation: MapsOperation, parent: XmlElement): Place | null => {
    const found = child(parent, 'place');
    return found ? place(operation, found) : null;
  };

  /** One GeocodeBatch call; every address sent must come back as a result's query. */
  const geocodeChunk = async (addresses: string[]): Promise<Map<string, Place[]>> => {
    const response = await call('GeocodeBatch', addresses.map((a) => element('address', a)).join(''), addresses.length);
    const byQuery = new Map<string, Place[]>();
    for (const result of children(response, 'result')) {
      const query = textOf(result, 'query');
      if (query === undefined) throw malformed('GeocodeBatch', 'a result without a query');
      byQuery.set(query, places('GeocodeBatch', result));
    }
    for (const address of addresses) {
      if (!byQuery.has(address)) throw malformed('GeocodeBatch', `no result for the query ${JSON.stringify(address)}`);
    }
    return byQuery;
  };

  return {
    async geocode(address) {
      const response = await call('Geocode', element('address', address));
      return places('Geocode', response);
    },

    async geocodeBatch(addresses) {
      // The service trims what it reads, so trimmed addresses are sent and matched; blank ones
      // match nothing and are not sent at all.
      const sent = [...new Set(addresses.map((a) => a.trim()).filter((a) => a !== ''))];
      const answers = await Promise.all(chunks(sent, MAPS_MAX_BATCH).map(geocodeChunk));
      const found = new Map<string, Place[]>();
      for (const answer of answers) for (const [query, matches] of answer) found.set(query, matches);
      return new Map(addresses.map((address) => [address, found.get(address.trim()) ?? []]));
    },

    async reverseGeocode(location) {
      const response = await call('ReverseGeocode', pointXml(location));
      return optionalPlace('ReverseGeocode', response);
    },

    async getPlace(id) {
      const response = await call('GetPlace', element('id', id));
      return optionalPlace('GetPlace', response);
    },

    async getPlaces(ids) {
      const unique = [...new Set(ids)];
      const answers = await Promise.all(chunks(unique, MAPS_MAX_BATCH).map(async (chunk) => {
        const response = await call('GetPlaces', chunk.map((id) => element('id', id)).join(''), chunk.length);
        return places('GetPlaces', response);
      }));
      return answers.flat();
    },

    async distance(from, to) {
      const response = await call('Distance', `<m:from>${pointXml(from)}</m:from><m:to>${pointXml(to)}</m:to>`);
      return number('Distance', textOf(response, 'meters'), 'distance');
    },

    async probe() {
      const { status } = await callUpstream(
        { source: MAPS_SOURCE, operation: 'probe', url: joinUrl(options.url, '/'), init: { method: 'GET' } },
        options,
      );
      if (status >= 500) {
        throw new UpstreamError(`${MAPS_SOURCE} probe answered HTTP ${status}`, { source: MAPS_SOURCE, operation: 'probe', failure: 'http', status });
      }
    },
  };
}
