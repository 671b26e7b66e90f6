import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEV_ISSUER, loadDevIssuer } from '../../gateway/auth/dev-issuer.ts';
import { createJwtVerifier } from '../../gateway/auth/jwt.ts';

/**
 * The `junction` command as a user runs it: the package's bin (bin/junction.mjs) as a process of
 * its own, with only PATH from the test's environment. Nothing here opens a port or calls a backend.
 */
function junction(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, ['bin/junction.mjs', ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('junction check', () => {
  it('passes the repo\'s .meshrc.yaml on the demo\'s embedded defaults, with a one-line summary', () => {
    const { status, stdout, stderr } = junction(['check']);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    // The demo contract: its root fields, not the sources' own operations.
    expect(stdout).toBe('junction check: .meshrc.yaml is valid: 3 source(s) (payments, maps, messaging), 13 operations exposed (7 queries, 3 mutations, 3 subscriptions)\n');
  });

  it('lists every problem of a broken configuration at once, one line each, and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-cli-'));
    const sdl = join(process.cwd(), 'sources/messaging/schema.graphql');
    const file = join(dir, 'broken.yaml');
    // Four sources, each with one problem: each is found without the others hiding it.
    writeFileSync(file, `sources:
  - name: odd
    handler:
      graphql:
        endpoint: http://127.0.0.1:9/graphql
        source: ${sdl}
        retryForever: true
  - name: secret
    handler:
      graphql:
        endpoint: http://127.0.0.1:9/graphql
        source: ${sdl}
        auth:
          bearer: '{env.SECRET_TOKEN}'
  - name: shop
    handler:
      openapi:
        source: ./shop-openapi.yaml
        endpoint: http://127.0.0.1:9
  - name: hooks
    handler:
      graphql:
        endpoint: http://127.0.0.1:9/graphql
        source: ${sdl}
        webhooks:
          - path: /healthz
            scheme: twilio
            secrets: ['s3cret']
            pubsubTopic: hooks
`);
    const { status, stdout, stderr } = junction(['check', '--config', file], { PORT: 'eighty' });
    expect(stdout).toBe('');
    expect(status).toBe(1);
    expect(stderr.trimEnd().split('\n')).toEqual([
      'junction check: 5 problem(s):',
      '  [CONFIG_INVALID] PORT="eighty": must be a number',
      `  [SOURCE_LOAD_FAILED] ${file}: sources[2] (shop).handler.openapi.source: ./shop-openapi.yaml does not exist (paths are read from ${dir})`,
      `  [SOURCES_FILE_INVALID] ${file}: sources[0] (odd).handler.graphql: option(s) retryForever are not supported by Junction`,
      `  [SOURCES_FILE_INVALID] ${file}: sources[1] (secret).handler.graphql.auth.bearer: {env.SECRET_TOKEN} is used but SECRET_TOKEN is not set`,
      `  [SOURCES_FILE_INVALID] ${file}: sources (hooks).webhooks[0].path: /healthz is one of the gateway's own paths (/graphql, /healthz, /readyz, /.well-known, /deliveries)`,
    ]);
  });

  it('names a sources file that does not exist', () => {
    const { status, stderr } = junction(['check'], { JUNCTION_CONFIG: 'nowhere.yaml' });
    expect(status).toBe(1);
    expect(stderr).toBe('junction check: 1 problem(s):\n  [SOURCES_FILE_INVALID] nowhere.yaml: the sources file does not exist (JUNCTION_CONFIG or --config names it)\n');
  });
});

describe('junction token', () => {
  it('prints, and only prints, a JWT that the gateway\'s dev issuer accepts', async () => {
    const { status, stdout } = junction(['token', '--sub', 'x', '--scopes', 'a b']);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    // Verified as the gateway verifies in development (gateway/auth/index.ts), with the same key file.
    const issuer = await loadDevIssuer();
    const verify = createJwtVerifier({ keys: issuer.keys, issuer: issuer.issuer, audience: issuer.audience, algorithms: [DEV_ISSUER.algorithm] });
    const principal = await verify(stdout.trim());
    expect(principal).toMatchObject({ kind: 'user', id: 'x', via: 'jwt' });
    expect([...principal.scopes]).toEqual(['a', 'b']);
  });

  it('refuses a missing --sub with exit 2, as npm run token does', () => {
    const { status, stdout, stderr } = junction(['token', '--scopes', 'a']);
    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('--sub is required');
  });
});

describe('junction', () => {
  it('prints its usage and exits 2 on an unknown command', () => {
    const { status, stdout, stderr } = junction(['deploy']);
    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^junction: unknown command "deploy"\nusage: junction <command>\n/);
    for (const command of ['start', 'check', 'token', 'api-key']) expect(stderr).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('prints its usage and exits 0 on --help', () => {
    const { status, stdout } = junction(['--help']);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^usage: junction <command>\n/);
  });
});
