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

type Version = [number, number, number];
const versionOf = (text: string): Version => {
  const [major = 0, minor = 0, patch = 0] = text.replace(/^v/, '').split('.').map(Number);
  return [major, minor, patch];
};
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Whether `version` satisfies an `engines.node` range, in the forms packages write (`>=X.Y`, `^X.Y.Z`, `X`, `A || B`). */
function satisfies(version: Version, range: string): boolean {
  return range.split('||').some((part) => {
    const p = part.trim();
    let m = /^>=\s*v?(\d+(?:\.\d+){0,2})$/.exec(p);
    if (m) return compare(version, versionOf(m[1]!)) >= 0;
    m = /^\^(\d+(?:\.\d+){0,2})$/.exec(p);
    if (m) return version[0] === versionOf(m[1]!)[0] && compare(version, versionOf(m[1]!)) >= 0;
    m = /^(\d+)$/.exec(p);
    if (m) return version[0] === Number(m[1]);
    throw new Error(`engines range not understood: ${JSON.stringify(p)}`);
  });
}

describe('dependencies', () => {
  it("runs every production dependency on the Node versions package.json's engines promise (its floor, and this one)", () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string }; dependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } }> };
    const floor = versionOf(/^>=\s*(.+)$/.exec(pkg.engines.node)![1]!);
    const refused = Object.keys(pkg.dependencies).flatMap((name) => {
      const range = lock.packages[`node_modules/${name}`]?.engines?.node;
      return range && !(satisfies(floor, range) && satisfies(versionOf(process.versions.node), range)) ? [`${name}: node ${range}`] : [];
    });
    expect(refused).toEqual([]);
  });

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
