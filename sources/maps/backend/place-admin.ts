import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../../demo/stats.ts';
import type { PlaceRecord } from '../../demo/seed.ts';
import { isLatitude, isLongitude } from './geo.ts';
import type { PlaceIndex } from './place-index.ts';

/** Largest change body read, in bytes. */
const MAX_CHANGE_BODY = 4_096;
/** Longest name or address a change may set, in characters. */
const MAX_TEXT = 200;

/**
 * `POST /_places/<id>` with `{"name": ..., "formattedAddress": ..., "location": {"lat": ..., "lng": ...}}`
 * (any of them): changes a place as its owner would, a business renamed or moved, so that tests and
 * a newcomer can watch a change travel. The service itself never tells anyone (SOAP has no push):
 * a client learns of it by reading ListPlaces again, as the gateway's poll does. Answers the place
 * as it now is; 404 for an unknown id, 400 for a change it cannot make.
 */
export function handlePlacesRoute(req: IncomingMessage, res: ServerResponse, index: PlaceIndex): boolean {
  const path = (req.url ?? '/').split('?')[0]!;
  if (!path.startsWith('/_places/')) return false;
  if (req.method !== 'POST') {
    req.resume();
    sendJson(res, 405, { error: 'POST a change to /_places/<id>' }, { allow: 'POST' });
    return true;
  }
  const id = decodeURIComponent(path.slice('/_places/'.length));
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
    if (body.length > MAX_CHANGE_BODY) req.destroy();
  });
  req.on('end', () => {
    let change: Partial<Pick<PlaceRecord, 'name' | 'formattedAddress' | 'location'>>;
    try {
      change = changeOf(JSON.parse(body));
    } catch (err) {
      sendJson(res, 400, { error: (err as Error).message });
      return;
    }
    const place = index.update(id, change);
    if (place) sendJson(res, 200, place);
    else sendJson(res, 404, { error: `no place ${id}` });
  });
  return true;
}

function changeOf(parsed: unknown): Partial<Pick<PlaceRecord, 'name' | 'formattedAddress' | 'location'>> {
  if (!parsed || typeof parsed !== 'object') throw new Error('send a JSON object');
  const { name, formattedAddress, location, ...rest } = parsed as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new Error(`only name, formattedAddress and location change; not ${Object.keys(rest).join(', ')}`);
  const text = (value: unknown, what: string) => {
    if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_TEXT) throw new Error(`${what} must be 1 to ${MAX_TEXT} characters`);
    return value;
  };
  const change: Partial<Pick<PlaceRecord, 'name' | 'formattedAddress' | 'location'>> = {};
  if (name !== undefined) change.name = text(name, 'name');
  if (formattedAddress !== undefined) change.formattedAddress = text(formattedAddress, 'formattedAddress');
  if (location !== undefined) {
    const { lat, lng } = (location ?? {}) as Record<string, unknown>;
    if (!isLatitude(lat) || !isLongitude(lng)) throw new Error('location must be {lat, lng} in degrees');
    change.location = { lat, lng };
  }
  return change;
}
