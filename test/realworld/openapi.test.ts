import { describe, expect, it } from 'vitest';
import { isEnumType, validateSchema } from 'graphql';
import { corpusPresent } from './corpus.ts';
import {
  buildInOwnProcess,
  collisions,
  execute,
  formPairs,
  readCorpusDocument,
  recordResult,
  useSetup,
  type OpenApiCase,
  type OpenApiSetup,
} from './openapi-harness.ts';

/**
 * The nine OpenAPI / Swagger documents of the corpus, one block each: the document builds, the
 * schema is valid, it merges beside the curated contract, and one operation chosen for the
 * constructs that break converters runs end to end against a stand-in backend that answers from
 * the document's own examples. The request the backend received is checked byte for byte where
 * the encoding is the point (form bodies, deepObject, enum values that are not GraphQL names).
 */

/** Builds, validates and merges: the same three checks for every document, with its exact figures. */
function itBuildsAndMerges(c: OpenApiCase, setup: () => OpenApiSetup, operations: number, downgrades: number): void {
  it(`builds a valid schema with all ${operations} operations as root fields and ${downgrades} places typed JSON`, () => {
    const { report, source } = setup();
    expect(validateSchema(source.schema)).toEqual([]);
    expect([report.declaredOperations, report.exposedOperations, report.downgrades.length]).toEqual([operations, operations, downgrades]);
  });

  it(`merges beside the curated schema under Query.${c.name} without a colliding type name`, () => {
    const { curated, namespaced, merged } = setup();
    expect(validateSchema(merged)).toEqual([]);
    expect(collisions(curated, namespaced)).toEqual([]);
    expect(merged.getQueryType()!.getFields()).toHaveProperty(c.name);
    for (const field of Object.keys(curated.getQueryType()!.getFields())) expect(merged.getQueryType()!.getFields()).toHaveProperty(field);
  });
}

/** The stand-in's answer to the one call an operation should make. */
async function runOnce(setup: OpenApiSetup, query: string, variables?: Record<string, unknown>) {
  const { result, requests } = await execute(setup, query, variables);
  expect(result.errors).toBeUndefined();
  expect(requests).toHaveLength(1);
  return { data: result.data as Record<string, any>, request: requests[0]! };
}


const STRIPE_KEY = 'Bearer sk_test_gateway';
const TWILIO_AUTH = `Basic ${Buffer.from('ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:gateway-token').toString('base64')}`;
const PAYPAL_TOKEN = 'Bearer A21AA-gateway-token';
const FORM = 'application/x-www-form-urlencoded';

/** Issue 4's budget for the largest spec: a build in a process of its own under 30 s and 1.5 GB. */
function itBuildsWithinBudget(c: OpenApiCase): () => number | undefined {
  let peakRssMb: number | undefined;
  it('builds in a process of its own in under 30 s and 1.5 GB', () => {
    const measured = buildInOwnProcess(c.file);
    expect(measured.buildMs).toBeLessThan(30_000);
    expect(measured.peakRssMb).toBeLessThan(1536);
    peakRssMb = measured.peakRssMb;
  });
  return () => peakRssMb;
}

describe.skipIf(!corpusPresent)('OpenAPI documents from the corpus', () => {
  describe('openapi/stripe/spec3.yaml: Stripe 2023-08-16, form bodies with deepObject', () => {
    const c: OpenApiCase = { file: 'openapi/stripe/spec3.yaml', name: 'stripe', stripeFixtures: true, operationHeaders: { Authorization: STRIPE_KEY } };
    const setup = useSetup(c);
    itBuildsAndMerges(c, setup, 468, 846);
    const peak = itBuildsWithinBudget(c);

    it('creates a customer: address as address[city]=…, the "" enum value sent as is, null as the empty string that unsets, answered from the fixtures', async () => {
      // `_` is the GraphQL name of Stripe's "" (not a valid name); the source schema maps it back.
      const taxExempt = setup().source.schema.getType('mutationInput_PostCustomers_input_tax_exempt');
      expect(isEnumType(taxExempt) && taxExempt.getValue('_')?.value).toBe('');
      const { data, request } = await runOnce(
        setup(),
        `mutation { stripe { PostCustomers(input: {
            email: "jenny.rosen@example.com", name: "Jenny Rosen",
            address: { line1: "1 Rue de Rivoli", city: "Paris", postal_code: "75001", country: "FR" },
            metadata: { order_id: "6735" }, preferred_locales: ["fr-FR", "en"], tax_exempt: _, shipping: null }) {
          __typename ... on Stripe_Customer { id object balance currency created invoice_prefix tax_exempt livemode } } } }`,
      );
      expect([request.method, request.path, request.contentType]).toEqual(['POST', '/v1/customers', FORM]);
      expect(request.headers.authorization).toBe(STRIPE_KEY);
      expect(request.body).toContain('address%5Bcity%5D=Paris');
      expect(formPairs(request.body)).toEqual([
        ['address[city]', 'Paris'],
        ['address[country]', 'FR'],
        ['address[line1]', '1 Rue de Rivoli'],
        ['address[postal_code]', '75001'],
        ['email', 'jenny.rosen@example.com'],
        ['metadata[order_id]', '6735'],
        ['name', 'Jenny Rosen'],
        ['preferred_locales[0]', 'fr-FR'],
        ['preferred_locales[1]', 'en'],
        ['shipping', ''],
        ['tax_exempt', ''],
      ]);
      expect(data.stripe.PostCustomers).toEqual({
        __typename: 'Stripe_Customer',
        id: 'cus_Oaxlz8kB0PJWGa',
        object: 'customer',
        balance: 0,
        currency: 'usd',
        created: 1234567890,
        invoice_prefix: 'F79089B',
        tax_exempt: 'none',
        livemode: false,
      });
      recordResult(c, setup(), 'PostCustomers', request, { authorization: 'Bearer <key>', body: formPairs(request.body).map(([k]) => k) }, peak());
    });
  });

  describe('openapi/stripe/spec3.json: Stripe 2020-08-27, deepObject query parameters', () => {
    const c: OpenApiCase = { file: 'openapi/stripe/spec3.json', name: 'stripe', stripeFixtures: true, operationHeaders: { Authorization: STRIPE_KEY } };
    const setup = useSetup(c);
    itBuildsAndMerges(c, setup, 417, 660);
    const peak = itBuildsWithinBudget(c);

    it('lists customers with created[gte]= and expand[0]= in the query and no body, the list holding the fixture customer', async () => {
      const { data, request } = await runOnce(
        setup(),
        `{ stripe { GetCustomers(created: { gte: 1700000000 }, email: "jenny.rosen@example.com", expand: ["data.default_source"], limit: 3) {
          __typename ... on Stripe_GetCustomers_200_response { object has_more url data { id object invoice_prefix tax_exempt } } } } }`,
      );
      expect([request.method, request.path, request.contentType, request.body]).toEqual(['GET', '/v1/customers', undefined, '']);
      expect(request.headers.authorization).toBe(STRIPE_KEY);
      expect([...request.query]).toEqual([
        ['created[gte]', '1700000000'],
        ['email', 'jenny.rosen@example.com'],
        ['expand[0]', 'data.default_source'],
        ['limit', '3'],
      ]);
      expect(data.stripe.GetCustomers).toEqual({
        __typename: 'Stripe_GetCustomers_200_response',
        object: 'list',
        has_more: true,
        url: '/v1/customers',
        data: [{ id: 'cus_Oaxlz8kB0PJWGa', object: 'customer', invoice_prefix: 'F79089B', tax_exempt: 'none' }],
      });
      recordResult(c, setup(), 'GetCustomers', request, { authorization: 'Bearer <key>', query: [...request.query.keys()] }, peak());
    });
  });

  describe('openapi/google-maps/google-maps-platform-openapi3.json: API key in the query, hyphenated enums', () => {
    const c: OpenApiCase = { file: 'openapi/google-maps/google-maps-platform-openapi3.json', name: 'maps', queryParams: { key: 'AIza-gateway-key' } };
    const setup = useSetup(c);
    itBuildsAndMerges(c, setup, 17, 3);

    it('gets directions: key from queryParams, language en_GB sent as en-GB, maneuver turn-right answered as turn_right', async () => {
      const language = setup().source.schema.getQueryType()!.getFields().directions!.args.find((a) => a.name === 'language')!;
      expect(isEnumType(language.type) && language.type.getValue('en_GB')?.value).toBe('en-GB');
      const { data, request } = await runOnce(
        setup(),
        `{ maps { directions(origin: "La Frontera", destination: "La Restinga", language: en_GB, mode: driving) {
          status geocoded_waypoints { geocoder_status place_id } routes { summary legs { distance { text value } steps { maneuver travel_mode } } } } } }`,
      );
      expect([request.method, request.path]).toEqual(['GET', '/maps/api/directions/json']);
      expect(request.headers.authorization).toBeUndefined();
      // The document's parameter defaults (region=en, traffic_model=best_guess) are sent as well.
      expect(Object.fromEntries(request.query)).toEqual({
        key: 'AIza-gateway-key',
        origin: 'La Frontera',
        destination: 'La Restinga',
        language: 'en-GB',
        mode: 'driving',
        region: 'en',
        traffic_model: 'best_guess',
      });
      const directions = data.maps.directions;
      expect(directions.status).toBe('OK');
      expect(directions.geocoded_waypoints).toEqual([
        { geocoder_status: 'OK', place_id: 'ChIJwZNMti1fawwRO2aVVVX2yKg' },
        { geocoder_status: 'OK', place_id: 'ChIJ3aPgQGtXawwRLYeiBMUi7bM' },
      ]);
      expect(directions.routes[0].legs[0].distance).toEqual({ text: '38.5 km', value: 38482 });
      expect(directions.routes[0].legs[0].steps.slice(0, 3)).toEqual([
        { maneuver: null, travel_mode: 'DRIVING' },
        { maneuver: 'turn_right', travel_mode: 'DRIVING' },
        { maneuver: 'turn_sharp_left', travel_mode: 'DRIVING' },
      ]);
      recordResult(c, setup(), 'directions', request, { query: [...request.query.keys()], key: 'from queryParams' });
    });
  });

  describe('openapi/twilio/twilio_api_v2010.json: .json paths, PascalCase form fields', () => {
    const c: OpenApiCase = { file: 'openapi/twilio/twilio_api_v2010.json', name: 'twilio', operationHeaders: { Authorization: TWILIO_AUTH } };
    const setup = useSetup(c);
    itBuildsAndMerges(c, setup, 197, 29);

    it('sends a message: To/From/Body/StatusCallback form fields, MediaUrl repeated, direction outbound-api answered as outbound_api', async () => {
      const { data, request } = await runOnce(
        setup(),
        `mutation { twilio { CreateMessage(AccountSid: "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", input: {
            To: "+14155552345", From: "+14155550000", Body: "Hello! 👍", StatusCallback: "https://example.com",
            MediaUrl: ["https://example.com/a.png", "https://example.com/b.png"] }) {
          sid status direction body num_segments price date_created } } }`,
      );
      expect([request.method, request.path, request.contentType]).toEqual([
        'POST',
        '/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json',
        FORM,
      ]);
      expect(request.headers.authorization).toBe(TWILIO_AUTH);
      expect(formPairs(request.body)).toEqual([
        ['To', '+14155552345'],
        ['StatusCallback', 'https://example.com'],
        ['From', '+14155550000'],
        ['Body', 'Hello! 👍'],
        ['MediaUrl', 'https://example.com/a.png'],
        ['MediaUrl', 'https://example.com/b.png'],
      ]);
      expect(data.twilio.CreateMessage).toEqual({
        sid: 'SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
        status: 'queued',
        direction: 'outbound_api',
        body: 'Hello! 👍',
        num_segments: '1',
        price: null,
        date_created: 'Thu, 24 Aug 2023 05:01:45 +0000',
      });
      recordResult(c, setup(), 'CreateMessage', request, { authorization: 'Basic <sid:token>', body: formPairs(request.body).map(([k]) => k) });
    });
  });

  describe('openapi/twilio/twilio_messaging_v1.json: a oneOf response', () => {
    const c: OpenApiCase = { file: 'openapi/twilio/twilio_messaging_v1.json', name: 'twilioMessaging', operationHeaders: { Authorization: TWILIO_AUTH } };
    const setup = useSetup(c);
    itBuildsAndMerges(c, setup, 58, 12);

    it('updates an A2P campaign: form fields with MessageSamples repeated, the oneOf answered as its v2 member', async () => {
      const { data, request } = await runOnce(
        setup(),
        `mutation { twilioMessaging { UpdateUsAppToPerson(MessagingServiceSid: "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            Sid: "QE2c6890da8086d771620e9b13fadeba0b", X_Twilio_Api_Version: "v2", input: {
            HasEmbeddedLinks: true, HasEmbeddedPhone: false,
            MessageSamples: ["EXPRESS: Denim Days Event is ON", "LAST CHANCE: Book your next flight"],
            MessageFlow: "End users opt in at www.example.com", Description: "Sales announcements to opted-in customers",
            AgeGated: false, DirectLending: false, PrivacyPolicyUrl: "https://example.com/privacy" }) {
          __typename
          ... on TwilioMessaging_messaging_v1_service_us_app_to_person_v2 { sid campaign_status privacy_policy_url terms_and_conditions_url } } } }`,
      );
      expect([request.method, request.path, request.contentType]).toEqual([
        'POST',
        '/v1/Services/MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Compliance/Usa2p/QE2c6890da8086d771620e9b13fadeba0b',
        FORM,
      ]);
      expect(request.headers.authorization).toBe(TWILIO_AUTH);
      expect(request.headers['x-twilio-api-version']).toBe('v2');
      expect(formPairs(request.body)).toEqual([
        ['HasEmbeddedLinks', 'true'],
        ['HasEmbeddedPhone', 'false'],
        ['MessageSamples', 'EXPRESS: Denim Days Event is ON'],
        ['MessageSamples', 'LAST CHANCE: Book your next flight'],
        ['MessageFlow', 'End users opt in at www.example.com'],
        ['Description', 'Sales announcements to opted-in customers'],
        ['AgeGated', 'false'],
        ['DirectLending', 'false'],
        ['PrivacyPolicyUrl', 'https://example.com/privacy'],
      ]);
      expect(data.twilioMessaging.UpdateUsAppToPerson).toEqual({
        __typename: 'TwilioMessaging_messaging_v1_service_us_app_to_person_v2',
        sid: 'QE2c6890da8086d771620e9b13fadeba0b',
        campaign_status: 'PENDING',
        privacy_policy_url: 'https://example.com/privacy',
        terms_and_conditions_url: 'https://example.com/terms',
      });
      recordResult(c, setup(), 'UpdateUsAppToPerson', request, {
        authorization: 'Basic <sid:token>',
        headers: ['x-twilio-api-version'],
        body: formPairs(request.body).map(([k]) => k),
        answeredAs: 'us_app_to_person_v2 (oneOf member)',
      });
    });
  });

  describe('openapi/slack/slack_web_openapi_v2.json: Swagger 2.0 with formData parameters', () => {
    const c: OpenApiCase = { file: 'openapi/slack/slack_web_openapi_v2.json', name: 'slack', operationHeaders: { token: 'xoxb-gateway-token' } };
    const setup = useSetup(c);
    itBuildsAndMerges(c, setup, 174, 47);

    it('posts a message: formData fields form-encoded, the token header from the gateway, answered with the success member', async () => {
      const { data, request } = await runOnce(
        setup(),
        `mutation { slack { chat_postMessage(input: { channel: "C1H9RESGL", text: "Deploy finished", link_names: true, unfurl_links: false }) {
          __typename ... on Slack_chat_postMessage_success_schema { ok channel ts message { text username bot_id attachments { id fallback } } } } } }`,
      );
      expect([request.method, request.path, request.contentType]).toEqual(['POST', '/api/chat.postMessage', FORM]);
      expect(request.headers.token).toBe('xoxb-gateway-token');
      expect(formPairs(request.body)).toEqual([
        ['channel', 'C1H9RESGL'],
        ['link_names', 'true'],
        ['text', 'Deploy finished'],
        ['unfurl_links', 'false'],
      ]);
      expect(data.slack.chat_postMessage).toEqual({
        __typename: 'Slack_chat_postMessage_success_schema',
        ok: true,
        channel: 'C1H9RESGL',
        ts: '1503435956.000247',
        message: {
          text: "Here's a message for you",
          username: 'ecto1',
          bot_id: 'B19LU7CSY',
          attachments: [{ id: 1, fallback: "This is an attachment's fallback" }],
        },
      });
      recordResult(c, setup(), 'chat_postMessage', request, { headers: ['token'], body: formPairs(request.body).map(([k]) => k) });
    });
  });

  describe('openapi/paypal/checkout_orders_v2.json: JSON bodies, idempotency header', () => {
    const c: OpenApiCase = { file: 'openapi/paypal/checkout_orders_v2.json', name: 'paypalOrders', operationHeaders: { Authorization: PAYPAL_TOKEN } };
    const setup = useSetup(c);
    itBuildsAndMerges(c, setup, 8, 18);

    it('creates an order: JSON body with the enum values as written, PayPal-Request-Id header, answered with the order member', async () => {
      const { data, request } = await runOnce(
        setup(),
        `mutation { paypalOrders { orders_create(PayPal_Request_Id: "7b92603e-77ed-4896-8e78-5dea2050476a", input: {
            intent: CAPTURE,
            purchase_units: [{ reference_id: "d9f80740-38f0-11e8-b467-0ed5f89f718b", amount: { currency_code: "USD", value: "100.00" } }],
            payment_source: { paypal: { experience_context: { payment_method_preference: IMMEDIATE_PAYMENT_REQUIRED, user_action: PAY_NOW,
              locale: "en-US", return_url: "https://example.com/returnUrl", cancel_url: "https://example.com/cancelUrl" } } } }) {
          __typename ... on PaypalOrders_order { intent purchase_units { reference_id amount { currency_code value } } } } } }`,
      );
      expect([request.method, request.path, request.contentType]).toEqual(['POST', '/v2/checkout/orders', 'application/json']);
      expect(request.headers['paypal-request-id']).toBe('7b92603e-77ed-4896-8e78-5dea2050476a');
      expect(request.headers.authorization).toBe(PAYPAL_TOKEN);
      expect(JSON.parse(request.body)).toEqual({
        intent: 'CAPTURE',
        purchase_units: [{ reference_id: 'd9f80740-38f0-11e8-b467-0ed5f89f718b', amount: { currency_code: 'USD', value: '100.00' } }],
        payment_source: {
          paypal: {
            experience_context: {
              payment_method_preference: 'IMMEDIATE_PAYMENT_REQUIRED',
              user_action: 'PAY_NOW',
              locale: 'en-US',
              return_url: 'https://example.com/returnUrl',
              cancel_url: 'https://example.com/cancelUrl',
            },
          },
        },
      });
      // The document's 201 example (the one the stand-in answers) is the order request echoed back.
      expect(data.paypalOrders.orders_create).toEqual({
        __typename: 'PaypalOrders_order',
        intent: 'CAPTURE',
        purchase_units: [{ reference_id: 'd9f80740-38f0-11e8-b467-0ed5f89f718b', amount: { currency_code: 'USD', value: '100.00' } }],
      });
      recordResult(c, setup(), 'orders_create', request, { headers: ['paypal-request-id', 'authorization'], body: 'JSON, deep-equal to the input' });
    });
  });

  describe('openapi/paypal/payments_payment_v2.json: JSON bodies, allOf responses', () => {
    const c: OpenApiCase = { file: 'openapi/paypal/payments_payment_v2.json', name: 'paypalPayments', operationHeaders: { Authorization: PAYPAL_TOKEN } };
    const setup = useSetup(c);
    itBuildsAndMerges(c, setup, 7, 0);

    it('refunds a capture: JSON body, PayPal-Request-Id and the documented Prefer default, answered with the allOf-built refund', async () => {
      const { data, request } = await runOnce(
        setup(),
        `mutation { paypalPayments { captures_refund(capture_id: "2GG279541U471931P", PayPal_Request_Id: "123e4567-e89b-12d3-a456-426655440020",
            input: { amount: { value: "10.99", currency_code: "USD" }, invoice_id: "INVOICE-123", note_to_payer: "Defective product" }) {
          __typename ... on PaypalPayments_Refund { id status status_details { reason } amount { currency_code value } create_time } } } }`,
      );
      expect([request.method, request.path, request.contentType]).toEqual(['POST', '/v2/payments/captures/2GG279541U471931P/refund', 'application/json']);
      expect(request.headers['paypal-request-id']).toBe('123e4567-e89b-12d3-a456-426655440020');
      expect(request.headers.prefer).toBe('return=minimal');
      expect(request.headers.authorization).toBe(PAYPAL_TOKEN);
      expect(JSON.parse(request.body)).toEqual({
        amount: { currency_code: 'USD', value: '10.99' },
        invoice_id: 'INVOICE-123',
        note_to_payer: 'Defective product',
      });
      // No example in the document: generated from the schema (refund_status allOf the refund fields).
      expect(data.paypalPayments.captures_refund).toEqual({
        __typename: 'PaypalPayments_Refund',
        id: 'example',
        status: 'CANCELLED',
        status_details: { reason: 'ECHECK' },
        amount: { currency_code: 'USD', value: '10.00' },
        create_time: '2024-01-02T03:04:05Z',
      });
      recordResult(c, setup(), 'captures_refund', request, { headers: ['paypal-request-id', 'prefer', 'authorization'], body: 'JSON' });
    });
  });

  describe('openapi/paypal/notifications_webhooks_v1.json: webhook ingestion', () => {
    const c: OpenApiCase = { file: 'openapi/paypal/notifications_webhooks_v1.json', name: 'paypalWebhooks', operationHeaders: { Authorization: PAYPAL_TOKEN } };
    const setup = useSetup(c);
    itBuildsAndMerges(c, setup, 16, 3);

    it("verifies a webhook signature: the document's own example event goes out exactly as received, times included", async () => {
      const document = readCorpusDocument(c.file);
      const example = document.paths['/v1/notifications/verify-webhook-signature'].post.requestBody.content['application/json'].examples
        .verify_webhook_signature.value;
      // The example's cert_url is the placeholder "cert_url"; the API sends an absolute URL.
      const input = { ...example, cert_url: 'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270' };
      const { data, request } = await runOnce(
        setup(),
        `mutation Verify($input: PaypalWebhooks_Verify_Webhook_Signature_Input) { paypalWebhooks { verify_webhook_signature_post(input: $input) {
          __typename ... on PaypalWebhooks_Verify_Webhook_Signature_Response { verification_status } } } }`,
        { input },
      );
      expect([request.method, request.path, request.contentType]).toEqual(['POST', '/v1/notifications/verify-webhook-signature', 'application/json']);
      expect(request.headers.authorization).toBe(PAYPAL_TOKEN);
      expect(JSON.parse(request.body)).toEqual(input);
      expect(request.body).toContain('"transmission_time":"2016-02-18T20:01:35Z"');
      expect(request.body).toContain('"create_time":"2013-06-25T21:41:28Z"');
      expect(data.paypalWebhooks.verify_webhook_signature_post).toEqual({
        __typename: 'PaypalWebhooks_Verify_Webhook_Signature_Response',
        verification_status: 'SUCCESS',
      });
      recordResult(c, setup(), 'verify_webhook_signature_post', request, { authorization: 'Bearer <token>', body: 'JSON, deep-equal to the example event' });
    });
  });
});
