import { DEMO_HEADERS } from '../sources/demo/credentials.ts';
import { MESH_V0_LOAD, meshV0Body } from './mesh-v0/mesh-v0.ts';
/**
 * The benchmark's scenarios: named GraphQL operations sent unchanged to Junction, the Mesh
 * baseline and the limit server (and Hive Gateway where it can serve them), plus the backends hit
 * directly, and (issue 7) the Dashboard answered from Junction's cache next to a server that only
 * writes the same bytes. Seed values (a payment id, an address) are read from the demo backends at
 * start, so the documents always name real data.
 */

/** Only Dashboard-cached needs these, so they are started only when it runs. */
export type CachedSystemName = 'junction-cached' | 'static';
/**
 * Only MeshV0 needs these, so they are started only when it runs: bench/mesh-v0/.meshrc.yaml served
 * by Mesh (`mesh-v0`) and by Junction (`junction-v0`, JUNCTION_CONFIG pointing at that file).
 */
export type MeshV0SystemName = 'mesh-v0' | 'junction-v0';
/**
 * Only the Overhead scenarios need these: the same Junction with metrics off and no traces
 * (`junction-bare`), and with metrics on and traces sampled at 1% exported over OTLP to a sink
 * (`junction-observed`): what observing the gateway costs it per request.
 */
export type OverheadSystemName = 'junction-bare' | 'junction-observed';
/**
 * Issue 19's second Node peer: Hive Gateway serving a Mesh v1 composition of the REST and GraphQL
 * sources (bench/hive/); it has no SOAP loader here, so it is in the scenarios needing no maps call.
 */
export type HiveSystemName = 'hive';
/** Started only for the scenarios that need them. */
export type OptionalSystemName = CachedSystemName | MeshV0SystemName | OverheadSystemName | HiveSystemName;
export type SystemName = 'junction' | 'baseline' | 'limit' | 'direct' | OptionalSystemName;

export interface Scenario {
  name: 'Dashboard' | 'Dashboard-pages' | 'Payment' | 'Geocode' | 'Latency' | 'Direct' | 'Dashboard-cached' | 'MeshV0' | 'Overhead-Payment' | 'Overhead-Dashboard-pages';
  what: string;
  systems: readonly SystemName[];
  connections: number;
  /** POST body for the GraphQL systems; `path` (GET on payments) for `direct`. */
  body?: string;
  /** Bodies sent in turn instead of `body` (each request differs from the ones in flight). */
  bodies?: string[];
  path?: string;
}

export const DASHBOARD = /* GraphQL */ `query Dashboard {
  payments(first: 50) { edges { node {
    id amount currency status
    customer { id name address { city location { lat lng } } messages(first: 3) { id body status } }
    merchant { id name place { name location { lat lng } } }
  } } }
}`;

/** Also sent once to junction-cached at start: its answer is the bytes `static` serves. */
export const DASHBOARD_BODY = body('Dashboard', DASHBOARD);

/** The Dashboard one page further: `after` is a cursor as Junction issues them. */
export const DASHBOARD_PAGE = DASHBOARD.replace('query Dashboard {', 'query Dashboard($after: String) {')
  .replace('payments(first: 50)', 'payments(first: 50, after: $after)');

/** Junction's cursor for a position: base64url of `cursor:<payment id>` (schema/pagination.ts). */
export function cursorFor(paymentId: string): string {
  return Buffer.from(`cursor:${paymentId}`, 'utf8').toString('base64url');
}

/** Pages sent in turn by Dashboard-pages: more than the connections, so no two requests in flight are
 * alike, and STRIDE payments apart, so that neighbouring pages do not ask the same merchants. */
const PAGES = 64;
const STRIDE = 13;

export interface Seeds {
  paymentId: string;
  address: string;
  /** Cursors of every STRIDE-th payment, PAGES of them: each starts a full page of 50 (the seed has 1000). */
  cursors: string[];
  /** The payment ids those cursors stand for (`starting_after` on the payments API itself). */
  pageStarts: string[];
}

/** The newest payment, and its customer's address formatted as the maps service matches it. */
export async function readSeeds(paymentsUrl: string): Promise<Seeds> {
  const all: { id: string; customer: string }[] = [];
  while (all.length < PAGES * STRIDE + 50) {
    const after = all.length > 0 ? `&starting_after=${all.at(-1)!.id}` : '';
    const page = (await (await fetch(`${paymentsUrl}/v1/payments?limit=100${after}`, { headers: DEMO_HEADERS.payments })).json()) as { data: { id: string; customer: string }[]; has_more: boolean };
    all.push(...page.data);
    if (!page.has_more) break;
  }
  if (all.length < PAGES * STRIDE + 50) throw new Error(`the payments backend has ${all.length} payments; Dashboard-pages needs ${PAGES * STRIDE + 50}`);
  const payment = all[0];
  if (!payment) throw new Error('the payments backend has no payment to use as a seed');
  const customers = (await (await fetch(`${paymentsUrl}/v1/customers?ids=${payment.customer}`, { headers: DEMO_HEADERS.payments })).json()) as {
    data: { address: { line1: string; postal_code: string; city: string; country: string } }[];
  };
  const a = customers.data[0]?.address;
  if (!a) throw new Error(`the payments backend has no customer ${payment.customer}`);
  const pageStarts = Array.from({ length: PAGES }, (_, i) => all[i * STRIDE]!.id);
  return { paymentId: payment.id, address: `${a.line1}, ${a.postal_code} ${a.city}, ${a.country}`, cursors: pageStarts.map(cursorFor), pageStarts };
}

const GRAPHQL: readonly SystemName[] = ['junction', 'baseline', 'limit'];

function body(operationName: string, query: string, variables?: Record<string, unknown>): string {
  return JSON.stringify(variables ? { operationName, query, variables } : { operationName, query });
}

export function scenarios(seeds: Seeds): Scenario[] {
  const payment = `query Payment { payment(id: ${JSON.stringify(seeds.paymentId)}) { id amount currency status } }`;
  const geocode = `query Geocode { geocode(address: ${JSON.stringify(seeds.address)}) { id name location { lat lng } } }`;
  return [
    { name: 'Dashboard', what: "issue 5's query: 50 payments, customers, locations, messages, merchants, places",
      systems: GRAPHQL, connections: 32, body: DASHBOARD_BODY },
    { name: 'Dashboard-pages', what: `the Dashboard, each request a different page (${seeds.cursors.length} in turn): nothing in flight can be shared, i.e. uncached`,
      systems: GRAPHQL, connections: 32, bodies: seeds.cursors.map((after) => body('Dashboard', DASHBOARD_PAGE, { after })) },
    { name: 'Payment', what: 'one REST-backed field: payment(id)', systems: [...GRAPHQL, 'hive'], connections: 32, body: body('Payment', payment) },
    // What metrics and traces (1% sampled) cost: the cheapest request, and the uncached Dashboard.
    { name: 'Overhead-Payment', what: 'Payment, Junction with metrics off and no traces vs metrics on and traces sampled at 1% (OTLP to a local sink)',
      systems: ['junction-bare', 'junction-observed'], connections: 32, body: body('Payment', payment) },
    { name: 'Overhead-Dashboard-pages', what: 'Dashboard-pages, the same two Junctions',
      systems: ['junction-bare', 'junction-observed'], connections: 32, bodies: seeds.cursors.map((after) => body('Dashboard', DASHBOARD_PAGE, { after })) },
    { name: 'Geocode', what: 'one SOAP-backed field: geocode(address)', systems: GRAPHQL, connections: 32, body: body('Geocode', geocode) },
    { name: 'Latency', what: 'Dashboard at 1 connection (unloaded latency)', systems: GRAPHQL, connections: 1, body: DASHBOARD_BODY },
    { name: 'Direct', what: 'GET /v1/payments?limit=50 on the payments backend, no gateway', systems: ['direct'], connections: 32,
      path: '/v1/payments?limit=50' },
    { name: 'Dashboard-cached', what: "the Dashboard answered from Junction's response cache (warm), next to a server writing the same bytes",
      systems: ['junction-cached', 'static'], connections: 32, body: DASHBOARD_BODY },
    // The first body is the recorded one (test/fixtures/mesh-v0/expected.json); the others start
    // on other pages, so that, as in Dashboard-pages, nothing in flight can be shared.
    { name: 'MeshV0', what: 'a GraphQL Mesh v0 config used unchanged (bench/mesh-v0/.meshrc.yaml) served by Mesh and by Junction: '
      + `20 payments -> customer -> 2 messages each -> their customer (test/fixtures/mesh-v0/PaymentCustomerMessages.graphql), ${seeds.pageStarts.length + 1} pages in turn`,
      systems: ['mesh-v0', 'junction-v0'], connections: 32,
      bodies: [meshV0Body(MESH_V0_LOAD), ...seeds.pageStarts.map((after) => meshV0Body(MESH_V0_LOAD, { after }))] },
  ];
}
