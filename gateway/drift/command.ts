/**
 * `junction diff [--config <file>] [--json] <source> <newer spec: file or URL>`: the changes from
 * the spec a source's entry names to a newer one, grouped by level, each with the public fields it
 * affects. Made for CI: exit 0 when nothing breaks, 1 when something does, or when the comparison
 * cannot be made (a newer spec the gateway could not load would stop it at start: the worst
 * breaking change there is), 2 for a bad command line. Nothing is called but the URL given.
 */
import { parseArgs } from 'node:util';
import type { GraphQLSchema } from 'graphql';
import type { MeshConfig, SourceEntry } from '../composition/byo/mesh-config.ts';
import type { StartupCode } from '../../schema/errors.ts';
import type { Contract } from '../../schema/contract.ts';
import type { DriftLevel, DriftReport } from './index.ts';

/** The loaders (and the contract's modules) take seconds to import: a bad command line need not wait for them. */
const heavy = async () => {
  const [meshConfig, composition, modules, errors, drift] = await Promise.all([
    import('../composition/byo/mesh-config.ts'),
    import('../composition/index.ts'),
    import('../composition/modules.ts'),
    import('../errors.ts'),
    import('./index.ts'),
  ]);
  return { ...meshConfig, ...composition, ...modules, ...errors, ...drift };
};
type Heavy = Awaited<ReturnType<typeof heavy>>;

const isUrl = (spec: string) => /^https?:\/\//i.test(spec);
const LEVELS = ['breaking', 'dangerous', 'safe'] as const satisfies readonly DriftLevel[];

export const DIFF_USAGE = `usage: junction diff [--config <file>] [--json] <source> <newer spec: file or http(s) URL>`;

/** Exit statuses: the contract holds; something breaks (or cannot be compared); the command line is wrong. */
export const DIFF_EXIT = { clean: 0, breaking: 1, usage: 2 } as const;

interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** A problem that stops the comparison, with its start-up code (one line, as `junction check` prints). */
class Stop extends Error {
  constructor(readonly code: StartupCode, message: string) {
    super(message);
  }
}

const oneLine = (text: string) => text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean).join(' ');

/** The sources file as start-up reads it, with the variables an `embedded` module would give (its `plan`). */
async function readSourcesFile(lib: Heavy, file: string): Promise<MeshConfig> {
  const { embeddedModuleOf, importModule, readMeshConfig, SourceConfigError, startupCode } = lib;
  const env: Record<string, string | undefined> = { ...process.env, NODE_ENV: process.env.NODE_ENV || 'development' };
  try {
    const module = embeddedModuleOf(file);
    if (module) {
      const { plan } = await importModule(module) as { plan?: (options: { env: Record<string, string | undefined>; mode: string }) => Record<string, string> };
      if (plan) Object.assign(env, plan({ env, mode: env.NODE_ENV === 'production' ? 'production' : 'development' }));
    }
    return readMeshConfig(file, env);
  } catch (err) {
    if (err instanceof SourceConfigError) throw new Stop('SOURCES_FILE_INVALID', `${file}: ${err.problems.join('; ')}`);
    throw new Stop(startupCode(err) ?? 'SOURCES_FILE_INVALID', `${file}: ${(err as Error).message}`);
  }
}

/** The source's schema as its entry's spec compiles it: the spec must be a file (nothing else is fetched). */
async function currentSchema(lib: Heavy, entry: SourceEntry, config: MeshConfig): Promise<GraphQLSchema> {
  const spec = 'source' in entry.options ? entry.options.source : undefined;
  if (!spec) throw new Stop('SOURCE_LOAD_FAILED', `source "${entry.name}" has no spec file (\`source:\`) to compare with: it is introspected at start`);
  if (isUrl(spec)) throw new Stop('SOURCE_LOAD_FAILED', `source "${entry.name}" names its spec by URL (${spec}): junction diff fetches only the newer spec its command line names; compare a downloaded copy`);
  try {
    return await lib.compileSpec(entry, spec, { baseDir: config.baseDir });
  } catch (err) {
    throw new Stop('SOURCE_LOAD_FAILED', `current spec of "${entry.name}": ${(err as Error).message}`);
  }
}

function formatText(report: DriftReport, file: string, current: string): string {
  const { counts } = report;
  const lines = [`junction diff: ${report.source} (${current} in ${file} -> ${report.against}): ${counts.breaking} breaking, ${counts.dangerous} dangerous, ${counts.safe} safe`];
  for (const level of LEVELS) {
    const changes = report.changes.filter((c) => c.level === level);
    if (changes.length === 0) continue;
    lines.push('', `${level} (${changes.length}):`);
    for (const change of changes) {
      lines.push(`  ${change.message}`);
      lines.push(`    at ${change.path ?? '(schema)'} -> ${change.publicFields.length > 0 ? `public: ${change.publicFields.join(', ')}` : 'internal (no public field)'}`);
    }
  }
  if (report.contractMismatch.length > 0) {
    lines.push('', 'the gateway would not start with the newer spec [CONTRACT_MISMATCH]:', ...report.contractMismatch.map((p) => `  ${p}`));
  }
  return `${lines.join('\n')}\n`;
}

/** Runs `junction diff` with its arguments (after `diff`); resolves to the exit status. */
export async function diffCommand(args: string[], io: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }): Promise<number> {
  let values: { config?: string; json?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, allowPositionals: true, options: { config: { type: 'string' }, json: { type: 'boolean' } } }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${DIFF_USAGE}\n`);
    return DIFF_EXIT.usage;
  }
  if (positionals.length !== 2) {
    io.err(`junction diff takes a source and a newer spec; got ${positionals.length} argument(s)\n${DIFF_USAGE}\n`);
    return DIFF_EXIT.usage;
  }
  const [name, against] = positionals as [string, string];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(against) && !isUrl(against)) {
    io.err(`junction diff: ${against}: a newer spec is a file or an http(s) URL\n${DIFF_USAGE}\n`);
    return DIFF_EXIT.usage;
  }
  const file = values.config ?? (process.env.JUNCTION_CONFIG || '.meshrc.yaml');
  try {
    const lib = await heavy();
    const config = await readSourcesFile(lib, file);
    const entry = config.entries.find((e) => e.name === name);
    if (!entry) {
      io.err(`junction diff: ${file} has no source "${name}" (its sources: ${config.entries.map((e) => e.name).join(', ') || 'none'})\n${DIFF_USAGE}\n`);
      return DIFF_EXIT.usage;
    }
    let contract: Contract | undefined;
    if (config.contract) {
      try {
        contract = await lib.loadContract(config.contract);
      } catch (err) {
        throw new Stop('CONTRACT_MISMATCH', (err as Error).message);
      }
    }
    const current = await currentSchema(lib, entry, config);
    let report: DriftReport;
    try {
      report = await lib.compareSource({ entry, current, against, baseDir: process.cwd(), ...(contract ? { contract } : {}) });
    } catch (err) {
      if (err instanceof lib.DriftSpecError) throw new Stop(err.code, `newer spec of "${entry.name}": ${err.message}`);
      throw err;
    }
    const spec = 'source' in entry.options ? String(entry.options.source) : '';
    if (values.json) io.out(`${JSON.stringify({ file, current: spec, ...report }, null, 2)}\n`);
    else io.out(formatText(report, file, spec));
    return report.counts.breaking > 0 || report.contractMismatch.length > 0 ? DIFF_EXIT.breaking : DIFF_EXIT.clean;
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    if (values.json) io.out(`${JSON.stringify({ file, source: name, against, error: { code: err.code, message: oneLine(err.message) } }, null, 2)}\n`);
    io.err(`junction diff: [${err.code}] ${oneLine(err.message)}\n`);
    return DIFF_EXIT.breaking;
  }
}
