import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit, MIN_CONCURRENCY } from '../../gateway/plugins/limits/concurrency-limit.ts';

describe('ConcurrencyLimit', () => {
  const limit = () => new ConcurrencyLimit({ max: 512, targetDelayMs: 100 });

  it('stays at MAX_IN_FLIGHT while the event loop is on time, however many requests wait on backends', () => {
    const l = limit();
    for (let i = 0; i < 1000; i++) l.observe(2, 500);
    expect(l.current).toBe(512);
  });

  it('cuts to nine tenths of the requests running when the loop is late, down to the floor', () => {
    const l = limit();
    l.observe(150, 40);
    expect(l.current).toBe(36);
    l.observe(150, 36);
    expect(l.current).toBe(32);
    for (let i = 0; i < 50; i++) l.observe(400, l.current);
    expect(l.current).toBe(MIN_CONCURRENCY);
  });

  it('grows back to the cap, by a twentieth (at least one) per sample on time', () => {
    const l = limit();
    for (let i = 0; i < 50; i++) l.observe(400, 8);
    expect(l.current).toBe(MIN_CONCURRENCY);
    l.observe(0, 8);
    expect(l.current).toBe(9);
    let samples = 1;
    while (l.current < 512) {
      l.observe(0, 0);
      samples++;
    }
    // 10 ms a sample: from the floor back to the cap within a second (89 samples), not at once.
    expect(samples).toBe(89);
  });

  it('with a cap under the floor, the cap is the floor', () => {
    const l = new ConcurrencyLimit({ max: 2, targetDelayMs: 100 });
    l.observe(500, 2);
    expect(l.current).toBe(2);
  });
});
