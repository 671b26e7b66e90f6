import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit, SETTLE } from '../../gateway/plugins/limits/concurrency-limit.ts';

const busy = (finished: number) => ({ utilization: 0.97, finished, windowMs: 100 });
const calm = (finished: number) => ({ utilization: 0.4, finished, windowMs: 100 });

describe('ConcurrencyLimit', () => {
  const limit = () => new ConcurrencyLimit({ max: 512, maxQueueMs: 500 });

  it('stays at MAX_IN_FLIGHT while the CPU is not saturated, however many requests wait on backends', () => {
    const l = limit();
    for (let i = 0; i < 100; i++) l.observe(calm(1));
    expect(l.current).toBe(512);
  });

  it('while saturated, takes what finishes in MAX_QUEUE_MS at the rate measured while saturated', () => {
    const l = limit();
    // 15 finished per 100 ms: 150 a second, so 75 in 500 ms; applied after SETTLE windows.
    for (let i = 0; i < SETTLE - 1; i++) l.observe(busy(15));
    expect(l.current).toBe(512);
    l.observe(busy(15));
    expect(l.current).toBe(75);
  });

  it('a quiet spell lifts the limit but does not lower what the CPU is known to get through', () => {
    const l = limit();
    for (let i = 0; i < 20; i++) l.observe(busy(15));
    for (let i = 0; i < 50; i++) l.observe(calm(0));
    expect(l.current).toBe(512);
    for (let i = 0; i < SETTLE; i++) l.observe(busy(15));
    expect(l.current).toBe(75);
  });

  it('never under one request, never over the cap', () => {
    const l = limit();
    for (let i = 0; i < 50; i++) l.observe(busy(0));
    expect(l.current).toBe(1);
    for (let i = 0; i < 50; i++) l.observe(busy(10_000));
    expect(l.current).toBe(512);
  });
});
