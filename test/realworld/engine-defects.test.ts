import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { corpusFile, corpusPresent } from './corpus.ts';
import { readCorpusDocument } from './openapi-harness.ts';
import { startOpenApiStandIn, type OpenApiStandIn, type RecordedRequest, type StandInAnswer } from './openapi-stand-in.ts';

/**
 * How a real API says it failed, as the whole gateway reports it: Slack's Web API document
 * (Swagger 2.0) as a user source in a sources file, served by a stand-in over real HTTP that
 * answers some channels the way Slack fails. Each channel stands for one way of failing.
 */

const NOT_FOUND = 'C0NOTFOUND';
const BUSY = 'C0RATELIMITED';

/** Slack's failures: `ok: false` in a 200 for an unknown channel; a 429 saying how long to wait in its body only. */
function slackFailures(request: RecordedRequest): StandInAnswer | undefined {
  const channel = request.query.get('channel');
  if (channel === NOT_FOUND) return { status: 200, body: { ok: false, error: 'channel_not_found' } };
  if (channel === BUSY) return { status: 429, body: { ok: false, error: 'ratelimited', retry_after: 7 } };
  return undefined;
}

const HISTORY = (channel: string) => `{ slack { conversations_history(channel: "${channel}", limit: 1) { __typename } } }`;

describe.skipIf(!corpusPresent)('openapi/slack/slack_web_openapi_v2.json as a user source: failures in the answer', () => {
  let standIn: OpenApiStandIn;
  let h: Harness;
  let dir: string;

  beforeAll(async () => {
    const file = 'openapi/slack/slack_web_openapi_v2.json';
    standIn = await startOpenApiStandIn(readCorpusDocument(file), { respond: slackFailures });
    dir = mkdtempSync(join(tmpdir(), 'junction-engine-defects-'));
    const meshConfig = join(dir, '.meshrc.yaml');
    writeFileSync(
      meshConfig,
      yaml.dump({
        sources: [
          {
            name: 'slack',
            handler: {
              openapi: {
                source: corpusFile(file),
                endpoint: standIn.endpoint,
                namespace: true,
                operationHeaders: { token: 'xoxb-gateway-token' },
                credentialParams: ['token'],
                failure: { when: { ok: false }, code: 'error' },
              },
            },
          },
        ],
      }),
    );
    h = await startHarness({ meshConfig });
  });

  afterAll(async () => {
    await h?.close();
    await standIn?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an answer the source entry says is a failure ({ ok: false } in a 200) is SOURCE_REJECTED with the API\'s own code', async () => {
    standIn.requests.length = 0;
    const { status, body } = await h.query(HISTORY(NOT_FOUND));
    expect(status).toBe(200);
    expect(body.data?.slack?.conversations_history ?? null).toBeNull();
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.path).toEqual(['slack', 'conversations_history']);
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_REJECTED', source: 'slack', upstreamCode: 'channel_not_found' });
    expect(standIn.requests.map((r) => [r.method, r.path, r.query.get('channel')])).toEqual([['GET', '/api/conversations.history', NOT_FOUND]]);
    // The rule fires on `ok: false` only: the document's own success answer still answers.
    const fine = await h.query(HISTORY('C1H9RESGL'));
    expect(fine.body.errors).toBeUndefined();
    expect(fine.body.data!.slack.conversations_history).toEqual({ __typename: expect.stringMatching(/^Slack_/) });
  });

  it("credentialParams from the sources file: Slack's token is no argument, and the backend gets the configured one", async () => {
    standIn.requests.length = 0;
    const own = await h.query('{ slack { conversations_history(token: "xoxp-client-token", channel: "C1H9RESGL") { __typename } } }');
    expect(own.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(standIn.requests).toEqual([]);
    const { body } = await h.query(HISTORY('C1H9RESGL'));
    expect(body.errors).toBeUndefined();
    expect(standIn.requests.map((r) => [r.headers.token, r.query.getAll('token')])).toEqual([['xoxb-gateway-token', []]]);
  });

  // Last: after it, the gateway leaves the source alone for the 7 s it was asked to wait.
  it('a 429 that says how long to wait in its JSON body only ({ retry_after: 7 }) is SOURCE_RATE_LIMITED with retryAfter 7', async () => {
    const { status, body } = await h.query(HISTORY(BUSY));
    expect(status).toBe(200);
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'slack', retryAfter: 7 });
  });
});
