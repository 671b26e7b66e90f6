/** Rewrites BENCHMARKS.md at the repository root from one run's report. */
import { readFileSync, writeFileSync } from 'node:fs';
import { cachedText, uncached } from './cached-report.ts';
import type { Machine } from './measures.ts';
import { fmt, table, targetList, type Report } from './report.ts';
import { soakText } from './soak.ts';
import { overloadText } from './overload.ts';
import { realtimeText, type Realtime } from './realtime.ts';

/** Around the real-time section, so that a BENCH_ONLY=Realtime run replaces it alone. */
const REALTIME_START = '<!-- realtime: written by bench/realtime.ts -->';
const REALTIME_END = '<!-- realtime: end -->';

function realtimeSection(r: Realtime): string {
  const { settings: s } = r;
  return `${REALTIME_START}
## Real time (issue 17)

Two Junctions (\`dist/gateway/main.js\`, NODE_ENV=production, CACHE=off) sharing a redis-server of
the run's own (REDIS_URL: webhook ids and streams there, events to both over its pub/sub), and
${s.subscribers.toLocaleString('en-US')} subscribers to \`subscription { paymentUpdated { id amount } }\` over SSE, each on a
connection of its own, ${r.subscribers.a} on A and ${r.subscribers.b} on B, all with the bench's token (its
\`MAX_SUBSCRIPTIONS_PER_CALLER\` lifted). Stripe-signed deliveries, each a new event about a new
payment, go to A: first ${s.rate}/s for ${s.seconds} s at even intervals whatever comes back (about what the two
fan out here without falling behind: each event is executed, serialized and written once per
subscriber); then ${s.rounds} rounds of ${s.burst} as fast as A acknowledges them (${s.concurrency} in flight), each round
once every subscriber has the last one's. Rounds rather than a stream: a subscriber with more than
100 events waiting (\`MAX_EVENTS_QUEUED\`) is ended by design, so an unbounded stream at full speed
measures that limit, not delivery. Latency runs from the moment a delivery is sent to the moment
each subscriber's copy arrives, both in the bench process (which also parses every subscriber's
stream: its CPU is in the table). "accepted/s": acknowledged deliveries per second, from the first
sent to the last acknowledged; "all had them after": from the first sent until the last subscriber
had the last event. Memory: RSS of each instance after a warm-up with no subscriber, then with its
subscribers open, the difference divided by them. Pinning: ${r.pinning}. Run on ${r.date}, the
machine's load average ${fmt(r.loadAverage, 1)} at the end (other processes than the bench's count in it).
Alone: \`BENCH_ONLY=Realtime npm run bench\`.

${realtimeText(r)}
${REALTIME_END}
`;
}

/**
 * Writes the real-time section into BENCHMARKS.md as it is (a BENCH_ONLY=Realtime run); the other
 * sections keep the figures of the run that wrote them.
 */
export function writeRealtimeSection(path: string, r: Realtime): void {
  writeSection(path, REALTIME_START, REALTIME_END, realtimeSection(r));
}

/**
 * Writes a section of its own (one between `start` and `end` markers) into BENCHMARKS.md: in place
 * of the one there, else before "Same answers", else at the end.
 */
export function writeSection(path: string, start: string, end: string, section: string): void {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // No file yet: the section alone.
  }
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) text = `${text.slice(0, from)}${section}${text.slice(to + end.length + 1)}`;
  else if (text.includes('\n## Same answers')) text = text.replace('\n## Same answers', `\n${section}\n## Same answers`);
  else text = `${text}\n${section}`;
  writeFileSync(path, text);
}

/** Around the lines under the title saying when and where each mode last ran. */
const RUNS_START = '<!-- runs: written by bench/run.ts -->';
const RUNS_END = '<!-- runs: end -->';

/** What the runs line reads from latest.json: the end-to-end run's machine, and the replayed run's. */
export interface RunsSeen {
  machine?: Machine;
  elapsedS?: number;
  replay?: { date: string; machine: Machine };
}

function machineText(m: Machine): string {
  return `${m.nproc} CPUs (${m.cpuModel}), Node ${m.node}, taskset ${m.taskset ? 'yes' : 'no'}`;
}

/** The lines under the title: each mode's last run, its date and machine (the two may differ: a mode can run alone). */
export function runsBlock(latest: RunsSeen | undefined): string {
  const live = latest?.machine
    ? `- End-to-end (demo backends): run on ${latest.machine.date}, ${machineText(latest.machine)}${latest.elapsedS === undefined ? '' : `, ${fmt(latest.elapsedS, 0)} s`}.`
    : '- End-to-end (demo backends): not run yet.';
  const replay = latest?.replay
    ? `- Cheap backends (replayed): run on ${latest.replay.date}, ${machineText(latest.replay.machine)}.`
    : '- Cheap backends (replayed): not run yet.';
  return `${RUNS_START}\nLast runs (\`npm run bench\` runs both, one after the other):\n\n${live}\n${replay}\n${RUNS_END}\n`;
}

/** Writes the runs lines under the title (in place of the ones there), from what latest.json now holds. */
export function writeRunsHeader(path: string, latest: RunsSeen | undefined): void {
  const title = '# Benchmarks\n\n';
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // No file yet: the lines alone.
  }
  const block = runsBlock(latest);
  const from = text.indexOf(RUNS_START);
  const to = text.indexOf(RUNS_END);
  if (from >= 0 && to > from) text = `${text.slice(0, from)}${block}${text.slice(to + RUNS_END.length + 1)}`;
  else if (text.startsWith(title)) text = `${title}${block}\n${text.slice(title.length)}`;
  else text = `${block}\n${text}`;
  writeFileSync(path, text);
}

function checksTable(report: Report): string {
  const lines = report.checks.map((c) => `| ${c.scenario} | ${c.system} | ${c.verdict} | ${c.upstreamCalls} | ${Object.entries(c.upstreamOperations).map(([op, n]) => `${op} ${n}`).join(', ')} |`);
  return ['| scenario | system | answer vs the first system\'s | upstream calls (one request) | by operation |', '|---|---|---|---:|---|', ...lines].join('\n');
}

function ratios(report: Report): string {
  const get = (scenario: string, system: string) => report.rows.find((r) => r.scenario === scenario && r.system === system);
  const lines: string[] = [];
  for (const scenario of ['Dashboard', 'Dashboard-pages', 'Payment', 'Geocode', 'Latency']) {
    const j = get(scenario, 'junction');
    const b = get(scenario, 'baseline');
    if (!j) continue;
    const cpu = b && j.cpuSecondsPer1k > 0 ? `; CPU per request ${fmt(b.cpuSecondsPer1k / j.cpuSecondsPer1k, 1)}x less than the baseline` : '';
    lines.push(`- ${scenario}: Junction ${fmt(j.rps, 0)} req/s = ${fmt(j.rpsVsLimit, 2)}x the limit, ${fmt(j.rpsVsBaseline, 2)}x the baseline${cpu}`
      + `${j.addedP50Ms === undefined ? '' : `; p50 ${fmt(j.p50Ms, 2)} ms vs the limit's ${fmt(get(scenario, 'limit')?.p50Ms, 2)} ms (+${fmt(j.addedP50Ms, 2)} ms)`}.`);
  }
  // Hive Gateway, where it ran: beside the limit and Mesh, and Junction beside it.
  for (const hive of report.rows.filter((r) => r.system === 'hive')) {
    const j = get(hive.scenario, 'junction');
    lines.push(`- ${hive.scenario}: Hive Gateway ${fmt(hive.rps, 0)} req/s = ${fmt(hive.rpsVsLimit, 2)}x the limit, ${fmt(hive.rpsVsBaseline, 2)}x the baseline`
      + `${j && hive.rps > 0 && j.cpuSecondsPer1k > 0 ? `; Junction ${fmt(j.rps / hive.rps, 2)}x Hive's req/s at ${fmt(hive.cpuSecondsPer1k / j.cpuSecondsPer1k, 1)}x less CPU per request` : ''}.`);
  }
  const mesh = get('MeshV0', 'mesh-v0');
  const junctionV0 = get('MeshV0', 'junction-v0');
  if (mesh) {
    lines.push(junctionV0
      ? `- MeshV0: Junction over the Mesh v0 file ${fmt(junctionV0.rps, 0)} req/s = ${fmt(junctionV0.rpsVsBaseline, 2)}x Mesh over the same file (${fmt(mesh.rps, 0)} req/s); `
        + `upstream calls per request ${fmt(junctionV0.upstreamPerRequest, 2)} vs ${fmt(mesh.upstreamPerRequest, 2)}.`
      : `- MeshV0: Mesh over the Mesh v0 file ${fmt(mesh.rps, 0)} req/s; Junction did not serve the file in this run (see the notes).`);
  }
  const direct = get('Direct', 'direct');
  const limit = get('Dashboard', 'limit');
  if (direct) {
    lines.push(`- Direct: the load tool drove the payments backend at ${fmt(direct.rps, 0)} req/s (load tool ${fmt(direct.loaderCpuPct, 0)}% of a CPU)`
      + `${limit ? `, ${fmt(direct.rps / limit.rps, 1)}x the fastest Dashboard rate` : ''}: the load tool is not what limits the gateways.`);
  }
  return lines.join('\n');
}

export function writeBenchmarksMd(path: string, report: Report): void {
  const { machine: m, settings: s } = report;
  const text = `# Benchmarks

Issue 5's benchmark: what one client query costs a gateway and the backends behind it, measured
side by side in one run against the same three demo backends (end-to-end), then, in the same run,
issue 19's: the same scenarios against recorded backend replies, where the gateways are the
bottleneck (the "Cheap backends (replayed)" section); and, reported apart, issue 7's:
what Junction's cache makes of the Dashboard, and issue 9's soak: whether Junction's memory keeps
growing under rounds of load; and issue 17's real time: webhook to subscriber over two instances.
A benchmark, not a test: nothing fails on these numbers, but for the real-time check that every
subscriber got every event once. This file is rewritten by every run (\`BENCH_ONLY=Realtime\` rewrites
its own section only); the raw figures of each round are in \`bench/results/latest.json\`.

## How to run

\`\`\`sh
npm run bench        # both modes, end-to-end then replayed: about 15 minutes (the overload's 20 s and the soak's minute and a half included); prints the tables, writes bench/results/latest.json and this file
\`\`\`

Options (environment): \`BENCH_ROUNDS\` (3), \`BENCH_DURATION\` (seconds per round, 4), \`BENCH_WARMUP\`
(seconds before each round, 1), \`BENCH_ONLY=Dashboard,Latency\` (some scenarios only; Overload and the soak
run only when the list names them; \`BENCH_ONLY=MeshV0\` runs the Mesh v0 file's scenario alone;
\`BENCH_ONLY=Realtime\` the real-time section alone, in about a minute, keeping the other figures of
\`latest.json\` and this file; \`REALTIME_SUBSCRIBERS\`, \`REALTIME_RATE\`, \`REALTIME_SECONDS\`,
\`REALTIME_BURST\`, \`REALTIME_ROUNDS\`, \`REALTIME_CONCURRENCY\`: bench/realtime.ts), \`BENCH_BACKENDS=replay\` (the replayed mode alone: the scenarios against recorded backend replies written after \`BENCH_REPLAY_DELAY_MS\`, 1 ms, so that the systems under test are the bottleneck: its own section and \`replay\` key, bench/replay/), \`BENCH_BACKENDS=live\` (the end-to-end mode alone; either alone keeps the other's last figures), \`BENCH_CPU_PROF=1\` (both Junctions run with \`node
--cpu-prof\`; the profiles are written to \`bench/results/\`, and \`node --import tsx
bench/profile-summary.ts <file>\` sums it up), \`SOAK_ROUNDS\` (5), \`SOAK_LOAD_S\` (seconds of
load per soak round, 8), \`SOAK_REST_S\` (seconds of rest after it, 4), \`BENCH_JUNCTION_NODE_FLAGS\`
(Node or V8 flags for the Junctions only, to compare GC settings: \`--max-semi-space-size=8\` brought
peak RSS to 242-249 MB against 270-276, and Junction's CPU per request to 8.3-9.5 ms against 6.7-7.1, in
two runs each way on a noisy machine (the limit server's own varied 2.0-2.8 ms): not a clear trade,
so not the default).

## What runs

| system | what it is |
|---|---|
| junction | \`dist/gateway/main.js\` (compiled by \`npm run build\`, plain Node; with the soak's SIGUSR2 heap snapshots set up, which do nothing until signalled), NODE_ENV=production, LOG_LEVEL=warn, CACHE=off (no entity or response cache): every scenario but Dashboard-cached |
| junction-cached | the same process with CACHE=on, in-memory store (no Redis): entity cache and whole-response cache; only Dashboard-cached |
| static | \`bench/static-server.ts\`: plain \`node:http\` writing, for every request, the bytes and content-type junction-cached answered the Dashboard with (fetched once at start): the most any cached gateway could do |
| baseline | the same sources served by Mesh's own server: \`bench/mesh-baseline/.meshrc.yaml\`, \`mesh build\` then \`mesh start\` (one process, no fork), declarative batched links (\`keyField\`/\`keysArg\`/\`valueKeyField\`) plus two code resolvers over the in-context SDK |
| limit | \`bench/limit-server.ts\`: plain \`node:http\` making exactly the ideal upstream calls over keep-alive agents and writing Junction's JSON by hand |
| direct | the payments backend hit directly (\`GET /v1/payments?limit=50\`) |
| mesh-v0 | \`bench/mesh-v0/.meshrc.yaml\`, a GraphQL Mesh v0 configuration in plain YAML (stock openapi and graphql handlers, filterSchema, rename and prefix transforms, links by \`keyField\`/\`keysArg\`), served by Mesh's own server (\`mesh build\`, \`mesh start\`, one process); only MeshV0 |
| junction-v0 | the same \`dist/gateway/main.js\` as junction (CACHE=off), pointed at that same file with \`JUNCTION_CONFIG=bench/mesh-v0/.meshrc.yaml\`; only MeshV0 |
| junction-bare | the same as junction with \`METRICS=off\` and no traces; only the Overhead scenarios |
| hive | Hive Gateway (\`@graphql-hive/gateway\`, \`hive-gateway supergraph\`, one process, NODE_ENV=production, its defaults otherwise) serving a supergraph that GraphQL Mesh v1's \`mesh-compose\` writes at every run start from local files (\`bench/hive/mesh.config.ts\`: the payments OpenAPI file and the messaging SDL; the output, \`bench/hive/.supergraph/\`, is git-ignored): \`getPayment\` renamed \`payment\`, enum values upper-cased, error responses left out of the types. It has no SOAP loader here, so it runs only where no maps call is needed: Payment |
| junction-observed | the same as junction (metrics on) with traces on: \`OTEL_TRACES_SAMPLER=parentbased_traceidratio\`, \`OTEL_TRACES_SAMPLER_ARG=0.01\`, exported over OTLP/HTTP to a sink in the bench process that answers every export at once; only the Overhead scenarios |

Scenarios: **Dashboard** (issue 5's query: 50 payments with customer, address location, 3 messages,
merchant and place: 6 upstream calls at best), **Dashboard-pages** (the same query with
\`after: $after\`, each request asking a different one of 64 pages, so no two requests in flight
are alike: the *uncached* case the targets are about; on the plain Dashboard all requests are
identical and Junction's single flight, which makes identical upstream reads in flight once across
requests, shares calls between them, which neither the baseline nor the limit does), **Payment** (\`payment(id)\`, one REST call),
**Geocode** (\`geocode(address)\`, one SOAP call), **Latency** (Dashboard at 1 connection),
**Dashboard-cached** (the plain Dashboard, junction-cached against static, reported apart; the
warm-up before each round fills the cache, whose entries for it last 30 s, the shortest maxAge
in the answer, so a round measures hits but for the misses just after an entry expires),
**MeshV0** (a Mesh v0 configuration used unchanged, served by Mesh and by Junction:
\`test/fixtures/mesh-v0/PaymentCustomerMessages.graphql\`, 20 payments, each one's customer, two
messages of each and their customer: links three levels deep, 4 upstream calls at best; Mesh's
answers to it and three more queries are in \`test/fixtures/mesh-v0/expected.json\`). 32
connections except Latency. Each system and scenario: ${s.rounds} rounds of ${s.durationS} s after ${s.warmupS} s of
warm-up, systems in turns (the order rotates each round), medians reported. Pinning: ${s.pinned}.

### The baseline, and where it had to depart from plain configuration

\`bench/mesh-baseline/.meshrc.yaml\` declares the three sources as the root \`.meshrc.yaml\` does
(OpenAPI, Junction's SOAP handler, GraphQL with \`source\`), prefixes each source's types and root
fields (\`prefix-<source>.ts\`: the two graphql-tools wrap transforms that Mesh's \`prefix\`
transform is made of; that package is not installed), hides the raw root fields
(\`hide-raw.ts\`, a bare root transform), and declares the public shape the scenarios need in
\`additionalTypeDefs\`. Links: \`Payment.customer\` and \`Payment.merchant\` (\`listCustomers\`/
\`listMerchants\` by \`ids\`), \`Merchant.place\` (\`getPlaces\`) and \`Customer.messages\`
(\`messagesForCustomers\`, matched by position, which that operation guarantees) are declarative
\`keyField\`/\`keysArg\` batches; \`Query.payments\` (the connection around the list) and
\`Address.location\` (keyed by an address formatted from four fields) are code resolvers over the
in-context SDK, the latter with one DataLoader per request (\`resolvers.ts\`). What it took:
- The OpenAPI handler sends the spec's default \`limit=10\` with \`ids\`, which the API refuses:
  the links pass \`limit: null\`.
- Declarative links on OpenAPI operations (which return \`X | Error\` unions) get a
  \`sourceSelectionSet\`; required selection sets of the links below are not added for them.
- \`Payment.status\` is read as is (a one-line resolver): stitching parses a value that came
  through a declarative link with the public enum, which knows \`SUCCEEDED\`, not \`succeeded\`.
- Junction's SOAP handler does not expand \`{env.MAPS_URL}\` (Mesh's own handlers do), so the
  maps endpoint is \`\${MAPS_URL}/soap\`, filled in by Mesh when \`mesh build\` reads the config;
  the run builds after the backends are up.
- \`.mesh/index.ts\` imports custom handlers and transforms by their config-relative path from
  \`.mesh/\`; the runner rewrites those imports after the build (see the notes).
- jiti (Mesh's TypeScript loader) handed one of three concurrent imports of one transform file a
  doubly wrapped module; hence one small \`prefix-<source>.ts\` per source.
- \`mesh start\` takes no port 0 and ignores SIGTERM: the runner picks a free port and SIGKILLs
  it; it is started as \`node node_modules/.bin/mesh\`'s script (what \`npx mesh start\` runs), so
  the process measured is the server.

How each figure is taken: req/s and latency (p50, p99) over the round, from every 2xx response
(a 2xx carrying GraphQL \`errors\` is counted under "errors"). CPU (utime+stime of the process
under test, \`/proc/<pid>/stat\`) and upstream calls (the backends' \`/_stats\` totals) run from
the start of the round until the process is idle again after it, so the requests still in flight
when the load stopped are finished and counted; both are divided by the requests sent in the
round. Peak RSS is \`VmHWM\`, reset at the start of each round (the table shows the highest
round). Before each round the runner waits until the process under test is idle. Rounds on this
machine vary by up to about a third from one to the next; compare systems within one run.

## Machine

${m.nproc} CPUs (${m.cpuModel}), Node ${m.node}, CLK_TCK ${m.clkTck}, taskset ${m.taskset ? 'yes' : 'no'}. Run on ${m.date}, ${fmt(report.elapsedS, 0)} s in all.

## Results (medians)

${table(uncached(report.rows))}

"SUT CPU %" is the process under test's CPU use during the round (100% = its whole core);
"backends CPU %" and "load tool CPU %" share the other core. RSS of each process once started,
before any load: ${Object.entries(report.startRssMb).map(([s, mb]) => `${s} ${fmt(mb, 0)} MB`).join(', ')} (direct = the three backends).

## Ratios

${ratios(report)}

## Issue 5 targets

${targetList(report.targets)}
${report.cache.rows.length > 0 ? `
## Cached (issue 7)

Dashboard-cached, medians as above. Apart from the table above because its answers come from the
response cache, not computed: only the ratios set the two side by side.

${cachedText(report.cache)}
` : ''}
${report.overload ? `
## Overload (hardening)

Junction (CACHE=off) on Dashboard-pages: a closed-loop round finds the rate it answers at
saturation and the p99 there (the baseline); then requests are sent at twice that rate at even
intervals whatever comes back (an open loop, by \`bench/overload.ts\` with undici rather than
autocannon, whose rate limit sends each second's quota in one burst), each one's latency counted
from when it was due to leave. What Junction cannot take it refuses with 503 \`OVERLOADED\`
(\`MAX_IN_FLIGHT\`, \`MAX_QUEUE_MS\`). The judged round runs over connections opened before it, as
a balancer's keep-alive pool is; the same round is then run again over a new pool that opens
connections during the overload, to show what that costs (a saturated Node process accepts one new
connection per turn of its event loop).

${overloadText(report.overload)}
` : ''}
${report.soak ? `
## Soak (issue 9)

Junction (CACHE=off) after the scenarios above: rounds of Dashboard-pages load, each followed by a
rest without load. After each rest, and once before the first round, Junction writes heap
snapshots (\`node --heapsnapshot-signal=SIGUSR2\`; each runs a full garbage collection first): the
second of two is read and its live objects counted by class, so a leak shows as a class whose
count keeps rising (the first lets go what only the collection it runs finds dead: AbortSignal
timers held by a FinalizationRegistry). \`bench/heap-ids-reset.mjs\`, loaded into Junction, turns
off the object tracking a snapshot leaves on (it halved Junction's throughput). RSS is read before
the snapshots: \`VmRSS\` after each rest, and the peak (\`VmHWM\`, reset before the load, read after
the rest) apart; writing snapshots leaves some 90 MB more RSS from round 1 on.

${soakText(report.soak)}
` : ''}
${report.realtime ? `\n${realtimeSection(report.realtime)}` : ''}
## Same answers

Checked once before the load (and the Dashboards again after it), against the answer of the
scenario's first system (Junction's; junction-cached's for Dashboard-cached; Mesh's, mesh-v0, for MeshV0):

${checksTable(report)}
${report.notes.length > 0 ? `\n## Notes from this run\n\n${report.notes.map((n) => `- ${n}`).join('\n')}\n` : ''}`;
  writeFileSync(path, text);
}
