import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConcurrencyLimit, SETTLE, WINDOW_MS, watchEventLoop } from '../../gateway/plugins/limits/concurrency-limit.ts';

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

describe('watchEventLoop', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('feeds the limit each window: utilisation from the loop\'s busy and idle time, requests finished meanwhile', () => {
    vi.useFakeTimers();
    // The loop's cumulative clock, advanced by hand: busy 97 ms of each 100 from the first window on.
    const loop = { idle: 0, active: 0, utilization: 0 };
    let finished = 0;
    const l = new ConcurrencyLimit({ max: 512, maxQueueMs: 500 });
    const stop = watchEventLoop(l, () => finished, () => ({ ...loop }));
    for (let i = 0; i < SETTLE; i++) {
      loop.active += 97;
      loop.idle += 3;
      finished += 20; // 200 a second: 100 in 500 ms
      vi.advanceTimersByTime(WINDOW_MS);
    }
    expect(l.current).toBe(100);
    // A calm window (busy 30 ms of 100): the cap again.
    loop.active += 30;
    loop.idle += 70;
    vi.advanceTimersByTime(WINDOW_MS);
    expect(l.current).toBe(512);
    // Stopped: no more samples, whatever the loop does.
    stop();
    for (let i = 0; i < SETTLE; i++) {
      loop.active += 100;
      vi.advanceTimersByTime(WINDOW_MS);
    }
    expect(l.current).toBe(512);
  });
});
