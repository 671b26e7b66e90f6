import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { operationCost } from '../../gateway/plugins/limits/cost.ts';
import { buildPublicSchema } from '../../schema/index.ts';

const schema = buildPublicSchema();
const cost = (query: string, variables: Record<string, unknown> = {}) => operationCost(schema, parse(query), undefined, variables);

describe('operationCost', () => {
  it('counts each object a field can return, times the list sizes above it', () => {
    // 50 edges x (edge 1 + node 1 + customer 1 + address 1 + location 1 + 3 messages + merchant 1 + place 1 + location 1)
    expect(cost(`{ payments(first: 50) { edges { node {
      id customer { id address { city location { lat } } messages(first: 3) { id } }
      merchant { id place { name location { lat } } }
    } } } }`)).toBe(1 + 50 * (1 + 1 + (1 + (1 + 1) + 3) + (1 + (1 + 1))));
  });

  it('reads sizes from variables and from the schema\'s defaults', () => {
    expect(cost('query($n: Int) { payments(first: $n) { edges { node { id } } } }', { n: 7 })).toBe(1 + 7 * 2);
    expect(cost('{ payments { edges { node { id } } } }')).toBe(1 + 20 * 2); // first defaults to 20
  });

  it('multiplies nested lists: first 1000000 under another list', () => {
    expect(cost('{ payments(first: 100) { edges { node { customer { payments(first: 1000000) { edges { node { id } } } } } } } }'))
      .toBeGreaterThan(100_000_000);
  });

  it('follows fragments and costs scalars nothing', () => {
    expect(cost('{ ...F } fragment F on Query { merchant(id: "m") { id name } }')).toBe(1);
  });
});
