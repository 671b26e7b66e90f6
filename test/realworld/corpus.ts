import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Downgrade } from '../../gateway/composition/byo/types.ts';

/**
 * The real-world corpus (third-party API descriptions) is read where it lies, never copied into
 * the repository: `JUNCTION_REALWORLD_DIR`, else `../shared/realworld` beside the checkout.
 */
export const CORPUS_DIR = resolve(process.env.JUNCTION_REALWORLD_DIR ?? join(process.cwd(), '..', 'shared', 'realworld'));

export const corpusPresent = existsSync(join(CORPUS_DIR, 'SOURCES.md'));

if (!corpusPresent) {
  console.warn(
    `The real-world corpus is not at ${CORPUS_DIR}: the conformance suite has nothing to check. ` +
      'Set JUNCTION_REALWORLD_DIR to the folder that holds openapi/, wsdl/ and graphql/.',
  );
}

export const corpusFile = (...parts: string[]) => join(CORPUS_DIR, ...parts);

export interface ConformanceResult {
  /** Path inside the corpus, e.g. openapi/stripe/spec3.yaml. */
  file: string;
  kind: 'openapi' | 'soap' | 'graphql';
  declaredOperations: number;
  exposedOperations: number;
  downgrades: Downgrade[];
  buildMs: number;
  /** Peak resident memory of a build in a process of its own, when measured. */
  peakRssMb?: number;
  executed: { operation: string; request: Record<string, unknown> };
}

export const RESULTS_DIR = join(process.cwd(), 'reports', 'realworld');

/** One JSON file per corpus file; `test/realworld/summarize.ts` turns them into the report. */
export function writeResult(result: ConformanceResult): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const slug = result.file.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
  writeFileSync(join(RESULTS_DIR, `${slug}.json`), `${JSON.stringify(result, null, 2)}\n`);
}
