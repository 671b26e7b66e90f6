import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { DEMO_SCOPES } from '../schema/index.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { DEMO_CREDENTIALS, DEMO_HEADERS } from '../sources/demo/credentials.ts';
import { DEV_ISSUER } from '../gateway/auth/dev-issuer.ts';
/**
 * Starting the systems of the benchmark, each its own process: the demo backends (once, with the
 * load generator on CPU 1), and Junction, the Mesh baseline and the limit server (CPU 0), plus,
 * for Dashboard-cached, Junction with its cache and the static server (CPU 0). Then the check
 * made once before any load: the systems of a scenario must answer it with the same JSON, and
 * what one request costs upstream is counted.
 */
import { buildBaseline, startBaseline } from './baseline.ts';
import { composeHive, HIVE_SERVING, startHive } from './hive/hive.ts';
import { buildMeshV0, MESH_SERVING, MESH_V0_CONFIG, meshV0Env, startMeshV0 } from './mesh-v0/mesh-v0.ts';
import { resetUpstream, sleep, upstreamCalls } from './measures.ts';
import { freePort, stop, waitForOutput, type Proc, type ProcessSet } from './processes.ts';
import { DASHBOARD_BODY, type OptionalSystemName, type Scenario, type SystemName } from './scenarios.ts';

export interface System {
  url: string;
  proc: Proc;
  /** Sent with every request: Junction's bearer token, the payments key for `direct`. */
  headers: Record<string, string>;
  /** Where the process writes a heap snapshot on SIGUSR2 (junction only: the soak's). */
  snapshotDir?: string;
}

export interface Running {
  backends: Proc;
  urls: { payments: string; maps: string; messaging: string };
  /** GraphQL endpoint and process of each system under test; `direct` is the backends themselves. */
  systems: Record<Exclude<SystemName, OptionalSystemName>, System> & Partial<Record<OptionalSystemName, System>>;
  artifactFixes: string[];
  /** What could not be started (a system left out of its scenario), for the report's notes. */
  warnings: string[];
  /** Replay mode: the demo backends behind the replay process (`backends` then), stopped once recorded. */
  realBackends?: Proc;
  /** How `junction` was started (environment with CACHE off, Node flags, the token it is sent): the scale-out bench starts more like it. */
  junctionStart: { env: NodeJS.ProcessEnv; flags: string[]; headers: Record<string, string> };
}

export interface Cpus {
  sut?: number;
  side?: number;
}

const GRAPHQL_LINE = /GraphQL\s+(http:\/\/\S+\/graphql)/;

function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.REDIS_URL; // in-memory defaults: the same for every run and machine
  delete env.NODE_OPTIONS;
  return env;
}

export interface StartOptions {
  cpuProfileDir?: string;
  /** Start junction-cached and static (Dashboard-cached runs). */
  cached?: boolean;
  /** Start mesh-v0 and junction-v0 (MeshV0 runs). */
  meshV0?: boolean;
  /** Start junction-bare and junction-observed, and the OTLP sink (Overhead runs). */
  overhead?: boolean;
  /** Compose bench/hive/'s supergraph and start Hive Gateway on it (the scenarios of HIVE_SCENARIOS run). */
  hive?: boolean;
  /** Put bench/replay/server.ts in front of the demo backends (BENCH_BACKENDS=replay): the systems ask it. */
  replay?: boolean;
}

export async function startSystems(set: ProcessSet, cpus: Cpus, options: StartOptions = {}): Promise<Running> {
  const node = process.execPath;
  const backends = set.start('backends', node, ['--import', 'tsx', 'sources/demo/main.ts'], {
    env: { ...baseEnv(), PAYMENTS_PORT: '0', MAPS_PORT: '0', MESSAGING_PORT: '0' }, cpu: cpus.side,
  });
  await waitForOutput(backends, /MESSAGING_URL=(\S+)/, 30_000);
  const realUrls = printedUrls(backends, 'backends');
  const replay = options.replay ? await startReplay(set, realUrls, cpus.side) : undefined;
  const urls = replay?.urls ?? realUrls;
  // The backends accept the demo credentials (sources/demo/main.ts); every system sends them.
  const { payments, maps, messaging } = DEMO_CREDENTIALS;
  const env = {
    ...baseEnv(), PAYMENTS_URL: urls.payments, MAPS_URL: urls.maps, MESSAGING_URL: urls.messaging,
    PAYMENTS_SECRET_KEY: payments.secretKey, PAYMENTS_WEBHOOK_SECRET: payments.webhookSecret, MAPS_USERNAME: maps.username, MAPS_API_KEY: maps.apiKey,
    MESSAGING_ACCOUNT_SID: messaging.accountSid, MESSAGING_AUTH_TOKEN: messaging.authToken, MESSAGING_WEBHOOK_SECRET: messaging.authToken,
    MESSAGING_AUTHORIZATION: DEMO_HEADERS.messaging.authorization,
  };
  // Junction verifies a bearer token on every request, as in production: keys from a file.
  const identity = await benchIdentity();
  const auth = { authorization: `Bearer ${identity.token}` };

  const profile = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [];
  // Junction as it runs in production: compiled by `npm run build` (the bench script runs it
  // first), under plain Node, without tsx's loader in memory. `junction` has its cache off: the
  // scenarios it runs measure what computing an answer costs. junction-cached differs only in that.
  // The soak's heap snapshots: Node and heap-ids-reset.mjs add a SIGUSR2 listener at start and do
  // nothing more until the signal, so the scenarios measured before the soak run as without them.
  const snapshotDir = mkdtempSync(join(tmpdir(), 'junction-heap-'));
  const snapshots = ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`, '--import', new URL('heap-ids-reset.mjs', import.meta.url).href];
  // The Node flags Junction ships with (`npm run start:prod`'s), then BENCH_JUNCTION_NODE_FLAGS:
  // Node/V8 flags for the Junctions only (GC settings, say), to compare; a later flag wins.
  const flags = [...shippedNodeFlags(), ...(process.env.BENCH_JUNCTION_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)];
  // One bench user sends thousands of requests a minute: its endpoint budget is lifted so that the
  // run measures answering, not refusing (the budgets have their own tests).
  const junctionEnv = { ...env, ...identity.env, NODE_ENV: 'production', PORT: '0', LOG_LEVEL: 'warn', RATE_USER_PER_MIN: '1000000000' };
  const startJunction = (name: string, cache: 'on' | 'off', extra: string[] = [], extraEnv: Record<string, string> = {}) => set.start(name, node, [...flags, ...profile, ...extra, 'dist/gateway/main.js'], {
    env: { ...junctionEnv, CACHE: cache, ...extraEnv }, cpu: cpus.sut,
  });
  const junction = startJunction('junction', 'off', snapshots);
  const junctionCached = options.cached ? startJunction('junction-cached', 'on') : undefined;
  // MeshV0: the same Mesh v0 file served by Junction (pointed at it with JUNCTION_CONFIG, plus the
  // variables the file reads) and by Mesh. The file declares no source public, so Junction answers
  // verified callers only: junction-v0 gets the bench's token like the other Junctions (Mesh, none).
  const meshV0Vars = meshV0Env(urls);
  const junctionV0 = options.meshV0 ? startJunction('junction-v0', 'off', [], { ...meshV0Vars, JUNCTION_CONFIG: MESH_V0_CONFIG }) : undefined;
  // Overhead: the cost of observing the gateway, both sides otherwise the same as junction.
  const sink = options.overhead ? await startOtlpSink() : undefined;
  const junctionBare = options.overhead ? startJunction('junction-bare', 'off', [], { METRICS: 'off' }) : undefined;
  const junctionObserved = sink ? startJunction('junction-observed', 'off', [], {
    METRICS: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01',
  }) : undefined;
  const limit = set.start('limit', node, ['--import', 'tsx', 'bench/limit-server.ts'], { env: { ...env, PORT: '0' }, cpu: cpus.sut });
  // The build runs next to the others starting (it is not measured); mesh start after it.
  const artifactFixes = await buildBaseline(set, env);
  const baselinePort = await freePort();
  const baseline = startBaseline(set, env, baselinePort, cpus.sut);
  // MeshV0's Mesh: `mesh build --dir bench/mesh-v0`, then `mesh start` (no custom code to fix up).
  const meshV0 = options.meshV0
    ? await startBuiltSystem(() => buildMeshV0(set, { ...env, ...meshV0Vars }), (port) => startMeshV0(set, { ...env, ...meshV0Vars }, port, cpus.sut), MESH_SERVING)
    : undefined;
  // Hive: `mesh-compose` writes the supergraph from local files, then `hive-gateway` serves it.
  const hive = options.hive ? await startBuiltSystem(() => composeHive(set, env), (port) => startHive(set, env, port, cpus.sut), HIVE_SERVING) : undefined;
  const warnings: string[] = [];

  const overhead = junctionBare && junctionObserved
    ? Object.fromEntries(await Promise.all(([['junction-bare', junctionBare], ['junction-observed', junctionObserved]] as const).map(async ([name, proc]) =>
      [name, { url: (await waitForOutput(proc, GRAPHQL_LINE, 60_000))[1]!, proc, headers: auth }] as const)))
    : {};
  const [junctionUrl, limitUrl, , cached, junctionV0System] = await Promise.all([
    waitForOutput(junction, GRAPHQL_LINE, 60_000).then((m) => m[1]!),
    waitForOutput(limit, GRAPHQL_LINE, 30_000).then((m) => m[1]!),
    waitForOutput(baseline, /Serving GraphQL Mesh/, 60_000),
    junctionCached && waitForOutput(junctionCached, GRAPHQL_LINE, 60_000).then(async (m) => {
      const system = { url: m[1]!, proc: junctionCached, headers: auth };
      return { 'junction-cached': system, static: await startStatic(set, system, cpus.sut) };
    }),
    // Not fatal: MeshV0 then runs with Mesh alone, and the report says why.
    junctionV0 && waitForOutput(junctionV0, GRAPHQL_LINE, 60_000).then(
      (m): System => ({ url: m[1]!, proc: junctionV0, headers: auth }),
      async (err: Error) => {
        warnings.push(`junction-v0 (JUNCTION_CONFIG=${MESH_V0_CONFIG}) did not start, so MeshV0 ran with Mesh alone: ${err.message.split('\n').slice(0, 6).join(' | ')}`);
        await stop(junctionV0, 0);
        return undefined;
      },
    ),
  ]);
  return {
    backends: replay?.proc ?? backends, urls, artifactFixes, warnings, ...(replay ? { realBackends: backends } : {}),
    junctionStart: { env: { ...junctionEnv, CACHE: 'off' }, flags, headers: auth },
    systems: {
      junction: { url: junctionUrl, proc: junction, headers: auth, snapshotDir },
      baseline: { url: `http://127.0.0.1:${baselinePort}/graphql`, proc: baseline, headers: {} },
      limit: { url: limitUrl, proc: limit, headers: {} },
      direct: { url: urls.payments, proc: backends, headers: DEMO_HEADERS.payments },
      ...cached,
      ...overhead,
      ...(meshV0 ? { 'mesh-v0': meshV0 } : {}),
      ...(junctionV0System ? { 'junction-v0': junctionV0System } : {}),
      ...(hive ? { hive } : {}),
    },
  };
}

/** Issue 19's replay process, recording from the demo backends at `real` until frozen (bench/replay/server.ts). */
async function startReplay(set: ProcessSet, real: Running['urls'], cpu: number | undefined): Promise<{ proc: Proc; urls: Running['urls'] }> {
  const proc = set.start('replay', process.execPath, ['--import', 'tsx', 'bench/replay/server.ts'], {
    env: { ...baseEnv(), REPLAY_PAYMENTS_UPSTREAM: real.payments, REPLAY_MAPS_UPSTREAM: real.maps, REPLAY_MESSAGING_UPSTREAM: real.messaging }, cpu,
  });
  await waitForOutput(proc, /MESSAGING_URL=(\S+)/, 30_000);
  return { proc, urls: printedUrls(proc, 'the replay process') };
}

/** The three backends' URLs a process printed as `PAYMENTS_URL=...` lines (the demo backends, the replay process). */
function printedUrls(proc: Proc, what: string): Running['urls'] {
  const url = (name: string) => {
    const line = proc.output.find((l) => l.includes(`${name}=`));
    const found = line ? /=(\S+)/.exec(line.slice(line.indexOf(`${name}=`)))?.[1] : undefined;
    if (!found) throw new Error(`${what} printed no ${name}`);
    return found;
  };
  return { payments: url('PAYMENTS_URL'), maps: url('MAPS_URL'), messaging: url('MESSAGING_URL') };
}

/**
 * Where junction-observed exports its spans (OTLP over HTTP): answers every export at once and
 * counts the spans' bytes, so that exporting costs Junction what it would against a collector.
 * In the bench's own process, which only waits on the load tool meanwhile.
 */
async function startOtlpSink(): Promise<{ url: string; exports: () => number }> {
  const { createServer } = await import('node:http');
  let exports = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exports += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, exports: () => exports };
}

/** A peer that is built first, then served on a free port until it prints `serving`. */
async function startBuiltSystem(build: () => Promise<unknown>, start: (port: number) => Proc, serving: RegExp): Promise<System> {
  await build();
  const port = await freePort();
  const proc = start(port);
  await waitForOutput(proc, serving, 60_000);
  return { url: `http://127.0.0.1:${port}/graphql`, proc, headers: {} };
}

/**
 * MeshV0, before any load: Mesh must answer the scenario's query with data (else the run fails);
 * junction-v0 is taken out of the run (stopped, left out of the scenario) when it does not, as
 * before Junction reads Mesh v0 files, and the returned warning says so and what it answered.
 */
export async function readyMeshV0(running: Running, body: string): Promise<string | undefined> {
  const mesh = running.systems['mesh-v0'];
  if (!mesh) return undefined;
  await waitAnswering(mesh, body, 60_000);
  const junction = running.systems['junction-v0'];
  if (!junction) return undefined;
  try {
    await waitAnswering(junction, body, 15_000);
    return undefined;
  } catch (err) {
    delete running.systems['junction-v0'];
    await stop(junction.proc);
    return `junction-v0 (JUNCTION_CONFIG=${MESH_V0_CONFIG}) did not answer MeshV0's query with data, so MeshV0 ran with Mesh alone: ${(err as Error).message}`;
  }
}

/** A system that was started; the cached ones are only when Dashboard-cached runs, the MeshV0 ones when MeshV0 does. */
export function systemOf(running: Running, name: SystemName): System {
  const system = running.systems[name];
  if (!system) throw new Error(`${name} was not started`);
  return system;
}

/** The static server, serving the bytes and content-type junction-cached answers the Dashboard with. */
async function startStatic(set: ProcessSet, source: System, cpu: number | undefined): Promise<System> {
  await waitAnswering(source, DASHBOARD_BODY, 60_000);
  const answer = await post(source, DASHBOARD_BODY);
  if (answer.status !== 200) throw new Error(`junction-cached answered the Dashboard with HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
  const file = join(mkdtempSync(join(tmpdir(), 'junction-bench-')), 'dashboard.json');
  writeFileSync(file, answer.text);
  const proc = set.start('static', process.execPath, ['--import', 'tsx', 'bench/static-server.ts'], {
    env: { ...baseEnv(), STATIC_BODY_FILE: file, STATIC_CONTENT_TYPE: answer.contentType, PORT: '0' }, cpu,
  });
  return { url: (await waitForOutput(proc, GRAPHQL_LINE, 30_000))[1]!, proc, headers: {} };
}

export async function post(system: Pick<System, 'url' | 'headers'>, body: string): Promise<{ status: number; text: string; contentType: string }> {
  const response = await fetch(system.url, { method: 'POST', headers: { ...system.headers, 'content-type': 'application/json' }, body });
  return { status: response.status, text: await response.text(), contentType: response.headers.get('content-type') ?? '' };
}

/** Sorts object keys at every level, so two answers can be compared as data. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

export type Verdict = 'identical' | 'same data, different key order' | 'DIFFERENT';

export interface Check {
  scenario: string;
  system: SystemName;
  verdict: Verdict;
  status: number;
  bytes: number;
  /** Upstream calls one request made, alone (exact, no load). */
  upstreamCalls: number;
  upstreamOperations: Record<string, number>;
  /** First 300 characters of the answer when it differs from the first system's. */
  sample?: string;
}

/** Sends each scenario once to each of its systems, compares with the first system's answer, counts its upstream calls. */
export async function checkResponses(running: Running, list: readonly Scenario[]): Promise<Check[]> {
  const upstream = Object.values(running.urls);
  const checks: Check[] = [];
  for (const scenario of list) {
    const body = scenario.body ?? scenario.bodies?.[0];
    if (!body || scenario.name === 'Latency') continue;
    let reference: string | undefined;
    for (const system of scenario.systems) {
      await resetUpstream(upstream);
      const answer = await post(systemOf(running, system), body);
      const calls = await upstreamCalls(upstream);
      reference ??= answer.text;
      let verdict: Verdict = 'DIFFERENT';
      if (answer.text === reference) verdict = 'identical';
      else if (answer.status === 200 && sameData(answer.text, reference)) verdict = 'same data, different key order';
      checks.push({
        scenario: scenario.name, system, verdict, status: answer.status, bytes: Buffer.byteLength(answer.text),
        upstreamCalls: calls.total, upstreamOperations: calls.operations,
        ...(verdict === 'identical' ? {} : { sample: answer.text.slice(0, 300) }),
      });
    }
  }
  return checks;
}

function sameData(a: string, b: string): boolean {
  try {
    return JSON.stringify(canonical(JSON.parse(a))) === JSON.stringify(canonical(JSON.parse(b)));
  } catch {
    return false;
  }
}

/** Waits until a GraphQL endpoint answers a request with data (Mesh loads its sources on the first one). */
export async function waitAnswering(system: Pick<System, 'url' | 'headers'>, body: string, timeoutMs: number): Promise<void> {
  const { url } = system;
  const start = Date.now();
  let last = '';
  while (Date.now() - start < timeoutMs) {
    try {
      const answer = await post(system, body);
      if (answer.status === 200 && answer.text.startsWith('{"data"')) return;
      last = `HTTP ${answer.status}: ${answer.text.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${url} did not answer with data within ${timeoutMs} ms (last: ${last})`);
}

/**
 * A key pair for the run: its public half in a JWKS file Junction reads (AUTH_JWKS_FILE), the
 * private half signing one access token with every demo scope, sent on every request.
 */
export async function benchIdentity(): Promise<{ env: Record<string, string>; token: string }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = 'bench';
  const file = join(mkdtempSync(join(tmpdir(), 'junction-bench-')), 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] }));
  const issuer = 'urn:junction:bench';
  const audience = 'junction-bench';
  const token = await new SignJWT({ scope: DEMO_SCOPES.join(' ') })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
    .setIssuer(issuer).setAudience(audience).setSubject('bench').setIssuedAt().setExpirationTime('6h')
    .sign(privateKey);
  return { env: { AUTH_JWKS_FILE: file, AUTH_ISSUER: issuer, AUTH_AUDIENCE: audience, AUTH_ALGORITHMS: 'ES256' }, token };
}

/**
 * The Node flags `npm run start:prod` gives Junction (package.json: in front of the caller's own
 * NODE_OPTIONS, which may override them), so that the bench measures it as it ships:
 * `--max-semi-space-size=64` (README, "Memory").
 */
export function shippedNodeFlags(): string[] {
  const scripts = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const options = /NODE_OPTIONS="([^"$]*)/.exec(scripts['start:prod'] ?? '');
  if (!options || !/dist\/gateway\/main\.js/.test(scripts['start:prod'] ?? '')) throw new Error('package.json start:prod does not set NODE_OPTIONS for `node dist/gateway/main.js`');
  return options[1]!.split(/\s+/).filter(Boolean);
}
