import type { IncomingMessage } from 'node:http';
import { ApiError, bodyInvalid } from './errors.ts';
import type { Params } from './params.ts';

/** Largest request body accepted, in bytes (1 MiB); a larger one answers 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads the whole request body. Past the cap it keeps draining without buffering, so the
 * client finishes sending and reads our 413 instead of a reset connection.
 */
export function readBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > maxBytes) {
        reject(new ApiError(413, 'invalid_request_error', 'request_too_large',
          `Request body is ${size} bytes; the limit is ${maxBytes} bytes.`));
      } else {
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', reject);
  });
}

/**
 * Turns a write body into string parameters. Form encoding is Stripe's; JSON is accepted
 * too because generic OpenAPI clients default to it. Both end up in the same shape, so the
 * same validation (and the same idempotency fingerprint) applies to either.
 */
export function parseBody(raw: Buffer, contentType: string | undefined): Params {
  const params: Params = new Map();
  if (raw.byteLength === 0) return params;
  const mime = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const text = raw.toString('utf8');
  if (mime === 'application/x-www-form-urlencoded') {
    for (const [name, value] of new URLSearchParams(text)) {
      if (params.has(name)) throw bodyInvalid(`The parameter ${name} was given more than once.`);
      params.set(name, value);
    }
    return params;
  }
  if (mime === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw bodyInvalid('The request body is not valid JSON.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw bodyInvalid('The JSON request body must be an object.');
    }
    for (const [name, value] of Object.entries(parsed)) {
      if (value === null) continue;
      if (typeof value === 'string') params.set(name, value);
      else if (typeof value === 'number' || typeof value === 'boolean') params.set(name, String(value));
      else throw bodyInvalid(`The parameter ${name} must be a string, number or boolean.`);
    }
    return params;
  }
  throw bodyInvalid(
    `Unsupported Content-Type ${JSON.stringify(mime)}; send application/x-www-form-urlencoded or application/json.`,
  );
}
