import qs from 'qs';
import { describe, expect, it } from 'vitest';
import { plainPair } from '../../gateway/engine/rest.ts';

/**
 * The REST engine writes plain query parameters itself and leaves the rest to qs: whatever it
 * writes must be byte for byte what qs writes, for every option a spec or an entry can set.
 */
const VALUES: unknown[] = ['abc', '', 'x~y.z-_', 'a b', 'é', 'a,b', 'a&b=c', 12, 0, -3, 1.5, true, false,
  ['a', 'b'], ['a'], [], [1, 2, 3], ['a b', 'c'], ['a', ['b']], [{ a: 1 }], { a: 1 }, null];
const OPTIONS: qs.IStringifyOptions[] = [
  {}, { indices: false }, { arrayFormat: 'comma' }, { arrayFormat: 'comma', indices: false }, { arrayFormat: 'repeat' },
  { arrayFormat: 'brackets' }, { arrayFormat: 'indices' }, { arrayFormat: 'comma', encode: false }, { arrayFormat: 'comma', encodeValuesOnly: true },
  { arrayFormat: 'comma', commaRoundTrip: true }, { format: 'RFC1738' }, { encode: false }, { encodeValuesOnly: true }, { addQueryPrefix: true },
  { charsetSentinel: true }, { charset: 'iso-8859-1' }, { allowDots: true }, { skipNulls: true }, { strictNullHandling: true },
  { delimiter: ';' }, { delimiter: ';', arrayFormat: 'repeat' }, { encodeDotInKeys: true, allowDots: true } as unknown as qs.IStringifyOptions, { encodeDotInKeys: true } as unknown as qs.IStringifyOptions,
];

describe('plain query pairs', () => {
  it('are what qs writes, or left to qs', () => {
    let written = 0;
    for (const name of ['ids', 'a b', 'x[y]', 'a.b']) {
      for (const value of VALUES) {
        for (const opts of OPTIONS) {
          const mine = plainPair(name, value, opts);
          if (mine === undefined) continue;
          written++;
          expect(mine, `${name}=${JSON.stringify(value)} with ${JSON.stringify(opts)}`).toBe(qs.stringify({ [name]: value }, opts));
        }
      }
    }
    // The fast path is taken for the common cases, not skipped for all of them.
    expect(written).toBeGreaterThan(150);
  });
});
