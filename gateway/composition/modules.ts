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
  return await import(pathToFileURL(target).href) as Record<string, unknown>;
}
