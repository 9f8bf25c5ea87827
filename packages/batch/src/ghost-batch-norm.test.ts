import { describe, expect, it } from 'vitest';
import { Generator, OptionError, ValueError, concat, gradcheck, graphOps, randn, slice, sum, tensor, type Tensor } from '@normkit/tensor';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { BatchNorm } from './batch-norm';
import { referenceBatchNorm } from './__fixtures__/reference';
import { GhostBatchNorm } from './ghost-batch-norm';

const f64 = { dtype: 'float64' as const };

describe('GhostBatchNorm', () => {
  const generator = new Generator(5);

  function pair(c: number, virtualBatchSize: number, momentum: number | null = 0.1): { ghost: GhostBatchNorm; plain: BatchNorm } {
    const ghost = new GhostBatchNorm({ numFeatures: c, virtualBatchSize, momentum, dtype: 'float64' });
    ghost.weight!.data.set(randn([c], { ...f64, generator }).data);
    ghost.bias!.data.set(randn([c], { ...f64, generator }).data);
    const plain = new BatchNorm({ numFeatures: c, momentum, dtype: 'float64' });
    plain.loadStateDict(ghost.stateDict());
    return { ghost, plain };
  }

  it.each([
    ['chunks of 4, 4 and 2 (last one smaller)', 10, 4, 0.1],
    ['equal chunks, momentum null', 9, 3, null],
    ['one chunk when virtualBatchSize >= N', 5, 8, 0.1],
  ] as const)('equals BatchNorm applied chunk by chunk: %s', (_, n, vbs, momentum) => {
    const c = 3;
    const { ghost, plain } = pair(c, vbs, momentum);
    for (let step = 0; step < 2; step++) {
      const x = randn([n, c, 2], { ...f64, generator, mean: step, std: 2 }).requireGrad();
      const upstream = randn([n, c, 2], { ...f64, generator });
      ghost.zeroGrad();
      plain.zeroGrad();
      const y = ghost.forward(x);
      y.backward(upstream);
      const ghostGrads = [x.grad!.clone(), ghost.weight!.grad!.clone(), ghost.bias!.grad!.clone()];

      x.grad = null;
      const pieces: Tensor[] = [];
      for (let start = 0; start < n; start += vbs) {
        const end = Math.min(n, start + vbs);
        const yChunk = plain.forward(slice(x, 0, start, end));
        yChunk.backward(slice(upstream, 0, start, end));
        pieces.push(yChunk);
      }
      expectClose(y, concat(pieces, 0), 1e-12, 1e-12);
      expectClose(ghostGrads[0]!, x.grad!, 1e-10, 1e-9);
      // gamma and beta gradients: the chunks' contributions summed.
      expectClose(ghostGrads[1]!, plain.weight!.grad!, 1e-10, 1e-9);
      expectClose(ghostGrads[2]!, plain.bias!.grad!, 1e-10, 1e-9);
      // Running averages updated once per chunk, in order.
      expectClose(ghost.runningMean!, plain.runningMean!, 1e-12, 1e-12);
      expectClose(ghost.runningVar!, plain.runningVar!, 1e-12, 1e-12);
      expect(ghost.numBatchesTracked!.item()).toBe(plain.numBatchesTracked!.item());
    }
    expect(ghost.numBatchesTracked!.item()).toBe(2 * Math.ceil(n / vbs));
  });

  it('is one node for the whole batch, passes gradcheck, and uses running statistics in eval', () => {
    const { ghost, plain } = pair(2, 2);
    const x = randn([5, 2, 3], { ...f64, generator }).requireGrad();
    const y = ghost.forward(x);
    expect(graphOps(y)).toEqual(['ghostBatchNorm']);
    expectGradcheck(gradcheck((xx) => ghost.forward(xx), [x, ghost.weight!, ghost.bias!]));
    ghost.eval();
    plain.loadStateDict(ghost.stateDict());
    plain.eval();
    expectClose(ghost.forward(x), plain.forward(x), 0, 0);
  });

  it('without running statistics, eval keeps per-chunk batch statistics', () => {
    const ghost = new GhostBatchNorm({ numFeatures: 2, virtualBatchSize: 2, trackRunningStats: false, affine: false, dtype: 'float64' });
    ghost.eval();
    const x = randn([4, 2, 3], { ...f64, generator });
    const expected = concat([referenceBatchNorm(slice(x, 0, 0, 2), null, null, 1e-5), referenceBatchNorm(slice(x, 0, 2, 4), null, null, 1e-5)], 0);
    expectClose(ghost.forward(x), expected, 1e-12, 1e-12);
  });

  it('masks apply per ghost batch', () => {
    const { ghost, plain } = pair(2, 2);
    const mask = tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 1, 1]]);
    const x = randn([4, 2, 3], { ...f64, generator });
    const y = ghost.forward(x, { mask });
    const expected = concat([plain.forward(slice(x, 0, 0, 2), { mask: slice(mask, 0, 0, 2) }), plain.forward(slice(x, 0, 2, 4), { mask: slice(mask, 0, 2, 4) })], 0);
    expectClose(y, expected, 1e-12, 1e-12);
    expectClose(ghost.runningVar!, plain.runningVar!, 1e-12, 1e-12);
  });

  it('a ghost batch with a single value per channel throws before any state changes; one sample with positions is fine', () => {
    const ghost = new GhostBatchNorm({ numFeatures: 3, virtualBatchSize: 2 });
    expect(() => ghost.forward(randn([5, 3]))).toThrow(ValueError);
    expect(() => ghost.forward(randn([5, 3]))).toThrow(/ghost batch 2: samples 4\.\.4\): 1 value\(s\) per channel/);
    expect(ghost.numBatchesTracked!.item()).toBe(0);
    expect(Array.from(ghost.runningVar!.data)).toEqual([1, 1, 1]);
    const ones = new GhostBatchNorm({ numFeatures: 3, virtualBatchSize: 1 });
    expect(ones.forward(randn([3, 3, 4])).shape).toEqual([3, 3, 4]);
    expect(ones.numBatchesTracked!.item()).toBe(3);
  });

  it('refuses a non-positive or fractional virtualBatchSize', () => {
    expect(() => new GhostBatchNorm({ numFeatures: 3, virtualBatchSize: 0 })).toThrow(OptionError);
    expect(() => new GhostBatchNorm({ numFeatures: 3, virtualBatchSize: -4 })).toThrow(/GhostBatchNorm: expected virtualBatchSize to be an integer >= 1, got virtualBatchSize = -4/);
    expect(() => new GhostBatchNorm({ numFeatures: 3, virtualBatchSize: 2.5 })).toThrow(OptionError);
    expect(() => new GhostBatchNorm({ numFeatures: 3, virtualBatchSize: 4, momentum: 2 })).toThrow(/GhostBatchNorm: expected momentum/);
  });

  it('keeps the state-dict names of BatchNorm', () => {
    const ghost = new GhostBatchNorm({ numFeatures: 3, virtualBatchSize: 4 });
    expect(Object.keys(ghost.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
  });
});

describe('GhostBatchNorm: empty batches', () => {
  it('an empty batch has no ghost batch: empty output, zero parameter gradients, running statistics and count unchanged', () => {
    const ghost = new GhostBatchNorm({ numFeatures: 2, virtualBatchSize: 2, dtype: 'float64' });
    const x = randn([0, 2, 3], { dtype: 'float64', requiresGrad: true });
    const y = ghost.forward(x);
    expect(y.shape).toEqual([0, 2, 3]);
    sum(y).backward();
    expect(Array.from(ghost.weight!.grad!.data)).toEqual([0, 0]);
    expect(Array.from(ghost.bias!.grad!.data)).toEqual([0, 0]);
    expect(Array.from(ghost.runningMean!.data)).toEqual([0, 0]);
    expect(Array.from(ghost.runningVar!.data)).toEqual([1, 1]);
    expect(ghost.numBatchesTracked!.data[0]).toBe(0);
  });
});
