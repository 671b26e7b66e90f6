import { webhookProblems } from '../../webhooks/receiver.ts';
import { parseFilter, type FilterExpression } from '../filter-by.ts';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import yaml from 'js-yaml';
import { Kind, parse, valueFromASTUntyped, visit, type DocumentNode, type FieldDefinitionNode } from 'graphql';
import { z } from 'zod';
import type { SourceKind } from './types.ts';
import { authSchema } from '../../engine/credentials.ts';
import { SUPPORTED_TRANSFORMS, transformSchema, type MeshTransform } from '../transforms.ts';

/**
 * Reads the sources file (`.meshrc.yaml`): every source, its transforms, the declared links, and
 * Junction's own keys (`contract`, `embedded`, `additionalEnvelopPlugins`). The file is GraphQL Mesh's, so users write what they already know; Junction
 * accepts the subset of each handler's options it implements and refuses the rest by name
 * rather than ignoring them. `{env.NAME}` is replaced from the environment, as Mesh does, so
 * endpoints and credentials differ per environment without editing the file.
 */

/** The handler key that selects Junction's SOAP handler (Mesh's stock one cannot load most WSDLs). */
export const JUNCTION_SOAP_HANDLER = './gateway/composition/soap/mesh-handler.ts';

const headers = z.record(z.string(), z.string());
const graphqlName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid GraphQL name');
/** Naming overrides, in the source's own names: `types: { customer: Customer }`, `fields: { "Query.GetCustomersCustomer": customer }`. */
const rename = z
  .strictObject({
    types: z.record(z.string(), graphqlName).optional(),
    fields: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'keys must look like Type.field'), graphqlName).optional(),
  })
  .optional();
const url = z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL');
/**
 * Whether anonymous callers may use the source. Default false: a source is called with the
 * gateway's own credentials, so opening it to anyone is a choice the configuration makes.
 */
const isPublic = z.boolean().optional();
/** Numbers may come from `{env.NAME}`, as text. */
const int = () => z.coerce.number().int();
const timeoutMs = int().min(1).max(120_000);
/**
 * Junction's choice over Mesh's merge: the source's root fields under `Query.<name>` and its types
 * prefixed `<Name>_`, so it can never collide with another. Default false: merged as Mesh merges.
 */
const namespace = z.boolean().optional();
/**
 * Policy for every root field of the source that does not say its own, as the contract's
 * directives say it: `requiresScopes: [["ledger:read"]]` (or `authenticated: true`),
 * `cacheControl: { maxAge: 60, scope: PRIVATE }`, `rateLimit: { max: 100, window: 1m }`.
 */
const policy = z
  .strictObject({
    authenticated: z.literal(true).optional(),
    requiresScopes: z.array(z.array(z.string().min(1)).min(1)).min(1).optional(),
    cacheControl: z.strictObject({ maxAge: z.number().int().min(0), scope: z.enum(['PUBLIC', 'PRIVATE']).optional() }).optional(),
    rateLimit: z.strictObject({ max: z.number().int().min(1), window: z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 30s, 1m or 1h') }).optional(),
  })
  .optional();
export type SourcePolicy = NonNullable<z.infer<typeof policy>>;
/**
 * The provider's rate limit, kept on the gateway's side across every instance (with Redis): calls
 * over it wait in a queue (default 100) for the next second, then are refused SOURCE_RATE_LIMITED.
 */
const quota = z
  .strictObject({
    perSec: int().min(1).max(100_000),
    /** Only these operations count (a provider that limits sends only); default all. */
    operations: z.array(z.string().min(1)).min(1).optional(),
    maxQueue: int().min(0).max(10_000).optional(),
  })
  .optional();
/** Most keys in one batched call of a declared link into this source; more are split. Default 100. */
const batchSize = int().min(1).max(10_000).optional();
const auth = authSchema.optional();
/** How an API says it failed in a successful answer: `{ when: { ok: false }, code: error }` (Slack). */
const failure = z
  .strictObject({
    when: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).refine((w) => Object.keys(w).length > 0, 'must name at least one field'),
    code: z.string().optional(),
    message: z.string().optional(),
  })
  .optional();

/** What every kind of source takes, besides its handler's own options. */
/**
 * Webhooks the source's provider sends: each on its own path of the gateway, verified with the
 * provider's scheme before anything is kept (gateway/webhooks/), published on `pubsubTopic`.
 */
const webhook = z.strictObject({
  path: z.string().regex(/^\/[A-Za-z0-9._~\/-]{1,200}$/, 'must be a path such as /webhooks/orders'),
  pubsubTopic: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be a name of letters, digits and . _ : -'),
  scheme: z.enum(['stripe', 'slack', 'twilio', 'standard', 'hmac', 'paypal']),
  /** Two during a rotation: either verifies. Every scheme but paypal, which PayPal signs with its own key. */
  secrets: z.array(z.string().min(1)).min(1, 'must hold at least one secret').max(5).optional(),
  /** paypal: PayPal's id of this webhook (its dashboard's Webhook ID), part of what PayPal signs. */
  webhookId: z.string().regex(/^[A-Za-z0-9]{1,50}$/, 'must be PayPal\'s id of the webhook (letters and digits)').optional(),
  /** paypal: hosts its certificate may be fetched from (https) instead of PayPal's own, for a stand-in for PayPal. */
  certHosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be a host or host:port')).min(1).max(10).optional(),
  toleranceSec: int().min(1).max(3_600).optional(),
  /** hmac: the signature's header (default X-Signature) and, optionally, a signed timestamp's. */
  header: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header name').optional(),
  timestampHeader: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header name').optional(),
  /** Where the event id is in the payload (dot paths, joined with `:`); default per scheme. */
  id: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  type: z.string().min(1).optional(),
  /** The public URL the provider calls (Twilio signs it), when a proxy changes it. */
  url: url.optional(),
  dedupeTtlSec: int().min(60).max(30 * 86_400).optional(),
  streamLength: int().min(1).max(1_000_000).optional(),
  /**
   * Cached answers an event makes stale: entity tags with `{payload.path}` filled from the event
   * (`Payment:{data.object.id}`); a tag whose value the event lacks is skipped.
   */
  invalidates: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(:.+)?$/, 'must be a tag such as Payment:{data.object.id}')).max(20).optional(),
}).superRefine((hook, ctx) => {
  const paypal = hook.scheme === 'paypal';
  if (paypal && !hook.webhookId) ctx.addIssue({ code: 'custom', path: ['webhookId'], message: 'is required with scheme paypal (PayPal\'s id of this webhook)' });
  if (paypal && hook.secrets) ctx.addIssue({ code: 'custom', path: ['secrets'], message: 'is not used with scheme paypal: PayPal signs with its own certificate' });
  if (!paypal && !hook.secrets) ctx.addIssue({ code: 'custom', path: ['secrets'], message: 'must hold at least one secret' });
  for (const key of ['webhookId', 'certHosts'] as const) {
    if (!paypal && hook[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'is only for scheme paypal' });
  }
});
export type WebhookEntry = z.infer<typeof webhook>;
const webhooks = z.array(webhook).max(20).optional();

/** A dot path into a value: `data`, `result.items`. */
const dotPath = z.string().regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'must be a dot path such as data.items');
/**
 * Reads of a source without push (gateway/webhooks/poller.ts): `operation` (a read of the source,
 * in its own names) called every `intervalSec` (default 30) by one instance, each item of its
 * result (`items`, default the result itself) told apart by `key`; an item new or changed since
 * the last poll is published on `pubsubTopic` as `type` (default `changed`), and, with
 * `removals: true`, one gone as `removed` (default: a gone item publishes nothing).
 */
const poll = z.strictObject({
  pubsubTopic: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be a name of letters, digits and . _ : -'),
  operation: graphqlName,
  args: z.record(z.string(), z.unknown()).optional(),
  intervalSec: int().min(1).max(86_400).optional(),
  items: dotPath.optional(),
  key: dotPath,
  type: z.string().min(1).max(100).optional(),
  removals: z.boolean().optional(),
  /** GraphQL sources: the fields asked of the operation (default: its leaf fields, three levels deep). */
  selectionSet: z.string().min(1).optional(),
  /** As a webhook's: entity tags with `{item.path}` filled from the item (`Parcel:{id}`). */
  invalidates: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(:.+)?$/, 'must be a tag such as Parcel:{id}')).max(20).optional(),
});
export type PollEntry = z.infer<typeof poll>;
const polls = z.array(poll).max(20).optional();

/** What `/readyz` asks of the source (GET; any answer under 500 is up). Default: its endpoint. */
const probe = url.optional();

const DURATION_UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** `30m`, `1h`, `1d` in milliseconds (NaN when it is not one). */
export function durationMs(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  return match ? Number(match[1]) * DURATION_UNIT_MS[match[2] as keyof typeof DURATION_UNIT_MS] : Number.NaN;
}
/** Shortest and longest interval between two drift checks of a source: 1 minute, 7 days. */
export const DRIFT_EVERY_MS = { min: 60_000, max: 7 * 86_400_000 } as const;
/**
 * Contract drift (gateway/drift/): a newer spec of the source, `against` (a path read from the
 * file's folder, or an http(s) URL, fetched only because this names it), compared with the one
 * served once the gateway has started and, with `every`, again on that interval. Each breaking or
 * dangerous change is logged with the public fields it affects and counted; none stops the gateway.
 */
const drift = z
  .strictObject({
    against: z.string().min(1).refine((v) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(v) || /^https?:\/\/\S+$/i.test(v), 'must be a path or an http(s) URL'),
    every: z.string().refine((v) => durationMs(v) >= DRIFT_EVERY_MS.min && durationMs(v) <= DRIFT_EVERY_MS.max, 'must be a duration from 1m to 7d, such as 30m, 1h or 1d').optional(),
  })
  .optional();
export type DriftEntry = NonNullable<z.infer<typeof drift>>;

const common = { rename, public: isPublic, namespace, batchSize, policy, quota, auth, timeoutMs: timeoutMs.optional(), probe, webhooks, polls, drift };

const openapi = z.strictObject({
  ...common,
  failure,
  /** Mesh's option: operations return their success type only; error answers are SOURCE_* errors, not union members. */
  ignoreErrorResponses: z.boolean().optional(),
  /** Operation parameters that carry credentials (Slack's `token`): never client arguments, filled from this entry. */
  credentialParams: z.array(z.string().min(1)).optional(),
  source: z.string().min(1),
  endpoint: url.optional(),
  operationHeaders: headers.optional(),
  queryParams: headers.optional(),
  forwardIdentity: z.boolean().optional(),
  idempotencyHeaders: z.array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header name')).optional(),
});

const graphql = z.strictObject({
  ...common,
  endpoint: url,
  source: z.string().min(1).optional(),
  operationHeaders: headers.optional(),
  forwardIdentity: z.boolean().optional(),
});

const soap = z.strictObject({
  ...common,
  source: z.string().min(1),
  endpoint: url.optional(),
  soapVersion: z.enum(['1.1', '1.2']).optional(),
  operationHeaders: headers.optional(),
  soapHeaders: z.array(z.string()).optional(),
  security: z
    .strictObject({ username: z.string(), password: z.string(), passwordType: z.enum(['PasswordText', 'PasswordDigest']).optional() })
    .optional(),
  queries: z.array(z.string()).optional(),
  mutations: z.array(z.string()).optional(),
});

export type OpenApiEntry = z.infer<typeof openapi>;
export type GraphQLEntry = z.infer<typeof graphql>;
export type SoapEntry = z.infer<typeof soap>;

export type SourceEntry = (
  | { name: string; kind: 'openapi'; options: OpenApiEntry }
  | { name: string; kind: 'graphql'; options: GraphQLEntry }
  | { name: string; kind: 'soap'; options: SoapEntry }
) & {
  /** Mesh transforms on the source (prefix, rename, filterSchema), in order. */
  transforms: MeshTransform[];
};

export class SourceConfigError extends Error {
  readonly code = 'SOURCES_FILE_INVALID';
  override readonly name = 'SourceConfigError';
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file} has ${problems.length} problem(s) with its sources:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Paths the gateway answers itself: no webhook may take one. */
const RESERVED_PATHS = ['/graphql', '/healthz', '/readyz', '/.well-known', '/deliveries'];

const ENV_REFERENCE = /\{env\.([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WHOLE_ENV_REFERENCE = /^\{env\.([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** A value left out because it was only `{env.NAME}` and NAME is not set: where, and which variable. */
interface Unset {
  path: string;
  name: string;
}

const UNSET = Symbol('unset');

/**
 * `{env.NAME}` replaced from the environment, as Mesh does. An option whose whole value is one
 * unset `{env.NAME}` is left out, so that its default applies (an optional quota or timeout); one
 * that is needed is then reported as "NAME is not set". Inside a longer string, an unset variable
 * is a problem at once.
 */
function interpolate(value: unknown, env: Record<string, string | undefined>, path: string, problems: string[], unset: Unset[], listed = false): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_ENV_REFERENCE.exec(value);
    if (whole && (env[whole[1]!] === undefined || env[whole[1]!] === '')) {
      unset.push({ path, name: whole[1]! });
      return UNSET;
    }
    return value.replace(ENV_REFERENCE, (_, name: string) => {
      const found = env[name];
      if (found === undefined || found === '') problems.push(`${path}: {env.${name}} is used but ${name} is not set`);
      return found ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${path}[${i}]`, problems, unset, true)).filter((v) => v !== UNSET);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => [k, interpolate(v, env, `${path}.${k}`, problems, unset)] as const);
    // An object whose variables are all unset (`quota: { perSec: '{env.X}', operations: [send] }`)
    // is left out as a whole: the option was not given. An entry of a list (a poll whose interval
    // is unset) is declared all the same: only its unset options are left out.
    const kept = entries.filter(([, v]) => v !== UNSET);
    if (!listed && kept.length < entries.length && !refersToSet(value, env)) return UNSET;
    return Object.fromEntries(kept);
  }
  return value;
}

/** Whether a value holds any `{env.NAME}` whose NAME is set. */
function refersToSet(value: unknown, env: Record<string, string | undefined>): boolean {
  if (typeof value === 'string') return [...value.matchAll(ENV_REFERENCE)].some(([, name]) => env[name!] !== undefined && env[name!] !== '');
  if (Array.isArray(value)) return value.some((v) => refersToSet(v, env));
  if (value && typeof value === 'object') return Object.values(value).some((v) => refersToSet(v, env));
  return false;
}

function kindOf(handlerKey: string): SourceKind | undefined {
  if (handlerKey === 'openapi' || handlerKey === 'graphql') return handlerKey;
  // Mesh's stock `soap` key is served by Junction's SOAP handler: the options both take mean the same.
  if (handlerKey === 'soap' || handlerKey === JUNCTION_SOAP_HANDLER || handlerKey.endsWith('/soap/mesh-handler.ts')) return 'soap';
  return undefined;
}

const SCHEMAS = { openapi, graphql, soap } as const;

/** A declared link, as Mesh v0 writes it (additionalResolvers entries that are objects). */
const additionalResolver = z.strictObject({
  targetTypeName: z.string().min(1),
  targetFieldName: z.string().min(1),
  sourceName: z.string().min(1),
  sourceTypeName: z.string().min(1),
  sourceFieldName: z.string().min(1),
  sourceArgs: z.record(z.string(), z.unknown()).optional(),
  sourceSelectionSet: z.string().optional(),
  requiredSelectionSet: z.string().optional(),
  keyField: z.string().optional(),
  keysArg: z.string().optional(),
  valueKeyField: z.string().optional(),
  additionalArgs: z.record(z.string(), z.unknown()).optional(),
  result: z.string().optional(),
  resultType: z.string().optional(),
});

export type AdditionalResolverEntry = z.infer<typeof additionalResolver>;

/** A declared subscription, as Mesh v0 writes it: a field fed by a topic (a webhook's or a poll's `pubsubTopic`). */
const subscriptionResolver = z.strictObject({
  targetTypeName: z.literal('Subscription', { error: 'a pubsubTopic feeds a field of Subscription' }),
  targetFieldName: graphqlName,
  pubsubTopic: z.string().min(1),
  /** Which events reach a subscriber: an expression over `root` (the event's payload) and `args` (filter-by.ts). */
  filterBy: z.string().min(1).optional(),
  /** Where the field's value is in the payload (a dot path); default the payload itself. */
  result: z.string().min(1).optional(),
});

export type SubscriptionEntry = z.infer<typeof subscriptionResolver> & { filter?: FilterExpression };

/** Top-level keys of a Mesh v0 file that configure Mesh's own server or tooling: read by Mesh, not by Junction. */
const MESH_ONLY_KEYS = new Set(['serve', 'merger', 'cache', 'documents', 'sdk', 'codegen', 'require', 'logger', 'pollingInterval', 'skipSSLValidation', 'customFetch', 'persistedOperations', 'plugins', 'pubsub', 'liveQueryInvalidations']);

export interface MeshConfig {
  file: string;
  /** Relative paths in the file are resolved from here: the file's folder. */
  baseDir: string;
  /** Every source the file names. */
  entries: SourceEntry[];
  /**
   * `contract`: the module of a code contract (absolute path), served in place of the sources it
   * names (schema/index.ts is the demo's): its types and resolvers over those sources' operations.
   */
  contract?: string;
  /**
   * `embedded`: a module that starts backends in-process for development (the demo's), and gives
   * the variables (`{env.*}`) the file reads for them (absolute path). Read by main.ts before the file.
   */
  embedded?: string;
  /** `additionalEnvelopPlugins`: a module whose default export is a list of envelop/yoga plugins (absolute path). */
  plugins?: string;
  /** `additionalTypeDefs`, parsed. */
  typeDefs: DocumentNode[];
  /** The `.graphql` files `additionalTypeDefs` named (absolute paths), for `junction dev` to watch. */
  typeDefFiles?: string[];
  /** `additionalResolvers`: declared links, and module paths of code resolvers (relative to baseDir). */
  resolvers: (AdditionalResolverEntry | string)[];
  /** `additionalResolvers` entries with a `pubsubTopic`: subscriptions fed by the sources' webhooks and polls. */
  subscriptions: SubscriptionEntry[];
  /** Keys Junction leaves to Mesh (`serve`, `cache`, ...), for the start-up log. */
  ignored: string[];
}

function issues(error: z.ZodError, where: string, problems: string[], what = 'option(s)'): void {
  for (const issue of error.issues) {
    const at = issue.path.length ? `.${issue.path.join('.')}` : '';
    const detail = issue.code === 'unrecognized_keys' ? `${what} ${issue.keys.join(', ')} are not supported by Junction` : issue.message;
    problems.push(`${where}${at}: ${detail}`);
  }
}

/**
 * A configuration never forwards what a caller sent: `{context.headers.authorization}` in Mesh would
 * pass a client's token to a backend. First-party backends learn who calls from `forwardIdentity`.
 */
function forwardsCaller(value: unknown): boolean {
  if (typeof value === 'string') return /\{context\./.test(value);
  if (Array.isArray(value)) return value.some(forwardsCaller);
  if (value && typeof value === 'object') return Object.values(value).some(forwardsCaller);
  return false;
}

function readTypeDefs(raw: unknown, baseDir: string, problems: string[], files: string[]): DocumentNode[] {
  if (raw === undefined || raw === null) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  const documents: DocumentNode[] = [];
  for (const [index, item] of list.entries()) {
    const where = `additionalTypeDefs${Array.isArray(raw) ? `[${index}]` : ''}`;
    if (typeof item !== 'string') {
      problems.push(`${where}: must be SDL text or the path of a .graphql file`);
      continue;
    }
    const isPath = !/[{}\s]/.test(item.trim());
    let text = item;
    if (isPath) {
      const path = resolve(baseDir, item);
      files.push(path);
      if (!existsSync(path)) {
        problems.push(`${where}: ${item} does not exist (paths are read from ${baseDir})`);
        continue;
      }
      text = readFileSync(path, 'utf8');
    }
    try {
      documents.push(parse(text));
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  }
  return documents;
}

/**
 * Reads a GraphQL Mesh v0 configuration: its sources (with their transforms), `additionalTypeDefs`
 * and `additionalResolvers`. Every problem in the file is reported at once, each naming where it
 * is. `{env.NAME}` in source options is replaced from `env`, as Mesh does.
 */
function readYaml(file: string): Record<string, unknown> | undefined {
  try {
    return yaml.load(readFileSync(file, 'utf8')) as Record<string, unknown> | undefined;
  } catch (err) {
    throw new SourceConfigError(file, [`the file cannot be read as YAML: ${(err as Error).message}`]);
  }
}

/** A module path the file names under `key`, resolved from the file's folder (undefined when absent). */
function modulePathOf(parsed: Record<string, unknown>, key: string, baseDir: string, problems: string[]): string | undefined {
  const value = parsed[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`${key}: must be the path of a module`);
    return undefined;
  }
  const path = resolve(baseDir, value);
  if (!existsSync(path)) {
    problems.push(`${key}: ${value} does not exist (paths are read from ${baseDir})`);
    return undefined;
  }
  return path;
}

/** The file's `embedded` module, if any: main.ts starts it before reading the rest (it gives the `{env.*}` values). */
export function embeddedModuleOf(file: string): string | undefined {
  const parsed = readYaml(file);
  if (!parsed || typeof parsed !== 'object') return undefined;
  const problems: string[] = [];
  const path = modulePathOf(parsed, 'embedded', dirname(resolve(file)), problems);
  if (problems.length > 0) throw new SourceConfigError(file, problems);
  return path;
}

export function readMeshConfig(file: string, env: Record<string, string | undefined> = process.env): MeshConfig {
  const baseDir = dirname(resolve(file));
  const parsed = readYaml(file);
  const problems: string[] = [];
  if (!parsed || typeof parsed !== 'object') throw new SourceConfigError(file, ['the file holds no configuration (expected `sources:`)']);
  const sources = Array.isArray(parsed.sources) ? (parsed.sources as Record<string, unknown>[]) : [];
  if (!Array.isArray(parsed.sources)) problems.push('sources: must be a list of sources');
  const entries: SourceEntry[] = [];
  const names = new Set<string>();
  const ignored: string[] = [];
  for (const key of Object.keys(parsed)) {
    if (['sources', 'additionalTypeDefs', 'additionalResolvers', 'contract', 'embedded', 'additionalEnvelopPlugins'].includes(key)) continue;
    if (MESH_ONLY_KEYS.has(key)) ignored.push(key);
    else if (key === 'transforms') problems.push('transforms: transforms of the whole schema are not supported yet; put them on the sources they apply to');
    else problems.push(`${key}: is not a key Junction knows (sources, additionalTypeDefs, additionalResolvers, additionalEnvelopPlugins, contract, embedded; Mesh's serve, cache, ... are left to Mesh)`);
  }
  for (const [index, raw] of sources.entries()) {
    const name = typeof raw?.name === 'string' ? raw.name : undefined;
    const where = `sources[${index}]${name ? ` (${name})` : ''}`;
    if (!name || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) {
      problems.push(`${where}.name: must start with a letter and hold only letters, digits, "-" and "_"; got ${JSON.stringify(raw?.name)}`);
      continue;
    }
    if (names.has(name)) problems.push(`${where}.name: "${name}" is used by two sources`);
    names.add(name);
    const unknownKeys = Object.keys(raw).filter((k) => !['name', 'handler', 'transforms'].includes(k));
    if (unknownKeys.length > 0) problems.push(`${where}: key(s) ${unknownKeys.join(', ')} are not supported by Junction (a source has name, handler, transforms)`);
    const handler = raw.handler as Record<string, unknown> | undefined;
    const keys = handler && typeof handler === 'object' ? Object.keys(handler) : [];
    if (keys.length !== 1) {
      problems.push(`${where}.handler: must name exactly one handler (openapi, graphql, soap)`);
      continue;
    }
    const key = keys[0]!;
    const kind = kindOf(key);
    if (!kind) {
      problems.push(`${where}.handler: "${key}" is not a handler Junction serves (openapi, graphql, soap)`);
      continue;
    }
    if (forwardsCaller(handler![key])) {
      problems.push(`${where}.handler.${key}: {context.*} would send what a caller sent to the backend; Junction never forwards a caller's headers or credentials (a first-party backend can learn who calls with forwardIdentity: true)`);
      continue;
    }
    const transforms: MeshTransform[] = [];
    const rawTransforms = raw.transforms === undefined ? [] : raw.transforms;
    if (!Array.isArray(rawTransforms)) problems.push(`${where}.transforms: must be a list`);
    else {
      for (const [t, transform] of rawTransforms.entries()) {
        const tWhere = `${where}.transforms[${t}]`;
        const tKeys = transform && typeof transform === 'object' ? Object.keys(transform) : [];
        if (tKeys.length !== 1 || !(SUPPORTED_TRANSFORMS as readonly string[]).includes(tKeys[0]!)) {
          problems.push(`${tWhere}: ${tKeys.length === 1 ? `"${tKeys[0]}"` : 'this'} is not a transform Junction serves (${SUPPORTED_TRANSFORMS.join(', ')})`);
          continue;
        }
        const result = transformSchema.safeParse(transform);
        if (result.success) transforms.push(result.data);
        else issues(result.error, tWhere, problems);
      }
    }
    const unset: Unset[] = [];
    const options = interpolate(handler![key], env, `${where}.handler.${key}`, problems, unset);
    // Credentials that name a variable need it: a source is never called without the credentials its entry names.
    // So does a webhook's first secret (the others are for a rotation, and may be unset), and PayPal's webhook id.
    const needed = (path: string) => /\.(auth|security)(\.|$)|\.webhooks\[\d+\]\.(secrets\[0\]|webhookId)$/.test(path);
    for (const u of unset) if (needed(u.path)) problems.push(`${u.path}: {env.${u.name}} is used but ${u.name} is not set`);
    if (unset.some((u) => needed(u.path))) continue;
    const result = SCHEMAS[kind].safeParse(options === UNSET ? {} : options);
    if (!result.success) {
      // An option needed but left out because its variable is unset says which variable.
      const named = result.error.issues.map((issue) => {
        const at = `${where}.handler.${key}${issue.path.length ? `.${issue.path.join('.')}` : ''}`;
        const missing = unset.find((u) => u.path === at || u.path.startsWith(`${at}.`));
        return missing ? `${missing.path}: {env.${missing.name}} is used but ${missing.name} is not set` : undefined;
      });
      for (const message of named) if (message) problems.push(message);
      const rest = result.error.issues.filter((_, i) => named[i] === undefined);
      // A value refused that came from a variable says which, and (but for credentials) its value.
      for (const issue of rest) {
        const at = `${where}.handler.${key}${issue.path.length ? `.${issue.path.join('.')}` : ''}`;
        const raw = issue.path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k as string] : undefined), handler![key]);
        const names = typeof raw === 'string' ? [...raw.matchAll(ENV_REFERENCE)].map(([, name]) => name!) : [];
        const from = names.length === 0 ? '' : ` (from ${names.map((n) => (/\.(auth|security)(\.|$)/.test(at) ? n : `${n}=${JSON.stringify(env[n])}`)).join(', ')})`;
        const detail = issue.code === 'unrecognized_keys' ? `option(s) ${issue.keys.join(', ')} are not supported by Junction` : issue.message;
        problems.push(`${at}: ${detail}${from}`);
      }
      continue;
    }
    entries.push({ name, kind, options: result.data, transforms } as SourceEntry);
  }
  // Webhook paths are the gateway's own: one endpoint each, never one of its other paths.
  const webhookPaths = new Map<string, string>();
  for (const entry of entries) {
    for (const [i, hook] of (entry.options.webhooks ?? []).entries()) {
      const where = `sources (${entry.name}).webhooks[${i}].path`;
      if (RESERVED_PATHS.some((p) => hook.path === p || hook.path.startsWith(`${p}/`))) problems.push(`${where}: ${hook.path} is one of the gateway's own paths (${RESERVED_PATHS.join(', ')})`);
      const other = webhookPaths.get(hook.path);
      if (other) problems.push(`${where}: ${hook.path} is also a webhook of ${other}`);
      webhookPaths.set(hook.path, entry.name);
      for (const problem of webhookProblems(hook)) problems.push(`sources (${entry.name}).webhooks[${i}]: ${problem}`);
    }
  }
  // A drift spec given as a path must be there (a URL is read only when the check runs).
  for (const entry of entries) {
    const against = entry.options.drift?.against;
    if (against && !/^https?:\/\//i.test(against) && !existsSync(resolve(baseDir, against))) {
      problems.push(`sources (${entry.name}).drift.against: ${against} does not exist (paths are read from ${baseDir})`);
    }
  }
  // A poll's topic is its own: its lease and its last state are the topic's (one poller per topic).
  const topicOwners = new Map<string, string>();
  for (const entry of entries) for (const hook of entry.options.webhooks ?? []) if (!topicOwners.has(hook.pubsubTopic)) topicOwners.set(hook.pubsubTopic, `a webhook of ${entry.name}`);
  for (const entry of entries) {
    for (const [i, poll] of (entry.options.polls ?? []).entries()) {
      const where = `sources (${entry.name}).polls[${i}]`;
      const owner = topicOwners.get(poll.pubsubTopic);
      if (owner) problems.push(`${where}.pubsubTopic: "${poll.pubsubTopic}" is also the topic of ${owner}`);
      else topicOwners.set(poll.pubsubTopic, `a poll of ${entry.name}`);
      if (poll.selectionSet !== undefined && entry.kind !== 'graphql') problems.push(`${where}.selectionSet: only a GraphQL source's poll chooses its fields`);
    }
  }
  const typeDefFiles: string[] = [];
  const typeDefs = readTypeDefs(parsed.additionalTypeDefs, baseDir, problems, typeDefFiles);
  /** A declared link, checked the same way whether an additionalResolvers entry or a `@resolveTo` says it. */
  const checkLink = (item: unknown, where: string, what: string, at: (key: string) => string): AdditionalResolverEntry | undefined => {
    if (item && typeof item === 'object' && 'pubsubTopic' in item) {
      problems.push(`${where}: a subscription from a pubsubTopic is declared in additionalResolvers (targetTypeName: Subscription), not with @resolveTo`);
      return undefined;
    }
    const result = additionalResolver.safeParse(item);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const detail = issue.code === 'unrecognized_keys' ? `${what} ${issue.keys.join(', ')} are not supported by Junction` : issue.message;
        problems.push(`${issue.path.length ? at(issue.path.join('.')) : where}: ${detail}`);
      }
      return undefined;
    }
    if (!names.has(result.data.sourceName)) problems.push(`${at('sourceName')}: "${result.data.sourceName}" is not a source in this file`);
    if ((result.data.keyField === undefined) !== (result.data.keysArg === undefined)) problems.push(`${where}: keyField and keysArg go together (a batched link needs both)`);
    return result.data;
  };
  // Mesh v1's spelling of a link, on a field of additionalTypeDefs (compose.ts turns it into a resolver).
  for (const document of typeDefs) {
    const onFields = (type: { name: { value: string }; fields?: readonly FieldDefinitionNode[] }) => {
      for (const field of type.fields ?? []) {
        for (const directive of field.directives ?? []) {
          if (directive.name.value !== 'resolveTo') continue;
          const where = `additionalTypeDefs: @resolveTo on ${type.name.value}.${field.name.value}`;
          const args = Object.fromEntries((directive.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]));
          checkLink({ targetTypeName: type.name.value, targetFieldName: field.name.value, ...args }, where, 'argument(s)', (key) => `${where} (${key})`);
        }
      }
    };
    visit(document, {
      [Kind.OBJECT_TYPE_DEFINITION]: onFields,
      [Kind.OBJECT_TYPE_EXTENSION]: onFields,
      [Kind.INTERFACE_TYPE_DEFINITION]: onFields,
      [Kind.INTERFACE_TYPE_EXTENSION]: onFields,
    });
  }
  const resolvers: (AdditionalResolverEntry | string)[] = [];
  const subscriptions: SubscriptionEntry[] = [];
  const topics = new Set(entries.flatMap((e) => [...(e.options.webhooks ?? []), ...(e.options.polls ?? [])].map((w) => w.pubsubTopic)));
  const checkSubscription = (item: unknown, where: string): SubscriptionEntry | undefined => {
    const result = subscriptionResolver.safeParse(item);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const detail = issue.code === 'unrecognized_keys' ? `key(s) ${issue.keys.join(', ')} are not supported by Junction` : issue.message;
        problems.push(`${where}${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${detail}`);
      }
      return undefined;
    }
    const entry: SubscriptionEntry = result.data;
    if (!topics.has(entry.pubsubTopic)) {
      // Mesh's own form, `webhook:post:/path`, publishes whatever reaches the path, unverified.
      const mesh = /^webhook:[a-z]+:(\/\S*)$/i.exec(entry.pubsubTopic);
      const hint = mesh
        ? `; Mesh publishes any request to ${mesh[1]} unverified, Junction only a verified webhook: declare it in its source's entry (webhooks: [{ path: ${mesh[1]}, scheme, secrets, pubsubTopic }]) and name that pubsubTopic here`
        : '';
      problems.push(`${where}.pubsubTopic: "${entry.pubsubTopic}" is the topic of no webhook or poll in this file (${[...topics].join(', ') || 'none is declared'})${hint}`);
    }
    if (entry.filterBy !== undefined) {
      try {
        entry.filter = parseFilter(entry.filterBy);
      } catch (err) {
        problems.push(`${where}.filterBy: ${(err as Error).message}`);
      }
    }
    return entry;
  };
  const rawResolvers = parsed.additionalResolvers ?? [];
  if (!Array.isArray(rawResolvers)) problems.push('additionalResolvers: must be a list');
  else {
    for (const [index, item] of rawResolvers.entries()) {
      const where = `additionalResolvers[${index}]`;
      if (typeof item === 'string') {
        // A module of code resolvers (`./resolvers.mjs`, `./links.ts#resolvers`): a path is read from
        // the file's folder, as Mesh does; a package name is left to the module resolution.
        const modulePath = item.split('#')[0]!;
        if ((modulePath.startsWith('.') || isAbsolute(modulePath)) && !existsSync(resolve(baseDir, modulePath))) {
          problems.push(`${where}: ${modulePath} does not exist (paths are read from ${baseDir})`);
        }
        resolvers.push(item);
        continue;
      }
      if (item && typeof item === 'object' && 'pubsubTopic' in item) {
        const subscription = checkSubscription(item, where);
        if (subscription) subscriptions.push(subscription);
        continue;
      }
      const link = checkLink(item, where, 'key(s)', (key) => `${where}.${key}`);
      if (link) resolvers.push(link);
    }
  }
  const contract = modulePathOf(parsed, 'contract', baseDir, problems);
  const embedded = modulePathOf(parsed, 'embedded', baseDir, problems);
  const plugins = modulePathOf(parsed, 'additionalEnvelopPlugins', baseDir, problems);
  if (problems.length > 0) throw new SourceConfigError(file, problems);
  return {
    file, baseDir, entries, typeDefs, typeDefFiles, resolvers, subscriptions, ignored,
    ...(contract ? { contract } : {}), ...(embedded ? { embedded } : {}), ...(plugins ? { plugins } : {}),
  };
}

/** The sources in `file`, validated. */
export function readUserSources(file: string, env: Record<string, string | undefined> = process.env): SourceEntry[] {
  return readMeshConfig(file, env).entries;
}
