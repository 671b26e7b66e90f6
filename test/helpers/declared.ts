import type { DemoBackend } from '../../sources/demo/server.ts';
import { basicAuth, type SourceCredentials } from '../../sources/demo/credentials.ts';
import type { SourceName } from '../../sources/demo/index.ts';

/**
 * What the declared-source tests share: the `{env.*}` values of test/fixtures/declared/ configs
 * (a REST source `Billing` over the payments backend, a GraphQL source `Sms` over messaging), the
 * link from customers to their texts, and a query crossing it both ways.
 */
export function declaredEnv(b: Record<SourceName, DemoBackend>, c: SourceCredentials): Record<string, string> {
  return {
    BILLING_URL: b.payments.url,
    BILLING_KEY: c.payments.secretKey,
    SMS_URL: b.messaging.url,
    SMS_AUTHORIZATION: basicAuth(c.messaging.accountSid, c.messaging.authToken),
  };
}

/** The link from customers to their texts, as Mesh v0's additionalResolvers writes it (YAML list entry). */
export const TEXTS_LINK = `
  - targetTypeName: Customer
    targetFieldName: texts
    requiredSelectionSet: '{ id }'
    sourceName: Sms
    sourceTypeName: Query
    sourceFieldName: Sms_messagesForCustomers
    keyField: id
    keysArg: customerIds
    result: messages`;

/** Five customers, their texts, and each text's recipient: two link levels. */
export const LINKED = /* GraphQL */ `{
  listCustomers(limit: 5) {
    data {
      id
      name
      texts { id body customerId recipient { id name } }
    }
  }
}`;
