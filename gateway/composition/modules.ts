import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Where this build's code is: the repository (run with tsx), or its compiled copy under dist/. */
const HERE = fileURLToPath(import.meta.url);
const COMPILED = HERE.endsWith('.js');
/** dist/ when compiled (this file is dist/gateway/composition/modules.js), else the repository. */
const BUILD_ROOT = resolve(dirname(HERE), '..', '..');
const SOURCE_ROOT = COMPILED ? dirname(BUILD_ROOT) : BUILD_ROOT;

/**
 * Imports a module the sources file names (`contract:`, `embedded:`, `additionalEnvelopPlugins:`,
 * code resolvers). Files name TypeScript sources; a gateway running from its compiled copy
 * (`npm run start:prod`, plain Node) imports the compiled `.js` of a `.ts` path under the
 * repository instead, when the build holds one.
 */
export async function importModule(path: string): Promise<Record<string, unknown>> {
  let target = resolve(path);
  if (COMPILED && /\.[mc]?ts$/.test(target)) {
    const inRepository = relative(SOURCE_ROOT, target);
    if (!inRepository.startsWith('..') && !inRepository.startsWith('dist/')) {
      const compiled = resolve(BUILD_ROOT, inRepository).replace(/\.([mc]?)ts$/, '.$1js');
      if (existsSync(compiled)) target = compiled;
    }
  }
  const url = pathToFileURL(target).href;
  if (generation === 0) return await import(url) as Record<string, unknown>;
  // A reload in development: the module and every file of the repository it imports, afresh (tsx
  // keys its module cache by namespace: one per reload, shared by every module of that reload);
  // packages under node_modules stay the ones already loaded, so graphql and every library keep one copy.
  if (scope?.generation !== generation) {
    const previous = scope;
    scope = { generation, importer: import('tsx/esm/api').then(({ register }) => register({ namespace: `junction-reload-${generation}` })) };
    // The modules the previous reload imported stay with the gateway that uses them; only its hooks go.
    void previous?.importer.then((api) => api.unregister());
  }
  return await (await scope.importer).import(url, import.meta.url) as Record<string, unknown>;
}

/** The current reload's importer, made once per generation. */
let scope: { generation: number; importer: Promise<{ import: (specifier: string, parent: string) => Promise<unknown>; unregister: () => Promise<void> }> } | undefined;

/** How many times modules were renewed: 0 until the first development reload. */
let generation = 0;

/**
 * From now on, modules the sources file names (`contract:`, `additionalEnvelopPlugins:`, code
 * resolvers) are imported afresh, with the repository files they import: a development reload then
 * runs the contract as it is on disk now. Each renewal keeps the previous modules in memory (ESM
 * never unloads one), a few MB each, which is why production reloads (SIGHUP) do not renew them:
 * there, code changes come with a new process.
 */
export function renewModules(): void {
  generation += 1;
}
