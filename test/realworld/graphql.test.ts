import { createServer, type IncomingHttpHeaders } from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema, graphql, validateSchema, type GraphQLSchema } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { addMocksToSchema } from '@graphql-tools/mock';
import { mergeSchemas } from '@graphql-tools/schema';
import { buildPublicSchema } from '../helpers/public-schema.ts';
import { loadGraphQLSource } from '../../gateway/composition/byo/load-graphql.ts';
import { namespaceSource } from '../../gateway/composition/byo/namespace.ts';
import { reportSource } from '../../gateway/composition/byo/report.ts';
import type { LoadedSource } from '../../gateway/composition/byo/types.ts';
import { closeServer, listen } from '../../sources/demo/server.ts';
import { corpusFile, corpusPresent, writeResult } from './corpus.ts';
import { SIGNED_IN } from './openapi-harness.ts';

interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: { query?: string; variables?: unknown };
}

/**
 * A stand-in for a vendor's GraphQL API: its own SDL, answered with fixed mock values, every
 * request recorded so the test can check what the gateway sent.
 */
async function startStandIn(sdl: string) {
  const schema = addMocksToSchema({
    schema: buildSchema(sdl, { assumeValidSDL: true }),
    mocks: { String: () => 'example', Int: () => 7, Float: () => 1.5, Boolean: () => true, ID: () => 'id-1' },
    preserveResolvers: false,
  });
  const yoga = createYoga({ schema, logging: false, graphiql: false, maskedErrors: false });
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: JSON.parse(raw || '{}') });
      // Replay the body into yoga through its fetch API.
      void Promise.resolve(
        yoga.fetch(`http://stand-in${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body: raw || undefined }),
      ).then(async (response) => {
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(await response.text());
      });
    });
  });
  const url = await listen(server);
  return { url, requests, close: () => closeServer(server) };
}

const CASES = [
  {
    file: 'graphql/github/schema.graphql',
    name: 'github',
    query: '{ github { repository(owner: "octocat", name: "hello-world") { name stargazerCount owner { login } } } }',
    expected: { github: { repository: { name: 'example', stargazerCount: 7, owner: { login: 'example' } } } },
    field: 'repository',
  },
  {
    file: 'graphql/swapi/schema.graphql',
    name: 'swapi',
    query: '{ swapi { allFilms(first: 2) { totalCount films { title episodeID } pageInfo { hasNextPage } } } }',
    expected: { swapi: { allFilms: { totalCount: 7, films: [{ title: 'example', episodeID: 7 }, { title: 'example', episodeID: 7 }], pageInfo: { hasNextPage: true } } } },
    field: 'allFilms',
  },
] as const;

describe.skipIf(!corpusPresent)('GraphQL sources from the corpus', () => {
  const loaded = new Map<string, LoadedSource>();
  const standIns = new Map<string, Awaited<ReturnType<typeof startStandIn>>>();
  let merged: GraphQLSchema;

  beforeAll(async () => {
    for (const c of CASES) {
      const sdl = readFileSync(corpusFile(c.file), 'utf8');
      const standIn = await startStandIn(sdl);
      standIns.set(c.name, standIn);
      loaded.set(
        c.name,
        await loadGraphQLSource({
          name: c.name,
          endpoint: `${standIn.url}/graphql`,
          source: corpusFile(c.file),
          operationHeaders: { authorization: `Bearer ${c.name}-gateway-token` },
        }),
      );
    }
    merged = mergeSchemas({ schemas: [buildPublicSchema(), ...[...loaded.values()].map(namespaceSource)] });
  });
  afterAll(() => Promise.all([...standIns.values()].map((s) => s.close())));

  it('merges both beside the curated contract: their Node and PageInfo types coexist under namespaces', () => {
    expect(validateSchema(merged)).toEqual([]);
    for (const type of ['Github_Node', 'Github_PageInfo', 'Swapi_Node', 'Swapi_PageInfo', 'PageInfo', 'Payment']) {
      expect(merged.getType(type), type).toBeDefined();
    }
    expect(Object.keys(merged.getQueryType()!.getFields())).toEqual(expect.arrayContaining(['payments', 'github', 'swapi']));
    expect(Object.keys(merged.getMutationType()!.getFields())).toEqual(expect.arrayContaining(['createPayment', 'github']));
  });

  for (const c of CASES) {
    it(`${c.file}: builds, exposes every root field, and runs ${c.field} end to end with the gateway's credentials`, async () => {
      const source = loaded.get(c.name)!;
      const report = reportSource(source);
      expect(report.exposedOperations).toBe(report.declaredOperations);
      expect(report.exposedOperations).toBeGreaterThan(0);

      const standIn = standIns.get(c.name)!;
      standIn.requests.length = 0;
      const result = await graphql({ schema: merged, source: c.query, contextValue: SIGNED_IN });
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual(c.expected);

      expect(standIn.requests).toHaveLength(1);
      const [request] = standIn.requests;
      expect(request!.method).toBe('POST');
      expect(request!.path).toBe('/graphql');
      expect(request!.headers['content-type']).toMatch(/^application\/json/);
      expect(request!.headers.authorization).toBe(`Bearer ${c.name}-gateway-token`);
      // The backend sees its own names: no namespace, no prefixed types.
      expect(request!.body.query).toContain(c.field);
      expect(request!.body.query).not.toMatch(/Github_|Swapi_|\bgithub\b|\bswapi\b/);

      writeResult({
        file: c.file,
        kind: 'graphql',
        declaredOperations: report.declaredOperations,
        exposedOperations: report.exposedOperations,
        downgrades: report.downgrades,
        buildMs: report.buildMs,
        executed: { operation: c.field, request: { method: request!.method, path: request!.path, contentType: request!.headers['content-type'], authorization: 'Bearer <gateway token>' } },
      });
    });
  }
});
