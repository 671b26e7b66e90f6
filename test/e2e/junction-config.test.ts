import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startGatewayProcess, stopProcess } from '../helpers/gateway-process.ts';
import { startDemoBackends } from '../../sources/demo/index.ts';
import { basicAuth, DEMO_CREDENTIALS } from '../../sources/demo/credentials.ts';
import type { DemoBackend } from '../../sources/demo/server.ts';
import type { StatsSnapshot } from '../../sources/demo/stats.ts';

/**
 * `JUNCTION_CONFIG=bench/mesh-v0/.meshrc.yaml npm start`: the real entry point serving a Mesh v0
 * file that names no demo source, over backends of its own (here the demo backends' code, started
 * by the test, as `npm run backends` would). The process must start no demo backend of its own.
 */
const FIXTURES = 'test/fixtures/mesh-v0';
const expected = JSON.parse(readFileSync(`${FIXTURES}/expected.json`, 'utf8')) as {
  queries: Record<string, { response: unknown; upstream: Record<'payments' | 'messaging', { total: number; operations: Record<string, number> }> }>;
};

/** The same data, whatever the order of keys Mesh wrote it in. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]));
  return value;
}

/**
 * The TCP ports a process listens on (Linux): its socket inodes (/proc/<pid>/fd) matched against
 * the kernel's LISTEN entries (/proc/net/tcp{,6}, state 0A).
 */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      if (columns.length < 10 || columns[3] !== '0A' || !inodes.has(columns[9]!)) continue;
      ports.add(parseInt(columns[1]!.split(':')[1]!, 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

const running: ChildProcess[] = [];
const started: DemoBackend[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map(stopProcess));
  await Promise.allSettled(started.splice(0).map((b) => b.close()));
});

describe('JUNCTION_CONFIG=bench/mesh-v0/.meshrc.yaml, the real process', () => {
  it('starts over the backends the file names, answers RestPayment as Mesh does (2 payments calls), and starts no demo backend', async () => {
    const backends = (await startDemoBackends({ only: ['payments', 'messaging'], credentials: DEMO_CREDENTIALS })) as Record<'payments' | 'messaging', DemoBackend>;
    started.push(backends.payments, backends.messaging);
    const stats = async () => Object.fromEntries(await Promise.all((['payments', 'messaging'] as const).map(async (name) =>
      [name, await (await fetch(`${backends[name].url}/_stats`)).json() as StatsSnapshot] as const))) as Record<'payments' | 'messaging', StatsSnapshot>;

    const { child, url, output } = await startGatewayProcess({
      NODE_ENV: 'development',
      JUNCTION_CONFIG: 'bench/mesh-v0/.meshrc.yaml',
      PAYMENTS_URL: backends.payments.url,
      PAYMENTS_SECRET_KEY: DEMO_CREDENTIALS.payments.secretKey,
      MESSAGING_URL: backends.messaging.url,
      MESSAGING_AUTHORIZATION: basicAuth(DEMO_CREDENTIALS.messaging.accountSid, DEMO_CREDENTIALS.messaging.authToken),
    }, running);

    // Its start-up lines: the file's two sources, and no demo source, embedded or not.
    expect(output()).toContain('Your sources (from bench/mesh-v0/.meshrc.yaml)');
    expect(output()).not.toContain('(demo backend)');
    const listening = /Junction \(development\) is listening\n([\s\S]*?)\n\n/.exec(output())?.[1];
    expect(listening).toBeDefined();
    expect(listening!.split('\n').map((line) => line.trim().split(/\s+/)[0])).toEqual(['GraphQL', 'realtime', 'health', 'metrics', 'tokens']);
    // The process listens on the gateway's port and on nothing else.
    if (process.platform === 'linux') expect(listeningPorts(child.pid!)).toEqual([Number(new URL(url).port)]);

    // Readiness probes exactly the file's sources, both up.
    const ready = await (await fetch(`${url}/readyz`)).json() as { status: string; sources: Record<string, { status: string }> };
    expect(Object.keys(ready.sources).sort()).toEqual(['billing', 'sms']);
    expect(ready.status).toBe('ready');
    expect([ready.sources.billing!.status, ready.sources.sms!.status]).toEqual(['up', 'up']);

    // A dev token from the embedded issuer, as GraphiQL gets it.
    const page = await (await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } })).text();
    const token = /Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/.exec(page)?.[1];
    expect(token).toBeDefined();
    const ask = (headers: Record<string, string>) => fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: readFileSync(`${FIXTURES}/RestPayment.graphql`, 'utf8') }),
    }).then(async (r) => ({ status: r.status, body: await r.json() as { data?: unknown; errors?: { path?: string[]; extensions?: { code?: string } }[] } }));

    await Promise.all((['payments', 'messaging'] as const).map((name) => fetch(`${backends[name].url}/_stats/reset`, { method: 'POST' }).then((r) => r.arrayBuffer())));
    // billing is not public: an anonymous caller is refused at both fields, before any call.
    const anonymous = await ask({});
    expect(anonymous.status).toBe(200);
    expect(anonymous.body.data).toEqual({ found: null, missing: null });
    expect(anonymous.body.errors!.map((e) => [e.path!.join('.'), e.extensions!.code])).toEqual([['found', 'UNAUTHENTICATED'], ['missing', 'UNAUTHENTICATED']]);
    expect((await stats()).payments.total).toBe(0);

    const { status, body } = await ask({ authorization: `Bearer ${token}` });
    expect(status).toBe(200);
    const want = expected.queries.RestPayment!;
    // Development mode adds the response cache's own note (a fresh answer); the rest is Mesh's.
    const { extensions, ...answer } = body as typeof body & { extensions?: unknown };
    expect(sortedKeys(answer)).toEqual(sortedKeys(want.response));
    expect(extensions).toEqual({ responseCache: { hit: false, didCache: false } });
    const after = await stats();
    for (const backend of ['payments', 'messaging'] as const) {
      expect({ total: after[backend].total, operations: after[backend].operations }, backend).toEqual({ total: want.upstream[backend].total, operations: want.upstream[backend].operations });
    }
    expect(after.payments.total).toBe(2);

    expect(await stopProcess(child)).toBe(0);
  });
});

describe('a gateway that cannot start', () => {
  const refused = (env: Record<string, string>) =>
    startGatewayProcess(env).then(
      () => { throw new Error('it started'); },
      (err: Error) => err.message,
    );

  it('says why with a catalogued start-up code, every problem at once, and exits 1', async () => {
    const file = join(tmpdir(), `junction-refused-${process.pid}.meshrc.yaml`);
    writeFileSync(file, `sources:
  - name: one
    handler:
      jsonSchema: { source: ./x.json }
  - name: two
    handler:
      graphql: { endpoint: 'not a url' }
`);
    const sources = await refused({ NODE_ENV: 'development', JUNCTION_CONFIG: file });
    expect(sources).toMatch(/exited with 1/);
    expect(sources).toMatch(/Junction failed to start \[SOURCES_FILE_INVALID\]: .*2 problem/);
    expect(sources).toMatch(/sources\[0\] \(one\)\.handler: "jsonSchema" is not a handler Junction serves/);
    expect(sources).toMatch(/sources\[1\] \(two\)\.handler\.graphql\.endpoint: must be an http\(s\) URL/);
    const config = await refused({ NODE_ENV: 'development', UPSTREAM_TIMEOUT_MS: 'soon' });
    expect(config).toMatch(/Junction failed to start \[CONFIG_INVALID\]: .*UPSTREAM_TIMEOUT_MS/s);
  });
});
