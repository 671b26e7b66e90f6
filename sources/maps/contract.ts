/**
 * Names fixed by `service.wsdl`, shared by the backend and the gateway-side code (loaders.ts) so they cannot drift
 * from the document (the backend's contract test proves the document matches them).
 */

/** Target namespace of the WSDL and of every request and response element. */
export const MAPS_NAMESPACE = 'http://junction.dev/maps/v1';

/** SOAP 1.1 envelope namespace: the only version the binding declares. */
export const SOAP11_ENVELOPE_NAMESPACE = 'http://schemas.xmlsoap.org/soap/envelope/';

/** SOAP 1.2 envelope namespace, accepted on input only (see request-guard.ts). */
export const SOAP12_ENVELOPE_NAMESPACE = 'http://www.w3.org/2003/05/soap-envelope';

/** Path the backend serves SOAP at; the WSDL is at `GET {path}?wsdl`. */
export const MAPS_SOAP_PATH = '/soap';

/** Most addresses per GeocodeBatch and ids per GetPlaces; more is a soap:Client fault. */
export const MAPS_MAX_BATCH = 100;

export const MAPS_OPERATIONS = ['Geocode', 'GeocodeBatch', 'ReverseGeocode', 'GetPlace', 'GetPlaces', 'ListPlaces', 'Distance'] as const;

/** A WSDL operation name; also the name counted in `/_stats` and armed in `/_faults`. */
export type MapsOperation = (typeof MAPS_OPERATIONS)[number];

/** The binding's `soapAction` for an operation. */
export function soapActionFor(operation: MapsOperation): string {
  return `${MAPS_NAMESPACE}/${operation}`;
}

/** Document/literal element names: `GeocodeRequest` in, `GeocodeResponse` out. */
export function requestElementFor(operation: MapsOperation): string {
  return `${operation}Request`;
}

export function responseElementFor(operation: MapsOperation): string {
  return `${operation}Response`;
}
