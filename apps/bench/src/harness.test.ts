import { describe, expect, it } from 'vitest';
import * as families from './cases/index';
import {
  compileFloorRun, copyFloor, fastestOutcome, floorInstances, formatRatio, measure, measureFloor, measureOutcome, overheadTable, quantile, ratio, resultsTable, scalarFloor, summarize, threadScalingTable,
  type CaseResult, type Outcome,
} from './harness';

const ok = (median: number): Outcome => ({ status: 'ok', timing: { median, q1: median, q3: median, iqr: 0, runs: 5 } });

describe('quantile and summarize', () => {
  it('interpolates between ranks like numpy.quantile', () => {
    // numpy.quantile([1, 2, 3, 4], [0.25, 0.5, 0.75]) == [1.75, 2.5, 3.25]
    expect(quantile([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75, 12);
    expect(quantile([1, 2, 3, 4], 0.5)).toBeCloseTo(2.5, 12);
    expect(quantile([1, 2, 3, 4], 0.75)).toBeCloseTo(3.25, 12);
    expect(quantile([7], 0.25)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('sorts before taking the median and interquartile range', () => {
    const timing = summarize([9, 1, 5, 3, 7]);
    expect(timing).toEqual({ median: 5, q1: 3, q3: 7, iqr: 4, runs: 5 });
  });
});

describe('measure', () => {
  it('runs at least minRuns timed iterations after warmup and at most maxRuns', () => {
    let calls = 0;
    const run = () => ++calls;
    const fast = measure(run, { warmupRuns: 3, warmupMs: 0, minRuns: 4, maxRuns: 6, targetMs: 10_000 });
    expect(fast.runs).toBe(6);
    expect(calls).toBe(3 + 6);
    calls = 0;
    const short = measure(run, { warmupRuns: 0, warmupMs: 0, minRuns: 4, maxRuns: 100, targetMs: 0 });
    expect(short.runs).toBe(4);
    expect(calls).toBe(4);
  });

  it('counts a first warm-up iteration longer than targetMs as a sample instead of repeating it', () => {
    let calls = 0;
    const slow = () => {
      calls++;
      const start = performance.now();
      while (performance.now() - start < 3);
    };
    const timing = measure(slow, { warmupRuns: 1, warmupMs: 0, minRuns: 2, maxRuns: 2, targetMs: 1 });
    expect(timing.runs).toBe(2);
    expect(calls).toBe(2);
    expect(timing.median).toBeGreaterThanOrEqual(3);
  });

  it('reports a throw in setup or in a run as a failed outcome', () => {
    const timing = { warmupRuns: 1, warmupMs: 0, minRuns: 1, maxRuns: 1, targetMs: 0 };
    expect(measureOutcome(() => { throw new Error('no such kernel\nstack'); }, timing)).toEqual({ status: 'failed', reason: 'no such kernel' });
    expect(measureOutcome(() => () => { throw new Error('boom'); }, timing)).toEqual({ status: 'failed', reason: 'boom' });
  });
});

describe('scalarFloor', () => {
  const expected = (i: number) => Math.fround(Math.fround(Math.sin(i)) * Math.fround(1.0001) + Math.fround(0.5));

  it('computes y = x * a + b over every element, in both allocation policies', () => {
    for (const allocation of ['fresh', 'preallocated'] as const) {
      const y = scalarFloor(5, allocation)() as Float32Array;
      expect(y, allocation).toBeInstanceOf(Float32Array);
      expect(y, allocation).toHaveLength(5);
      for (let i = 0; i < 5; i++) expect(y[i], `${allocation} ${i}`).toBeCloseTo(expected(i), 5);
    }
  });

  it('allocates a new output every run by default (like a normkit op) and reuses one when preallocated', () => {
    const fresh = scalarFloor(4);
    const first = fresh() as Float32Array;
    const second = fresh() as Float32Array;
    expect(second).not.toBe(first);
    expect(Array.from(second)).toEqual(Array.from(first));
    const preallocated = scalarFloor(4, 'preallocated');
    expect(preallocated()).toBe(preallocated());
  });

  it('compiles a new closure literal per floor, with distinct source so V8 cannot share one from its eval cache', () => {
    const x = new Float32Array([1, 2, 3]);
    const coefficients = new Float32Array([2, 1]);
    const output = new Float32Array(3);
    const preallocated = compileFloorRun('preallocated', x, 3, coefficients, output);
    const fresh = compileFloorRun('fresh', x, 2, coefficients);
    expect(preallocated()).toBe(output);
    expect(Array.from(output)).toEqual([3, 5, 7]);
    // Only the first n elements are read, into an output of n.
    expect(Array.from(fresh() as Float32Array)).toEqual([3, 5]);
    const sources = [preallocated, fresh, scalarFloor(4), scalarFloor(4)].map((run) => run.toString());
    expect(new Set(sources).size).toBe(4);
    for (const source of sources) expect(source).toMatch(/scalar floor #\d+/);
  });

  it('leaves the preallocated variant out of the table: the floor column is the allocating floor', () => {
    const skipped: Outcome = { status: 'skipped', reason: 'x' };
    const table = resultsTable([{
      family: 'core', name: 'demo', elements: 1, normkit: ok(30),
      comparators: { floor: ok(10), 'tfjs-cpu': skipped, 'tfjs-wasm': skipped, torch: skipped },
      floorPreallocated: ok(2),
    }]);
    expect(table).toContain('3.00x');
    expect(table).not.toContain('15.0x');
  });
});

describe('copyFloor', () => {
  it('copies its input into a fresh array on every run', () => {
    const run = copyFloor(37);
    const first = run() as Float32Array;
    const second = run() as Float32Array;
    expect(first).not.toBe(second);
    expect(first).toHaveLength(37);
    expect([...first]).toEqual([...second]);
    expect(first[36]).toBe(Math.fround(Math.sin(36)));
  });
});

describe('fastestOutcome and measureFloor', () => {
  const failed: Outcome = { status: 'failed', reason: 'boom' };

  it('keeps the ok outcome with the lowest median, or the first outcome when none is ok', () => {
    expect(fastestOutcome([ok(3), failed, ok(1), ok(2)])).toEqual(ok(1));
    expect(fastestOutcome([failed, ok(5)])).toEqual(ok(5));
    expect(fastestOutcome([failed, { status: 'skipped', reason: 'x' }])).toBe(failed);
    expect(() => fastestOutcome([])).toThrow(RangeError);
  });

  it('times floorInstances floors, each within its share of the bounds', () => {
    const timing = measureFloor(8, 'fresh', { warmupRuns: 1, warmupMs: 0, minRuns: 3, maxRuns: 3, targetMs: 0 });
    expect(timing.status).toBe('ok');
    if (timing.status === 'ok') expect(timing.timing.runs).toBe(3);
    expect(floorInstances).toBeGreaterThan(1);
  });
});

describe('resultsTable', () => {
  const result: CaseResult = {
    family: 'core',
    name: 'demo',
    elements: 10,
    normkit: ok(20),
    comparators: {
      floor: ok(1),
      'tfjs-cpu': ok(40),
      'tfjs-wasm': { status: 'failed', reason: "Kernel 'X' not registered" },
      torch: { status: 'skipped', reason: 'torch not installed' },
    },
  };

  it('divides normkit by each comparator (> 1: normkit slower)', () => {
    expect(ratio(ok(20), ok(40))).toBe(0.5);
    expect(ratio(ok(20), { status: 'skipped', reason: 'x' })).toBeNull();
    const table = resultsTable([result]);
    expect(table).toContain('| core/demo |');
    expect(table).toContain('20.0x');
    expect(table).toContain('0.50x');
    expect(table).toContain('> 1 means normkit is slower');
    expect([formatRatio(123.45), formatRatio(2.3456), formatRatio(0.123), formatRatio(0.0034567)]).toEqual(['123.5x', '2.35x', '0.12x', '0.0035x']);
  });

  it('shows the js backend median and the wasm speedup when the case ran on both backends', () => {
    const table = resultsTable([{ ...result, normkitJs: ok(50) }]);
    expect(table).toContain('normkit js');
    expect(table).toContain('50.0 ms');
    expect(table).toContain('2.50x');
    expect(resultsTable([result])).toMatch(/\| core\/demo \| +20\.0 ms \| +n\/a \| +n\/a \|/);
  });

  it('marks missing comparators n/a with a numbered reason, one number per distinct reason', () => {
    const table = resultsTable([result, { ...result, name: 'other' }]);
    expect(table.match(/n\/a \[1\]/g)).toHaveLength(2);
    expect(table.match(/n\/a \[2\]/g)).toHaveLength(2);
    expect(table).toContain("[1] tfjs-wasm: failed (Kernel 'X' not registered)");
    expect(table).toContain('[2] torch: skipped (torch not installed)');
    expect(table).not.toContain('[3]');
  });
});

describe('threadScalingTable', () => {
  const base: CaseResult = {
    family: 'core', name: 'demo', elements: 10, normkit: ok(20), comparators: { floor: ok(1), 'tfjs-cpu': ok(1), 'tfjs-wasm': ok(1), torch: ok(8) },
  };

  it('is empty when no case scaled threads', () => {
    expect(threadScalingTable([base])).toBe('');
  });

  it('shows each thread count, the speedup over one thread and both torch timings', () => {
    const table = threadScalingTable([{ ...base, threads: { 1: ok(20), 2: ok(12.5), 4: ok(8) }, torchWithoutOpenblasVariables: ok(6) }]);
    expect(table).toMatch(/\| case +\| 1 thread \| 2 threads \| 4 threads \| 2 vs 1 \| 4 vs 1 \| torch 1-thread \| torch, OPENBLAS_\* unset \|/);
    expect(table).toMatch(/\| core\/demo \| +20\.0 ms \| +12\.5 ms \| +8\.00 ms \| +1\.60x \| +2\.50x \| +8\.00 ms \| +6\.00 ms \|/);
  });
});

describe('case families', () => {
  it('have unique labels, positive element counts and torch specs whose inputs have shapes', () => {
    const labels = new Set<string>();
    for (const [family, list] of Object.entries(families)) {
      expect(list.length).toBeGreaterThan(0);
      for (const benchCase of list) {
        const label = `${family}/${benchCase.name}`;
        expect(labels.has(label), label).toBe(false);
        labels.add(label);
        expect(Number.isInteger(benchCase.elements) && benchCase.elements > 0, label).toBe(true);
        for (const input of Object.values(benchCase.torch?.inputs ?? {})) expect(input.shape.length, label).toBeGreaterThan(0);
      }
    }
  });
});

describe('overheadTable', () => {
  const skipped: Outcome = { status: 'skipped', reason: 'x' };
  const caseResult = (name: string, normkit: Outcome, torch: Outcome, baseline?: string): CaseResult => ({
    family: 'weight', name, elements: 1, normkit, comparators: { floor: skipped, 'tfjs-cpu': skipped, 'tfjs-wasm': skipped, torch },
    ...(baseline === undefined ? {} : { baseline }),
  });

  it('divides each case by its baseline within normkit and within torch, and is empty without baselines', () => {
    const plain = caseResult('plain', ok(100), ok(10));
    const table = overheadTable([plain, caseResult('wn', ok(112), ok(15), 'plain'), caseResult('sn', ok(130), skipped, 'plain')]);
    expect(table).toContain('| weight/wn | weight/plain |         112 ms |          100 ms |');
    expect(table).toMatch(/\| weight\/wn .* 1\.12x \| +1\.50x \|/);
    expect(table).toMatch(/\| weight\/sn .* 1\.30x \| +n\/a \|/);
    expect(overheadTable([plain])).toBe('');
  });

  it('baselines of every family name a case of the same family', () => {
    for (const [family, list] of Object.entries(families)) {
      const names = new Set(list.map((benchCase) => benchCase.name));
      for (const benchCase of list) if (benchCase.baseline !== undefined) expect(names.has(benchCase.baseline), `${family}/${benchCase.name}`).toBe(true);
    }
  });
});
