import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import yaml from 'js-yaml';
import {
  execute,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLInterfaceType,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLUnionType,
  Kind,
  specifiedDirectives,
} from 'graphql';
import type { PromiseOrValue } from 'graphql/jsutils/PromiseOrValue.js';
import { getDirectiveExtensions, MapperKind, mapSchema, type ExecutionRequest, type ExecutionResult, type Executor } from '@graphql-tools/utils';
import { loadGraphQLSchemaFromOpenAPI } from '@omnigraph/openapi';
import type { LoadedSource } from './types.ts';
import { rootFieldCount, timedFetch } from './common.ts';
import { DEFAULT_IDEMPOTENCY_HEADERS } from '../../engine/identity.ts';
import { executeRestWithRuntime, type FailureRule } from '../../engine/rest.ts';
import { createSourceRuntime, type RuntimeHooks, type SourceQuota } from '../../engine/runtime.ts';
import type { AuthConfig } from '../../engine/credentials.ts';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../../upstream/upstream-fetch.ts';
import { deref, expandableReferences, readIdStringsAsObjects, removeCredentialParameters } from './openapi-fixes.ts';

export interface OpenApiSourceOptions {
  name: string;
  /** OpenAPI 3 or Swagger 2.0 document: a file path (relative to `cwd`) or an http(s) URL. */
  source: string;
  /** Default process.cwd(). */
  cwd?: string;
  /** Base URL calls go to. Default: the document's first `servers` entry (`host`+`basePath` for Swagger). */
  endpoint?: string;
  /** HTTP headers sent with every call: the gateway's own credentials for this backend. */
  operationHeaders?: Record<string, string>;
  /** Query parameters added to every call (APIs that take their key in the query, like Google Maps). */
  queryParams?: Record<string, string>;
  /** Time allowed for one call, headers and body, in milliseconds. Default 5000. */
  timeoutMs?: number;
  /** A first-party backend: send who is calling (common.ts identityHeaders). Default false. */
  forwardIdentity?: boolean;
  /** Headers that carry idempotency keys, made each caller's own. Default DEFAULT_IDEMPOTENCY_HEADERS. */
  idempotencyHeaders?: readonly string[];
  /** Parameters that carry credentials (Slack's `token`): never client arguments (openapi-fixes.ts removeCredentialParameters). */
  credentialParams?: readonly string[];
  /** How the API reports failure in a successful answer's body (Slack's `ok: false`). */
  failure?: FailureRule;
  /** Operations return their success type only (Mesh's option of the same name). Default false. */
  ignoreErrorResponses?: boolean;
  /** The gateway's credentials for the backend (engine/credentials.ts). */
  auth?: AuthConfig;
  /** The provider's rate limit, kept by the gateway (engine/runtime.ts SourceQuota). */
  quota?: SourceQuota;
  /** What `/readyz` asks (GET); default the endpoint. */
  probe?: string;
  /** Largest answer read, in bytes. Default 5 MiB. */
  maxResponseBytes?: number;
  /** The gateway's hooks for every call (deadline, debug record, breaker settings). */
  hooks?: RuntimeHooks;
  /** Reads remote documents (and, when given, carries every call: tests). */
  fetch?: typeof globalThis.fetch;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const isUrl = (source: string) => /^https?:\/\//.test(source);

async function readDocument(location: string, doFetch: typeof globalThis.fetch): Promise<Record<string, any>> {
  const text = isUrl(location) ? await (await doFetch(location)).text() : await readFile(location, 'utf8');
  return yaml.load(text, { json: true }) as Record<string, any>;
}

/** The operations a document declares: one per path and HTTP method. */
export function countOperations(document: Record<string, any>): number {
  let count = 0;
  for (const item of Object.values<Record<string, unknown>>(document.paths ?? {})) {
    for (const method of Object.keys(item ?? {})) if (METHODS.has(method)) count++;
  }
  return count;
}

function* operations(document: Record<string, any>): Generator<[pathItem: Record<string, any>, operation: Record<string, any>]> {
  for (const item of Object.values<Record<string, any>>(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item ?? {})) if (METHODS.has(method) && operation) yield [item, operation];
  }
}

/**
 * Swagger 2.0 `in: formData` parameters become one `in: body` parameter whose schema is an object
 * of those fields. Why: the converter only turns path, query and header parameters (and a body)
 * into arguments; formData ones are dropped, or kept as a bare required argument that is never
 * sent (Slack's `chat.postMessage` came out as `(token, channel: JSON!)` with no `text`, and the
 * POST had no body). As a body, the fields become a typed `input` argument that the converter
 * encodes as the operation's `consumes` says (form-urlencoded for Slack).
 */
function formDataToBody(document: Record<string, any>): void {
  if (document.swagger === undefined) return;
  for (const [item, operation] of operations(document)) {
    const all = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p) => deref(document, p));
    const fields = all.filter((p) => p?.in === 'formData');
    if (fields.length === 0) continue;
    const properties: Record<string, unknown> = {};
    for (const { name, in: _in, required: _required, allowEmptyValue: _empty, collectionFormat: _format, ...schema } of fields) {
      // `type: file` is an upload: the JSON Schema spelling the converter maps to its File scalar.
      properties[name] = schema.type === 'file' ? { ...schema, type: 'string', format: 'binary' } : schema;
    }
    const required = fields.filter((p) => p.required).map((p) => p.name as string);
    const schema = { type: 'object', properties, ...(required.length > 0 ? { required } : {}) };
    const keep = (params: unknown[] | undefined) => params?.filter((p) => deref(document, p)?.in !== 'formData');
    if (item.parameters) item.parameters = keep(item.parameters);
    operation.parameters = [...(keep(operation.parameters) ?? []), { in: 'body', name: 'input', required: required.length > 0, schema }];
    const consumes: string[] = operation.consumes ?? document.consumes ?? [];
    const upload = fields.some((p) => p.type === 'file');
    operation.consumes = upload
      ? ['multipart/form-data']
      : consumes.some((c) => c.startsWith('application/x-www-form-urlencoded') || c.startsWith('multipart/form-data'))
        ? consumes
        : ['application/x-www-form-urlencoded'];
  }
}

/**
 * GET and HEAD operations lose their `requestBody`. Stripe declares an empty form body on all 216
 * of its GETs; each became an `input: JSON` argument (216 false downgrades) and a `content-type`
 * header on a request without a body, and a client that passed `input` made fetch throw (a GET
 * cannot carry a body).
 */
function dropBodiesOfReads(document: Record<string, any>): void {
  for (const item of Object.values<Record<string, any>>(document.paths ?? {})) {
    for (const method of ['get', 'head']) if (item?.[method]) delete item[method].requestBody;
  }
}

/** Keys whose values are data (examples, defaults), not schemas: never rewritten. */
const DATA_KEYS = new Set(['example', 'examples', 'default', 'enum', 'const', 'x-examples']);

/** Calls `visit` on every object under `node` that can be a schema, parents first. */
function eachSchema(node: unknown, visit: (schema: Record<string, any>) => void, key = ''): void {
  if (Array.isArray(node)) return node.forEach((item) => eachSchema(item, visit));
  if (!node || typeof node !== 'object') return;
  visit(node as Record<string, any>);
  for (const [child, value] of Object.entries(node)) {
    // Inside `properties` every key is a property name, even `example` or `default`.
    if (key === 'properties' || !DATA_KEYS.has(child)) eachSchema(value, visit, child);
  }
}

/**
 * `items: [A, B]` on a schema that is not `type: array` becomes `anyOf: [A, B]`. Slack writes
 * "one of" that way 30 times (`bot_id: { items: [{ $ref: bot id }, { type: null }] }`, whole types
 * such as `objs_conversation`); neither OpenAPI 3.0 nor Swagger 2 allows an array there. The
 * converter read a list, typed `bot_id: [String]`, and the chat.postMessage answer failed with
 * "Expected Iterable" on the plain string the API returns.
 */
function tupleItemsToAnyOf(document: Record<string, any>): void {
  eachSchema(document, (schema) => {
    if (!Array.isArray(schema.items) || schema.type === 'array' || schema.anyOf) return;
    schema.anyOf = schema.items;
    delete schema.items;
  });
}

/**
 * In form-encoded bodies, an `anyOf` member `{ type: string, enum: [""] }` becomes
 * `{ type: 'null' }`. Stripe writes "this, or an empty string to unset it" that way 609 times
 * (`address`, `shipping`, `tax_id_data`, ...); an anyOf with a string member cannot be a GraphQL
 * input type, so each was typed JSON. With a null member the converter types the other member as
 * nullable, and an explicit `null` is written `address=`: the empty string the API asks for.
 */
function emptyStringMembersToNull(document: Record<string, any>): void {
  for (const [, operation] of operations(document)) {
    for (const [type, media] of Object.entries<any>(deref(document, operation.requestBody)?.content ?? {})) {
      if (!type.startsWith('application/x-www-form-urlencoded')) continue;
      eachSchema(media?.schema, (schema) => {
        for (const member of Array.isArray(schema.anyOf) ? schema.anyOf : []) {
          if (member?.type !== 'string' || member.enum?.length !== 1 || member.enum[0] !== '') continue;
          delete member.enum;
          delete member.maxLength;
          member.type = 'null';
        }
      });
    }
  }
}

/** True when the document uses `style: deepObject` (Stripe), after taking `explode` off its query parameters. */
function prepareDeepObject(document: Record<string, any>): boolean {
  let found = false;
  for (const [item, operation] of operations(document)) {
    for (const param of [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p) => deref(document, p))) {
      if (param?.style !== 'deepObject') continue;
      found = true;
      if (param.in === 'query') delete param.explode;
    }
    const content = deref(document, operation.requestBody)?.content ?? {};
    for (const media of Object.values<any>(content)) {
      if (Object.values<any>(media?.encoding ?? {}).some((e) => e?.style === 'deepObject')) found = true;
    }
  }
  return found;
}

/**
 * `style: deepObject` (Stripe: every form body and every object or array query parameter) means
 * `address[city]=Paris`, `expand[0]=customer`. The converter writes bodies with qs
 * `{ indices: false }`: arrays came out as repeated keys (`expand=customer&expand=invoice`, which
 * Stripe reads as one string), and an exploded query parameter was treated as `style: form`,
 * spreading an object into top-level keys (`created[gte]=1` became `gte=1`). So a document that
 * uses deepObject gets indexed arrays, and its query parameters lose `explode` (prepareDeepObject)
 * so that the qs defaults nest them. Mesh has no per-body setting, hence per document; Twilio
 * (repeated keys, no deepObject) keeps the default.
 */
const DEEP_OBJECT_QS = { arrayFormat: 'indices' } as const;

/** A scalar that checks what a client sends and passes values through exactly as written. */
function verbatimScalar(name: string, description: string, kind: Kind.STRING | Kind.INT, valid: (value: unknown) => boolean) {
  const parse = (value: unknown) => {
    if (!valid(value)) throw new TypeError(`${name} cannot represent ${JSON.stringify(value)}`);
    return value;
  };
  return new GraphQLScalarType({
    name,
    description,
    serialize: (value) => (value instanceof Date ? value.toISOString() : value),
    parseValue: parse,
    parseLiteral: (ast) => parse(ast.kind !== kind ? undefined : ast.kind === Kind.INT ? Number(ast.value) : ast.value),
  });
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const absoluteUrl = (value: unknown) => typeof value === 'string' && URL.canParse(value);

/**
 * Scalars for three formats whose stock scalars change the value on its way to the backend:
 * - `unix-time` (Stripe, 287 fields: seconds) became a JavaScript Date read as milliseconds and
 *   was sent as text: `due_date: 1700000000` went out as `due_date=1970-01-20T16:13:20.000Z`.
 * - `date-time` was re-written in UTC with milliseconds (`2016-02-18T20:01:35Z` went out as
 *   `…35.000Z`), which breaks PayPal's verify-webhook-signature: the event must be sent back as
 *   received.
 * - `uri` became a URL object: normalised (`https://example.com` gains a `/`), and dropped from
 *   form bodies altogether, since qs writes an object without keys as nothing (Twilio's `MediaUrl`
 *   and `StatusCallback` vanished from the Messages.json POST).
 * Each checks its input and sends it exactly as the client wrote it. Their names are not
 * graphql-scalars names: the converter gives any scalar with such a name (DateTime, Timestamp,
 * URL) the stock behaviour back.
 */
const verbatimScalars = (): Record<string, GraphQLScalarType> => ({
  'unix-time': verbatimScalar('UnixTime', 'Seconds since the Unix epoch, sent as written.', Kind.INT, Number.isSafeInteger),
  'date-time': verbatimScalar('Rfc3339DateTime', 'An RFC 3339 date and time, sent as written.', Kind.STRING, (v) => typeof v === 'string' && RFC3339.test(v)),
  uri: verbatimScalar('AbsoluteURL', 'An absolute URL, sent as written.', Kind.STRING, absoluteUrl),
});

/** A type, field, argument or enum value config without its SDL node and directive extensions. */
function bare<T extends { astNode?: unknown; extensions?: unknown }>(config: T): T {
  const { directives: _directives, ...extensions } = (config.extensions ?? {}) as Record<string, unknown>;
  return { ...config, astNode: undefined, extensionASTNodes: [], extensions };
}
const bareMap = <T extends { astNode?: unknown; extensions?: unknown }>(map: Record<string, T>) =>
  Object.fromEntries(Object.entries(map).map(([key, value]) => [key, bare(value)]));

/**
 * The converter's schema without its own directives (@httpOperation, @resolveRoot, @enum, @length,
 * @statusCodeTypeName, ... on nearly every type and field), same types, fields and descriptions.
 * Why: they are execution plumbing, and the namespaced copy of a source keeps their usages but not
 * their definitions, so merging it beside the contract failed with thousands of
 * `Unknown directive "@httpOperation"`. Execution still goes to the converter's own schema (see
 * `executor` below): its resolvers look these directives up while they run.
 */
function withoutConverterDirectives(schema: GraphQLSchema): GraphQLSchema {
  const mapped = mapSchema(schema, {
    [MapperKind.SCALAR_TYPE]: (type) => new GraphQLScalarType(bare(type.toConfig())),
    [MapperKind.ENUM_TYPE]: (type) => {
      const config = type.toConfig();
      return new GraphQLEnumType({ ...bare(config), values: bareMap(config.values) });
    },
    [MapperKind.OBJECT_TYPE]: (type) => new GraphQLObjectType(bare(type.toConfig())),
    [MapperKind.INTERFACE_TYPE]: (type) => new GraphQLInterfaceType(bare(type.toConfig())),
    [MapperKind.UNION_TYPE]: (type) => new GraphQLUnionType(bare(type.toConfig())),
    [MapperKind.INPUT_OBJECT_TYPE]: (type) => new GraphQLInputObjectType(bare(type.toConfig())),
    [MapperKind.COMPOSITE_FIELD]: (field) => ({ ...bare(field), args: bareMap(field.args ?? {}) }),
    [MapperKind.INPUT_OBJECT_FIELD]: (field) => bare(field),
  });
  return new GraphQLSchema({ ...bare(mapped.toConfig()), directives: specifiedDirectives });
}

/**
 * Loads a REST source with GraphQL Mesh's OpenAPI engine (@omnigraph/openapi): one root field
 * per operation named after its operationId, unions for oneOf, reversible enum names,
 * form-encoded and deepObject bodies, Swagger 2.0. The schema it returns executes by calling
 * the backend directly.
 *
 * The document is read and parsed once here, corrected where the corpus showed the converter
 * going wrong (each function above says how), and handed to the converter as an object; its
 * relative `$ref`s resolve from its own folder.
 */
export async function loadOpenApiSource(options: OpenApiSourceOptions): Promise<LoadedSource> {
  const started = performance.now();
  const { name, source, cwd = process.cwd(), endpoint, operationHeaders, queryParams, timeoutMs = 5_000 } = options;
  const doFetch = timedFetch(options.fetch ?? globalThis.fetch, timeoutMs);
  const location = isUrl(source) ? source : resolve(cwd, source);
  const document = await readDocument(location, doFetch);
  const declaredOperations = countOperations(document);
  formDataToBody(document);
  dropBodiesOfReads(document);
  tupleItemsToAnyOf(document);
  emptyStringMembersToNull(document);
  removeCredentialParameters(document, options.credentialParams ?? []);
  const expandable = expandableReferences(document);
  const deepObject = prepareDeepObject(document);
  const scalars = verbatimScalars();
  const executable = await loadGraphQLSchemaFromOpenAPI(name, {
    // The converter dereferences an object as readily as a path; its typings only say string.
    source: document as unknown as string,
    cwd: isUrl(location) ? location.slice(0, location.lastIndexOf('/') + 1) : dirname(location),
    fetch: doFetch,
    ...(endpoint ? { endpoint } : {}),
    // Given to the converter too: it leaves out the arguments these fill (a credential parameter is
    // never a client's argument). Junction's executor sends them.
    ...(operationHeaders ? { operationHeaders } : {}),
    ...(queryParams ? { queryParams } : {}),
    ...(deepObject ? { queryStringOptions: DEEP_OBJECT_QS } : {}),
    ...(options.ignoreErrorResponses ? { ignoreErrorResponses: true } : {}),
    getScalarForFormat: (format: string) => scalars[format],
  });
  const base = (endpoint ?? getDirectiveExtensions<{ transport: { location?: string } }>(executable)?.transport?.[0]?.location ?? '').replace(/\/+$/, '');
  const runtime = createSourceRuntime({
    name,
    url: options.probe ?? (base || 'http://invalid.invalid'),
    timeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.quota ? { quota: options.quota } : {}),
  }, { ...options.hooks, ...(options.fetch ? { fetch: options.fetch } : {}) });
  // Mesh compiled the spec; Junction executes it (engine/rest.ts).
  executeRestWithRuntime(executable, runtime, {
    endpoint: base,
    ...(operationHeaders ? { operationHeaders } : {}),
    ...(queryParams ? { queryParams } : {}),
    ...(deepObject ? { queryStringOptions: DEEP_OBJECT_QS } : {}),
    forwardIdentity: options.forwardIdentity === true,
    idempotencyHeaders: options.idempotencyHeaders ?? DEFAULT_IDEMPOTENCY_HEADERS,
    ...(options.failure ? { failure: options.failure } : {}),
  });
  readIdStringsAsObjects(executable, expandable);
  const schema = withoutConverterDirectives(executable);
  // Results are passed through untouched; `execute` is typed with untyped data, the executor per call.
  const executor: Executor = <TReturn>(request: ExecutionRequest) =>
    execute({
      schema: executable,
      document: request.document,
      variableValues: request.variables,
      contextValue: request.context,
      rootValue: request.rootValue,
      operationName: request.operationName,
    }) as PromiseOrValue<ExecutionResult<TReturn>>;
  return {
    name,
    kind: 'openapi',
    schema,
    executor,
    runtime,
    declaredOperations,
    exposedOperations: rootFieldCount(schema),
    downgrades: [],
    buildMs: Math.round(performance.now() - started),
  };
}
