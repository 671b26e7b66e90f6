import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runsBlock, writeRunsHeader } from '../../bench/benchmarks-md.ts';
import type { Machine } from '../../bench/measures.ts';

/** BENCHMARKS.md's lines under the title: when and where each bench mode last ran. */
const machine = (date: string): Machine => ({ nproc: 2, cpuModel: 'Test CPU', node: 'v20.20.2', date, clkTck: 100, taskset: true });

describe('bench runs header', () => {
  it('names both modes, with each one\'s own date and machine, or says one has not run', () => {
    const both = runsBlock({ machine: machine('2026-12-07T20:00:00.000Z'), elapsedS: 512, replay: { date: '2026-12-07T21:00:00.000Z', machine: machine('x') } });
    expect(both).toContain('End-to-end (demo backends): run on 2026-12-07T20:00:00.000Z, 2 CPUs (Test CPU), Node v20.20.2, taskset yes, 512 s.');
    expect(both).toContain('Cheap backends (replayed): run on 2026-12-07T21:00:00.000Z, 2 CPUs (Test CPU)');
    expect(runsBlock({ replay: { date: 'd', machine: machine('d') } })).toContain('End-to-end (demo backends): not run yet.');
    expect(runsBlock(undefined)).toContain('Cheap backends (replayed): not run yet.');
  });

  it('goes under the title once, and is replaced in place by the next run\'s', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bench-md-')), 'BENCHMARKS.md');
    writeFileSync(file, '# Benchmarks\n\nIntro.\n\n## Machine\n');
    writeRunsHeader(file, { machine: machine('2026-12-07T20:00:00.000Z') });
    writeRunsHeader(file, { machine: machine('2026-12-07T20:00:00.000Z'), replay: { date: '2026-12-07T22:00:00.000Z', machine: machine('y') } });
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('# Benchmarks\n\n<!-- runs:')).toBe(true);
    expect(text.match(/<!-- runs: written/g)).toHaveLength(1);
    expect(text).toContain('run on 2026-12-07T22:00:00.000Z');
    expect(text).toContain('<!-- runs: end -->\n\nIntro.\n\n## Machine\n');
  });
});
