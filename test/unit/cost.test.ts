import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { operationCost } from '../../gateway/plugins/limits/cost.ts';
import { buildPublicSchema } from '../helpers/public-schema.ts';

const schema = buildPublicSchema();
const cost = (query: string, variables: Record<string, unknown> = {}) => operationCost(schema, parse(query), undefined, variables).cost;

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

  it('counts sizes from variables\' default values as it counts literals', () => {
    const literal = cost('{ payments(first: 100) { edges { node { customer { payments(first: 100) { edges { node { id } } } } } } } }');
    expect(cost('query($a: Int = 100, $b: Int = 100) { payments(first: $a) { edges { node { customer { payments(first: $b) { edges { node { id } } } } } } } }'))
      .toBe(literal);
    // A value sent for the variable still wins over its default.
    expect(cost('query($a: Int = 100) { payments(first: $a) { edges { node { id } } } }', { a: 3 })).toBe(1 + 3 * 2);
  });

  it('walks fragments that spread each other many times over in time linear in the document, counting the selections written out', () => {
    // Six levels, each spreading the one below 25 times: 25^5 * 2 (19.5 million) selections written out, in about 1 KB.
    const levels = 6;
    const fragments = Array.from({ length: levels }, (_, i) => i === levels - 1
      ? `fragment F${i} on Merchant { id name }`
      : `fragment F${i} on Merchant { ${`...F${i + 1} `.repeat(25)} }`);
    const document = parse(`{ merchant(id: "m") { ...F0 } } ${fragments.join(' ')}`);
    const started = performance.now();
    const result = operationCost(schema, document, undefined, {});
    expect(performance.now() - started).toBeLessThan(20);
    expect(result).toEqual({ cost: 1, selections: 1 + 2 * 25 ** 5 });
  });
});
