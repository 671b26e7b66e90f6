import { writeFileSync } from 'node:fs';
import { DEMO_SCOPES } from '../../schema/index.ts';
import { deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parse, typeFromAST, type GraphQLInputType, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../gateway/auth/api-keys.ts';
import { DEV_ISSUER } from '../../gateway/auth/dev-issuer.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import {
  abbreviate, anyJson, expand, jsonFor, oddString, operationArbitrary, rawRequestArbitrary,
  type Identity, type RawRequest,
} from '../helpers/fuzz-arbitraries.ts';

/**
 * Property-based tests of the public HTTP surface: generated documents, variables, bodies and
 * headers go through the gateway in process (real demo backends behind it), and every answer
 * must hold the same invariants (`problemsWith` below):
 *
 * - never a 5xx (a 503 OVERLOADED only if it genuinely occurs; with one request at a time and no
 *   event-loop watcher, it should not);
 * - never an INTERNAL_SERVER_ERROR, and every error has a string `extensions.code`; nor a
 *   SOURCE_ERROR or SOURCE_BAD_RESPONSE: the backends are healthy, so one is a server-side
 *   failure the generated input caused (a 5xx in disguise);
 * - valid GraphQL over HTTP: a JSON content type and body, an object with `data` and/or `errors`
 *   (an array of such objects for a batch), `errors` a non-empty array of objects with a string
 *   `message`. Two answers are exempt, both what the spec allows: a CORS preflight (OPTIONS, 2xx,
 *   no body), and 406 with no body to a client whose Accept admits no JSON type;
 * - no request holds the event loop longer than MAX_REQUEST_MS (its best of three tries).
 *
 * Runs: FUZZ_RUNS per property (default 200; e.g. FUZZ_RUNS=5000 for a long run). Seed: fixed,
 * or FUZZ_SEED. A failure prints the seed and path to replay it (fc.assert does), the shrunk
 * counterexample (shrinking stops after FUZZ_SHRINK_MS, default 10 s), and the request and
 * answer that broke the property.
 * FUZZ_SURVEY=1 (or =<file>) runs the same generators without stopping at the first failure and
 * prints (or writes) one example of every distinct class of failure, and the slowest requests.
 * FUZZ_IGNORE=<regex> looks past problems whose kind matches, to find what else fails while a
 * known failure is being fixed (e.g. FUZZ_IGNORE='without a code').
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20_260_101;
const SURVEY = process.env.FUZZ_SURVEY !== undefined && process.env.FUZZ_SURVEY !== '' && process.env.FUZZ_SURVEY !== '0';
/** Problems to look past (a regular expression over their kinds), to find what else fails while a known failure is being fixed. */
const IGNORE = process.env.FUZZ_IGNORE ? new RegExp(process.env.FUZZ_IGNORE) : undefined;
/** How much of a request a report shows. */
const SHOWN = SURVEY ? 10_000_000 : 3000;
/**
 * The bound on one request's time, in ms. Gateway and backends run in this process and the
 * requests go one at a time, so a request's wall time is event-loop time (the backends answer
 * in microseconds to a few ms; `send` says how it is measured): over 250 ms, something held the
 * loop (a regex, a parser, a serializer, a walk over a huge value) that would stall every other
 * request on a real instance.
 */
const MAX_REQUEST_MS = 250;
/**
 * Time spent shrinking a failure, in ms (FUZZ_SHRINK_MS): past it, the smallest counterexample
 * found so far is reported. Each shrinking step sends requests (a slow one three times), and a
 * counterexample holding a 2 MB value can take many minutes to shrink all the way.
 */
const SHRINK_MS = Number(process.env.FUZZ_SHRINK_MS ?? 10_000);
/** Time for one property: room for the runs and for shrinking a failure. */
const TEST_TIMEOUT_MS = Math.max(120_000, RUNS * 150) + SHRINK_MS;
const API_KEY = 'jk_fuzz_service';
/**
 * Node's HTTP server refuses a request head (request line and headers) over 16 KiB (its default
 * maxHeaderSize, which main.ts keeps) with a 431 before the gateway sees it; requests sent in
 * process skip that, so generated heads are held under it.
 */
const MAX_HEAD_BYTES = 16 * 1024;
const headSize = (method: string, path: string, headers: Record<string, string>) =>
  Buffer.byteLength(`${method} ${path} HTTP/1.1\r\nhost: junction.test\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}`, 'latin1');

interface Answer {
  status: number;
  contentType: string;
  text: string;
  ms: number;
  /** What the gateway logged at error level or above while answering (why an internal error was one). */
  logged?: string[];
}

interface Problem {
  /** What kind of failure, with the particulars stripped (for the survey's grouping). */
  kind: string;
  detail: string;
}

/** Where the particulars (quoted names, numbers) of an error message are, so that messages group. */
const generic = (message: string) => message
  .replace(/got invalid value [\s\S]*?; (Expected|Field)[\s\S]*/, 'got invalid value …; $1 …')
  .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
  .replace(/\d+/g, 'N')
  .slice(0, 120);

const mediaTypeOf = (header: string | null | undefined) => (header ?? '').split(';')[0]!.trim().toLowerCase();
const JSON_TYPES = ['application/json', 'application/graphql-response+json'];

/** Whether an Accept header admits a JSON answer (absent: it does). */
function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (params.some((p) => /^q=0(\.0*)?$/.test(p))) return false;
    return type === '*/*' || type === 'application/*' || JSON_TYPES.includes(type!);
  });
}

/** The results in a GraphQL-over-SSE answer (the data of its `next` events); throws if one is not JSON. */
function eventStreamResults(text: string): unknown[] {
  const results: unknown[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const lines = event.split(/\r?\n/);
    if (!lines.includes('event: next')) continue;
    results.push(JSON.parse(lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n')));
  }
  if (results.length === 0) throw new Error('no next event');
  return results;
}

/** The results in a multipart/mixed answer (one JSON body per part); throws if one is not JSON. */
function multipartResults(text: string, contentType: string): unknown[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new Error('no boundary');
  const results = text.split(`--${boundary}`).map((part) => part.split(/\r?\n\r?\n/).slice(1).join('\n\n').trim())
    .filter((part) => part !== '' && part !== '--').map((part) => JSON.parse(part) as unknown);
  if (results.length === 0) throw new Error('no part');
  return results;
}

/** Every way an answer breaks the invariants (see the top of the file); none is what must hold. */
function problemsWith(request: { method: string; accept: string | undefined; batch: boolean }, answer: Answer): Problem[] {
  const problems: Problem[] = [];
  const add = (kind: string, detail = '') => problems.push({ kind, detail });
  if (answer.ms >= MAX_REQUEST_MS) add(`took ${MAX_REQUEST_MS} ms or more`, `${answer.ms.toFixed(0)} ms`);

  const preflight = request.method === 'OPTIONS' && answer.status >= 200 && answer.status < 300 && answer.text === '';
  const notAcceptable = answer.status === 406 && answer.text === '' && !acceptsJson(request.accept);
  if (preflight || notAcceptable) return problems;

  let body: unknown;
  try {
    // GraphQL over SSE or incremental delivery, to a client that asked for it: results in events or parts.
    const streamed = mediaTypeOf(answer.contentType) === 'text/event-stream' && /text\/event-stream/i.test(request.accept ?? '')
      ? eventStreamResults(answer.text)
      : mediaTypeOf(answer.contentType) === 'multipart/mixed' && /multipart\/mixed/i.test(request.accept ?? '')
        ? multipartResults(answer.text, answer.contentType)
        : undefined;
    if (streamed) {
      body = request.batch || streamed.length > 1 ? streamed : streamed[0];
    } else {
      body = JSON.parse(answer.text);
    }
  } catch {
    add(`status ${answer.status} with a body that is not JSON (${answer.contentType || 'no content-type'})`, abbreviate(answer.text, 300));
    if (answer.status >= 500) add(`status ${answer.status}`);
    return problems;
  }
  if (![...JSON_TYPES, 'text/event-stream', 'multipart/mixed'].includes(mediaTypeOf(answer.contentType))) add(`content-type ${answer.contentType || 'missing'} on a JSON body`);
  const results = Array.isArray(body) ? body : [body];
  if (Array.isArray(body) && !request.batch && JSON_TYPES.includes(mediaTypeOf(answer.contentType))) add('an array answer to a request that was not a batch');
  const codes: string[] = [];
  for (const result of results) {
    if (result === null || typeof result !== 'object' || Array.isArray(result)) {
      add('a result that is not an object', abbreviate(JSON.stringify(result), 300));
      continue;
    }
    const { data, errors } = result as { data?: unknown; errors?: unknown };
    if (data === undefined && errors === undefined) add('a result with neither data nor errors', abbreviate(JSON.stringify(result), 300));
    if (data !== undefined && data !== null && (typeof data !== 'object' || Array.isArray(data))) add('data that is not an object or null');
    if (errors === undefined) continue;
    if (!Array.isArray(errors) || errors.length === 0) {
      add('errors that are not a non-empty array', abbreviate(JSON.stringify(errors), 300));
      continue;
    }
    for (const error of errors as unknown[]) {
      const { message, extensions } = (error ?? {}) as { message?: unknown; extensions?: { code?: unknown } };
      if (error === null || typeof error !== 'object' || typeof message !== 'string') {
        add('an error without a string message', abbreviate(JSON.stringify(error), 300));
        continue;
      }
      const code = extensions?.code;
      if (typeof code !== 'string') add(`an error without a code: ${generic(message)}`, abbreviate(JSON.stringify(error), 500));
      else codes.push(code);
      // The backends are healthy and no fault is armed: a backend failing, or its answer unreadable,
      // means the gateway sent it something broken (or misread a good answer): a 5xx in disguise.
      if (code === 'SOURCE_ERROR' || code === 'SOURCE_BAD_RESPONSE') {
        const { source } = (extensions ?? {}) as { source?: unknown };
        add(`${code} from ${String(source)} with healthy backends: ${generic(message)}`, abbreviate(JSON.stringify(error), 500));
      }
      if (code === 'INTERNAL_SERVER_ERROR') {
        add(`INTERNAL_SERVER_ERROR: ${generic(message)}${answer.logged?.length ? ` (logged: ${generic(answer.logged[0]!)})` : ''}`, abbreviate(JSON.stringify(error), 500));
      }
    }
  }
  if (answer.status >= 500 && !(answer.status === 503 && codes.length > 0 && codes.every((c) => c === 'OVERLOADED'))) {
    add(`status ${answer.status}`, abbreviate(answer.text, 300));
  }
  return problems;
}

describe('the public HTTP surface under generated input', () => {
  let h: Harness;
  let tokens: { user: string; developer: string };
  let realIds: string[];
  /** Distinct failure classes seen in a survey, with the shortest example of each. */
  const survey = new Map<string, { count: number; example: string }>();
  /** In a survey: the slowest requests of each property. */
  const slowest: { property: string; ms: number; description: string }[] = [];
  const requestMs: Record<string, number> = {};
  /** In a survey: how often each status and first error code came back, per property (what the generators reach). */
  const outcomes: Record<string, Record<string, number>> = {};
  let property = '';

  beforeAll(async () => {
    h = await startHarness({
      mode: 'production',
      // Endpoint budgets: a long run's thousands of requests must not turn into 429s (which
      // would test nothing else). Field budgets (@rateLimit) and every other limit stay as shipped.
      limits: { RATE_ANONYMOUS_PER_MIN: 10_000_000, RATE_USER_PER_MIN: 10_000_000, RATE_SERVICE_PER_MIN: 10_000_000, RATE_DEVELOPER_PER_MIN: 10_000_000 },
      auth: () => ({ apiKeys: [{ service: 'fuzz', sha256: hashApiKey(API_KEY), scopes: DEMO_SCOPES }] }),
    });
    tokens = {
      // Valid for a day: a long run outlasts the harness's own five-minute token.
      user: await h.issuer.token({ sub: 'fuzz-user', ttlSec: 86_400 }),
      developer: await h.issuer.token({ sub: 'fuzz-dev', scopes: [...DEMO_SCOPES, 'junction:developer'], ttlSec: 86_400 }),
    };
    const { seed } = h;
    realIds = [
      ...seed.customers.slice(0, 3).map((c) => c.id), ...seed.merchants.slice(0, 2).map((m) => m.id), ...seed.payments.slice(0, 3).map((p) => p.id),
      ...seed.places.slice(0, 2).map((p) => p.id), ...seed.messages.slice(0, 2).map((m) => m.id), seed.customers[0]!.phone,
      seed.places[0]!.formattedAddress, 'Berlin',
    ];
    // The first request down each path compiles it (JIT, parsers, zlib, the SOAP client): paid
    // here, so that the bound measures a running gateway.
    for (let round = 0; round < 2; round++) {
      await h.query(`{ payments(first: 3) { edges { node { id customer { name address { location { lat } } messages(first: 1) { id } } merchant { place { name } } } } } } geocode(address: "Berlin ${round}") { id } }`);
      await h.query('query($id: ID!) { customer(id: $id) { id } }', { id: `cus_${round}` }, { authorization: '' });
      await h.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify({ query: `{ merchant(id: "${round}") { id } }` })) });
      await h.fetch(`/graphql?query=${encodeURIComponent(`{ merchant(id: "${round}") { id } }`)}`);
      await h.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-graphql-csrf': '1' }, body: `query=${encodeURIComponent('{ __typename }')}` });
    }
  });
  afterAll(async () => {
    if (SURVEY) {
      const lines = [...survey.entries()].sort((a, b) => b[1].count - a[1].count).map(([kind, { count, example }]) => `\n### ${kind}  (x${count})\n${example}`);
      const report = [
        `FUZZ SURVEY: ${survey.size} distinct failure classes (seed ${SEED}, ${RUNS} runs per property)${lines.join('\n')}`,
        `\nTIME IN REQUESTS (ms): ${JSON.stringify(requestMs)}`,
        `\nOUTCOMES (status, first error code):\n${Object.entries(outcomes).map(([p, o]) => `${p}: ${Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} x${n}`).join(', ')}`).join('\n')}`,
        `\nSLOWEST:\n${slowest.sort((a, b) => b.ms - a.ms).slice(0, 15).map((s) => `${s.ms.toFixed(0)} ms [${s.property}] ${abbreviate(s.description, process.env.FUZZ_SURVEY === '1' ? 2000 : SHOWN)}`).join('\n')}`,
      ].join('\n');
      // FUZZ_SURVEY=1 prints the survey; FUZZ_SURVEY=<file> writes it there.
      if (process.env.FUZZ_SURVEY === '1') console.log(report);
      else writeFileSync(process.env.FUZZ_SURVEY!, report);
    }
    await h?.close();
  });

  async function headersFor(identity: Identity): Promise<Record<string, string>> {
    switch (identity.kind) {
      case 'anonymous': return {};
      case 'user': return { authorization: `Bearer ${tokens.user}` };
      case 'developer': return { authorization: `Bearer ${tokens.developer}` };
      case 'service': return { 'x-api-key': API_KEY };
      case 'authorization': return { authorization: String(identity.value) };
      case 'apiKey': return { 'x-api-key': identity.value };
      case 'signed':
        try {
          return { authorization: `Bearer ${await h.issuer.token({ sub: 'fuzz-signed', claims: identity.claims as never, header: identity.header as never })}` };
        } catch {
          // jose refused to sign it (e.g. a `crit` it does not know): nothing to send.
          return { authorization: 'Bearer unsignable' };
        }
    }
  }

  /**
   * Sends one request and times it, from the first byte out to the last byte in: the lesser of
   * its wall time and the CPU time this process spent meanwhile (other processes on a busy
   * machine stretch the first, helper threads such as GC's the second; neither stands in for a
   * request that keeps the loop busy). One over the bound is sent twice more and judged by its
   * fastest try: a GC pause does not come back three times in a row, a path that holds the
   * event loop does.
   */
  async function send(path: string, init: RequestInit): Promise<Answer> {
    const logsBefore = h.logs.length;
    const timed = async () => {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const response = await h.fetch(path, init);
      const text = await response.text();
      const { user, system } = process.cpuUsage(cpu);
      return { response, text, ms: Math.min(performance.now() - started, (user + system) / 1000) };
    };
    const { response, text, ms: first } = await timed();
    let ms = first;
    for (let again = 0; again < 2 && ms >= MAX_REQUEST_MS; again++) ms = Math.min(ms, (await timed()).ms);
    const logged = h.logs.slice(logsBefore).filter((l) => l.level >= 50).map((l) => String(l.err?.message ?? l.msg));
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', text, ms, logged };
  }

  /** Counts a class of failure in a survey, keeping its shortest example. */
  function record(kind: string, report: string) {
    const seen = survey.get(kind);
    if (!seen) survey.set(kind, { count: 1, example: report });
    else {
      seen.count += 1;
      if (report.length < seen.example.length) seen.example = report;
    }
  }

  /** The property's assertion; in a survey, a record instead. */
  function verdict(description: string, request: { method: string; accept: string | undefined; batch: boolean }, answer: Answer): void {
    const problems = problemsWith(request, answer).filter((p) => !IGNORE?.test(p.kind));
    if (SURVEY) {
      slowest.push({ property, ms: answer.ms, description });
      requestMs[property] = (requestMs[property] ?? 0) + answer.ms;
      const outcome = `${answer.status} ${/"code":"(\w+)"/.exec(answer.text)?.[1] ?? (/"data":\{/.test(answer.text) ? 'data' : '-')}`;
      (outcomes[property] ??= {})[outcome] = (outcomes[property]![outcome] ?? 0) + 1;
      // Not failures, but worth a look: what reached a backend and broke or was refused there, and what was logged as an error.
      const observed = [
        ...(answer.logged ?? []).map((m) => `(observation) logged at error level: ${generic(m)}`),
        ...[...answer.text.matchAll(/"code":"(SOURCE_[A-Z_]+)"(?:,"source":"(\w+)")?(?:,"upstreamCode":"([^"]*)")?/g)].map(([, c, src, up]) => `(observation) ${c} from ${src ?? '?'} (${up ?? '-'})`),
      ];
      for (const kind of observed) record(`[${property}] ${kind}`, `${description}\n→ ${answer.status} in ${answer.ms.toFixed(0)} ms: ${abbreviate(answer.text, 1500)}`);
    }
    if (problems.length === 0) return;
    const report = `${description}\n→ ${answer.status} ${answer.contentType} in ${answer.ms.toFixed(0)} ms: ${abbreviate(answer.text, 1500)}\n${problems.map((p) => `  ✗ ${p.kind}${p.detail ? ` — ${p.detail}` : ''}`).join('\n')}`;
    if (!SURVEY) throw new Error(report);
    for (const { kind } of problems) record(`[${property}] ${kind}`, report);
  }

  async function check<T>(name: string, arbitrary: fc.Arbitrary<T>, run: (value: T) => Promise<void>) {
    property = name;
    // fast-check only runs the property again after a failure to shrink it: once shrinking has
    // had its time, every further candidate passes untried and the smallest failure so far stands.
    let failedAt: number | undefined;
    const asserted = fc.asyncProperty(arbitrary, async (value) => {
      if (failedAt !== undefined && performance.now() - failedAt > SHRINK_MS) return;
      try {
        await run(value);
      } catch (err) {
        failedAt ??= performance.now();
        throw err;
      }
    });
    if (SURVEY) {
      // Every generated value, no shrinking: the classes are collected by `verdict`; what still
      // fails is the test's own fault (a request it could not even build).
      const details = await fc.check(asserted, { numRuns: RUNS, seed: SEED, endOnFailure: true });
      if (details.failed) throw new Error(fc.defaultReportMessage(details));
      return;
    }
    await fc.assert(asserted, { numRuns: RUNS, seed: SEED });
  }

  /** Anonymous, or a user with every scope; now and then a developer (who may introspect). */
  const caller = fc.constantFrom('anonymous', 'anonymous', 'full access', 'full access', 'developer') as fc.Arbitrary<'anonymous' | 'full access' | 'developer'>;
  const callerHeaders = (who: 'anonymous' | 'full access' | 'developer'): Record<string, string> =>
    (who === 'anonymous' ? {} : { authorization: `Bearer ${who === 'developer' ? tokens.developer : tokens.user}` });

  it('can fail: a plain query is answered cleanly, and a 500 or an uncoded error would be caught', async () => {
    const { status, body } = await h.query('{ merchant(id: "nope") { id } }', {}, callerHeaders('full access'));
    expect(status).toBe(200);
    expect(body).toEqual({ data: { merchant: null } });
    const request = { method: 'POST', accept: undefined, batch: false };
    expect(problemsWith(request, { status: 200, contentType: 'application/json', text: JSON.stringify(body), ms: 1 })).toEqual([]);
    expect(problemsWith(request, { status: 500, contentType: 'text/plain', text: 'x', ms: 1 }).length).toBeGreaterThan(0);
    expect(problemsWith(request, { status: 200, contentType: 'application/json', text: '{"errors":[{"message":"x"}]}', ms: 1 }).map((p) => p.kind)).toEqual(['an error without a code: x']);
  });

  it('never answers a generated document with a 5xx, an internal error, an uncoded error or a slow answer', async () => {
    const operations = operationArbitrary(h.gateway.schema, { realIds });
    await check('documents', fc.tuple(operations, caller, fc.constantFrom('application/json', 'application/graphql-response+json')), async ([op, who, accept]) => {
      const headers = { 'content-type': 'application/json', accept, ...callerHeaders(who) };
      const body = JSON.stringify({ query: op.document, variables: expand(op.variables), operationName: op.operationName });
      const answer = await send('/graphql', { method: 'POST', headers, body });
      verdict(`POST /graphql ${who} accept ${accept}\n${abbreviate(body, SHOWN)}`, { method: 'POST', accept, batch: false }, answer);
    });
  }, TEST_TIMEOUT_MS);

  it('never answers generated variables with a 5xx, an internal error, an uncoded error or a slow answer, over any transport', async () => {
    const strings = oddString({ realIds });
    const documents = [
      'query($id: ID!) { customer(id: $id) { id name address { city location { lat } } } }',
      'query($first: Int, $after: String, $status: PaymentStatus, $customerId: ID) { payments(first: $first, after: $after, status: $status, customerId: $customerId) { edges { cursor node { id amount } } pageInfo { hasNextPage endCursor } } }',
      'query($address: String!) { geocode(address: $address) { id name location { lat lng } } }',
      'query($id: ID!) { merchant(id: $id) { id place { id } } place(id: $id) { id } message(id: $id) { id customer { id } } payment(id: $id) { id refunds { id } } }',
      'query($skip: Boolean!, $n: Int = 3) { payments(first: $n) @skip(if: $skip) { edges { node { id } } } merchant(id: "m") @include(if: $skip) { id } }',
      'query($c: ID!, $n: Int) { customer(id: $c) { payments(first: $n) { edges { node { id } } } messages(first: $n) { id } } }',
      'mutation($input: CreatePaymentInput!) { createPayment(input: $input) { id amount } }',
      'mutation($paymentId: ID!, $amount: Int, $key: String) { refundPayment(paymentId: $paymentId, amount: $amount, idempotencyKey: $key) { id amount } }',
      'mutation($input: SendMessageInput!) { sendMessage(input: $input) { id status } }',
      'query($ids: [ID!]!, $deep: CreatePaymentInput) { merchant(id: "m") { id } }',
    ];
    // Each variable: mostly a value of its type (odd strings, edge numbers and real ids included,
    // so that many reach the backends), else any JSON at all, else left out.
    const variablesFor = (query: string) => {
      const definitions = (parse(query).definitions[0] as OperationDefinitionNode).variableDefinitions ?? [];
      const each = Object.fromEntries(definitions.map((d) => [d.variable.name.value, fc.oneof(
        { weight: 10, arbitrary: jsonFor(typeFromAST(h.gateway.schema, d.type as never) as GraphQLInputType, strings, realIds, 3) },
        { weight: 2, arbitrary: anyJson(strings) },
      )]));
      return fc.oneof(
        { weight: 20, arbitrary: fc.record(each, { requiredKeys: [] }) },
        { weight: 1, arbitrary: anyJson(strings) },
        { weight: 1, arbitrary: fc.record(each, { requiredKeys: [] }).map((v) => JSON.stringify(expand(v))) },
      );
    };
    const cases = fc.oneof(...documents.map((query) => fc.record({
      query: fc.constant(query),
      variables: variablesFor(query),
      transport: fc.oneof(
        { weight: 6, arbitrary: fc.constant('json') },
        { weight: 1, arbitrary: fc.constantFrom('graphql+json', 'get', 'form', 'multipart') },
      ),
      who: caller,
    })));
    await check('variables', cases, async ({ query, variables, transport, who }) => {
      const vars = expand(variables);
      const auth = callerHeaders(who);
      const accept = 'application/graphql-response+json';
      let path = '/graphql';
      let init: RequestInit;
      if (transport === 'get') {
        path += `?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(JSON.stringify(vars).replace(/[\uD800-\uDFFF]/g, '\uFFFD'))}`;
        fc.pre(headSize('GET', path, auth) <= MAX_HEAD_BYTES);
        init = { method: 'GET', headers: { accept, ...auth } };
      } else if (transport === 'form') {
        const form = new URLSearchParams({ query, variables: JSON.stringify(vars) });
        init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-graphql-csrf': '1', accept, ...auth }, body: form.toString() };
      } else if (transport === 'multipart') {
        const form = new FormData();
        form.set('operations', JSON.stringify({ query, variables: vars }));
        form.set('map', '{}');
        init = { method: 'POST', headers: { 'x-graphql-csrf': '1', accept, ...auth }, body: form };
      } else {
        init = { method: 'POST', headers: { 'content-type': transport === 'json' ? 'application/json' : 'application/graphql+json', accept, ...auth }, body: JSON.stringify({ query, variables: vars }) };
      }
      const answer = await send(path, init);
      const shown = typeof init.body === 'string' ? init.body : init.body instanceof FormData ? `multipart operations=${JSON.stringify({ query, variables: vars })}` : '';
      verdict(`${init.method} ${abbreviate(path, SHOWN)} [${transport}] ${who}\n${abbreviate(shown, SHOWN)}`, { method: String(init.method), accept, batch: false }, answer);
    });
  }, TEST_TIMEOUT_MS);

  it('never answers generated bodies and headers with a 5xx, an internal error, a non-GraphQL answer or a slow answer', async () => {
    await check('requests', rawRequestArbitrary(realIds), async (request: RawRequest) => {
      const headers: Record<string, string> = { ...(await headersFor(request.identity)) };
      if (request.contentType !== undefined) headers['content-type'] = request.contentType;
      if (request.accept !== undefined) headers.accept = request.accept;
      if (request.csrf) headers['x-graphql-csrf'] = '1';
      let body: Uint8Array | string | undefined;
      if (request.body !== undefined) {
        const raw = request.body instanceof Uint8Array ? request.body : Buffer.from(String(request.body), 'utf8');
        const e = request.encoding;
        if (e === 'gzip') body = gzipSync(raw);
        else if (e === 'deflate') body = deflateSync(raw);
        else body = raw;
        if (e === 'gzip' || e === 'gzip-garbage') headers['content-encoding'] = 'gzip';
        else if (e === 'deflate') headers['content-encoding'] = 'deflate';
        else if (typeof e === 'object') headers['content-encoding'] = e.header;
      }
      // Bytes, never a string: fetch would add a text/plain content-type to a string.
      const init: RequestInit = { method: request.method, headers, ...(body !== undefined ? { body: body as BodyInit } : {}) };
      const path = `/graphql${String(request.search)}`;
      fc.pre(headSize(request.method, path, headers) <= MAX_HEAD_BYTES);
      const answer = await send(path, init);
      verdict(fc.stringify(request), request, answer);
    });
  }, TEST_TIMEOUT_MS);
});
