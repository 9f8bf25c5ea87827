import { describe, expect, it } from 'vitest';
import {
  DTypeError, Generator, OptionError, ShapeError, StateDictError, ValueError, add, div, gradcheck, graphOps, indexSelect, mul, permute,
  randn, reshape, sqrt, sub, sum, tensor, type Tensor,
} from '@normkit/tensor';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import torch from './__fixtures__/torch-batch.json';
import { BatchNorm } from './batch-norm';
import { batchMoments, referenceBatchNorm } from './__fixtures__/reference';

const f64 = { dtype: 'float64' as const };

function f64BatchNorm(numFeatures: number, generator: Generator, options: Partial<ConstructorParameters<typeof BatchNorm>[0]> = {}): BatchNorm {
  const bn = new BatchNorm({ numFeatures, dtype: 'float64', ...options });
  // Random affine so gamma and beta are really exercised.
  bn.weight?.data.set(randn([numFeatures], { ...f64, generator }).data);
  bn.bias?.data.set(randn([numFeatures], { ...f64, generator }).data);
  return bn;
}

function snapshotBuffers(bn: BatchNorm): number[][] {
  return [...bn.namedBuffers()].map(([, t]) => Array.from(t.data));
}

describe('BatchNorm: training forward and backward', () => {
  const generator = new Generator(1);

  it.each([
    ['[N, C]', [6, 3]],
    ['[N, C, L]', [4, 3, 5]],
    ['[N, C, H, W]', [3, 2, 4, 3]],
    ['[N, C, D, H, W]', [2, 2, 3, 2, 2]],
    ['[1, C, H, W] (N = 1, several positions)', [1, 3, 2, 2]],
  ])('%s: output and every gradient equal the composed float64 reference', (_, shape) => {
    const c = shape[1]!;
    const bn = f64BatchNorm(c, generator);
    const x = randn(shape, { ...f64, generator, mean: 1.5, std: 2 }).requireGrad();
    const upstream = randn(shape, { ...f64, generator });
    const y = bn.forward(x);
    expectClose(y, referenceBatchNorm(x, bn.weight, bn.bias, bn.eps), 1e-12, 1e-12);
    y.backward(upstream);
    const fused = [x.grad!, bn.weight!.grad!, bn.bias!.grad!].map((g) => g.clone());

    const xr = x.detach().clone().requireGrad();
    const w = bn.weight!.detach().clone().requireGrad();
    const b = bn.bias!.detach().clone().requireGrad();
    referenceBatchNorm(xr, w, b, bn.eps).backward(upstream);
    [xr.grad!, w.grad!, b.grad!].forEach((g, i) => expectClose(fused[i]!, g, 1e-10, 1e-9));
  });

  it('passes gradcheck in training (x, gamma, beta) and without affine', () => {
    const x = randn([3, 2, 4], { ...f64, generator }).requireGrad();
    const bn = f64BatchNorm(2, generator);
    // gradcheck perturbs the module's own gamma and beta in place.
    expectGradcheck(gradcheck((xx) => bn.forward(xx), [x, bn.weight!, bn.bias!]));
    const plain = new BatchNorm({ numFeatures: 2, affine: false, trackRunningStats: false, dtype: 'float64' });
    expectGradcheck(gradcheck((xx) => plain.forward(xx), [x]));
    expect([...plain.namedParameters()]).toEqual([]);
  });

  it('is a single node in the autograd graph, in training and in eval', () => {
    const bn = new BatchNorm({ numFeatures: 3 });
    const x = randn([4, 3, 5], { generator }).requireGrad();
    expect(graphOps(bn.forward(x))).toEqual(['batchNorm']);
    bn.eval();
    expect(graphOps(bn.forward(x))).toEqual(['batchNorm']);
  });

  it('float32 modules agree with the float64 reference to float32 precision', () => {
    const bn = new BatchNorm({ numFeatures: 4 });
    const x = randn([8, 4, 6], { generator, mean: 3, std: 0.5 });
    const y = bn.forward(x);
    expectClose(y, referenceBatchNorm(x.to('float64'), null, null, 1e-5), 1e-5, 1e-5);
    expect(y.dtype).toBe('float32');
  });
});

describe('BatchNorm: running statistics', () => {
  const generator = new Generator(2);

  it('move by momentum towards the batch mean and the unbiased batch variance, over several steps', () => {
    const bn = new BatchNorm({ numFeatures: 3, momentum: 0.3, dtype: 'float64' });
    const expectedMean = [0, 0, 0];
    const expectedVar = [1, 1, 1];
    for (let step = 0; step < 4; step++) {
      const x = randn([2 + step, 3, 4], { ...f64, generator, mean: step, std: 1 + step });
      bn.forward(x);
      const moments = batchMoments(x);
      for (let ch = 0; ch < 3; ch++) {
        expectedMean[ch] = 0.7 * expectedMean[ch]! + 0.3 * moments.mean.data[ch]!;
        expectedVar[ch] = 0.7 * expectedVar[ch]! + 0.3 * moments.unbiased.data[ch]!;
      }
      expectClose(bn.runningMean!, expectedMean, 1e-12, 1e-12);
      expectClose(bn.runningVar!, expectedVar, 1e-12, 1e-12);
      expect(bn.numBatchesTracked!.item()).toBe(step + 1);
    }
  });

  it('momentum null keeps the cumulative average of the batch statistics', () => {
    const bn = new BatchNorm({ numFeatures: 2, momentum: null, dtype: 'float64' });
    const means: Tensor[] = [];
    const vars: Tensor[] = [];
    for (let step = 0; step < 3; step++) {
      const x = randn([5, 2, 3], { ...f64, generator, mean: 2 * step, std: 1 + step });
      bn.forward(x);
      const moments = batchMoments(x);
      means.push(moments.mean);
      vars.push(moments.unbiased);
    }
    const average = (ts: Tensor[]): number[] => [0, 1].map((ch) => ts.reduce((s, t) => s + t.data[ch]!, 0) / ts.length);
    expectClose(bn.runningMean!, average(means), 1e-12, 1e-12);
    expectClose(bn.runningVar!, average(vars), 1e-12, 1e-12);
    expect(bn.numBatchesTracked!.item()).toBe(3);
  });

  it('momentum 0 freezes them and momentum 1 copies the last batch', () => {
    const x = randn([4, 2, 3], { ...f64, generator, mean: 5 });
    const frozen = new BatchNorm({ numFeatures: 2, momentum: 0, dtype: 'float64' });
    frozen.forward(x);
    expect(Array.from(frozen.runningMean!.data)).toEqual([0, 0]);
    const copying = new BatchNorm({ numFeatures: 2, momentum: 1, dtype: 'float64' });
    copying.forward(x);
    expectClose(copying.runningVar!, batchMoments(x).unbiased, 1e-12, 1e-12);
  });

  it('eval normalises with the running statistics (one folded scale and shift per channel) and changes nothing', () => {
    const bn = f64BatchNorm(3, generator, { momentum: 0.5 });
    bn.forward(randn([6, 3, 2], { ...f64, generator, mean: 1, std: 3 }));
    bn.eval();
    const before = snapshotBuffers(bn);
    const x = randn([2, 3, 2], { ...f64, generator }).requireGrad();
    const y = bn.forward(x);
    const perChannel = [1, 3, 1];
    const expected = add(
      mul(div(sub(x, reshape(bn.runningMean!, perChannel)), sqrt(add(reshape(bn.runningVar!, perChannel), bn.eps))), reshape(bn.weight!, perChannel)),
      reshape(bn.bias!, perChannel),
    );
    expectClose(y, expected, 1e-12, 1e-12);
    expect(snapshotBuffers(bn)).toEqual(before);
    expectGradcheck(gradcheck((xx) => bn.forward(xx), [x]));
    // A single sample is fine in eval.
    expect(bn.forward(randn([1, 3], f64)).shape).toEqual([1, 3]);
  });

  it('trackRunningStats: false has no buffers and uses batch statistics in eval too', () => {
    const bn = f64BatchNorm(3, generator, { trackRunningStats: false });
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias']);
    expect(bn.runningMean).toBeNull();
    bn.eval();
    const x = randn([4, 3, 2], { ...f64, generator });
    expectClose(bn.forward(x), referenceBatchNorm(x, bn.weight, bn.bias, bn.eps), 1e-12, 1e-12);
    expect(() => bn.forward(randn([1, 3], f64))).toThrow(ValueError);
  });
});

describe('BatchNorm: PyTorch parity (float64 fixtures from torch 1.13)', () => {
  type Step = { shape: number[]; x: number[]; y: number[]; upstream: number[]; gradX: number[]; gradWeight: number[]; gradBias: number[] };
  type TrainStep = Step & { runningMean: number[]; runningVar: number[]; numBatchesTracked: number };
  const check = (bn: BatchNorm, step: Step): void => {
    const x = tensor(step.x, { ...f64, shape: step.shape, requiresGrad: true });
    bn.zeroGrad();
    const y = bn.forward(x);
    expectClose(y, step.y, 1e-10, 1e-10);
    y.backward(tensor(step.upstream, { ...f64, shape: y.shape }));
    expectClose(x.grad!, step.gradX, 1e-10, 1e-9);
    expectClose(bn.weight!.grad!, step.gradWeight, 1e-10, 1e-9);
    expectClose(bn.bias!.grad!, step.gradBias, 1e-10, 1e-9);
  };

  it.each([['batchNorm2d'], ['batchNorm1dCumulative']] as const)('%s: training steps, running statistics, eval', (name) => {
    const fixture = torch[name];
    const bn = new BatchNorm({ numFeatures: fixture.numFeatures, eps: fixture.eps, momentum: fixture.momentum, dtype: 'float64' });
    bn.weight!.data.set(fixture.weight);
    bn.bias!.data.set(fixture.bias);
    for (const step of fixture.steps as TrainStep[]) {
      check(bn, step);
      expectClose(bn.runningMean!, step.runningMean, 1e-12, 1e-12);
      expectClose(bn.runningVar!, step.runningVar, 1e-12, 1e-12);
      expect(bn.numBatchesTracked!.item()).toBe(step.numBatchesTracked);
    }
    bn.eval();
    check(bn, fixture.eval);
  });

  it('trackRunningStats: false in eval', () => {
    const fixture = torch.noRunningStats;
    const bn = new BatchNorm({ numFeatures: fixture.numFeatures, trackRunningStats: false, dtype: 'float64' });
    bn.weight!.data.set(fixture.weight);
    bn.bias!.data.set(fixture.bias);
    bn.eval();
    check(bn, fixture);
  });

  it("one value per channel in training raises PyTorch's error, as a typed ValueError", () => {
    expect(torch.singleValueError).toMatch(/Expected more than 1 value per channel when training/);
    const bn = new BatchNorm({ numFeatures: 3 });
    expect(() => bn.forward(randn([1, 3]))).toThrow(ValueError);
    expect(() => bn.forward(randn([1, 3]))).toThrow(/expected more than 1 value per channel .* got input of shape \[1, 3\]: 1 value\(s\) per channel/);
    expect(() => bn.forward(randn([1, 3, 1, 1]))).toThrow(ValueError);
    expect(bn.forward(randn([1, 3, 2])).shape).toEqual([1, 3, 2]);
  });
});

describe('BatchNorm: masked statistics for variable-length sequences', () => {
  const generator = new Generator(3);
  const [n, c, l] = [3, 4, 5];
  const maskRows = [
    [1, 1, 1, 0, 0],
    [1, 1, 1, 1, 1],
    [1, 0, 0, 0, 0],
  ];

  /** The real tokens as a [T, C] batch, through differentiable primitives so gradients reach x. */
  function realTokens(x: Tensor): Tensor {
    const rows: number[] = [];
    maskRows.forEach((row, s) => row.forEach((m, t) => m && rows.push(s * l + t)));
    return indexSelect(reshape(permute(x, [0, 2, 1]), [n * l, c]), 0, rows);
  }

  it('equals BatchNorm on the real tokens only: outputs, gradients and running statistics', () => {
    const mask = tensor(maskRows);
    const masked = f64BatchNorm(c, generator, { momentum: 0.2 });
    const plain = new BatchNorm({ numFeatures: c, momentum: 0.2, dtype: 'float64' });
    plain.loadStateDict(masked.stateDict());
    const x = randn([n, c, l], { ...f64, generator, mean: 1, std: 2 }).requireGrad();
    // A nonzero upstream gradient everywhere, padded positions included.
    const upstream = randn([n, c, l], { ...f64, generator });

    const y = masked.forward(x, { mask });
    y.backward(upstream);
    const maskedGrads = [x.grad!.clone(), masked.weight!.grad!.clone(), masked.bias!.grad!.clone()];

    x.grad = null;
    const yReal = plain.forward(realTokens(x));
    expectClose(realTokens(y), yReal, 1e-12, 1e-12);
    yReal.backward(realTokens(upstream));
    expectClose(maskedGrads[0]!, x.grad!, 1e-10, 1e-9); // zero at padded positions on both sides
    expectClose(maskedGrads[1]!, plain.weight!.grad!, 1e-10, 1e-9);
    expectClose(maskedGrads[2]!, plain.bias!.grad!, 1e-10, 1e-9);
    expectClose(masked.runningMean!, plain.runningMean!, 1e-12, 1e-12);
    expectClose(masked.runningVar!, plain.runningVar!, 1e-12, 1e-12);

    maskRows.forEach((row, s) => row.forEach((m, t) => {
      for (let ch = 0; ch < c; ch++) {
        if (m) continue;
        expect(y.data[(s * c + ch) * l + t]).toBe(0);
        expect(maskedGrads[0]!.data[(s * c + ch) * l + t]).toBe(0);
      }
    }));
    expect(graphOps(y)).toEqual(['batchNorm']);
  });

  it('passes gradcheck, and eval with a mask zeroes the padded outputs', () => {
    const mask = tensor(maskRows);
    const bn = f64BatchNorm(c, generator);
    const x = randn([n, c, l], { ...f64, generator }).requireGrad();
    expectGradcheck(gradcheck((xx) => bn.forward(xx, { mask }), [x]));
    bn.eval();
    const y = bn.forward(x, { mask });
    expect(y.data[(0 * c + 1) * l + 4]).toBe(0);
    expect(y.data[(0 * c + 1) * l + 0]).not.toBe(0);
  });

  it('refuses a mask of the wrong shape, values other than 0 and 1, and fewer than two real values; state unchanged', () => {
    const bn = new BatchNorm({ numFeatures: c });
    bn.forward(randn([n, c, l], { generator }));
    const before = snapshotBuffers(bn);
    const x = randn([n, c, l], { generator });
    expect(() => bn.forward(x, { mask: tensor([[1, 1, 1, 1, 1]]) })).toThrow(ShapeError);
    expect(() => bn.forward(x, { mask: tensor([[1, 1, 1, 1, 1]]) })).toThrow(/a mask of shape \[3, 5\] \(the input's shape without the channel axis\), got shape \[1, 5\]/);
    const halves = tensor(maskRows.map((row) => row.map((v) => v * 0.5)));
    expect(() => bn.forward(x, { mask: halves })).toThrow(/mask values 1 \(real\) or 0 \(padding\)/);
    const lonely = tensor([[0, 0, 1, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]);
    expect(() => bn.forward(x, { mask: lonely })).toThrow(ValueError);
    expect(() => bn.forward(x, { mask: lonely })).toThrow(/1 real value\(s\) per channel under the mask/);
    expect(snapshotBuffers(bn)).toEqual(before);
  });
});

describe('BatchNorm: bad input and options', () => {
  it('refuses wrong rank, channel count and dtype, without touching the running statistics', () => {
    const bn = new BatchNorm({ numFeatures: 3 });
    const before = snapshotBuffers(bn);
    expect(() => bn.forward(randn([3]))).toThrow(ShapeError);
    expect(() => bn.forward(randn([3]))).toThrow(/BatchNorm.forward: expected an input of rank 2 or more, \[N, C, \*\], got shape \[3\] \(rank 1\)/);
    expect(() => bn.forward(randn([2, 4, 5]))).toThrow(/expected 3 channels on axis 1 \(numFeatures = 3\), \[N, 3, \*\], got shape \[2, 4, 5\] with 4 channels/);
    expect(() => bn.forward(randn([2, 3, 5], f64))).toThrow(DTypeError);
    expect(() => bn.forward(randn([1, 3]))).toThrow(ValueError);
    expect(snapshotBuffers(bn)).toEqual(before);
  });

  it('refuses momentum outside [0, 1], eps <= 0, a bad numFeatures or flag', () => {
    expect(() => new BatchNorm({ numFeatures: 3, momentum: 1.5 })).toThrow(OptionError);
    expect(() => new BatchNorm({ numFeatures: 3, momentum: -0.1 })).toThrow(/momentum to be a finite number >= 0 <= 1, got momentum = -0.1/);
    expect(() => new BatchNorm({ numFeatures: 3, eps: 0 })).toThrow(/BatchNorm: expected eps to be a finite number > 0, got eps = 0/);
    expect(() => new BatchNorm({ numFeatures: 3, eps: -1e-5 })).toThrow(OptionError);
    expect(() => new BatchNorm({ numFeatures: 0 })).toThrow(OptionError);
    expect(() => new BatchNorm({ numFeatures: 2.5 })).toThrow(/numFeatures to be an integer/);
    expect(() => new BatchNorm({ numFeatures: 2, affine: 'yes' as never })).toThrow(/affine to be true or false/);
  });
});

describe('BatchNorm: state dict', () => {
  it('round-trips under PyTorch names, and a bad dict changes nothing', () => {
    const generator = new Generator(4);
    const bn = f64BatchNorm(3, generator);
    for (let i = 0; i < 3; i++) bn.forward(randn([4, 3, 2], { ...f64, generator, mean: i }));
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    const copy = new BatchNorm({ numFeatures: 3, dtype: 'float64' });
    copy.loadStateDict(bn.stateDict());
    bn.eval();
    copy.eval();
    const x = randn([2, 3, 2], { ...f64, generator });
    expectClose(copy.forward(x), bn.forward(x), 0, 0);
    expect(copy.numBatchesTracked!.item()).toBe(3);

    const before = snapshotBuffers(copy);
    const broken = { ...bn.stateDict(), running_var: randn([4], f64) };
    expect(() => copy.loadStateDict(broken)).toThrow(StateDictError);
    expect(snapshotBuffers(copy)).toEqual(before);
  });
});

describe('BatchNorm: empty batches (PyTorch 1.13)', () => {
  const bytes = (t: Tensor | null): number[] => Array.from(new Uint8Array(t!.data.buffer, t!.data.byteOffset, t!.data.byteLength));

  for (const shape of [[0, 3, 4], [0, 3], [2, 3, 0], [2, 3, 0, 4]]) {
    it(`training on ${JSON.stringify(shape)}: empty output, zero parameter gradients, running averages unchanged, num_batches_tracked + 1`, () => {
      const bn = f64BatchNorm(3, new Generator(21));
      bn.runningMean!.data.set([0.5, -1, 2]);
      bn.runningVar!.data.set([2, 0.25, 3]);
      const mean = bytes(bn.runningMean);
      const variance = bytes(bn.runningVar);
      const x = randn(shape, { ...f64, requiresGrad: true });
      const y = bn.forward(x);
      expect(y.shape).toEqual(shape);
      expect(y.size).toBe(0);
      expect(bytes(bn.runningMean)).toEqual(mean);
      expect(bytes(bn.runningVar)).toEqual(variance);
      expect(bn.numBatchesTracked!.data[0]).toBe(1);
      sum(y).backward();
      expect(Array.from(bn.weight!.grad!.data)).toEqual([0, 0, 0]);
      expect(Array.from(bn.bias!.grad!.data)).toEqual([0, 0, 0]);
      expect(x.grad!.shape).toEqual(shape);
    });
  }

  it('momentum null: the empty batch counts, so the next batch gets weight 1 / 2 in the cumulative average', () => {
    const bn = new BatchNorm({ numFeatures: 2, momentum: null, dtype: 'float64' });
    bn.forward(randn([0, 2], f64));
    expect(Array.from(bn.runningMean!.data)).toEqual([0, 0]);
    expect(Array.from(bn.runningVar!.data)).toEqual([1, 1]);
    const x = tensor([[1, 4], [3, 8]], f64);
    bn.forward(x);
    expect(bn.numBatchesTracked!.data[0]).toBe(2);
    // running = running + (batch - running) / 2, batch mean [2, 6] and unbiased variance [2, 8]
    expectClose(bn.runningMean!, [1, 3], 1e-15);
    expectClose(bn.runningVar!, [1.5, 4.5], 1e-15);
  });

  it('eval and trackRunningStats: false give an empty output and change nothing', () => {
    const bn = f64BatchNorm(3, new Generator(22)).eval();
    const before = snapshotBuffers(bn);
    expect(bn.forward(randn([0, 3, 2], f64)).shape).toEqual([0, 3, 2]);
    expect(snapshotBuffers(bn)).toEqual(before);
    const untracked = new BatchNorm({ numFeatures: 3, trackRunningStats: false, dtype: 'float64' });
    expect(untracked.forward(randn([0, 3], f64)).shape).toEqual([0, 3]);
  });

  it('an empty batch is still checked: channels and dtype', () => {
    const bn = new BatchNorm({ numFeatures: 3, dtype: 'float64' });
    expect(() => bn.forward(randn([0, 4], f64))).toThrow(ShapeError);
    expect(() => bn.forward(randn([0, 3]))).toThrow(DTypeError);
    expect(bn.numBatchesTracked!.data[0]).toBe(0);
  });
});
