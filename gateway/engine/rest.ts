import {
  getNamedType,
  getNullableType,
  isInputObjectType,
  isListType,
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
      const inputArg = field.args.find((a) => a.name === 'input');
      const listReturn = isListType(getNullableType(field.type));
      field.resolve = async (_root, args: Record<string, unknown>, context: { principal?: Principal } | undefined) => {
        const principal = context?.principal ?? ANONYMOUS;
        let url = endpoint + interpolate(op.path, args, pathSegment);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(op.operationSpecificHeaders ?? {})) {
          const text = interpolate(value, args, (v) => v);
          if (text !== '') headers[name.toLowerCase()] = text;
        }
        for (const [name, value] of Object.entries(options.operationHeaders ?? {})) headers[name.toLowerCase()] = interpolate(value, args, (v) => v);
        // Checked as the caller wrote them: scoping would hide a CR LF inside a hash.
        assertSendableHeaders(headers);
        for (const name of scoped) if (headers[name] !== undefined) headers[name] = callerScoped(principal, headers[name]);
        if (options.forwardIdentity) Object.assign(headers, identityHeaders(principal));

        const query: string[] = [];
        for (const [param, argName] of Object.entries(op.queryParamArgMap ?? {})) {
          // A parameter the entry sets itself (`queryParams`) is never the caller's to send too.
          if (configuredParams.has(param)) continue;
          const value = args[argName];
          if (value == null) continue;
          const opts = { ...globalQs, ...op.queryStringOptionsByParam?.[param] };
          const shaped = serializable(value);
          if (opts.jsonStringify) {
            query.push(`${encodeURIComponent(param)}=${encodeURIComponent(typeof shaped === 'string' ? shaped : JSON.stringify(shaped))}`);
          } else if (opts.destructObject && shaped && typeof shaped === 'object' && !Array.isArray(shaped)) {
            query.push(qs.stringify(shaped, opts));
          } else {
            query.push(qs.stringify({ [param]: shaped }, opts));
          }
        }
        // The source's own query parameters (an API key) go last and cannot be set by a caller.
        for (const [param, value] of Object.entries(options.queryParams ?? {})) query.push(qs.stringify({ [param]: value }, globalQs));
        const search = query.filter(Boolean).join('&');
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
          operation, url, init: { method: op.httpMethod, headers, ...(body !== undefined ? { body } : {}) }, ...(batchSize !== undefined ? { batchSize } : {}),
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
        return Array.isArray(answer) ? answer.map((item) => withStatus(item, response.status)) : withStatus(answer, response.status);
      };
      replaced++;
    }
  }
  return replaced;
}
