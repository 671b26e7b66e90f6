import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { Kind, parse, print, visit, type EnumTypeDefinitionNode } from 'graphql';
import { createGateway } from '../../gateway/create-gateway.ts';
import { createLogger } from '../../gateway/logger.ts';
import { createAuth } from '../../gateway/auth/index.ts';
import { DEFAULTS } from '../../gateway/config.ts';
import { DEFAULT_LIMITS } from '../../gateway/plugins/limits/limits.ts';
import { fetchSpec } from '../../gateway/drift/index.ts';
import type { PollScheduler } from '../../gateway/webhooks/poller.ts';
import { createTestIssuer, TEST_AUTH } from '../helpers/test-issuer.ts';
import { sourcesFileProblems } from '../helpers/sources-file.ts';
import { readMeshConfig } from '../../gateway/composition/byo/mesh-config.ts';

/**
 * Contract drift: `junction diff` as a user runs it (the package's bin as a process of its own,
 * with only PATH from the test's environment), over modified copies of the demo's real specs
 * written to a temporary folder; and the gateway's own check of an entry's `drift:`, in process,
 * run by hand.
 */
const dir = mkdtempSync(join(tmpdir(), 'junction-drift-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const root = process.cwd();
const PAYMENTS = readFileSync(join(root, 'sources/payments/openapi.yaml'), 'utf8');
const WSDL = readFileSync(join(root, 'sources/maps/service.wsdl'), 'utf8');
const SDL = readFileSync(join(root, 'sources/messaging/schema.graphql'), 'utf8');

/** The payments OpenAPI document, changed by `edit`, written to the temporary folder. */
function payments(name: string, edit: (doc: any) => void): string {
  const doc = yaml.load(PAYMENTS) as any;
  edit(doc);
  const path = join(dir, name);
  writeFileSync(path, yaml.dump(doc));
  return path;
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Runs the `junction` bin (asynchronously: a test's own server must answer while it runs). */
function junction(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/junction.mjs', ...args], { env: { PATH: process.env.PATH!, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const json = async (args: string[]) => {
  const run = await junction([...args, '--json']);
  return { ...run, report: JSON.parse(run.stdout) };
};

const withoutAmountRefunded = (doc: any) => {
  const payment = doc.components.schemas.Payment;
  delete payment.properties.amount_refunded;
  payment.required = payment.required.filter((name: string) => name !== 'amount_refunded');
};

describe('junction diff', { timeout: 60_000 }, () => {
  it('classes a response field removed as breaking, names the public field that serves it, and exits 1', async () => {
    const newer = payments('removed.yaml', withoutAmountRefunded);
    const { status, stdout, stderr } = await junction(['diff', 'payments', newer]);
    expect(stderr).toBe('');
    expect(status).toBe(1);
    expect(stdout).toBe([
      `junction diff: payments (./sources/payments/openapi.yaml in .meshrc.yaml -> ${newer}): 2 breaking, 0 dangerous, 0 safe`,
      '',
      'breaking (2):',
      // Its only user gone, the scalar goes too: the same public field is affected.
      '  Type \'NonNegativeInt\' was removed',
      '    at NonNegativeInt -> public: Payment.amountRefunded',
      '  Field \'amount_refunded\' was removed from object type \'Payment\'',
      '    at Payment.amount_refunded -> public: Payment.amountRefunded',
      '',
    ].join('\n'));
  });

  it('says when the gateway would not start with the newer spec: a field the contract maps onto by name is gone', async () => {
    const newer = payments('created.yaml', (doc) => {
      const payment = doc.components.schemas.Payment;
      delete payment.properties.created;
      payment.required = payment.required.filter((name: string) => name !== 'created');
    });
    const { status, stdout } = await junction(['diff', 'payments', newer]);
    expect(status).toBe(1);
    expect(stdout).toContain('  Field \'created\' was removed from object type \'Payment\'\n    at Payment.created -> public: Payment.createdAt\n');
    // schema/payments.ts maps Payment.createdAt onto `created`: start-up's contract check would refuse it.
    expect(stdout).toContain('\nthe gateway would not start with the newer spec [CONTRACT_MISMATCH]:\n  Payment.createdAt: payments type Payment has no field created\n');
  });

  it('classes a new optional field as safe, and exits 0', async () => {
    const newer = payments('added.yaml', (doc) => {
      doc.components.schemas.Payment.properties.receipt_email = { type: 'string', description: 'Where the receipt was sent.' };
    });
    const { status, report } = await json(['diff', 'payments', newer]);
    expect(status).toBe(0);
    expect(report.counts).toEqual({ breaking: 0, dangerous: 0, safe: 2 });
    expect(report.changes).toEqual([
      // A field the contract does not serve affects no public field.
      { level: 'safe', type: 'FIELD_ADDED', path: 'Payment.receipt_email', message: 'Field \'receipt_email\' was added to object type \'Payment\'', publicFields: [] },
      { level: 'safe', type: 'FIELD_DESCRIPTION_ADDED', path: 'Payment.receipt_email', message: 'Field \'Payment.receipt_email\' has description \'Where the receipt was sent.\'', publicFields: [] },
    ]);
  });

  it('classes an enum value added, and a new optional parameter, as dangerous, on the public fields they reach, and exits 0', async () => {
    const newer = payments('enum.yaml', (doc) => {
      doc.components.schemas.PaymentStatus.enum.push('disputed');
      doc.paths['/v1/payments'].get.parameters.push({ name: 'currency', in: 'query', required: false, schema: { type: 'string' } });
    });
    const { status, stdout, report } = await json(['diff', 'payments', newer]);
    expect(status).toBe(0);
    expect(report.counts).toEqual({ breaking: 0, dangerous: 2, safe: 0 });
    const [argument, value] = report.changes;
    expect(value).toEqual({ level: 'dangerous', type: 'ENUM_VALUE_ADDED', path: 'PaymentStatus.disputed', message: 'Enum value \'disputed\' was added to enum \'PaymentStatus\'', publicFields: ['Payment.status'] });
    // An operation's change reaches the public fields that serve what it answers: reads of the
    // source answer reads of the contract, never its mutations.
    expect(argument).toEqual({ level: 'dangerous', type: 'FIELD_ARGUMENT_ADDED', path: 'Query.listPayments.currency', message: 'Argument \'currency: String\' added to field \'Query.listPayments\'', publicFields: expect.arrayContaining(['Query.payments', 'Customer.payments', 'Query.payment']) });
    expect(argument.publicFields.filter((f: string) => f.startsWith('Mutation.'))).toEqual([]);
    expect(stdout).not.toContain('PaymentEdge');
  });

  it('diffs a WSDL through its compiled schema: an element removed from a response type breaks the maps fields', async () => {
    const start = WSDL.indexOf('<xsd:element name="formattedAddress"');
    const end = WSDL.indexOf('</xsd:element>', start) + '</xsd:element>'.length;
    expect(start).toBeGreaterThan(0);
    const newer = write('service.wsdl', WSDL.slice(0, start) + WSDL.slice(end));
    const { status, report } = await json(['diff', 'maps', newer]);
    expect(status).toBe(1);
    expect(report.changes).toEqual([
      { level: 'breaking', type: 'FIELD_REMOVED', path: 'Place.formattedAddress', message: 'Field \'formattedAddress\' was removed from object type \'Place\'', publicFields: ['Place.formattedAddress'] },
    ]);
  });

  it('diffs an SDL: a field removed is breaking, an enum value added dangerous, each on its public field', async () => {
    const document = visit(parse(SDL), {
      [Kind.OBJECT_TYPE_DEFINITION]: (node) => (node.name.value === 'Message' ? { ...node, fields: node.fields?.filter((f) => f.name.value !== 'body') } : undefined),
      [Kind.ENUM_TYPE_DEFINITION]: (node: EnumTypeDefinitionNode) => (node.name.value === 'MessageStatus'
        ? { ...node, values: [...(node.values ?? []), { kind: Kind.ENUM_VALUE_DEFINITION, name: { kind: Kind.NAME, value: 'READ' } }] }
        : undefined),
    });
    const newer = write('schema.graphql', print(document));
    const { status, report } = await json(['diff', 'messaging', newer]);
    expect(status).toBe(1);
    expect(report.changes).toEqual([
      { level: 'breaking', type: 'FIELD_REMOVED', path: 'Message.body', message: 'Field \'body\' was removed from object type \'Message\'', publicFields: ['Message.body'] },
      { level: 'dangerous', type: 'ENUM_VALUE_ADDED', path: 'MessageStatus.READ', message: 'Enum value \'READ\' was added to enum \'MessageStatus\'', publicFields: ['Message.status'] },
    ]);
  });

  it('refuses a newer spec that does not load with start-up\'s code (SOURCE_LOAD_FAILED), and exits 1', async () => {
    const garbage = write('garbage.graphql', 'type Message { body: String! ');
    const [broken, missing, { status, report }] = await Promise.all([
      junction(['diff', 'messaging', garbage]),
      junction(['diff', 'payments', join(dir, 'nowhere.yaml')]),
      // --json says it on stdout too, for machines.
      json(['diff', 'messaging', garbage]),
    ]);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toBe('');
    expect(broken.stderr).toMatch(new RegExp(`^junction diff: \\[SOURCE_LOAD_FAILED\\] newer spec of "messaging": ${garbage}: source "messaging" could not be loaded: Syntax Error: Expected Name, found <EOF>\\.\\n$`));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`junction diff: [SOURCE_LOAD_FAILED] newer spec of "payments": ${join(dir, 'nowhere.yaml')} is not a file (paths are read from ${root})\n`);
    expect(status).toBe(1);
    expect(report.error.code).toBe('SOURCE_LOAD_FAILED');
  });

  it('exits 2 on a bad command line: a missing argument, a source the file does not have, a URL that is not http(s)', async () => {
    const [few, unknown, ftp] = await Promise.all([
      junction(['diff', 'payments']),
      junction(['diff', 'billing', join(dir, 'removed.yaml')]),
      junction(['diff', 'payments', 'ftp://example.com/openapi.yaml']),
    ]);
    expect(few.status).toBe(2);
    expect(few.stderr).toContain('junction diff takes a source and a newer spec; got 1 argument(s)\nusage: junction diff');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('junction diff: .meshrc.yaml has no source "billing" (its sources: payments, maps, messaging)');
    expect(ftp.status).toBe(2);
    expect(ftp.stderr).toContain('a newer spec is a file or an http(s) URL');
  });

  it('maps a source served as it is through its transforms: the public names carry its prefix, or its namespace and renames; a filtered field is internal', async () => {
    const file = write('byo.meshrc.yaml', `sources:
  - name: shop
    handler:
      openapi:
        source: ${join(root, 'sources/payments/openapi.yaml')}
        endpoint: http://127.0.0.1:9
    transforms:
      - filterSchema: ['Query.!listRefunds']
      - prefix: { value: Shop_, includeRootOperations: true }
  - name: ledger
    handler:
      openapi:
        source: ${join(root, 'sources/payments/openapi.yaml')}
        endpoint: http://127.0.0.1:9
        namespace: true
        rename:
          types: { Customer: Client }
          fields: { Query.getCustomer: client }
`);
    const newer = payments('shop.yaml', (doc) => {
      withoutAmountRefunded(doc);
      doc.paths['/v1/payments'].get.parameters = doc.paths['/v1/payments'].get.parameters.filter((p: any) => p.name !== 'customer');
      doc.paths['/v1/refunds'].get.parameters.push({ name: 'currency', in: 'query', required: true, schema: { type: 'string' } });
      const customer = doc.components.schemas.Customer;
      delete customer.properties.email;
      customer.required = customer.required.filter((name: string) => name !== 'email');
    });
    const [{ status, report }, ledger] = await Promise.all([json(['diff', '--config', file, 'shop', newer]), json(['diff', '--config', file, 'ledger', newer])]);
    expect(status).toBe(1);
    expect(report.changes.map((c: any) => [c.level, c.path, c.publicFields])).toEqual([
      // A whole type: the public fields of that type.
      ['breaking', 'NonNegativeInt', ['Shop_Payment.amount_refunded']],
      ['breaking', 'Query.listPayments.customer', ['Query.Shop_listPayments']],
      // listRefunds is filtered out of the public schema: its new required argument breaks no caller.
      ['breaking', 'Query.listRefunds.currency', []],
      ['breaking', 'Customer.email', ['Shop_Customer.email']],
      ['breaking', 'Payment.amount_refunded', ['Shop_Payment.amount_refunded']],
    ]);
    // Under its namespace, with its entry's own renames: `<Name>_` types, Customer shown as Client.
    expect(ledger.status).toBe(1);
    expect(ledger.report.changes.map((c: any) => [c.path, c.publicFields])).toEqual([
      ['NonNegativeInt', ['Ledger_Payment.amount_refunded']],
      ['Query.listPayments.customer', ['Ledger_Query.listPayments']],
      ['Query.listRefunds.currency', ['Ledger_Query.listRefunds']],
      ['Customer.email', ['Ledger_Client.email']],
      ['Payment.amount_refunded', ['Ledger_Payment.amount_refunded']],
    ]);
  });

  it('reads a newer spec from an http(s) URL given on its command line', async () => {
    const newer = readFileSync(payments('served.yaml', withoutAmountRefunded), 'utf8');
    const server: Server = createServer((_, response) => response.writeHead(200, { 'content-type': 'application/yaml' }).end(newer));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/openapi.yaml`;
      const { status, report } = await json(['diff', 'payments', url]);
      expect(status).toBe(1);
      expect(report.against).toBe(url);
      expect(report.changes.map((c: any) => c.path)).toEqual(['NonNegativeInt', 'Payment.amount_refunded']);
    } finally {
      server.close();
    }
  });
});

describe('reading a spec from a URL', () => {
  it('refuses one past its size cap, one that answers an error, and one that does not answer in time', async () => {
    let hang = false;
    const server: Server = createServer((request, response) => {
      if (hang) return;
      // One says its length up front, the other streams it in parts.
      if (request.url === '/big') return void response.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5_000));
      if (request.url === '/stream') {
        for (let part = 0; part < 5; part += 1) response.write('x'.repeat(1_000));
        return void response.end();
      }
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await expect(fetchSpec(`${base}/big`, { maxBytes: 1_000 })).rejects.toThrow(`${base}/big is 5000 bytes, more than the 1000 a spec may be`);
      await expect(fetchSpec(`${base}/stream`, { maxBytes: 1_000 })).rejects.toThrow(`${base}/stream sent more than the 1000 bytes a spec may be`);
      await expect(fetchSpec(`${base}/stream`, { maxBytes: 10_000 })).resolves.toHaveLength(5_000);
      await expect(fetchSpec(`${base}/gone`)).rejects.toThrow(`${base}/gone answered HTTP 404`);
      hang = true;
      await expect(fetchSpec(`${base}/slow`, { timeoutMs: 200 })).rejects.toThrow(`${base}/slow did not answer within 200 ms`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('the sources file\'s drift key', () => {
  it('refuses a bad interval, a scheme other than http(s) and a spec file that is not there, each with its place', () => {
    const file = write('bad-drift.meshrc.yaml', `sources:
  - name: msg
    handler:
      graphql:
        endpoint: http://127.0.0.1:9/graphql
        source: ${join(root, 'sources/messaging/schema.graphql')}
        drift: { against: ftp://example.com/schema.graphql, every: 10s }
  - name: other
    handler:
      graphql:
        endpoint: http://127.0.0.1:9/graphql
        source: ${join(root, 'sources/messaging/schema.graphql')}
        drift: { against: ./nowhere.graphql, when: always }
`);
    expect(sourcesFileProblems(file, {})).toEqual([
      'sources[0] (msg).handler.graphql.drift.against: must be a path or an http(s) URL',
      'sources[0] (msg).handler.graphql.drift.every: must be a duration from 1m to 7d, such as 30m, 1h or 1d',
      'sources[1] (other).handler.graphql.drift: option(s) when are not supported by Junction',
    ]);
    const missing = write('missing-drift.meshrc.yaml', `sources:
  - name: other
    handler:
      graphql:
        endpoint: http://127.0.0.1:9/graphql
        source: ${join(root, 'sources/messaging/schema.graphql')}
        drift: { against: ./nowhere.graphql }
`);
    expect(sourcesFileProblems(missing, {})).toEqual([`sources (other).drift.against: ./nowhere.graphql does not exist (paths are read from ${dir})`]);
  });

  it('turns the check off when `against` is only a variable that is not set, and reads it when it is', () => {
    const file = write('env-drift.meshrc.yaml', `sources:
  - name: msg
    handler:
      graphql:
        endpoint: '{env.MSG_URL}/graphql'
        source: ${join(root, 'sources/messaging/schema.graphql')}
        drift: { against: '{env.MSG_NEXT_SPEC}', every: 1h }
`);
    const env = { MSG_URL: 'http://127.0.0.1:9' };
    expect(readMeshConfig(file, env).entries[0]!.options.drift).toBeUndefined();
    expect(readMeshConfig(file, { ...env, MSG_NEXT_SPEC: 'https://example.com/next.graphql' }).entries[0]!.options.drift).toEqual({ against: 'https://example.com/next.graphql', every: '1h' });
  });
});

describe('the gateway\'s drift check', () => {
  it('warns of each breaking change with its public fields after start, re-checks on its schedule, counts by level, and never stops the gateway', async () => {
    // The demo's sources file, its paths made absolute, with a drift check on payments.
    const against = join(dir, 'payments-next.yaml');
    writeFileSync(against, readFileSync(payments('next.yaml', withoutAmountRefunded)));
    const file = write('drift.meshrc.yaml', readFileSync(join(root, '.meshrc.yaml'), 'utf8')
      .replaceAll('./sources/', `${root}/sources/`)
      .replace('contract: ./schema/index.ts', `contract: ${root}/schema/index.ts`)
      .replace(/^embedded: .*$/m, '')
      .replace('        ignoreErrorResponses: true\n', `        ignoreErrorResponses: true\n        drift: { against: ./payments-next.yaml, every: 1h }\n`));
    const env = Object.fromEntries(['PAYMENTS', 'MAPS', 'MESSAGING'].map((name) => [`${name}_URL`, 'http://127.0.0.1:9']));
    Object.assign(env, { PAYMENTS_SECRET_KEY: 'sk', PAYMENTS_WEBHOOK_SECRET: 'wh', MAPS_USERNAME: 'u', MAPS_API_KEY: 'k', MESSAGING_ACCOUNT_SID: 'AC', MESSAGING_AUTH_TOKEN: 't', MESSAGING_WEBHOOK_SECRET: 't' });

    // Checks run by hand: each scheduled run, with its delay.
    const jobs: { run: () => Promise<void>; delayMs: number }[] = [];
    const scheduler: PollScheduler = {
      schedule(run, delayMs) {
        const job = { run, delayMs };
        jobs.push(job);
        return () => {
          const at = jobs.indexOf(job);
          if (at >= 0) jobs.splice(at, 1);
        };
      },
    };
    const runNext = async () => {
      const job = jobs.shift()!;
      await job.run();
      return job.delayMs;
    };
    const logs: Record<string, any>[] = [];
    const logger = createLogger('info', new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
        done();
      },
    }));
    const issuer = await createTestIssuer();
    const gateway = await createGateway({
      auth: await createAuth({ ...TEST_AUTH, keys: { kind: 'file', jwks: issuer.jwks } }, logger),
      config: { mode: 'production', limits: DEFAULT_LIMITS, upstream: { timeoutMs: DEFAULTS.upstreamTimeoutMs, maxResponseBytes: DEFAULTS.upstreamMaxResponseBytes } },
      logger, env, meshConfig: file, watchEventLoop: false,
      pollScheduler: { schedule: () => () => undefined },
      driftScheduler: scheduler,
    });
    try {
      // Started: the check waits on the scheduler, so start-up never waits on it.
      expect(jobs.map((j) => j.delayMs)).toEqual([0]);
      expect(gateway.driftCounts()).toEqual({});
      expect(logs.filter((l) => l.msg.startsWith('contract drift'))).toEqual([]);

      expect(await runNext()).toBe(0);
      const warned = logs.filter((l) => l.level === 40 && l.msg.startsWith('contract drift'));
      expect(warned.map((l) => [l.source, l.drift, l.path, l.publicFields])).toEqual([
        ['payments', 'breaking', 'NonNegativeInt', ['Payment.amountRefunded']],
        ['payments', 'breaking', 'Payment.amount_refunded', ['Payment.amountRefunded']],
      ]);
      expect(warned[1]?.msg).toBe('contract drift: payments: breaking: Field \'amount_refunded\' was removed from object type \'Payment\' (public: Payment.amountRefunded)');
      expect(gateway.driftCounts()).toEqual({ payments: { breaking: 2, dangerous: 0, safe: 0 } });
      const exposition = (await gateway.metrics()).body;
      expect(exposition).toContain('junction_contract_drift_changes{source="payments",level="breaking"} 2\n');
      expect(exposition).toContain('junction_contract_drift_changes{source="payments",level="dangerous"} 0\n');
      // The next check is an hour on.
      expect(jobs.map((j) => j.delayMs)).toEqual([3_600_000]);

      // The newer spec moves on: a value added to an enum instead. Only what is new is logged.
      writeFileSync(against, readFileSync(payments('next2.yaml', (doc) => doc.components.schemas.PaymentStatus.enum.push('disputed'))));
      const before = logs.length;
      expect(await runNext()).toBe(3_600_000);
      expect(gateway.driftCounts()).toEqual({ payments: { breaking: 0, dangerous: 1, safe: 0 } });
      expect(logs.slice(before).filter((l) => l.level === 40).map((l) => [l.drift, l.path, l.publicFields])).toEqual([['dangerous', 'PaymentStatus.disputed', ['Payment.status']]]);

      // A newer spec that cannot be read is a warning; the gateway serves on, the last counts kept.
      writeFileSync(against, 'openapi: [');
      // Checked again at its interval, not at once (no loop on a spec that keeps failing).
      expect(await runNext()).toBe(3_600_000);
      expect(logs.at(-1)).toMatchObject({ level: 40, source: 'payments', msg: `contract drift: payments could not be compared with ./payments-next.yaml` });
      expect(gateway.driftCounts()).toEqual({ payments: { breaking: 0, dangerous: 1, safe: 0 } });
      const live = await gateway.yoga.fetch('http://junction.test/healthz');
      expect(live.status).toBe(200);
      expect(jobs).toHaveLength(1);
    } finally {
      await gateway.close();
    }
    // Closed: no check is left scheduled.
    expect(jobs).toHaveLength(0);
  });
});
