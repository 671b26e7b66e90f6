/**
 * Hive Gateway's composition (issue 19's second peer): GraphQL Mesh v1's `mesh-compose` over two
 * of the demo sources, the payments REST API (its OpenAPI file) and the messaging GraphQL API (its
 * SDL file), into a supergraph that `hive-gateway supergraph` serves (bench/hive/hive.ts). Mesh v1
 * has no SOAP loader here, so the maps source is left out, and with it every scenario that needs it.
 *
 * Read from local files only, at every bench start (no introspection, no remote schema: `fetch`
 * refuses), by `mesh-compose -c bench/hive/mesh.config.ts` run from the repository root (the
 * paths below are relative to it). The endpoints stay `{env.NAME}` templates in the supergraph,
 * filled in by the gateway at run time, so one composition serves both bench modes.
 *
 * What it takes to reach the field the scenarios send, `payment(id) { id amount currency status }`,
 * answered as Junction answers it:
 * - `ignoreErrorResponses`: without it each operation returns a `Payment | Error` union, and the
 *   document's plain selection on `payment` would not validate;
 * - the operationId `getPayment` renamed to `payment`;
 * - the API's lower-case enum values (`succeeded`) made upper case (`SUCCEEDED`) as in the public
 *   contract; the supergraph keeps the source value for the gateway to map back.
 */
import { createNamingConventionTransform, createRenameTransform, defineConfig, loadGraphQLHTTPSubgraph } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('payments', {
        source: './sources/payments/openapi.yaml',
        endpoint: '{env.PAYMENTS_URL}',
        operationHeaders: { Authorization: 'Bearer {env.PAYMENTS_SECRET_KEY}' },
        ignoreErrorResponses: true,
      }),
      transforms: [
        createNamingConventionTransform({ enumValues: 'constantCase' }),
        createRenameTransform({ renames: [{ from: { type: 'Query', field: 'getPayment' }, to: { type: 'Query', field: 'payment' } }] }),
      ],
    },
    {
      sourceHandler: loadGraphQLHTTPSubgraph('messaging', {
        source: './sources/messaging/schema.graphql',
        endpoint: '{env.MESSAGING_URL}/graphql',
        operationHeaders: { Authorization: '{env.MESSAGING_AUTHORIZATION}' },
      }),
    },
  ],
  // Nothing is fetched to compose: both sources are files.
  fetch: () => {
    throw new Error('bench/hive/mesh.config.ts composes from local files only');
  },
});
