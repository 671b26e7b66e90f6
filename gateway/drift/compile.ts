/**
 * A source's spec compiled into its GraphQL schema as start-up compiles it (the loader of its
 * kind, with its entry's options), from a file or a URL. Loading calls nothing: a fetch that refuses
 * stands in for the network, as in `junction check`. A URL is read here, once, bounded in time
 * and size, into a temporary file that is removed afterwards: only when the command line names
 * it, or the sources file's `drift.against` does.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, isAbsolute, join, resolve } from 'node:path';
import type { GraphQLSchema } from 'graphql';
import type { SourceEntry } from '../composition/byo/mesh-config.ts';
import { loadUserSources } from '../composition/byo/index.ts';

/** Longest wait for a newer spec given as a URL, in milliseconds. */
export const DRIFT_FETCH_TIMEOUT_MS = 10_000;
/** Largest newer spec read from a URL, in bytes (10 MiB: Stripe's whole OpenAPI document is about 7). */
export const DRIFT_MAX_SPEC_BYTES = 10 * 1024 * 1024;

/** A spec that cannot be read or compiled: start-up would stop on it with the same code. */
export class DriftSpecError extends Error {
  readonly code = 'SOURCE_LOAD_FAILED';
  override readonly name = 'DriftSpecError';
}

export const isUrl = (spec: string) => /^https?:\/\//i.test(spec);

const offline: typeof globalThis.fetch = async (input) => {
  throw new Error(`comparing specs calls nothing (the spec refers to ${String(input instanceof Request ? input.url : input)}): give a spec that holds everything it needs`);
};

/** The body of `url`, refused past `maxBytes` or `timeoutMs`, and unless it answers 2xx. */
export async function fetchSpec(url: string, options: { fetch?: typeof globalThis.fetch; timeoutMs?: number; maxBytes?: number } = {}): Promise<string> {
  const { fetch = globalThis.fetch, timeoutMs = DRIFT_FETCH_TIMEOUT_MS, maxBytes = DRIFT_MAX_SPEC_BYTES } = options;
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'follow', headers: { accept: 'application/yaml, application/json, text/xml, application/graphql, text/plain, */*' } });
  } catch (err) {
    throw new DriftSpecError(signal.aborted ? `${url} did not answer within ${timeoutMs} ms` : `${url} could not be read: ${(err as Error).message}`);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new DriftSpecError(`${url} answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new DriftSpecError(`${url} is ${declared} bytes, more than the ${maxBytes} a spec may be`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body ?? []) {
      size += chunk.byteLength;
      if (size > maxBytes) throw new DriftSpecError(`${url} sent more than the ${maxBytes} bytes a spec may be`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof DriftSpecError) throw err;
    throw new DriftSpecError(signal.aborted ? `${url} did not answer within ${timeoutMs} ms` : `${url} could not be read: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The extension the loader of `entry`'s kind reads a spec with. */
function extensionFor(entry: SourceEntry, spec: string): string {
  const fromUrl = extname(new URL(spec).pathname);
  if (/^\.(ya?ml|json|wsdl|xml|graphqls?|gql)$/i.test(fromUrl)) return fromUrl;
  const current = 'source' in entry.options && typeof entry.options.source === 'string' ? extname(entry.options.source) : '';
  return current || { openapi: '.yaml', soap: '.wsdl', graphql: '.graphql' }[entry.kind];
}

export interface CompileOptions {
  /** Where a relative path is read from: the sources file's folder. */
  baseDir: string;
  /** For a URL. Default the global fetch. */
  fetch?: typeof globalThis.fetch;
  timeoutMs?: number;
  maxBytes?: number;
}

/** `spec` (a path or an http(s) URL) compiled with `entry`'s options into the source's GraphQL schema. */
export async function compileSpec(entry: SourceEntry, spec: string, options: CompileOptions): Promise<GraphQLSchema> {
  let dir: string | undefined;
  let path: string;
  if (isUrl(spec)) {
    const text = await fetchSpec(spec, options);
    dir = await mkdtemp(join(tmpdir(), 'junction-drift-'));
    path = join(dir, `spec${extensionFor(entry, spec)}`);
    await writeFile(path, text);
  } else {
    path = isAbsolute(spec) ? spec : resolve(options.baseDir, spec);
    const found = await stat(path).catch(() => undefined);
    if (!found?.isFile()) throw new DriftSpecError(`${spec} is not a file (paths are read from ${options.baseDir})`);
  }
  try {
    const [loaded] = await loadUserSources([{ ...entry, options: { ...entry.options, source: path } } as SourceEntry], {
      cwd: options.baseDir, timeoutMs: DRIFT_FETCH_TIMEOUT_MS, maxResponseBytes: DRIFT_MAX_SPEC_BYTES, fetch: offline,
    });
    return loaded!.schema;
  } catch (err) {
    throw new DriftSpecError(`${spec}: ${(err as Error).message}`);
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
