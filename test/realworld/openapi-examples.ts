/**
 * What a vendor's API would answer, taken from its own OpenAPI / Swagger document: the success
 * response's examples first, then Stripe's fixtures, then a value generated from the schema. Used
 * by the stand-in backend (openapi-stand-in.ts) so that every answer is one the contract allows.
 */

type Json = Record<string, any>;

/** Objects deeper than this are answered empty: Stripe's 71-schema cycle would never end. */
const MAX_DEPTH = 5;

/** A local `#/...` reference resolved in the document (references to references followed), or the value itself. */
export { deref } from '../../gateway/composition/byo/openapi-fixes.ts';
import { deref } from '../../gateway/composition/byo/openapi-fixes.ts';

export interface SuccessResponse {
  status: number;
  /** Undefined when the response has no body (204). */
  contentType: string | undefined;
  body: unknown;
}

const isJson = (mediaType: string) => /json/i.test(mediaType);

/** The first example a response (OAS3 media type or Swagger 2 response) states for itself. */
function statedExample(document: Json, response: Json): { found: boolean; value?: unknown } {
  const media = pickMedia(response);
  if (media) {
    if (media.value.example !== undefined) return { found: true, value: media.value.example };
    const first = Object.values<any>(media.value.examples ?? {})[0];
    if (first !== undefined) return { found: true, value: deref(document, first)?.value };
  }
  const swagger = response.examples?.['application/json'] ?? Object.values<any>(response.examples ?? {})[0];
  if (swagger !== undefined) return { found: true, value: swagger };
  const schema = deref(document, media?.value.schema ?? response.schema);
  if (schema?.example !== undefined) return { found: true, value: schema.example };
  return { found: false };
}

function pickMedia(response: Json): { type: string; value: Json } | undefined {
  const entries = Object.entries<Json>(response.content ?? {});
  const [type, value] = entries.find(([t]) => isJson(t)) ?? entries[0] ?? [];
  return type && value ? { type, value } : undefined;
}

/**
 * The operation's success answer. Among its 2xx responses the first that states an example wins
 * (PayPal's orders.create documents 201, not 200); otherwise the first 2xx (else `default`), with
 * Stripe's fixture for the schema's `x-resourceId`, else a value generated from the schema.
 */
export function successResponse(document: Json, operation: Json, fixtures?: Json): SuccessResponse {
  const responses = operation.responses ?? {};
  const codes = Object.keys(responses).filter((c) => /^2\d\d$/.test(c)).sort();
  const candidates = (codes.length > 0 ? codes : ['default'].filter((c) => c in responses)).map((code) => ({
    code,
    response: deref(document, responses[code]) as Json,
  }));
  const withExample = candidates.find((c) => statedExample(document, c.response).found);
  const chosen = withExample ?? candidates[0];
  if (!chosen) return { status: 204, contentType: undefined, body: undefined };
  const status = chosen.code === 'default' ? 200 : Number(chosen.code);
  const media = pickMedia(chosen.response);
  const contentType = media?.type ?? (chosen.response.schema ? 'application/json' : undefined);
  if (!contentType) return { status, contentType: undefined, body: undefined };
  if (withExample) return { status, contentType, body: statedExample(document, chosen.response).value };
  const schema = media?.value.schema ?? chosen.response.schema;
  return { status, contentType, body: schema === undefined ? {} : generate(document, schema, fixtures) };
}

const FORMATS: Record<string, string> = {
  'date-time': '2024-01-02T03:04:05Z',
  date: '2024-01-02',
  uri: 'https://example.com/',
  url: 'https://example.com/',
  email: 'someone@example.com',
  uuid: '00000000-0000-4000-8000-000000000000',
  byte: 'ZXhhbXBsZQ==',
};

/** Everyday values that satisfy most vendors' patterns (PayPal's money, dates, currency codes). */
const COMMON = ['example', '2024-01-02T03:04:05Z', '2024-01-02', '10.00', '1', 'USD', 'US', 'EXAMPLE', 'https://example.com/'];

/**
 * A string for the schema's format, or the first everyday value that fits its pattern and length,
 * including an identifier shape: the pattern's literal prefix padded with `0` (Twilio's
 * `^MG[0-9a-fA-F]{32}$` gives MG000…0). Falls back to `example`.
 */
function generateString(schema: Json): string {
  if (typeof schema.format === 'string' && FORMATS[schema.format]) return FORMATS[schema.format]!;
  const pattern = typeof schema.pattern === 'string' ? safeRegExp(schema.pattern) : undefined;
  const prefix = typeof schema.pattern === 'string' ? (/^\^([A-Za-z0-9_/:-]*)/.exec(schema.pattern)?.[1] ?? '') : '';
  const width = Number(/\{(\d+)(?:,\d*)?\}/.exec(String(schema.pattern ?? ''))?.[1] ?? schema.minLength ?? 8);
  const candidates = [...COMMON, prefix, prefix + '0'.repeat(width), prefix + 'A'.repeat(width)];
  const fits = (value: string) =>
    (pattern ? pattern.test(value) : value.length > 0) &&
    value.length >= (schema.minLength ?? 0) &&
    value.length <= (schema.maxLength ?? Infinity);
  return candidates.find(fits) ?? 'example';
}

function safeRegExp(source: string): RegExp | undefined {
  try {
    return new RegExp(source);
  } catch {
    return undefined;
  }
}

/** All members of an allOf as one object schema: properties and required lists combined. */
function mergeAllOf(document: Json, schema: Json): Json {
  const merged: Json = { type: 'object', properties: {}, required: [] };
  for (const member of [schema, ...schema.allOf].map((m) => deref(document, m))) {
    const flat = member?.allOf && member !== schema ? mergeAllOf(document, member) : member;
    Object.assign(merged.properties, flat?.properties ?? {});
    merged.required.push(...(flat?.required ?? []));
  }
  return merged;
}

/**
 * A value for a schema: its own example, a Stripe fixture for its `x-resourceId`, the first
 * member of oneOf/anyOf, the first enum value, or one built from its type. A `$ref` already
 * being generated further up is left out, as are objects beyond MAX_DEPTH.
 */
export function generate(document: Json, schema: unknown, fixtures?: Json, depth = 0, stack: readonly string[] = []): unknown {
  const ref = typeof (schema as Json)?.$ref === 'string' ? ((schema as Json).$ref as string) : undefined;
  if (ref && stack.includes(ref)) return undefined;
  const inner = ref ? [...stack, ref] : stack;
  const s = deref(document, schema) as Json | undefined;
  if (!s || typeof s !== 'object') return undefined;
  if (s.example !== undefined) return s.example;
  const resource = s['x-resourceId'];
  if (fixtures && typeof resource === 'string' && fixtures[resource] !== undefined) return fixtures[resource];
  if (Array.isArray(s.allOf)) return generate(document, mergeAllOf(document, s), fixtures, depth, inner);
  const union = s.oneOf ?? s.anyOf;
  if (Array.isArray(union) && union.length > 0) return generate(document, union[0], fixtures, depth, inner);
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if (s.default !== undefined) return s.default;
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== 'null') : s.type;
  if (type === 'object' || (!type && (s.properties || s.additionalProperties))) {
    const value: Json = {};
    if (depth >= MAX_DEPTH) return value;
    for (const [name, property] of Object.entries<unknown>(s.properties ?? {})) {
      const generated = generate(document, property, fixtures, depth + 1, inner);
      if (generated !== undefined) value[name] = generated;
    }
    return value;
  }
  if (type === 'array') {
    if (depth >= MAX_DEPTH) return [];
    const item = generate(document, s.items, fixtures, depth + 1, inner);
    return item === undefined ? [] : [item];
  }
  if (type === 'string') return generateString(s);
  if (type === 'integer') return typeof s.minimum === 'number' ? Math.ceil(s.minimum) : 1;
  if (type === 'number') return typeof s.minimum === 'number' ? s.minimum : 1.5;
  if (type === 'boolean') return true;
  return s.nullable ? null : undefined;
}
