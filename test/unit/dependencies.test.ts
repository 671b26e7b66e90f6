import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** Versions parsed from package-lock.json for every installed copy of a package. */
function lockedVersions(name: string): string[] {
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { version?: string }> };
  return Object.entries(lock.packages)
    .filter(([path]) => path === `node_modules/${name}` || path.endsWith(`/node_modules/${name}`))
    .map(([, entry]) => entry.version ?? '');
}

const atLeast = (version: string, floor: [number, number, number]) => {
  const parts = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((parts[i] ?? 0) !== floor[i]) return (parts[i] ?? 0) > floor[i]!;
  return true;
};

describe('dependencies', () => {
  it('installs no fast-xml-parser inside the XML entity-expansion advisories (the SOAP handler ships 4.1.3)', () => {
    const versions = lockedVersions('fast-xml-parser');
    expect(versions.length).toBeGreaterThan(0);
    for (const version of versions) expect(atLeast(version, [5, 12, 1]), `fast-xml-parser ${version}`).toBe(true);
  });

  it('keeps one graphql (16.x) so schemas never cross module realms', () => {
    const versions = lockedVersions('graphql');
    expect(new Set(versions).size).toBe(1);
    expect(versions[0]).toMatch(/^16\./);
  });
});
