import type { IServices } from 'soap';
import { REJECTION_TEXT, type Faults } from '../../demo/faults.ts';
import type { GeoPoint, PlaceRecord } from '../../demo/seed.ts';
import type { Stats } from '../../demo/stats.ts';
import { MAPS_MAX_BATCH, requestElementFor, type MapsOperation } from '../contract.ts';
import { haversineMeters, isLatitude, isLongitude, roundDecimeters } from './geo.ts';
import type { PlaceIndex } from './place-index.ts';
import { isThrownSoapFault, soapFault } from './soap-fault.ts';

/** ReverseGeocode answers "no place" beyond this distance, in meters. */
export const REVERSE_GEOCODE_RADIUS_METERS = 5_000;

export interface MapsServiceDeps {
  index: PlaceIndex;
  stats: Stats;
  faults: Faults;
}

/**
 * Arguments as the soap package hands them over: an object keyed by child element name with
 * values converted by the schema type (a bad xsd:double arrives as null, an absent element as
 * undefined, a repeated element as an array), or null for an empty request element.
 */
type Args = Record<string, unknown> | null | undefined;

/**
 * Text echoed from the request, so that the reply carries exactly what was sent. The soap package
 * writes a string that looks like a CDATA section (`<![CDATA[x]]>`) into the reply raw, where it
 * reads back as `x` (and could carry any XML a caller wrote): such a string is sent as CDATA
 * sections that hold it, `]]>` split across two.
 */
function verbatim(text: string): string {
  if (!(text.startsWith('<![CDATA[') && text.endsWith(']]>'))) return text;
  return `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

/** The place as the WSDL's `tns:Place` sequence; key order is element order. */
function placeXml(place: PlaceRecord) {
  return {
    id: place.id,
    name: place.name,
    formattedAddress: place.formattedAddress,
    kind: place.kind,
    location: { lat: place.location.lat, lng: place.location.lng },
  };
}

function field(args: Args, name: string): unknown {
  return args?.[name] ?? undefined;
}

function requiredString(operation: MapsOperation, args: Args, name: string): string {
  const value = field(args, name);
  if (value === undefined) throw soapFault('Client', `${requestElementFor(operation)}/${name} is required`);
  if (typeof value !== 'string') throw soapFault('Client', `${requestElementFor(operation)}/${name} must be text`);
  return value;
}

function stringList(operation: MapsOperation, args: Args, name: string): string[] {
  const value = field(args, name);
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (list.length > MAPS_MAX_BATCH) {
    throw soapFault('Client', `${operation} accepts at most ${MAPS_MAX_BATCH} ${name} elements, got ${list.length}`);
  }
  for (const item of list) {
    if (typeof item !== 'string') throw soapFault('Client', `every ${requestElementFor(operation)}/${name} must be text`);
  }
  return list as string[];
}

/** How many items a batch request asked for, read leniently: stats count even a request that fails validation. */
function itemCount(args: Args, name: string): number {
  const value = field(args, name);
  return value === undefined ? 0 : Array.isArray(value) ? value.length : 1;
}

/** Reads a `tns:GeoPoint`-shaped value; `path` names it in fault messages ("from"), none for the request itself. */
function point(operation: MapsOperation, value: unknown, path?: string): GeoPoint {
  const where = path === undefined ? requestElementFor(operation) : `${requestElementFor(operation)}/${path}`;
  if (path !== undefined && (typeof value !== 'object' || value === null)) throw soapFault('Client', `${where} is required`);
  const { lat, lng } = (value ?? {}) as Record<string, unknown>;
  if (lat === undefined) throw soapFault('Client', `${where}/lat is required`);
  if (!isLatitude(lat)) throw soapFault('Client', `${where}/lat must be a latitude between -90 and 90`);
  if (lng === undefined) throw soapFault('Client', `${where}/lng is required`);
  if (!isLongitude(lng)) throw soapFault('Client', `${where}/lng must be a longitude between -180 and 180`);
  return { lat, lng };
}

/** The soap-package service object for `MapsService`/`MapsPort`, one method per WSDL operation. */
export function createMapsService({ index, stats, faults }: MapsServiceDeps): IServices {
  /**
   * Every operation is counted, then may fail by injection, then runs. Anything it throws that
   * is not already a fault becomes a soap:Server fault: left to the soap package it would be a
   * SOAP 1.2-shaped fault carrying the error text.
   */
  const operation = (name: MapsOperation, batchOf: string | undefined, run: (args: Args) => object) =>
    (args: Args) => {
      stats.record(name, batchOf === undefined ? undefined : itemCount(args, batchOf));
      const fault = faults.take(name);
      if (fault?.rejection) throw soapFault('Client', REJECTION_TEXT);
      if (fault) throw soapFault('Server', `${name} failed: injected fault`);
      try {
        return run(args);
      } catch (err) {
        if (isThrownSoapFault(err)) throw err;
        throw soapFault('Server', `${name} failed: internal error`);
      }
    };

  return {
    MapsService: {
      MapsPort: {
        Geocode: operation('Geocode', undefined, (args) => {
          const address = requiredString('Geocode', args, 'address');
          return { place: index.geocode(address).map(placeXml) };
        }),
        GeocodeBatch: operation('GeocodeBatch', 'address', (args) => {
          const addresses = stringList('GeocodeBatch', args, 'address');
          return { result: addresses.map((query) => ({ query: verbatim(query), place: index.geocode(query).map(placeXml) })) };
        }),
        ReverseGeocode: operation('ReverseGeocode', undefined, (args) => {
          const at = point('ReverseGeocode', args);
          const place = index.nearest(at, REVERSE_GEOCODE_RADIUS_METERS);
          return place ? { place: placeXml(place) } : {};
        }),
        GetPlace: operation('GetPlace', undefined, (args) => {
          const place = index.get(requiredString('GetPlace', args, 'id'));
          return place ? { place: placeXml(place) } : {};
        }),
        GetPlaces: operation('GetPlaces', 'id', (args) => {
          const found = new Map<string, PlaceRecord>();
          for (const id of stringList('GetPlaces', args, 'id')) {
            const place = index.get(id);
            if (place) found.set(id, place);
          }
          return { place: [...found.values()].map(placeXml) };
        }),
        ListPlaces: operation('ListPlaces', undefined, (args) => {
          const kind = field(args, 'kind');
          if (kind !== undefined && kind !== 'address' && kind !== 'business') {
            throw soapFault('Client', 'ListPlacesRequest/kind must be "address" or "business"');
          }
          return { place: index.list(kind).map(placeXml) };
        }),
        Distance: operation('Distance', undefined, (args) => {
          const from = point('Distance', field(args, 'from'), 'from');
          const to = point('Distance', field(args, 'to'), 'to');
          return { meters: roundDecimeters(haversineMeters(from, to)) };
        }),
      },
    },
  };
}
