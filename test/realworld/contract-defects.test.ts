import { describe, expect, it } from 'vitest';
import { getNamedType, isInputObjectType, isNonNullType, isObjectType } from 'graphql';
import { corpusPresent } from './corpus.ts';
import { execute, formPairs, readCorpusDocument, useSetup, type OpenApiCase, type OpenApiSetup } from './openapi-harness.ts';
import type { RecordedRequest, StandInAnswer } from './openapi-stand-in.ts';
import { expandableReferences } from '../../gateway/composition/byo/openapi-fixes.ts';

/**
 * Defects found by running the corpus's real specs end to end, each through the GraphQL surface:
 * a document runs on the merged schema, the backend is a stand-in over real HTTP
 * (openapi-stand-in.ts), here answering what the real API answers where the document's examples
 * do not show it. Fixes: gateway/composition/byo/openapi-fixes.ts.
 */

async function runOnce(setup: OpenApiSetup, query: string) {
  const { result, requests } = await execute(setup, query);
  expect(result.errors).toBeUndefined();
  expect(requests).toHaveLength(1);
  return { data: result.data as Record<string, any>, request: requests[0]! };
}

/** `expand[0]=customer&expand[1]=…` as the list of what to expand. */
const expandOf = (request: RecordedRequest) => [...request.query].filter(([key]) => /^expand\[\d+\]$/.test(key)).map(([, value]) => value);

/**
 * What Stripe answers for a charge and an invoice: ids where the object is not asked for, the
 * objects themselves for each `expand[]` the request names (fixtures3.json's).
 */
function stripeExpanding(request: RecordedRequest): StandInAnswer | undefined {
  if (request.method !== 'GET') return undefined;
  const fixtures = readCorpusDocument('openapi/stripe/fixtures3.json').resources;
  const expand = expandOf(request);
  const pick = (field: string, id: unknown, object: unknown) => (expand.includes(field) ? object : id);
  if (request.template === '/v1/charges/{charge}') {
    const charge = fixtures.charge;
    return {
      status: 200,
      body: {
        ...charge,
        customer: pick('customer', fixtures.customer.id, fixtures.customer),
        balance_transaction: pick('balance_transaction', charge.balance_transaction, fixtures.balance_transaction),
      },
    };
  }
  if (request.template === '/v1/invoices/{invoice}') {
    const deleted = { ...fixtures.deleted_discount, id: DELETED_DISCOUNT };
    return { status: 200, body: { ...fixtures.invoice, discounts: pick('discounts', [fixtures.discount.id, deleted.id], [fixtures.discount, deleted]) } };
  }
  return undefined;
}

const STRIPE_KEY = 'Bearer sk_test_gateway';
const CHARGE = 'ch_1NnlpSGPxmnHQRkJcYsK19E8';
const DISCOUNT = 'di_1NnmXAGPxmnHQRkJgOti7dVG';
const DELETED_DISCOUNT = 'di_1NnmXAGPxmnHQRkJdeleted0';

describe.skipIf(!corpusPresent)('contract defects found by running real specs end to end', () => {
  describe("openapi/stripe/spec3.yaml: expandable fields, an id or the object it names (anyOf [string, object])", () => {
    const c: OpenApiCase = { file: 'openapi/stripe/spec3.yaml', name: 'stripe', stripeFixtures: true, operationHeaders: { Authorization: STRIPE_KEY }, respond: stripeExpanding };
    const setup = useSetup(c);

    it('reads a field answered as an id as { id }, the other fields null', async () => {
      const { data, request } = await runOnce(
        setup(),
        `{ stripe { GetChargesCharge(charge: "${CHARGE}") { ... on Stripe_Charge {
          id customer { __typename id email deleted } balance_transaction { id amount currency } } } } }`,
      );
      expect([request.method, request.path, expandOf(request)]).toEqual(['GET', `/v1/charges/${CHARGE}`, []]);
      expect(data.stripe.GetChargesCharge).toEqual({
        id: CHARGE,
        customer: { __typename: 'Stripe_customer_or_deleted_customer_or_id', id: 'cus_Oaxlz8kB0PJWGa', email: null, deleted: null },
        balance_transaction: { id: 'txn_1NnmMBGPxmnHQRkJNo4jmMSX', amount: null, currency: null },
      });
    });

    it('reads the same fields expanded: every field of the objects', async () => {
      const { data, request } = await runOnce(
        setup(),
        `{ stripe { GetChargesCharge(charge: "${CHARGE}", expand: ["customer", "balance_transaction"]) { ... on Stripe_Charge {
          customer { id email invoice_prefix balance deleted } balance_transaction { id amount currency fee status } } } } }`,
      );
      expect(expandOf(request)).toEqual(['customer', 'balance_transaction']);
      expect(data.stripe.GetChargesCharge).toEqual({
        customer: { id: 'cus_Oaxlz8kB0PJWGa', email: null, invoice_prefix: 'F79089B', balance: 0, deleted: null },
        balance_transaction: { id: 'txn_1NnmMBGPxmnHQRkJNo4jmMSX', amount: 100, currency: 'usd', fee: 0, status: 'available' },
      });
    });

    it('reads a list of them, ids or objects', async () => {
      const query = (expand: string) =>
        `{ stripe { GetInvoicesInvoice(invoice: "in_1NnmX4GPxmnHQRkJyyhHiHYa"${expand}) { ... on Stripe_Invoice { id discounts { id deleted end } } } } }`;
      const ids = await runOnce(setup(), query(''));
      expect(ids.data.stripe.GetInvoicesInvoice.discounts).toEqual([
        { id: DISCOUNT, deleted: null, end: null },
        { id: DELETED_DISCOUNT, deleted: null, end: null },
      ]);
      const objects = await runOnce(setup(), query(', expand: ["discounts"]'));
      expect(objects.data.stripe.GetInvoicesInvoice.discounts).toEqual([
        { id: DISCOUNT, deleted: null, end: 1234567890 },
        { id: DELETED_DISCOUNT, deleted: true, end: null },
      ]);
    });

    it('makes 56 types, used by 440 fields, with every field but id nullable (the converter made 161 types used by 380 fields)', () => {
      const names = new Set(expandableReferences(readCorpusDocument(c.file)));
      const schema = setup().source.schema;
      let fields = 0;
      for (const type of Object.values(schema.getTypeMap())) {
        if (!isObjectType(type)) continue;
        for (const field of Object.values(type.getFields())) if (names.has(getNamedType(field.type).name)) fields++;
      }
      expect([names.size, fields]).toEqual([56, 440]);
      for (const name of names) {
        const type = schema.getType(name);
        expect(isObjectType(type), name).toBe(true);
        const required = Object.values(isObjectType(type) ? type.getFields() : {}).filter((f) => isNonNullType(f.type)).map((f) => f.name);
        expect(required, name).toEqual(['id']);
      }
    });
  });

  describe("openapi/slack/slack_web_openapi_v2.json: Slack's token, declared as a parameter (credentialParams: [token])", () => {
    const c: OpenApiCase = { file: 'openapi/slack/slack_web_openapi_v2.json', name: 'slack', credentialParams: ['token'], queryParams: { token: 'xoxb-gateway-token' } };
    const setup = useSetup(c);

    it('has no root field with a token argument nor an input with a token field (155 of 174 operations declared one)', () => {
      const schema = setup().source.schema;
      const roots = [schema.getQueryType(), schema.getMutationType()].flatMap((t) => Object.values(t?.getFields() ?? {}));
      expect(roots).toHaveLength(174);
      expect(roots.filter((f) => f.args.some((a) => a.name === 'token')).map((f) => f.name)).toEqual([]);
      const inputs = Object.values(schema.getTypeMap()).filter(isInputObjectType);
      expect(inputs.filter((t) => 'token' in t.getFields()).map((t) => t.name)).toEqual([]);
    });

    it('conversations.history: the configured token is what the backend gets, once; a client cannot send its own', async () => {
      const { request } = await runOnce(setup(), '{ slack { conversations_history(channel: "C1H9RESGL", limit: 2) { __typename } } }');
      expect([request.method, request.path]).toEqual(['GET', '/api/conversations.history']);
      expect(request.query.getAll('token')).toEqual(['xoxb-gateway-token']);
      const own = await execute(setup(), '{ slack { conversations_history(token: "xoxp-client-token", channel: "C1H9RESGL") { __typename } } }');
      expect(own.result.errors?.map((e) => e.message)).toEqual(['Unknown argument "token" on field "Slack_Query.conversations_history".']);
      expect(own.requests).toEqual([]);
    });

    it('chat.postMessage (token a required header) and dnd.setSnooze (token a form field) are called without one from the client', async () => {
      const post = await runOnce(setup(), 'mutation { slack { chat_postMessage(input: { channel: "C1H9RESGL", text: "Deploy finished" }) { __typename } } }');
      expect([post.request.path, post.request.headers.token, post.request.query.getAll('token')]).toEqual(['/api/chat.postMessage', undefined, ['xoxb-gateway-token']]);
      expect(formPairs(post.request.body)).toEqual([['channel', 'C1H9RESGL'], ['text', 'Deploy finished']]);
      const snooze = await runOnce(setup(), 'mutation { slack { dnd_setSnooze(input: { num_minutes: "60" }) { __typename } } }');
      expect(snooze.request.query.getAll('token')).toEqual(['xoxb-gateway-token']);
      expect(formPairs(snooze.request.body)).toEqual([['num_minutes', '60']]);
      const own = await execute(setup(), 'mutation { slack { dnd_setSnooze(input: { num_minutes: "60", token: "xoxp-client-token" }) { __typename } } }');
      expect(own.result.errors).toHaveLength(1);
      expect(own.requests).toEqual([]);
    });
  });

  describe('openapi/meta/meta-business-messaging-api_v23.0.yaml: Authorization declared as a parameter beside an HTTP bearer scheme', () => {
    const c: OpenApiCase = { file: 'openapi/meta/meta-business-messaging-api_v23.0.yaml', name: 'meta', operationHeaders: { Authorization: 'Bearer gateway-system-user-token' } };
    const setup = useSetup(c);

    it('sends the configured bearer token, with no Authorization argument a client could set (112 of 113 operations had one)', async () => {
      const schema = setup().source.schema;
      const roots = [schema.getQueryType(), schema.getMutationType()].flatMap((t) => Object.values(t?.getFields() ?? {}));
      expect(roots.filter((f) => f.args.some((a) => a.name.toLowerCase() === 'authorization')).map((f) => f.name)).toEqual([]);
      const { request } = await runOnce(setup(), '{ meta { getConnectedClientBusinesses(Version: "v23.0", Application_ID: "1234567890", limit: 2) { __typename } } }');
      expect([request.method, request.path]).toEqual(['GET', '/v23.0/1234567890/connected_client_businesses']);
      expect(request.headers.authorization).toBe('Bearer gateway-system-user-token');
      const own = await execute(setup(), '{ meta { getConnectedClientBusinesses(Version: "v23.0", Application_ID: "1", Authorization: "Bearer client") { __typename } } }');
      expect(own.result.errors).toHaveLength(1);
      expect(own.requests).toEqual([]);
    });
  });
});
