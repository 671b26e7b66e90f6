import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { z } from 'zod';
import type { SourceKind } from './types.ts';

/**
 * Reads the user's own sources from `.meshrc.yaml`: every entry that is not one of the curated
 * demo sources. The file is GraphQL Mesh's, so users write what they already know; Junction
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
const timeoutMs = z.number().int().min(1).max(120_000);

const openapi = z.strictObject({
  rename,
  public: isPublic,
  source: z.string().min(1),
  endpoint: url.optional(),
  operationHeaders: headers.optional(),
  queryParams: headers.optional(),
  timeoutMs: timeoutMs.optional(),
  forwardIdentity: z.boolean().optional(),
  idempotencyHeaders: z.array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header name')).optional(),
});

const graphql = z.strictObject({
  rename,
  public: isPublic,
  endpoint: url,
  source: z.string().min(1).optional(),
  operationHeaders: headers.optional(),
  timeoutMs: timeoutMs.optional(),
  forwardIdentity: z.boolean().optional(),
});

const soap = z.strictObject({
  rename,
  public: isPublic,
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
  timeoutMs: timeoutMs.optional(),
});

export type OpenApiEntry = z.infer<typeof openapi>;
export type GraphQLEntry = z.infer<typeof graphql>;
export type SoapEntry = z.infer<typeof soap>;

export type SourceEntry =
  | { name: string; kind: 'openapi'; options: OpenApiEntry }
  | { name: string; kind: 'graphql'; options: GraphQLEntry }
  | { name: string; kind: 'soap'; options: SoapEntry };

export class SourceConfigError extends Error {
  override readonly name = 'SourceConfigError';
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file} has ${problems.length} problem(s) with its sources:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const ENV_REFERENCE = /\{env\.([A-Za-z_][A-Za-z0-9_]*)\}/g;

function interpolate(value: unknown, env: Record<string, string | undefined>, path: string, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (_, name: string) => {
      const found = env[name];
      if (found === undefined || found === '') problems.push(`${path}: {env.${name}} is used but ${name} is not set`);
      return found ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${path}[${i}]`, problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, `${path}.${k}`, problems)]));
  }
  return value;
}

function kindOf(handlerKey: string): SourceKind | 'stock-soap' | undefined {
  if (handlerKey === 'openapi' || handlerKey === 'graphql') return handlerKey;
  if (handlerKey === JUNCTION_SOAP_HANDLER || handlerKey.endsWith('/soap/mesh-handler.ts')) return 'soap';
  if (handlerKey === 'soap') return 'stock-soap';
  return undefined;
}

const SCHEMAS = { openapi, graphql, soap } as const;

/**
 * The sources in `file` other than `curated`, validated. Problems in all entries are reported
 * together, each naming the source and the option.
 */
export function readUserSources(
  file: string,
  curated: readonly string[],
  env: Record<string, string | undefined> = process.env,
): SourceEntry[] {
  const parsed = yaml.load(readFileSync(file, 'utf8')) as { sources?: unknown } | undefined;
  const sources = Array.isArray(parsed?.sources) ? (parsed.sources as Record<string, unknown>[]) : [];
  const problems: string[] = [];
  const entries: SourceEntry[] = [];
  const names = new Set<string>();
  for (const [index, raw] of sources.entries()) {
    const name = typeof raw?.name === 'string' ? raw.name : undefined;
    const where = `sources[${index}]${name ? ` (${name})` : ''}`;
    if (!name || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) {
      problems.push(`${where}.name: must start with a letter and hold only letters, digits, "-" and "_"; got ${JSON.stringify(raw?.name)}`);
      continue;
    }
    if (names.has(name)) problems.push(`${where}.name: "${name}" is used by two sources`);
    names.add(name);
    if (curated.includes(name)) continue;
    const handler = raw.handler as Record<string, unknown> | undefined;
    const keys = handler && typeof handler === 'object' ? Object.keys(handler) : [];
    if (keys.length !== 1) {
      problems.push(`${where}.handler: must name exactly one handler (openapi, graphql, or ${JUNCTION_SOAP_HANDLER})`);
      continue;
    }
    const key = keys[0]!;
    const kind = kindOf(key);
    if (kind === 'stock-soap') {
      problems.push(`${where}.handler.soap: use Junction's SOAP handler, "${JUNCTION_SOAP_HANDLER}", with the same options; Mesh's stock one cannot load most WSDLs nor set the endpoint per environment`);
      continue;
    }
    if (!kind) {
      problems.push(`${where}.handler: "${key}" is not a handler Junction serves (openapi, graphql, ${JUNCTION_SOAP_HANDLER})`);
      continue;
    }
    const options = interpolate(handler![key], env, `${where}.handler.${key}`, problems);
    const result = SCHEMAS[kind].safeParse(options);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const at = issue.path.length ? `.${issue.path.join('.')}` : '';
        const detail = issue.code === 'unrecognized_keys' ? `option(s) ${issue.keys.join(', ')} are not supported by Junction` : issue.message;
        problems.push(`${where}.handler.${kind}${at}: ${detail}`);
      }
      continue;
    }
    entries.push({ name, kind, options: result.data } as SourceEntry);
  }
  if (problems.length > 0) throw new SourceConfigError(file, problems);
  return entries;
}
