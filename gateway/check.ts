/**
 * `junction check`: everything start-up validates, without opening a port or calling a backend,
 * and every problem at once rather than the first one start-up stops at: the environment
 * (config.ts), the sources file (mesh-config.ts), each spec it names (OpenAPI, WSDL, SDL, loaded as
 * start-up loads them), the contract module, the composition and the polls. Made for CI: a configuration
 * that passes here starts, as far as anything short of the backends themselves can tell.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isObjectType, type GraphQLSchema } from 'graphql';
import yaml from 'js-yaml';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { startupCode } from './errors.ts';
import { buildGatewaySchema } from './composition/index.ts';
import { embeddedModuleOf, readMeshConfig, SourceConfigError, type MeshConfig } from './composition/byo/mesh-config.ts';
import { loadUserSources, SourceLoadError } from './composition/byo/index.ts';
import { importModule } from './composition/modules.ts';
import { preparePolls } from './webhooks/poll-reads.ts';
import type { StartupCode } from '../schema/errors.ts';

/** One problem: its start-up code (schema/errors.ts STARTUP_ERRORS) and what is wrong, where. */
export interface CheckProblem {
  code: StartupCode;
  message: string;
}

export interface CheckResult {
  /** The sources file checked. */
  file: string;
  problems: CheckProblem[];
  /** When clean: what start-up would serve. */
  summary?: { sources: string[]; operations: { query: number; mutation: number; subscription: number } };
}

/** Start-up's timeouts are irrelevant here (nothing is called), but the loaders want them. */
const LOAD_OPTIONS = { timeoutMs: 10_000, maxResponseBytes: 10 * 1024 * 1024 };

/**
 * A fetch that refuses: a source whose spec is a URL, or a GraphQL endpoint without `source:`
 * (introspected at start), is reported rather than called, so the check gives the same answer
 * offline, in CI, as anywhere.
 */
const offline: typeof globalThis.fetch = async (input) => {
  throw new Error(`junction check calls nothing (it was asked for ${String(input instanceof Request ? input.url : input)}): give the source a spec file (\`source:\`) to check it offline`);
};

/** The message of an error as one line: the check prints one line per problem. */
function oneLine(text: string): string {
  return text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean).join(' ');
}

export async function checkConfiguration(env: Record<string, string | undefined>): Promise<CheckResult> {
  const problems: CheckProblem[] = [];
  const add = (code: StartupCode, message: string) => problems.push({ code, message: oneLine(message) });
  let config: Config | undefined;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) add('CONFIG_INVALID', problem);
  }
  // The rest is checked even when the environment is not right: CI wants every problem in one run.
  const file = config?.meshConfig ?? (env.JUNCTION_CONFIG || '.meshrc.yaml');
  const mode = config?.mode ?? (env.NODE_ENV === 'development' ? 'development' : 'production');
  const sourceEnv: Record<string, string | undefined> = { ...(config?.sourceEnv ?? env) };
  if (!existsSync(file)) {
    add('SOURCES_FILE_INVALID', `${file}: the sources file does not exist (JUNCTION_CONFIG or --config names it)`);
    return { file, problems };
  }

  // An `embedded` module gives variables when it starts; one that exports `plan` says which
  // without starting anything. Without `plan`, the variables it would give count as unset.
  try {
    const module = embeddedModuleOf(file);
    if (module) {
      const { plan } = await importModule(module) as { plan?: (options: { env: Record<string, string | undefined>; mode: Config['mode'] }) => Record<string, string> };
      if (plan) Object.assign(sourceEnv, plan({ env: sourceEnv, mode }));
    }
  } catch (err) {
    add(startupCode(err) ?? 'SOURCES_FILE_INVALID', `${file}: ${err instanceof SourceConfigError ? err.problems.join('; ') : (err as Error).message}`);
  }

  // Spec files that do not exist, found before the file is validated, so that they are listed
  // with its other problems (loading, below, needs a file without any).
  const missing = missingSpecs(file);
  for (const problem of missing) add('SOURCE_LOAD_FAILED', `${file}: ${problem}`);

  let sourcesFile: MeshConfig;
  try {
    sourcesFile = readMeshConfig(file, sourceEnv);
  } catch (err) {
    if (!(err instanceof SourceConfigError)) throw err;
    for (const problem of err.problems) add('SOURCES_FILE_INVALID', `${file}: ${problem}`);
    return { file, problems };
  }
  if (missing.length > 0) return { file, problems };

  try {
    const built = await buildGatewaySchema({ ...LOAD_OPTIONS, meshConfig: file, env: sourceEnv, sourcesFile, fetch: offline });
    // A poll's operation must be a read of its source as loaded: start-up says so with the file's problems.
    for (const problem of preparePolls(sourcesFile, built.sources).problems) add('SOURCES_FILE_INVALID', `${file}: ${problem}`);
    if (problems.length > 0) return { file, problems };
    return { file, problems, summary: { sources: sourcesFile.entries.map((e) => e.name), operations: rootFieldCounts(built.schema) } };
  } catch (err) {
    if (err instanceof SourceLoadError) {
      // The first source that failed stopped the build: load each on its own to name every one.
      for (const entry of sourcesFile.entries) {
        try {
          await loadUserSources([entry], { ...LOAD_OPTIONS, cwd: sourcesFile.baseDir, fetch: offline });
        } catch (each) {
          add('SOURCE_LOAD_FAILED', `${file}: ${(each as Error).message}`);
        }
      }
    } else if (err && typeof err === 'object' && Array.isArray((err as { problems?: unknown }).problems)) {
      for (const problem of (err as { problems: string[] }).problems) add(startupCode(err) ?? 'COMPOSITION_FAILED', `${file}: ${problem}`);
    } else {
      add(startupCode(err) ?? 'COMPOSITION_FAILED', `${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return { file, problems };
  }
}

/** Each source's `handler.<kind>.source` that is a path (not a URL, not `{env.*}`) to no file. */
function missingSpecs(file: string): string[] {
  const problems: string[] = [];
  let parsed: unknown;
  try {
    parsed = yaml.load(readFileSync(file, 'utf8'));
  } catch {
    // readMeshConfig says why the file cannot be read.
    return problems;
  }
  const sources = (parsed as { sources?: unknown })?.sources;
  if (!Array.isArray(sources)) return problems;
  const baseDir = dirname(resolve(file));
  for (const [index, raw] of sources.entries()) {
    const handler = (raw as { handler?: unknown })?.handler;
    if (!handler || typeof handler !== 'object') continue;
    for (const [kind, options] of Object.entries(handler)) {
      const spec = (options as { source?: unknown } | null)?.source;
      if (typeof spec !== 'string' || /^[a-z]+:\/\//i.test(spec) || spec.includes('{')) continue;
      const path = isAbsolute(spec) ? spec : resolve(baseDir, spec);
      const name = typeof (raw as { name?: unknown }).name === 'string' ? ` (${(raw as { name: string }).name})` : '';
      if (!existsSync(path)) problems.push(`sources[${index}]${name}.handler.${kind}.source: ${spec} does not exist (paths are read from ${baseDir})`);
    }
  }
  return problems;
}

/** Root fields the served schema exposes, by operation type. */
function rootFieldCounts(schema: GraphQLSchema): { query: number; mutation: number; subscription: number } {
  const count = (type: unknown) => (isObjectType(type) ? Object.keys(type.getFields()).length : 0);
  return { query: count(schema.getQueryType()), mutation: count(schema.getMutationType()), subscription: count(schema.getSubscriptionType()) };
}
