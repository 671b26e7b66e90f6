import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The house, held by a test: gateway/ is the engine, sources/<name>/ is what a source is (its
 * spec, its entry's code, and apart from both its demo backend), schema/ is the declared contract.
 * Every import is read from the code and checked against the direction these allow.
 */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : filesUnder(path);
    return /\.(ts|mts)$/.test(entry.name) ? [path] : [];
  });
}

/** Every relative module a file imports (static, dynamic, re-exports), as paths from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from\s*|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((s) => relative(process.cwd(), resolve(dirname(file), s)));
}

const isTest = (file: string) => /\.test\.ts$/.test(file);
const DEMO_NAMES = /\b(payments|maps|messaging)\b/i;

describe('the layout', () => {
  it('schema/ (the contract) imports nothing from gateway/', () => {
    const offending = filesUnder('schema').flatMap((file) => importsOf(file).filter((m) => m.startsWith('gateway/')).map((m) => `${file} -> ${m}`));
    expect(offending).toEqual([]);
  });

  it('sources/ imports from gateway/ only its public API (gateway/index.ts)', () => {
    const offending = filesUnder('sources').flatMap((file) => importsOf(file).filter((m) => m.startsWith('gateway/') && m !== 'gateway/index.ts').map((m) => `${file} -> ${m}`));
    expect(offending).toEqual([]);
  });

  it('gateway/ (the engine) imports nothing from sources/: not the demo backends, not their kit', () => {
    const offending = filesUnder('gateway').flatMap((file) => importsOf(file).filter((m) => m.startsWith('sources/')).map((m) => `${file} -> ${m}`));
    expect(offending).toEqual([]);
  });

  it('nothing the engine runs names a demo source: they are entries of .meshrc.yaml', () => {
    const naming = filesUnder('gateway').filter((file) => !isTest(file))
      .flatMap((file) => readFileSync(file, 'utf8').split('\n').map((line, i) => [file, i + 1, line] as const))
      .filter(([, , line]) => DEMO_NAMES.test(line) && !/Google Maps|maps (to|onto|a|the)\b/.test(line))
      .map(([file, n, line]) => `${file}:${n}: ${line.trim()}`);
    expect(naming).toEqual([]);
  });

  it('a demo backend is kept apart: nothing outside sources/<name>/backend/ and the demo kit imports one', () => {
    const backends = (m: string) => /^sources\/[^/]+\/backend\//.test(m);
    const offending = [...filesUnder('gateway'), ...filesUnder('schema'), ...filesUnder('sources')]
      .filter((file) => !isTest(file) && !backends(file) && !file.startsWith('sources/demo/'))
      .flatMap((file) => importsOf(file).filter(backends).map((m) => `${file} -> ${m}`));
    expect(offending).toEqual([]);
  });
});
