import {
  getNamedType,
  getNullableType,
  isAbstractType,
  isInputObjectType,
  isListType,
  isObjectType,
  isNonNullType,
  isScalarType,
  isUnionType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import qs from 'qs';
import { getDirective, getDirectiveExtensions } from '@graphql-tools/utils';
import { assertSendableHeaders, pathSegment, type UpstreamResponse } from '../upstream/upstream-fetch.ts';
import { UnsendableValueError, UpstreamError } from '../upstream/upstream-error.ts';
import { ANONYMOUS, callerScoped, type Principal } from '../../schema/principal.ts';
import { identityHeaders } from './identity.ts';
import { batchSizeOf, type SourceRuntime } from './runtime.ts';

/**
 * REST execution, by Junction: GraphQL Mesh's OpenAPI converter compiles a spec into a schema
 * whose root fields carry `@httpOperation` (path, method, headers, query parameters, body shape);
 * this module turns each into a resolver that builds the request itself and sends it through the
 * source's runtime (pool, deadline, retries, breaker, quotas, credentials). Mesh's own run-time
 * resolvers never run: they wrote path arguments into the path unencoded, sent no deadline, and
 * had no breaker.
 *
 * What a request is made of:
 * - method, from the operation;
 * - each path argument percent-encoded as exactly one segment (`pathSegment`: `../admin?x#`
 *   stays inside its segment; `.`, `..` and `""` are the caller's error);
 * - query arguments in the styles the spec declares (form, exploded or not, deepObject), with
 *   the source's own query parameters (`queryParams`, an API key in the query) that a caller
 *   cannot replace;
 * - a JSON, form (`application/x-www-form-urlencoded`, deepObject-indexed where the spec says) or
 *   text body from the `input` argument;
 * - headers: the operation's (`{args.x}` header parameters), the source's `operationHeaders`,
 *   then the gateway's credentials and, for a first-party source, the caller's identity.
 */
export interface RestExecutionOptions {
  /** Base URL; default the spec's `servers` entry as the converter read it. */
  endpoint?: string;
  operationHeaders?: Record<string, string>;
  queryParams?: Record<string, string>;
  /** qs options for the whole document (deepObject documents index arrays). */
  queryStringOptions?: qs.IStringifyOptions;
  forwardIdentity?: boolean;
  /** Header names whose values are made each caller's own (callerScoped). */
  idempotencyHeaders: readonly string[];
  /** How a failed answer with a 2xx status looks, for APIs that say so in the body (Slack). */
  failure?: FailureRule;
}

/** `when` holds top-level fields whose values mark a failure; `code` and `message` name the fields that explain it. */
export interface FailureRule {
  when: Record<string, string | number | boolean | null>;
  code?: string;
  message?: string;
}

interface HttpOperation {
  path: string;
  httpMethod: string;
  operationSpecificHeaders?: Record<string, string>;
  queryParamArgMap?: Record<string, string>;
  queryStringOptionsByParam?: Record<string, qs.IStringifyOptions & { destructObject?: boolean; jsonStringify?: boolean }>;
  requestBaseBody?: Record<string, unknown>;
  isBinary?: boolean;
}

const jsonish = <T>(value: unknown): T | undefined => {
  if (value == null) return undefined;
  if (typeof value === 'string') return JSON.parse(value) as T;
  if (Array.isArray(value)) return Object.fromEntries(value) as T;
  return value as T;
};

/** `{args.name}`, `{args.input.name}`, and with a default for an absent value: `{args.Prefer:return=minimal}` (Mesh's interpolation). */
const ARG_REFERENCE = /\{args\.([A-Za-z0-9_.]+)(?::([^}]*))?\}/g;

function lookup(args: Record<string, unknown>, path: string): unknown {
  let node: unknown = args;
  for (const key of path.split('.')) node = node == null ? undefined : (node as Record<string, unknown>)[key];
  return node;
}

/** An argument as text: Dates and URLs as JSON writes them, lists joined by commas (path, header). */
function plain(value: unknown): string {
  if (value == null) return '';
  if (value instanceof Date) return value.toJSON();
  if (Array.isArray(value)) return value.map(plain).join(',');
  return String(value);
}

function interpolate(template: string, args: Record<string, unknown>, encode: (text: string) => string): string {
  return template.replace(ARG_REFERENCE, (_, path: string, fallback: string | undefined) => {
    const value = lookup(args, path);
    if (value == null) return fallback === undefined ? '' : encode(fallback);
    return encode(plain(value));
  });
}

const asText = (value: string) => value;

/** Characters qs leaves as they are in every format and charset (RFC 3986's unreserved). */
const UNRESERVED = /^[A-Za-z0-9\-_.~]*$/;

/**
 * `name=value` for a scalar, or a list of scalars, whose text needs no encoding, exactly as qs
 * would write it, without qs's per-call option handling (a tenth of a cheap REST call's CPU);
 * undefined when qs is needed: encoded characters, options that change the output, objects,
 * empty lists. test/unit/query-pairs.test.ts holds it to qs's own output.
 */
export function plainPair(name: string, value: unknown, opts: qs.IStringifyOptions): string | undefined {
  if (opts.addQueryPrefix || opts.charsetSentinel || opts.filter || opts.encoder || opts.strictNullHandling || opts.encodeDotInKeys
    || (opts.delimiter ?? '&') !== '&' || (opts.charset ?? 'utf-8') !== 'utf-8' || !UNRESERVED.test(name)) return undefined;
  if (isPlainScalar(value)) return `${name}=${String(value)}`;
  // A list of plain scalars in the two styles OpenAPI's `form` maps to: exploded (repeated) or not (comma-separated).
  if (!Array.isArray(value) || value.length === 0 || opts.commaRoundTrip || !value.every(isPlainScalar)) return undefined;
  const format = opts.arrayFormat ?? (opts.indices === false ? 'repeat' : 'indices');
  if (format === 'repeat') return value.map((item) => `${name}=${String(item)}`).join('&');
  if (format === 'comma') return `${name}=${value.join(opts.encode === false || opts.encodeValuesOnly ? ',' : '%2C')}`;
  return undefined;
}

const isPlainScalar = (value: unknown): value is string | number | boolean =>
  (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') && UNRESERVED.test(String(value));

/** Values qs writes as the caller wrote them (a Date as JSON writes it, a URL as text). */
function serializable(value: unknown): unknown {
  if (value instanceof Date) return value.toJSON();
  if (value instanceof URL) return value.toString();
  if (Array.isArray(value)) return value.map(serializable);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, serializable(v)]));
  return value;
}

/**
 * The `input` argument in the backend's own property names: the converter renamed properties that
 * are not GraphQL names (`@resolveRootField(field: "original-name")`) and turned `oneOf` inputs into
 * `@oneOf` input objects whose single set member is the value.
 */
function backendShape(data: unknown, type: GraphQLInputType, schema: GraphQLSchema): unknown {
  if (data == null) return data;
  if (isNonNullType(type)) return backendShape(data, type.ofType, schema);
  if (isListType(type)) return (Array.isArray(data) ? data : [data]).map((item) => backendShape(item, type.ofType, schema));
  if (!isInputObjectType(type) || typeof data !== 'object') return serializable(data);
  const fields = type.getFields();
  const oneOf = getDirective(schema, type, 'oneOf')?.length;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(data as Record<string, unknown>)) {
    const field = fields[name];
    if (!field) continue;
    if (oneOf) return backendShape(value, field.type, schema);
    const original = getDirective(schema, field, 'resolveRootField')?.[0]?.field as string | undefined;
    out[original ?? name] = backendShape(value, field.type, schema);
  }
  return out;
}

/** Union return types mapped by status (`@statusCodeTypeName`): their error answers are data. */
function mapsStatus(schema: GraphQLSchema, field: GraphQLField<unknown, unknown>, status: number): boolean {
  const named = getNamedType(field.type);
  if (!isUnionType(named)) return false;
  return (getDirective(schema, named, 'statusCodeTypeName') ?? []).some((d) => {
    const codes = Array.isArray(d?.statusCode) ? d.statusCode : [d?.statusCode];
    return codes.some((code: unknown) => String(code) === String(status));
  });
}

const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/** The backend's own error code and message from a REST error body (Stripe, PayPal, Twilio, Slack shapes). */
export function restErrorDetail(body: unknown): { code?: string; message?: string } {
  if (!body || typeof body !== 'object') return {};
  const b = body as Record<string, any>;
  const nested = b.error && typeof b.error === 'object' ? b.error : undefined;
  return {
    code: str(nested?.code) ?? str(b.code) ?? str(b.name) ?? str(b.error) ?? (typeof b.code === 'number' ? String(b.code) : undefined),
    message: str(nested?.message) ?? str(b.message) ?? str(b.error_description),
  };
}

function failed(rule: FailureRule | undefined, body: unknown): boolean {
  if (!rule || !body || typeof body !== 'object' || Array.isArray(body)) return false;
  return Object.entries(rule.when).every(([key, value]) => (body as Record<string, unknown>)[key] === value);
}

/**
 * Whether answers of this field need their HTTP status on them (`withStatus`): an abstract type
 * the converter resolves by status, or a type with a `@responseMetadata` field that shows it. Worked
 * out once per field: marking every answer (each item of a list) cost a property definition each.
 */
function readsStatus(schema: GraphQLSchema, field: GraphQLField<unknown, unknown>): boolean {
  const named = getNamedType(field.type);
  if (isAbstractType(named)) return true;
  if (!isObjectType(named)) return false;
  return Object.values(named.getFields()).some((f) => getDirective(schema, f, 'responseMetadata') !== undefined);
}

/** Marks an answer with its HTTP status for the converter's union resolvers, out of sight of serialization. */
function withStatus(value: unknown, status: number): unknown {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) Object.defineProperty(value, '$statusCode', { value: status, enumerable: false });
  return value;
}

function parseAnswer(response: UpstreamResponse, field: GraphQLField<unknown, unknown>, source: string, operation: string): unknown {
  if (response.text === '' || response.status === 204) return {};
  try {
    return JSON.parse(response.text);
  } catch (cause) {
    if (isScalarType(getNamedType(field.type))) return response.text;
    // A failure's body that is not the API's own (a proxy's HTML 502): the status says what happened.
    if (response.status < 200 || response.status >= 300) return undefined;
    throw new UpstreamError(`${source} answered ${operation} with a body that is not JSON`, { source, operation, failure: 'bad_response', status: response.status, cause });
  }
}

/**
 * Replaces the resolver of every root field that carries `@httpOperation` with one that builds
 * and sends the request through `runtime`. Returns how many it replaced.
 */
export function executeRestWithRuntime(schema: GraphQLSchema, runtime: SourceRuntime, options: RestExecutionOptions): number {
  const transport = getDirectiveExtensions<{ transport: { location?: string; queryStringOptions?: unknown } }>(schema)?.transport?.[0];
  const endpoint = (options.endpoint ?? transport?.location ?? '').replace(/\/+$/, '');
  const globalQs: qs.IStringifyOptions = { indices: false, ...jsonish<qs.IStringifyOptions>(transport?.queryStringOptions), ...options.queryStringOptions };
  const scoped = options.idempotencyHeaders.map((h) => h.toLowerCase());
  const configuredParams = new Set(Object.keys(options.queryParams ?? {}));
  let replaced = 0;
  for (const root of [schema.getQueryType(), schema.getMutationType()]) {
    for (const field of Object.values(root?.getFields() ?? {})) {
      const raw = getDirective(schema, field, 'httpOperation')?.[0];
      if (!raw) continue;
      const op: HttpOperation = {
        path: raw.path,
        httpMethod: String(raw.httpMethod ?? 'GET').toUpperCase(),
        operationSpecificHeaders: jsonish(raw.operationSpecificHeaders),
        queryParamArgMap: jsonish(raw.queryParamArgMap),
        queryStringOptionsByParam: jsonish(raw.queryStringOptionsByParam),
        requestBaseBody: jsonish(raw.requestBaseBody),
        isBinary: raw.isBinary === true,
      };
      const operation = field.name;
      // What does not change between requests is worked out once, here: each query parameter's
      // options, the source's own parameters as text, the header templates.
      const queryPlan = Object.entries(op.queryParamArgMap ?? {})
        // A parameter the entry sets itself (`queryParams`) is never the caller's to send too.
        .filter(([param]) => !configuredParams.has(param))
        .map(([param, argName]) => ({ param, argName, opts: { ...globalQs, ...op.queryStringOptionsByParam?.[param] } }));
      // The source's own query parameters (an API key) go last and cannot be set by a caller.
      const ownQuery = Object.entries(options.queryParams ?? {}).map(([param, value]) => qs.stringify({ [param]: value }, globalQs)).filter(Boolean);
      const operationHeaders = Object.entries(op.operationSpecificHeaders ?? {});
      const sourceHeaders = Object.entries(options.operationHeaders ?? {});
      const inputArg = field.args.find((a) => a.name === 'input');
      const listReturn = isListType(getNullableType(field.type));
      const marksStatus = readsStatus(schema, field);
      field.resolve = async (_root, args: Record<string, unknown>, context: { principal?: Principal } | undefined) => {
        const principal = context?.principal ?? ANONYMOUS;
        let url = endpoint + interpolate(op.path, args, pathSegment);
        const headers: Record<string, string> = {};
        for (const [name, value] of operationHeaders) {
          const text = interpolate(value, args, asText);
          if (text !== '') headers[name.toLowerCase()] = text;
        }
        for (const [name, value] of sourceHeaders) headers[name.toLowerCase()] = interpolate(value, args, asText);
        // Checked as the caller wrote them: scoping would hide a CR LF inside a hash.
        assertSendableHeaders(headers);
        for (const name of scoped) if (headers[name] !== undefined) headers[name] = callerScoped(principal, headers[name]);
        if (options.forwardIdentity) Object.assign(headers, identityHeaders(principal));

        const query: string[] = [];
        for (const { param, argName, opts } of queryPlan) {
          const value = args[argName];
          if (value == null) continue;
          const shaped = serializable(value);
          let pair: string;
          if (opts.jsonStringify) {
            pair = `${encodeURIComponent(param)}=${encodeURIComponent(typeof shaped === 'string' ? shaped : JSON.stringify(shaped))}`;
          } else if (opts.destructObject && shaped && typeof shaped === 'object' && !Array.isArray(shaped)) {
            pair = qs.stringify(shaped, opts);
          } else {
            pair = plainPair(param, shaped, opts) ?? qs.stringify({ [param]: shaped }, opts);
          }
          if (pair !== '') query.push(pair);
        }
        for (const pair of ownQuery) query.push(pair);
        const search = query.join('&');
        if (search) url += (url.includes('?') ? '&' : '?') + search;

        let body: string | undefined;
        if (op.isBinary) throw new UnsendableValueError(`${operation} takes a binary upload, which Junction does not send to backends.`);
        let input = inputArg ? backendShape(args.input, inputArg.type, schema) : undefined;
        if (op.requestBaseBody) input = { ...op.requestBaseBody, ...(input as object | undefined) };
        if (input != null) {
          const type = headers['content-type'] ?? 'application/json';
          if (type.startsWith('application/x-www-form-urlencoded')) body = qs.stringify(input, globalQs);
          else if (type.startsWith('multipart/form-data')) throw new UnsendableValueError(`${operation} takes multipart/form-data, which Junction does not send to backends.`);
          else if (type.startsWith('text/plain')) body = plain(input);
          else {
            body = JSON.stringify(input);
            headers['content-type'] = type;
          }
        } else if (op.httpMethod === 'GET' || op.httpMethod === 'HEAD') {
          delete headers['content-type'];
        }

        const batchSize = batchSizeOf(runtime.keyArgs, args);
        const response = await runtime.call({
          ...(context ? { context } : {}), operation, url, init: { method: op.httpMethod, headers, ...(body !== undefined ? { body } : {}) }, ...(batchSize !== undefined ? { batchSize } : {}),
        });
        const ok = response.status >= 200 && response.status < 300;
        let answer = parseAnswer(response, field, runtime.name, operation);
        if (!ok && !mapsStatus(schema, field, response.status)) {
          const detail = restErrorDetail(answer);
          throw new UpstreamError(detail.message ?? `HTTP ${response.status}`, {
            source: runtime.name, operation, failure: 'http', status: response.status, ...(detail.code ? { upstreamCode: detail.code } : {}),
          });
        }
        if (ok && failed(options.failure, answer)) {
          const record = answer as Record<string, unknown>;
          const code = options.failure?.code ? str(record[options.failure.code]) : undefined;
          const message = options.failure?.message ? str(record[options.failure.message]) : undefined;
          throw new UpstreamError(message ?? code ?? `${runtime.name} refused ${operation}`, {
            source: runtime.name, operation, failure: 'rejected', status: response.status, ...(code ? { upstreamCode: code } : {}),
          });
        }
        if (listReturn && !Array.isArray(answer)) answer = [answer];
        if (!listReturn && Array.isArray(answer)) answer = answer[0];
        if (!marksStatus) return answer;
        return Array.isArray(answer) ? answer.map((item) => withStatus(item, response.status)) : withStatus(answer, response.status);
      };
      replaced++;
    }
  }
  return replaced;
}
