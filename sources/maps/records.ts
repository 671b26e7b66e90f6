/** What the maps service (SOAP, service.wsdl) returns, as the gateway reads it. */

export interface GeoPoint {
  lat: number;
  lng: number;
}

export interface PlaceRecord {
  id: string;
  name: string;
  /** "12 Linden Street, 10115 Berlin, DE": what geocoding matches against. */
  formattedAddress: string;
  kind: 'address' | 'business';
  location: GeoPoint;
}
