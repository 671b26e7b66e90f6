/**
 * The Mesh baseline (bench/mesh-baseline/.meshrc.yaml): `mesh build`, then `mesh start`, one process.
 *
 * Two things Mesh 0.103 needs help with here, both reported in BENCHMARKS.md:
 * - The generated `.mesh/index.ts` imports custom handlers and transforms by the path written in
 *   the config, which is relative to the config's folder, from `.mesh/` one level down (additional
 *   resolvers get `../` added; handlers and transforms do not), so `mesh start` cannot find them.
 *   `fixArtifactImports` rewrites exactly those specifiers after the build.
 * - `mesh start` takes no port 0, and did not exit on SIGTERM: the runner picks a free port and
 *   SIGKILLs its process group.
 * `npx mesh …` runs node_modules/.bin/mesh; it is started here with node directly, so the process
 * measured is the server itself, not an npm wrapper.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { runToEnd, type ProcessSet, type Proc } from './processes.ts';

export const BASELINE_DIR = 'bench/mesh-baseline';
export const MESH_BIN = 'node_modules/@graphql-mesh/cli/cjs/bin.js';

/** `mesh build --dir bench/mesh-baseline` with the backends' URLs in the environment. */
export async function buildBaseline(set: ProcessSet, env: NodeJS.ProcessEnv): Promise<string[]> {
  await runToEnd(set, 'mesh build', process.execPath, [MESH_BIN, 'build', '--dir', BASELINE_DIR], { env });
  return fixArtifactImports(resolve(BASELINE_DIR));
}

/** Rewrites `import("./x.ts")` specifiers in .mesh/index.ts that only resolve from the config's folder. */
export function fixArtifactImports(configDir: string): string[] {
  const indexFile = join(configDir, '.mesh', 'index.ts');
  const artifactsDir = dirname(indexFile);
  const fixed: string[] = [];
  const source = readFileSync(indexFile, 'utf8').replace(/import\("(\.{1,2}\/[^"]+)"\)/g, (whole, specifier: string) => {
    if (existsSync(resolve(artifactsDir, specifier)) || !existsSync(resolve(configDir, specifier))) return whole;
    let corrected = relative(artifactsDir, resolve(configDir, specifier));
    if (!corrected.startsWith('.')) corrected = `./${corrected}`;
    fixed.push(`${specifier} -> ${corrected}`);
    return `import(${JSON.stringify(corrected)})`;
  });
  writeFileSync(indexFile, source);
  return fixed;
}

/** `mesh start --dir bench/mesh-baseline --port <port>` (serve: fork false, 127.0.0.1, no playground). */
export function startBaseline(set: ProcessSet, env: NodeJS.ProcessEnv, port: number, cpu: number | undefined): Proc {
  return set.start('baseline (mesh start)', process.execPath, [MESH_BIN, 'start', '--dir', BASELINE_DIR, '--port', String(port)], {
    env: { ...env, PORT: String(port) }, cpu, hardStop: true,
  });
}
