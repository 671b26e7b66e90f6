import { createGunzip, createInflate } from 'node:zlib';
import { Readable } from 'node:stream';
import type { Plugin } from 'graphql-yoga';
import { junctionError } from '../../errors.ts';
import type { Limits } from './limits.ts';

export interface RequestReaderOptions {
  limits: Pick<Limits, 'MAX_BODY_BYTES' | 'BODY_TIMEOUT_MS' | 'MAX_VARIABLES_DEPTH' | 'MAX_JSON_VALUES' | 'MAX_BATCH'>;
  /** Whether this caller may send a batch (a JSON array of operations). */
  mayBatch: (request: Request) => Promise<boolean>;
}

/** What one operation in a request asks for, as GraphQL over HTTP defines it. */
interface GraphQLParams {
  query?: string;
  operationName?: string;
  variables?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

/** The request media types Junction reads, and how. Anything else is refused with 415. */
const READERS: ReadonlyMap<string, 'json' | 'document' | 'form'> = new Map([
  ['application/json', 'json'],
  ['application/graphql+json', 'json'],
  ['application/graphql', 'document'],
  ['application/x-www-form-urlencoded', 'form'],
]);

/**
 * The one reader of every GraphQL request Junction takes, whatever its method and media type, so
 * that each limit holds for all of them (yoga's own parsers also take `application/json, x`,
 * `application/graphql` and forms, none of them bounded):
 *
 * - The body, after decompression, is at most MAX_BODY_BYTES: a declared size over it is refused
 *   before a byte is read, a gzip or deflate body is inflated as a stream and abandoned the moment
 *   it passes the limit (a 100 MB bomb stops at 2 MiB).
 * - The body arrives within BODY_TIMEOUT_MS of the headers, or is refused with 408; a client
 *   sending a byte every few seconds holds no more than that.
 * - JSON nested deeper than MAX_VARIABLES_DEPTH (plus the request's own levels), or holding more
 *   than MAX_JSON_VALUES values, is refused by one pass over the text, before `JSON.parse` spends
 *   anything on it. Nothing walks the parsed value again: a walk that allocates per element took
 *   0.5-0.8 s over a 2 MB array of a million zeros.
 * - Batches (a JSON array) come from services and developers only, at most MAX_BATCH at a time.
 * - Media types it does not read (multipart, text/plain, XML, ...) are refused with 415, methods
 *   other than GET and POST with 405. Bad bytes and bad JSON are 400s, never 500s.
 */
export function useRequestReader({ limits, mayBatch }: RequestReaderOptions): Plugin {
  const { MAX_BODY_BYTES: maxBytes, BODY_TIMEOUT_MS: bodyTimeoutMs, MAX_VARIABLES_DEPTH: maxDepth, MAX_JSON_VALUES: maxValues, MAX_BATCH: maxBatch } = limits;
  const tooLarge = () => junctionError('PAYLOAD_TOO_LARGE', `The request body is over ${maxBytes} bytes (counted after decompression).`, { headers: { connection: 'close' } });
  const bad = (why: string) => junctionError('BAD_REQUEST', why);
  const tooDeep = (what: string) => bad(`The ${what} is nested deeper than ${maxDepth} levels.`);

  /** Parses JSON text from a client, refusing nesting past `depth`, or too many values, before parsing. */
  const parseJson = (text: string, what: string, depth: number): unknown => {
    const over = jsonOverLimits(text, depth, maxValues);
    if (over === 'depth') throw tooDeep(what);
    if (over === 'values') throw bad(`The ${what} holds more than ${maxValues} JSON values (objects, arrays, strings, numbers).`);
    try {
      return JSON.parse(text);
    } catch (err) {
      throw bad(`The ${what} is not valid JSON: ${(err as Error).message}`);
    }
  };

  /** One operation from URL-style parameters (a GET's query string, or a form body). */
  const fromSearchParams = (params: URLSearchParams): GraphQLParams => {
    const json = (name: 'variables' | 'extensions') => {
      const text = params.get(name);
      return text ? parseJson(text, name, maxDepth) : undefined;
    };
    return checked({
      query: params.get('query') ?? undefined,
      operationName: params.get('operationName') ?? undefined,
      variables: json('variables'),
      extensions: json('extensions'),
    });
  };

  /** The shape GraphQL over HTTP asks for. */
  const checked = (one: unknown): GraphQLParams => {
    if (one === null || typeof one !== 'object' || Array.isArray(one)) throw bad('Each operation must be a JSON object with a "query".');
    const { query, operationName, variables, extensions } = one as Record<string, unknown>;
    if (query !== undefined && query !== null && typeof query !== 'string') throw bad('"query" must be a string.');
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') throw bad('"operationName" must be a string.');
    // Their nesting was bounded by the scan of the text before it was parsed.
    for (const [name, value] of [['variables', variables], ['extensions', extensions]] as const) {
      if (value !== undefined && value !== null && (typeof value !== 'object' || Array.isArray(value))) throw bad(`"${name}" must be a JSON object.`);
    }
    return one as GraphQLParams;
  };

  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const declared = request.headers.get('content-length');
      if (declared === null) return;
      // One non-negative integer, or nothing: a list or a sign is what request smuggling sends.
      if (!/^\d+$/.test(declared)) {
        endResponse(fetchAPI.Response.json({ errors: [bad('The Content-Length header is not one non-negative integer.').toJSON()] }, { status: 400, headers: { connection: 'close' } }));
      } else if (Number(declared) > maxBytes) {
        // Any body: a declared size over the limit is refused before a byte is read.
        endResponse(fetchAPI.Response.json({ errors: [tooLarge().toJSON()] }, { status: 413, headers: { connection: 'close' } }));
      }
    },
    onRequestParse({ request, url, setRequestParser }) {
      setRequestParser(async (req): Promise<GraphQLParams | GraphQLParams[]> => {
        if (req.method === 'GET') return fromSearchParams(url.searchParams);
        if (req.method !== 'POST') {
          throw junctionError('METHOD_NOT_ALLOWED', `GraphQL requests are GET or POST; this one is ${req.method}.`, { headers: { allow: 'GET, POST' } });
        }
        const reader = READERS.get(mediaTypeOf(request));
        if (reader === undefined) {
          throw junctionError('UNSUPPORTED_MEDIA_TYPE', `Junction reads application/json (also application/graphql+json), application/graphql and application/x-www-form-urlencoded bodies; this one is ${JSON.stringify(request.headers.get('content-type') ?? '')}.`);
        }
        const text = await readBody(req, { maxBytes, timeoutMs: bodyTimeoutMs, tooLarge, bad });
        if (reader === 'document') return { query: text };
        if (reader === 'form') return fromSearchParams(new URLSearchParams(text));
        // The request's own levels come on top of the variables' limit: an operation's object, and
        // a batch's array around it.
        const body = parseJson(text, 'request body', maxDepth + (text.trimStart().startsWith('[') ? 2 : 1));
        if (!Array.isArray(body)) return checked(body);
        // A batch multiplies what one request costs: services may send a few, browsers none.
        if (!(await mayBatch(req))) throw bad('Batched requests (a JSON array) are accepted from services only; send one operation per request.');
        if (body.length === 0 || body.length > maxBatch) throw bad(`A batch holds 1 to ${maxBatch} operations; this one has ${body.length}.`);
        return body.map(checked);
      });
    },
  };
}

/** `application/json` from `Application/JSON; charset=utf-8` (and from a list, the first, as yoga reads it). */
function mediaTypeOf(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(',')[0]!.split(';')[0]!.trim().toLowerCase();
}

/**
 * Reads the whole body as UTF-8 text within the size and time limits: declared and plain in one
 * go, chunked or compressed as a stream that stops at the limit.
 */
async function readBody(
  req: Request,
  { maxBytes, timeoutMs, tooLarge, bad }: { maxBytes: number; timeoutMs: number; tooLarge: () => Error; bad: (why: string) => Error },
): Promise<string> {
  const encoding = (req.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  // RFC 9110: a content coding the server does not read is a 415, as an unread media type is.
  if (!['identity', 'gzip', 'deflate'].includes(encoding)) throw junctionError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported; send identity, gzip or deflate.`, { headers: { 'accept-encoding': 'gzip, deflate' } });
  if (!req.body) throw bad('The POST body is empty.');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(junctionError('REQUEST_TIMEOUT', `The request body did not arrive within ${timeoutMs} ms.`, { headers: { connection: 'close' } })), timeoutMs);
  });
  let bytes: Uint8Array;
  try {
    bytes = await Promise.race([
      // Declared and within the limit (checked in onRequest), and HTTP framing holds it to that:
      // read in one go, without a stream per request.
      encoding === 'identity' && req.headers.has('content-length')
        ? req.arrayBuffer().then((buffer) => new Uint8Array(buffer))
        : readBounded(req.body as unknown as AsyncIterable<Uint8Array>, encoding, maxBytes, tooLarge, bad),
      late,
    ]);
  } catch (err) {
    if (err instanceof Error && err.name === 'GraphQLError') throw err;
    throw bad(`The request body could not be read: ${(err as Error).message}.`);
  } finally {
    clearTimeout(timer);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw bad('The request body is not valid UTF-8.');
  }
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

/**
 * Whether JSON text nests arrays and objects deeper than `maxDepth`, or holds more than
 * `maxValues` values, found in one pass over its characters (brackets and commas inside strings
 * do not count), without parsing it. Parsing is what costs: `JSON.parse` spent 0.6 s on 2 MB
 * nested a million levels, and 270 ms (most of it collecting garbage) on 2 MB holding 644,000
 * empty objects; this pass takes a few milliseconds on either. Values are counted as containers
 * opened plus separators, which is every element and member (within one of the exact count).
 */
export function jsonOverLimits(text: string, maxDepth: number, maxValues: number): 'depth' | 'values' | undefined {
  let depth = 0;
  let values = 1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character, a quote included
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return 'depth';
      if (++values > maxValues) return 'values';
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && ++values > maxValues) return 'values';
  }
  return undefined;
}
