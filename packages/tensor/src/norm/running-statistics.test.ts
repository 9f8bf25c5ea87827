import { describe, expect, it } from 'vitest';
import { randn, scalar, tensor } from '../creation';
import { ValueError } from '../errors';
import type { Tensor } from '../tensor';
import { expectClose } from '../test-utils';
import { normalize } from './normalize';
import { RunningStatisticsNorm, countBatch, updateInstanceRunningStatistics, updateRunningStatistics } from './running-statistics';
import type { NormStatistics } from './statistics';

// One-line references in float64: mean, unbiased variance, and the momentum blend.
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const unbiasedVar = (v: number[]) => v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1);
const blendRef = (running: number, value: number, f: number) => (1 - f) * running + f * value;

/** Channel c of an [N, C, S] array as a plain list. */
function channelValues(x: Tensor, c: number): number[] {
  const [n, channels, s] = x.shape as [number, number, number];
  const out: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < s; j++) out.push(x.data[(i * channels + c) * s + j]!);
  return out;
}

/** A minimal BatchNorm over [N, C, S] on the base: what a family module does with it. */
class TestNorm extends RunningStatisticsNorm {
  constructor(readonly numFeatures: number, readonly momentum: number | null, dtype: 'float32' | 'float64' = 'float64') {
    super();
    this.registerRunningStatistics(numFeatures, dtype);
  }

  forward(x: Tensor): Tensor {
    const [n, c, s] = x.shape as [number, number, number];
    const options = { op: 'testNorm', layout: { outer: n, groups: c, inner: s }, acrossOuter: true, center: true, eps: 1e-5, affineBlock: s };
    if (!this.training) return normalize(x, { ...options, statistics: this.runningStatistics() }).output;
    const { output, statistics } = normalize(x, options);
    this.trackBatchStatistics(statistics, this.momentum);
    return output;
  }
}

describe('RunningStatisticsNorm', () => {
  it("registers PyTorch's buffers (zeros, ones, a float64 counter) as state, not parameters", () => {
    const norm = new TestNorm(3, 0.1, 'float32');
    expect(Object.keys(norm.stateDict())).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    expect(norm.parameters()).toEqual([]);
    expect(Array.from(norm.runningMean!.data)).toEqual([0, 0, 0]);
    expect(Array.from(norm.runningVar!.data)).toEqual([1, 1, 1]);
    expect(norm.runningMean!.dtype).toBe('float32');
    expect(norm.numBatchesTracked!.dtype).toBe('float64');
    expect(norm.numBatchesTracked!.shape).toEqual([]);
  });

  it('moves the running averages by momentum towards the batch mean and unbiased variance, one count per batch', () => {
    const norm = new TestNorm(2, 0.1);
    const expectedMean = [0, 0];
    const expectedVar = [1, 1];
    for (let step = 1; step <= 3; step++) {
      const x = randn([4, 2, 3], { dtype: 'float64' });
      norm.forward(x);
      for (let c = 0; c < 2; c++) {
        expectedMean[c] = blendRef(expectedMean[c]!, mean(channelValues(x, c)), 0.1);
        expectedVar[c] = blendRef(expectedVar[c]!, unbiasedVar(channelValues(x, c)), 0.1);
      }
      expectClose(norm.runningMean!, expectedMean, 1e-14, 1e-13);
      expectClose(norm.runningVar!, expectedVar, 1e-14, 1e-13);
      expect(norm.numBatchesTracked!.item()).toBe(step);
    }
  });

  it('momentum null: the cumulative average of every batch statistic seen', () => {
    const norm = new TestNorm(1, null);
    const means: number[] = [];
    const variances: number[] = [];
    for (let step = 0; step < 4; step++) {
      const x = randn([3, 1, 5], { dtype: 'float64' });
      norm.forward(x);
      means.push(mean(channelValues(x, 0)));
      variances.push(unbiasedVar(channelValues(x, 0)));
    }
    expectClose(norm.runningMean!, [mean(means)], 1e-14, 1e-13);
    expectClose(norm.runningVar!, [mean(variances)], 1e-14, 1e-13);
    expect(norm.numBatchesTracked!.item()).toBe(4);
  });

  it('counts exactly past 2^24, where a float32 counter stops (and the cumulative factor with it)', () => {
    const norm = new TestNorm(1, null);
    norm.numBatchesTracked!.data[0] = 2 ** 24;
    norm.forward(tensor([[[1, 3]]], { dtype: 'float64' }));
    expect(norm.numBatchesTracked!.item()).toBe(2 ** 24 + 1);
    expect(Math.fround(2 ** 24 + 1)).toBe(2 ** 24); // what a float32 buffer would have held
    // The factor used was 1 / (2^24 + 1): running_mean = (1 - f) * 0 + f * 2.
    expect(norm.runningMean!.item()).toBe((1 / (2 ** 24 + 1)) * 2);
  });

  it('eval normalises with the running statistics and leaves them unchanged', () => {
    const norm = new TestNorm(2, 0.1);
    norm.runningMean!.data.set([1, -2]);
    norm.runningVar!.data.set([4, 0.25]);
    norm.eval();
    const x = randn([2, 2, 3], { dtype: 'float64' });
    const y = norm.forward(x);
    const expected = Array.from(x.data, (v, i) => {
      const c = Math.floor(i / 3) % 2;
      return (v - [1, -2][c]!) / Math.sqrt([4, 0.25][c]! + 1e-5);
    });
    expectClose(y, expected, 1e-14, 1e-13);
    expect(Array.from(norm.runningMean!.data)).toEqual([1, -2]);
    expect(norm.numBatchesTracked!.item()).toBe(0);
  });

  it('resetRunningStats restores zeros, ones and a zero count', () => {
    const norm = new TestNorm(2, 0.1);
    norm.forward(randn([3, 2, 4], { dtype: 'float64' }));
    norm.resetRunningStats();
    expect(Array.from(norm.runningMean!.data)).toEqual([0, 0]);
    expect(Array.from(norm.runningVar!.data)).toEqual([1, 1]);
    expect(norm.numBatchesTracked!.item()).toBe(0);
  });

  it('loads a float32 counter (an older checkpoint) into the float64 buffer', () => {
    const norm = new TestNorm(1, 0.1);
    norm.loadStateDict({ running_mean: tensor([2], { dtype: 'float64' }), running_var: tensor([3], { dtype: 'float64' }), num_batches_tracked: scalar(7, 'float32') });
    expect(norm.numBatchesTracked!.dtype).toBe('float64');
    expect(norm.numBatchesTracked!.item()).toBe(7);
  });
});

describe('updateRunningStatistics', () => {
  const statistics = (mean: number[], variance: number[], count: number[]): NormStatistics => ({
    mean: Float64Array.from(mean), variance: Float64Array.from(variance), count: Float64Array.from(count),
  });

  it('applies one count and one blend per chunk, in order (GhostBatchNorm)', () => {
    const buffers = { runningMean: new Float64Array([0]), runningVar: new Float64Array([1]), numBatchesTracked: new Float64Array([0]) };
    updateRunningStatistics(buffers, statistics([2, 4], [1, 3], [3, 5]), 0.5);
    expect(buffers.numBatchesTracked[0]).toBe(2);
    expect(buffers.runningMean[0]).toBe(blendRef(blendRef(0, 2, 0.5), 4, 0.5));
    expect(buffers.runningVar[0]).toBe(blendRef(blendRef(1, 1.5, 0.5), 3.75, 0.5));
  });

  it('without a running mean or counter (EvoNorm-B0) blends the variance only', () => {
    const buffers = { runningMean: null, runningVar: new Float64Array([1, 1]), numBatchesTracked: null };
    updateRunningStatistics(buffers, statistics([5, 6], [2, 4], [2, 2]), 0.1);
    expect(Array.from(buffers.runningVar)).toEqual([blendRef(1, 4, 0.1), blendRef(1, 8, 0.1)]);
  });

  it('refuses the cumulative average without a counter, changing nothing', () => {
    const buffers = { runningMean: null, runningVar: new Float64Array([1]), numBatchesTracked: null };
    expect(() => updateRunningStatistics(buffers, statistics([5], [2], [2]), null)).toThrow(ValueError);
    expect(() => updateRunningStatistics(buffers, statistics([5], [2], [2]), null)).toThrow(
      'updateRunningStatistics: expected a numBatchesTracked counter for the cumulative average (momentum null), got none',
    );
    expect(buffers.runningVar[0]).toBe(1);
  });
});

describe('countBatch', () => {
  it('counts one batch and returns momentum, or 1 / count for the cumulative average', () => {
    const counter = new Float64Array([3]);
    expect(countBatch(counter, 0.25)).toBe(0.25);
    expect(counter[0]).toBe(4);
    expect(countBatch(counter, null)).toBe(1 / 5);
    expect(counter[0]).toBe(5);
    expect(countBatch(null, 0.1)).toBe(0.1);
    expect(() => countBatch(null, null)).toThrow(ValueError);
  });
});

describe('updateInstanceRunningStatistics', () => {
  it('averages the per-instance mean and unbiased variance over samples, and counts nothing', () => {
    // Two samples, two channels, spatial size 3.
    const x = randn([2, 2, 3], { dtype: 'float64' });
    const { statistics } = normalize(x, { op: 'in', layout: { outer: 2, groups: 2, inner: 3 }, acrossOuter: false, center: true, eps: 1e-5, affineBlock: 3 });
    const buffers = { runningMean: new Float64Array([0.5, -1]), runningVar: new Float64Array([1, 2]), numBatchesTracked: new Float64Array([0]) };
    updateInstanceRunningStatistics(buffers, statistics, 0.2);
    const slot = (n: number, c: number) => Array.from(x.data.slice((n * 2 + c) * 3, (n * 2 + c) * 3 + 3));
    for (let c = 0; c < 2; c++) {
      expect(buffers.runningMean[c]).toBeCloseTo(blendRef([0.5, -1][c]!, mean([mean(slot(0, c)), mean(slot(1, c))]), 0.2), 14);
      expect(buffers.runningVar[c]).toBeCloseTo(blendRef([1, 2][c]!, mean([unbiasedVar(slot(0, c)), unbiasedVar(slot(1, c))]), 0.2), 14);
    }
    expect(buffers.numBatchesTracked[0]).toBe(0);
  });

  it('an empty batch changes nothing', () => {
    const buffers = { runningMean: new Float64Array([3]), runningVar: new Float64Array([2]), numBatchesTracked: null };
    updateInstanceRunningStatistics(buffers, { mean: new Float64Array(0), variance: new Float64Array(0), count: new Float64Array(0) }, 0.1);
    expect(Array.from(buffers.runningMean)).toEqual([3]);
    expect(Array.from(buffers.runningVar)).toEqual([2]);
  });
});
