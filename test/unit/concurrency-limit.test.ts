import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConcurrencyLimit, RELEASE, SETTLE, WINDOW_MS, watchEventLoop } from '../../gateway/plugins/limits/concurrency-limit.ts';

/** A window busy 100% (saturated), 70% (busy, not saturated) or 20% (calm), `finished` requests done in it. */
const saturated = (finished: number) => ({ utilization: 1, finished, windowMs: 100 });
const busy = (finished: number) => ({ utilization: 0.7, finished, windowMs: 100 });
const calm = (finished: number) => ({ utilization: 0.2, finished, windowMs: 100 });

describe('ConcurrencyLimit', () => {
  const limit = () => new ConcurrencyLimit({ max: 512, maxQueueMs: 500 });

  it('stays at MAX_IN_FLIGHT while the CPU is not saturated, however many requests wait on backends', () => {
    const l = limit();
    for (let i = 0; i < 100; i++) l.observe(calm(1));
    for (let i = 0; i < 100; i++) l.observe(busy(10));
    expect(l.current).toBe(512);
  });

  it('while saturated, takes what finishes in MAX_QUEUE_MS at the rate the CPU gets through', () => {
    const l = limit();
    // 15 finished per 100 ms busy: 150 a second, so 75 in 500 ms; applied once SETTLE windows measured it.
    for (let i = 0; i < SETTLE - 1; i++) l.observe(saturated(15));
    expect(l.current).toBe(512);
    l.observe(saturated(15));
    expect(l.current).toBe(75);
  });

  it('measures the rate per second of busy time, in windows that were busy but not saturated too', () => {
    const l = limit();
    // 7 finished in a window busy 70 ms: 100 a busy second, 50 in 500 ms.
    for (let i = 0; i < SETTLE; i++) l.observe(busy(7));
    expect(l.current).toBe(512);
    l.observe(saturated(10));
    expect(l.current).toBe(50);
  });

  it('once the rate is known, one saturated window applies the limit', () => {
    const l = limit();
    for (let i = 0; i < SETTLE; i++) l.observe(busy(7));
    for (let i = 0; i < RELEASE; i++) l.observe(calm(0));
    expect(l.current).toBe(512);
    l.observe(saturated(10));
    expect(l.current).toBe(50);
  });

  it('the rate starts as the mean of the first windows, not the first window alone', () => {
    const l = limit();
    // The first windows of a burst finish little of what they started: 0, then 15 a window.
    l.observe(saturated(0));
    for (let i = 0; i < 9; i++) l.observe(saturated(15));
    // The mean, 13.5 a window of busy time: 135 a second (from the first window alone, moving by a
    // tenth each window, it would be ~92).
    expect(l.rate).toBeCloseTo(135, 6);
    expect(l.current).toBe(512); // not trusted before SETTLE windows
    for (let i = 10; i < SETTLE; i++) l.observe(saturated(15));
    expect(l.current).toBeGreaterThanOrEqual(74);
    expect(l.current).toBeLessThanOrEqual(75);
  });

  it('holds through dips below saturation; lifted after RELEASE windows in a row that were not saturated', () => {
    const l = limit();
    for (let i = 0; i < SETTLE; i++) l.observe(saturated(15));
    expect(l.current).toBe(75);
    // Dips of up to RELEASE - 1 windows, as an overloaded instance waiting on its backends has.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < RELEASE - 1; i++) l.observe(calm(0));
      expect(l.current).toBe(75);
      l.observe(saturated(15));
    }
    for (let i = 0; i < RELEASE; i++) l.observe(calm(0));
    expect(l.current).toBe(512);
    // A quiet spell does not lower what the CPU is known to get through.
    l.observe(saturated(15));
    expect(l.current).toBe(75);
  });

  it('never under one request, never over the cap', () => {
    const l = limit();
    for (let i = 0; i < 50; i++) l.observe(saturated(0));
    expect(l.current).toBe(1);
    for (let i = 0; i < 200; i++) l.observe(saturated(10_000));
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
      finished += 20; // 20 per 97 busy ms: 206 a busy second, 103 in 500 ms
      vi.advanceTimersByTime(WINDOW_MS);
    }
    expect(l.current).toBe(103);
    // Calm windows (busy 30 ms of 100), RELEASE of them: the cap again.
    for (let i = 0; i < RELEASE; i++) {
      loop.active += 30;
      loop.idle += 70;
      vi.advanceTimersByTime(WINDOW_MS);
    }
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
