import { describe, expect, it } from 'vitest';
import type { ExecutionResult } from 'graphql';
import { createMemoryStore } from './store.ts';
import { storeCache, withoutCacheMetadata } from './response-cache.ts';

describe("the response cache's own keys", () => {
  it('are taken out of an answer wherever they are, null ids included, and nothing else is', () => {
    const data = {
      customer: { name: 'Ada', __responseCacheTypeName: 'Customer', __responseCacheId: null },
      list: [{ __responseCacheId: '', n: 1 }, [{ __responseCacheId: 0 }]],
      bare: Object.assign(Object.create(null) as object, { __responseCacheTypeName: 'Thing', id: 'x' }),
    };
    withoutCacheMetadata(data);
    expect(JSON.parse(JSON.stringify(data))).toEqual({ customer: { name: 'Ada' }, list: [{ n: 1 }, [{}]], bare: { id: 'x' } });
  });

  it('are never stored', async () => {
    const cache = storeCache(createMemoryStore(), { exposeMetadata: false });
    const result: ExecutionResult = { data: { thing: { name: 'Widget', __responseCacheId: null } } };
    await cache.set('key', result, [], 60_000);
    const stored = await cache.get('key');
    expect(JSON.parse((stored as unknown as { stringify(): string }).stringify())).toEqual({ data: { thing: { name: 'Widget' } } });
  });
});
