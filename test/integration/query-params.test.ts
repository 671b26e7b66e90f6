import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { json, startRecordingServer, type Seen } from '../helpers/recording-server.ts';
import { writeSourcesFile } from '../helpers/sources-file.ts';

/**
 * A query parameter the entry sets itself (`queryParams`: a tenant, an API key in the query) is
 * the gateway's: a caller's value for the same parameter is never sent beside it, so a backend
 * that reads the first of two values cannot be made to read the caller's.
 */
const SPEC = JSON.stringify({
  openapi: '3.0.3',
  info: { title: 'Items', version: '1' },
  servers: [{ url: 'http://127.0.0.1:9' }],
  paths: {
    '/items': {
      get: {
        operationId: 'listItems',
        parameters: [
          { name: 'tenant', in: 'query', schema: { type: 'string' } },
          { name: 'q', in: 'query', schema: { type: 'string' } },
        ],
        responses: { 200: { description: 'ok', content: { 'application/json': { schema: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' } } } } } } } },
      },
    },
  },
});

describe('an entry\'s queryParams', () => {
  let h: Harness;
  let backend: { url: string; close(): Promise<void> };
  const seen: Seen[] = [];
  beforeAll(async () => {
    backend = await startRecordingServer((request, res) => {
      seen.push(request);
      json(res, 200, [{ id: 'i1' }]);
    });
    const spec = writeSourcesFile(SPEC, '.json');
    const file = writeSourcesFile(`sources:
  - name: items
    handler:
      openapi:
        source: ${spec}
        endpoint: ${backend.url}
        public: true
        queryParams: { tenant: acme }
`);
    h = await startHarness({ meshConfig: file });
  });
  afterAll(async () => {
    await h.close();
    await backend.close();
  });

  it('are sent once, as the entry says, whatever the caller passes for them', async () => {
    const answer = await h.query('{ listItems(tenant: "evil", q: "x") { id } }', {}, { authorization: '' });
    expect(answer.body).toEqual({ data: { listItems: [{ id: 'i1' }] } });
    expect(seen.map((s) => new URL(s.url, 'http://x').searchParams.getAll('tenant'))).toEqual([['acme']]);
    expect(new URL(seen[0]!.url, 'http://x').searchParams.get('q')).toBe('x');
  });
});
