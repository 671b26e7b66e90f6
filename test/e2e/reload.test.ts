import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startGatewayProcess, stopProcess, type GatewayProcess } from '../helpers/gateway-process.ts';

/**
 * Hot reload, on the real entry point: `junction dev` (JUNCTION_WATCH=on) reloads when a file of the
 * configuration changes, SIGHUP reloads in any mode. The configuration lives in a folder of the
 * test's own, over a GraphQL backend of the test's own whose answers it holds back at will.
 */

const SDL = (fields: string) => `type Query {\n${fields}\n}\n`;
const SOURCES_FILE = `sources:
  - name: things
    handler:
      graphql:
        endpoint: '{env.THINGS_URL}/graphql'
        source: ./things.graphql
        public: true
        webhooks:
          - { path: /webhooks/things, scheme: standard, secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], pubsubTopic: things }
additionalTypeDefs: |
  extend type Query { greeting: String }
  type Subscription { thingChanged: String }
additionalResolvers:
  - ./greeting.mjs
  - targetTypeName: Subscription
    targetFieldName: thingChanged
    pubsubTopic: things
    result: name
`;
const GREETING = (word: string) => `export const resolvers = { Query: { greeting: () => '${word}' } };\n`;

/** A GraphQL backend answering every field it is asked with its name, holding `slow` until released. */
async function startThings() {
  let release: () => void = () => undefined;
  let held = Promise.resolve();
  let heldCalls = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', async () => {
      const { query } = JSON.parse(body || '{}') as { query?: string };
      const fields = [...(query ?? '').matchAll(/\b(fast|slow|extra)\b/g)].map((m) => m[1]!);
      if (fields.includes('slow')) {
        heldCalls += 1;
        await held;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: Object.fromEntries(fields.map((f) => [f, f])) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold() {
      held = new Promise((resolve) => (release = resolve));
    },
    release: () => release(),
    heldCalls: () => heldCalls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const running: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map(stopProcess));
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function setUp(mode: 'development' | 'production', watch: boolean) {
  const things = await startThings();
  const dir = mkdtempSync(join(tmpdir(), 'junction-reload-'));
  cleanups.push(() => things.close(), () => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => writeFileSync(join(dir, name), text);
  write('things.graphql', SDL('  fast: String\n  slow: String'));
  write('greeting.mjs', GREETING('one'));
  write('.meshrc.yaml', SOURCES_FILE);
  write('keys.json', JSON.stringify([{ service: 'nobody', sha256: '0'.repeat(64), scopes: [] }]));
  const gateway = await startGatewayProcess({
    NODE_ENV: mode,
    JUNCTION_CONFIG: join(dir, '.meshrc.yaml'),
    JUNCTION_WATCH: watch ? 'on' : 'off',
    THINGS_URL: things.url,
    LOG_LEVEL: 'info',
    // Production needs an identity provider; these tests need none of its callers (the source is public).
    ...(mode === 'production' ? { AUTH_API_KEYS_FILE: join(dir, 'keys.json') } : {}),
  }, running);
  return { things, gateway, write };
}

const post = async (gateway: GatewayProcess, query: string) => {
  const response = await fetch(`${gateway.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return { status: response.status, body: await response.json() as { data?: Record<string, unknown>; errors?: { message: string; extensions?: { code?: string } }[] } };
};

/** Resolves once the process has logged `message` `count` times in all. */
async function logged(gateway: GatewayProcess, message: string, count = 1): Promise<Record<string, unknown>> {
  for (;;) {
    const lines = gateway.output().split('\n').filter((line) => line.includes(`"msg":"${message}"`));
    if (lines.length >= count) return JSON.parse(lines[count - 1]!) as Record<string, unknown>;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => gateway.child.stdout!.once('data', () => resolve()));
  }
}

describe('junction dev: a change to a file of the configuration reloads it', () => {
  it('serves a changed spec and a changed code module, keeps serving through a broken file, and says why', async (test) => {
    const { gateway, write } = await setUp('development', true);
    test.onTestFailed(() => console.log(gateway.output()));
    expect((await post(gateway, '{ greeting fast }')).body.data).toEqual({ greeting: 'one', fast: 'fast' });

    // A code module (additionalResolvers) changed: development imports it afresh.
    write('greeting.mjs', GREETING('two'));
    const first = await logged(gateway, 'reloaded: new requests are served by the new configuration', 1);
    expect(first.why).toContain('greeting.mjs');
    expect((await post(gateway, '{ greeting }')).body.data).toEqual({ greeting: 'two' });

    // The spec gains a field: the new field is served.
    write('things.graphql', SDL('  fast: String\n  slow: String\n  extra: String'));
    await logged(gateway, 'reloaded: new requests are served by the new configuration', 2);
    expect((await post(gateway, '{ extra }')).body.data).toEqual({ extra: 'extra' });

    // A sources file that fails to build: the old configuration goes on serving, and the log says why.
    write('.meshrc.yaml', SOURCES_FILE.replace('scheme: standard', 'scheme: carrier-pigeon'));
    const failed = await logged(gateway, 'reload failed: still serving the previous configuration');
    expect(failed.code).toBe('SOURCES_FILE_INVALID');
    expect(String(failed.err)).toContain('webhooks.0.scheme');
    expect((await post(gateway, '{ greeting extra }')).body.data).toEqual({ greeting: 'two', extra: 'extra' });

    // Fixed: the next save reloads again.
    write('.meshrc.yaml', SOURCES_FILE);
    await logged(gateway, 'reloaded: new requests are served by the new configuration', 3);
    expect((await post(gateway, '{ greeting extra }')).body.data).toEqual({ greeting: 'two', extra: 'extra' });
  });
});

describe('SIGHUP reloads a running gateway', () => {
  it('lets a request in flight finish on the old configuration while new requests get the new one (production)', async () => {
    const { gateway, things, write } = await setUp('production', false);
    things.hold();
    const inFlight = post(gateway, '{ slow }');
    while (things.heldCalls() === 0) await new Promise((resolve) => setTimeout(resolve, 10));

    // The spec loses `slow` and gains `extra`; production reads it again on SIGHUP only.
    write('things.graphql', SDL('  fast: String\n  extra: String'));
    gateway.child.kill('SIGHUP');
    await logged(gateway, 'reloaded: new requests are served by the new configuration');
    const after = await post(gateway, '{ slow }');
    expect(after.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(after.body.errors?.[0]?.message).toBe('Cannot query field "slow" on type "Query".');
    expect((await post(gateway, '{ extra }')).body.data).toEqual({ extra: 'extra' });

    things.release();
    const finished = await inFlight;
    expect(finished).toEqual({ status: 200, body: { data: { slow: 'slow' } } });
    // Production does not renew code: the module's answer is the one it started with.
    write('greeting.mjs', GREETING('two'));
    gateway.child.kill('SIGHUP');
    await logged(gateway, 'reloaded: new requests are served by the new configuration', 2);
    expect((await post(gateway, '{ greeting }')).body.data).toEqual({ greeting: 'one' });
  });

  it('ends open subscriptions with GATEWAY_RELOADED, and the gateway answers again at once', async () => {
    const { gateway } = await setUp('development', false);
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { thingChanged }' }),
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    // The stream is open once its first bytes (a keep-alive or the headers' flush) arrive; then reload.
    gateway.child.kill('SIGHUP');
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const next = /event: next\ndata: (.*)\n/.exec(text);
    expect(next, text).not.toBeNull();
    expect((JSON.parse(next![1]!) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('GATEWAY_RELOADED');
    expect(text).toContain('event: complete');
    expect((await post(gateway, '{ greeting }')).body.data).toEqual({ greeting: 'one' });
  });
});
