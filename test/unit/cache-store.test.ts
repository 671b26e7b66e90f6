import { describe, expect, it } from 'vitest';
import { getDirective } from '@graphql-tools/utils';
import { getNamedType, isObjectType } from 'graphql';
import { createMemoryStore } from '../../gateway/cache/store.ts';
import { buildPublicSchema } from '../helpers/public-schema.ts';

describe('the in-memory store', () => {
  it('expires entries on its clock, evicts the least recently used, and drops tagged entries together', async () => {
    let now = 0;
    const store = createMemoryStore({ now: () => now, maxEntries: 2 });
    await store.setMany([{ key: 'a', value: '1', ttlMs: 1_000, tags: ['Customer:1'] }, { key: 'b', value: '2', ttlMs: 5_000, tags: ['Customer:1'] }]);
    expect(await store.getMany(['a', 'b'])).toEqual(['1', '2']);
    now = 1_000;
    expect(await store.getMany(['a', 'b'])).toEqual([undefined, '2']);
    await store.setMany([{ key: 'c', value: '3', ttlMs: 5_000 }, { key: 'd', value: '4', ttlMs: 5_000 }]);
    expect(await store.getMany(['b', 'c', 'd'])).toEqual([undefined, '3', '4']); // b was least recently used
    await store.setMany([{ key: 'e', value: '5', ttlMs: 5_000, tags: ['Customer:2'] }]);
    await store.invalidateTags(['Customer:2', 'Customer:1']);
    expect(await store.getMany(['d', 'e'])).toEqual(['4', undefined]);
  });
});

describe('the cache policy in the schema', () => {
  it('marks every type and field that needs an identity PRIVATE, so no one else is ever served it', () => {
    const schema = buildPublicSchema();
    const guarded = (node: Parameters<typeof getDirective>[1]) =>
      getDirective(schema, node, 'requiresScopes') !== undefined || getDirective(schema, node, 'authenticated') !== undefined;
    const scope = (node: Parameters<typeof getDirective>[1]) => getDirective(schema, node, 'cacheControl')?.[0]?.scope as string | undefined;
    const problems: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      if (guarded(type) && scope(type) !== 'PRIVATE') problems.push(type.name);
      for (const field of Object.values(type.getFields())) {
        const returned = getNamedType(field.type);
        if (guarded(field) && isObjectType(returned) && scope(field) !== 'PRIVATE' && scope(returned) !== 'PRIVATE' && !['Mutation'].includes(type.name)) {
          problems.push(`${type.name}.${field.name}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
