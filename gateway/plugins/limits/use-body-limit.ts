import { createGunzip, createInflate } from 'node:zlib';
import { Readable } from 'node:stream';
import type { Plugin } from 'graphql-yoga';
import { junctionError } from '../../errors.ts';

/** Variables nested deeper than this are refused before anything looks at them. */
export const MAX_VARIABLES_DEPTH = 32;

/**
 * Reads JSON POST bodies itself, so that no body costs more than `maxBytes` of memory, counted
 * after decompression: a declared size over the limit is refused before reading, and a gzip or
 * deflate body is inflated as a stream and abandoned the moment it passes the limit (a 100 MB
 * bomb stops at 2 MiB). Bad bytes and bad JSON are 400s with a GraphQL error, never 500s.
 */
export function useBodyLimit(maxBytes: number, batch: { max: number; allowed: (request: Request) => Promise<boolean> }): Plugin {
  const tooLarge = () => junctionError('PAYLOAD_TOO_LARGE', `The request body is over ${maxBytes} bytes (counted after decompression).`);
  const bad = (why: string) => junctionError('BAD_REQUEST', why);

  return {
    onRequest({ request, endResponse, fetchAPI }) {
      // Any body, JSON or not: a declared size over the limit is refused before a byte is read.
      if (Number(request.headers.get('content-length') ?? 0) > maxBytes) {
        endResponse(fetchAPI.Response.json({ errors: [tooLarge().toJSON()] }, { status: 413 }));
      }
    },
    onRequestParse({ request, setRequestParser }) {
      const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (request.method !== 'POST' || (type !== 'application/json' && type !== 'application/graphql+json')) return;
      setRequestParser(async (req) => {
        const encoding = (req.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
        if (!['identity', 'gzip', 'deflate'].includes(encoding)) throw bad(`Content-Encoding ${encoding} is not supported; send identity, gzip or deflate.`);
        if (!req.body) throw bad('The POST body is empty; expected a JSON object with a "query".');
        let bytes: Uint8Array;
        if (encoding === 'identity' && req.headers.has('content-length')) {
          // Declared and within the limit (checked in onRequest), and HTTP framing holds it to
          // that: read in one go, without a stream per request.
          bytes = new Uint8Array(await req.arrayBuffer());
        } else {
          bytes = await readBounded(req.body as unknown as AsyncIterable<Uint8Array>, encoding, maxBytes, tooLarge, bad);
        }
        let text: string;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch {
          throw bad('The request body is not valid UTF-8.');
        }
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (err) {
          throw bad(`The request body is not valid JSON: ${(err as Error).message}`);
        }
        if (Array.isArray(body)) {
          // A batch multiplies what one request costs: services may send a few, browsers none.
          if (!(await batch.allowed(req))) throw bad('Batched requests (a JSON array) are accepted from services only; send one operation per request.');
          if (body.length === 0 || body.length > batch.max) throw bad(`A batch holds 1 to ${batch.max} operations; this one has ${body.length}.`);
        }
        for (const one of Array.isArray(body) ? body : [body]) {
          if (one === null || typeof one !== 'object' || Array.isArray(one)) throw bad('Each operation must be a JSON object with a "query".');
          if (depthOf((one as { variables?: unknown }).variables) > MAX_VARIABLES_DEPTH) {
            throw bad(`The variables are nested deeper than ${MAX_VARIABLES_DEPTH} levels.`);
          }
        }
        return body as Record<string, unknown>;
      });
    },
  };
}

/** Reads a chunked or compressed body, inflating as a stream and giving up the moment it passes `maxBytes`. */
async function readBounded(
  body: AsyncIterable<Uint8Array>, encoding: string, maxBytes: number,
  tooLarge: () => Error, bad: (why: string) => Error,
): Promise<Uint8Array> {
  // whatwg-node hands a stream of its own (not a native ReadableStream): it is async-iterable.
  let stream: NodeJS.ReadableStream = Readable.from(body);
  if (encoding !== 'identity') stream = stream.pipe(encoding === 'gzip' ? createGunzip() : createInflate());
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > maxBytes) {
        (stream as Readable).destroy?.();
        throw tooLarge();
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof Error && err.name === 'GraphQLError') throw err;
    throw bad(`The request body could not be read: ${(err as Error).message}.`);
  }
  return Buffer.concat(chunks);
}

/** Nesting depth of a JSON value, walked without recursion so that depth itself cannot overflow the stack. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > MAX_VARIABLES_DEPTH) return deepest;
    for (const inner of Object.values(current)) stack.push([inner, depth + 1]);
  }
  return deepest;
}
