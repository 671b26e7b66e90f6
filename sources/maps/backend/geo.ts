import type { GeoPoint } from '../../demo/seed.ts';

/**
 * IUGG mean Earth radius in meters. A sphere is what haversine assumes; over city distances its
 * error against the WGS 84 ellipsoid stays under 0.5 %, which is what consumer map APIs accept.
 */
export const EARTH_RADIUS_METERS = 6_371_008.8;

/** Great-circle distance between two points, in meters, unrounded. */
export function haversineMeters(from: GeoPoint, to: GeoPoint): number {
  const toRad = (degrees: number) => (degrees * Math.PI) / 180;
  const dLat = toRad(to.lat - from.lat);
  const dLng = toRad(to.lng - from.lng);
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(toRad(from.lat)) * Math.cos(toRad(to.lat)) * Math.sin(dLng / 2) ** 2;
  // min() guards asin against a rounding overshoot past 1 for antipodal points.
  return 2 * EARTH_RADIUS_METERS * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Rounds meters to 0.1 m, the precision the Distance operation promises. */
export function roundDecimeters(meters: number): number {
  return Math.round(meters * 10) / 10;
}

export function isLatitude(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= -90 && value <= 90;
}

export function isLongitude(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= -180 && value <= 180;
}
