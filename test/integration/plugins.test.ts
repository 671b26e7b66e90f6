import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { startHarness } from '../helpers/harness.ts';
import { seen } from '../fixtures/plugins/deployment-plugins.ts';

const Q = 'query Merchant($id: ID!) { merchant(id: $id) { name } }';

/** .meshrc.yaml as it is, plus `additionalEnvelopPlugins`, in a temporary folder (its paths made absolute). */
function withPlugins(): string {
  const root = resolve('.');
  const text = readFileSync('.meshrc.yaml', 'utf8').replace(/(['\s])\.\/(sources|schema|gateway)\//g, `$1${root}/$2/`);
  const file = join(tmpdir(), `junction-plugins-${process.pid}.meshrc.yaml`);
  writeFileSync(file, `${text}additionalEnvelopPlugins: ${resolve('test/fixtures/plugins/deployment-plugins.ts')}\n`);
  return file;
}

describe('plugins: one mechanism for Junction\'s own and a deployment\'s', () => {
  it('createGateway({ plugins }) runs them after Junction\'s own, before the error catalogue', async () => {
    const calls: string[] = [];
    const mine: Plugin = {
      // Its context is built after Junction's own plugins have built theirs: the caller is known.
      onContextBuilding({ context }) {
        calls.push(`context:${(context as { principal?: { id: string } }).principal?.id}`);
      },
      onExecute({ args }) {
        calls.push(`execute:${getOperationAST(args.document)?.name?.value}`);
      },
    };
    const h = await startHarness({ plugins: [mine] });
    try {
      const answer = await h.query(Q, { id: h.seed.merchants[0]!.id });
      expect(answer.body.data).toEqual({ merchant: { name: h.seed.merchants[0]!.name } });
      // It saw the request after identity was established (the caller is on the context).
      expect(calls).toEqual(['context:user-1', 'execute:Merchant']);
    } finally {
      await h.close();
    }
  });

  it('a sources file\'s additionalEnvelopPlugins module is loaded into the same list', async () => {
    const h = await startHarness({ meshConfig: withPlugins() });
    try {
      seen.length = 0;
      const answer = await h.query(Q, { id: h.seed.merchants[0]!.id });
      expect(answer.body.data).toEqual({ merchant: { name: h.seed.merchants[0]!.name } });
      expect(answer.headers.get('x-deployment')).toBe('from-the-sources-file');
      expect(seen).toEqual(['Merchant']);
    } finally {
      await h.close();
    }
  });

  it('a plugin\'s thrown error still reaches the client catalogued and masked', async () => {
    const broken: Plugin = {
      onExecute() {
        throw new Error('secret internals of a deployment plugin');
      },
    };
    const h = await startHarness({ plugins: [broken] });
    try {
      const answer = await h.query(Q, { id: h.seed.merchants[0]!.id });
      expect(answer.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(answer.body)).not.toContain('secret internals');
    } finally {
      await h.close();
    }
  });
});
