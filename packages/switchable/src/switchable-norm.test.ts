import { BatchNorm } from '@normkit/batch';
import { InstanceNorm } from '@normkit/group';
import { LayerNorm } from '@normkit/layer';
import {
  Adam, ContextError, DTypeError, Generator, OptionError, ShapeError, Tensor, ValueError, gradcheck, graphOps, mean, mse, noGrad, ones, randn, tensor,
  variance, type DType,
} from '@normkit/tensor';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { describe, expect, it } from 'vitest';
import { referenceSwitchableNorm } from './__fixtures__/reference';
import { SwitchableNorm, switchableNormalize, type BatchStatisticsSource } from './switchable-norm';

const EPS = 1e-5;

/** Deterministic float64 leaves: input, gamma, beta and non-trivial importance logits. */
function leaves(shape: number[], seed: number, k = 3) {
  const generator = new Generator(seed);
  const x = randn(shape, { dtype: 'float64', generator });
  // A nonzero mean and a per-channel spread, so the three statistics really differ.
  for (let i = 0; i < x.size; i++) x.data[i] = 0.7 + 1.5 * x.data[i]! + 0.3 * (Math.floor(i / (x.size / shape[0]! / shape[1]!)) % shape[1]!);
  const c = shape[1]!;
  const weight = randn([c], { dtype: 'float64', generator });
  const bias = randn([c], { dtype: 'float64', generator });
  const meanWeight = randn([k], { dtype: 'float64', generator });
  const varWeight = randn([k], { dtype: 'float64', generator });
  return { x, weight, bias, meanWeight, varWeight, generator };
}

function requireGrad(...tensors: Tensor[]): void {
  for (const t of tensors) {
    t.requiresGrad = true;
    t.grad = null;
  }
}

function toSource(batch: 'batch' | 'none' | { mean: Tensor; variance: Tensor }): BatchStatisticsSource {
  return typeof batch === 'string' ? batch : { mean: batch.mean.data, variance: batch.variance.data };
}

/** Logits putting all of the softmax on entry `k` (e^-200 is far below float64 resolution next to 1). */
function oneHot(k: number, size = 3): number[] {
  return Array.from({ length: size }, (_, j) => (j === k ? 200 : 0));
}

describe('switchableNormalize (the fused kernel)', () => {
  const cases = [
    { name: 'batch statistics', batch: 'batch' as const, k: 3 },
    { name: 'no batch statistics (IN + LN)', batch: 'none' as const, k: 2 },
    {
      name: 'fixed batch statistics (eval)',
      batch: { mean: tensor([0.4, -0.3, 1.1, 0.2], { dtype: 'float64' }), variance: tensor([1.3, 0.6, 2.2, 0.9], { dtype: 'float64' }) },
      k: 3,
    },
  ];

  for (const { name, batch, k } of cases) {
    it(`matches the float64 reference composed from primitive ops, output and every gradient: ${name}`, () => {
      const { x, weight, bias, meanWeight, varWeight, generator } = leaves([3, 4, 3, 5], 11, k);
      const upstream = randn([3, 4, 3, 5], { dtype: 'float64', generator });
      requireGrad(x, weight, bias, meanWeight, varWeight);
      const fused = switchableNormalize(x, { weight, bias, meanWeight, varWeight, batchStatistics: toSource(batch), eps: EPS }).output;
      fused.backward(upstream);
      const fusedGrads = [x, weight, bias, meanWeight, varWeight].map((t) => t.grad!.data.slice());
      requireGrad(x, weight, bias, meanWeight, varWeight);
      const reference = referenceSwitchableNorm(x, { weight, bias, meanWeight, varWeight, batch, eps: EPS });
      reference.backward(upstream);
      expectClose(fused, reference, 1e-12, 1e-10);
      [x, weight, bias, meanWeight, varWeight].forEach((t, i) => expectClose(fusedGrads[i]!, t.grad!, 1e-10, 1e-8));
    });

    it(`passes gradcheck w.r.t. input, gamma, beta and both importance logits: ${name}`, () => {
      for (const shape of [[2, 3, 4], [3, 4, 2, 2]]) {
        const { x, weight, bias, meanWeight, varWeight } = leaves(shape, 5, k);
        const c = shape[1]!;
        const source = typeof batch === 'string' ? batch : { mean: batch.mean.data.slice(0, c), variance: batch.variance.data.slice(0, c) };
        requireGrad(x, weight, bias, meanWeight, varWeight);
        const result = gradcheck(
          (xx, w, b, m, v) => switchableNormalize(xx, { weight: w, bias: b, meanWeight: m, varWeight: v, batchStatistics: source, eps: EPS }).output,
          [x, weight, bias, meanWeight, varWeight],
        );
        expectGradcheck(result);
      }
    });
  }

  it('matches the reference in float32 (float64 statistics, float32 storage)', () => {
    const { x, weight, bias, meanWeight, varWeight } = leaves([4, 3, 6, 6], 2);
    const x32 = new Tensor(Float32Array.from(x.data), x.shape);
    const y = switchableNormalize(x32, {
      weight: new Tensor(Float32Array.from(weight.data), weight.shape),
      bias: new Tensor(Float32Array.from(bias.data), bias.shape),
      meanWeight: new Tensor(Float32Array.from(meanWeight.data), [3]),
      varWeight: new Tensor(Float32Array.from(varWeight.data), [3]),
    }).output;
    expect(y.dtype).toBe('float32');
    const f = (t: Tensor) => new Tensor(Float64Array.from(Float32Array.from(t.data)), t.shape);
    const reference = referenceSwitchableNorm(f(x), { weight: f(weight), bias: f(bias), meanWeight: f(meanWeight), varWeight: f(varWeight), batch: 'batch', eps: EPS });
    expectClose(y, reference, 1e-5, 1e-5);
  });

  it('is one node in the autograd graph', () => {
    const { x, weight, bias, meanWeight, varWeight } = leaves([2, 3, 4], 1);
    requireGrad(x, weight, bias, meanWeight, varWeight);
    const y = switchableNormalize(x, { weight, bias, meanWeight, varWeight }).output;
    expect(graphOps(y)).toEqual(['switchableNorm']);
  });

  it('keeps the layer and batch variances accurate under a large common offset (no E[x^2] - mean^2 cancellation)', () => {
    const generator = new Generator(9);
    const base = randn([4, 3, 8], { dtype: 'float64', generator });
    const shifted = new Tensor(base.data.map((v) => v + 1e6), base.shape);
    for (const k of [1, 2]) {
      const logits = tensor(oneHot(k), { dtype: 'float64' });
      const y0 = switchableNormalize(base, { meanWeight: logits, varWeight: logits }).output;
      const y1 = switchableNormalize(shifted, { meanWeight: logits, varWeight: logits }).output;
      expectClose(y1, y0, 1e-8, 1e-8);
    }
  });

  it('refuses bad logits, parameters and fixed statistics with typed errors', () => {
    const { x, weight, meanWeight, varWeight } = leaves([2, 4, 3], 3);
    expect(() => switchableNormalize(x, { meanWeight: tensor([0, 0], { dtype: 'float64' }), varWeight })).toThrow(
      /expected meanWeight with 3 importance logits \(instance, layer, batch\), got shape \[2\]/,
    );
    expect(() => switchableNormalize(x, { meanWeight, varWeight, batchStatistics: 'none' })).toThrow(ShapeError);
    expect(() => switchableNormalize(x, { meanWeight, varWeight, weight: ones([3], { dtype: 'float64' }) })).toThrow(/weight with 4 elements/);
    expect(() => switchableNormalize(x, { meanWeight, varWeight, batchStatistics: { mean: [0, 0], variance: [1, 1] } })).toThrow(/fixed batch statistics with 4 values/);
    expect(() => switchableNormalize(x, { meanWeight, varWeight, batchStatistics: { mean: [0, 0, 0, 0], variance: [1, -1, 1, 1] } })).toThrow(ValueError);
    expect(() => switchableNormalize(x, { meanWeight, varWeight, eps: 0 })).toThrow(OptionError);
    expect(() => switchableNormalize(tensor([[1, 2]]), { meanWeight, varWeight })).toThrow(/\[N, C, \*spatial\]/);
    expect(weight.size).toBe(4);
  });
});

/** A SwitchableNorm whose importance is one-hot on statistic k, with the given gamma and beta. */
function oneHotSwitchable(k: number, c: number, gamma: Tensor, beta: Tensor, dtype: DType = 'float64'): SwitchableNorm {
  const sn = new SwitchableNorm({ numFeatures: c, dtype });
  sn.meanWeight.data.set(oneHot(k));
  sn.varWeight.data.set(oneHot(k));
  sn.weight.data.set(gamma.data);
  sn.bias.data.set(beta.data);
  return sn;
}

/** Output and input gradient of `forward` on a fresh leaf copy of x. */
function run(forward: (x: Tensor) => Tensor, x: Tensor, upstream: Tensor): { y: Tensor; dx: Tensor } {
  const leaf = x.clone();
  leaf.requiresGrad = true;
  const y = forward(leaf);
  y.backward(upstream);
  return { y, dx: leaf.grad! };
}

describe('SwitchableNorm with one-hot importance equals the normalizer it selects', () => {
  const shape = [4, 3, 5, 5];
  const c = shape[1]!;

  it('batch: BatchNorm in training (output, gradients, running statistics over several steps) and in eval', () => {
    const generator = new Generator(21);
    const gamma = randn([c], { dtype: 'float64', generator });
    const beta = randn([c], { dtype: 'float64', generator });
    const sn = oneHotSwitchable(2, c, gamma, beta);
    const bn = new BatchNorm({ numFeatures: c, dtype: 'float64' });
    bn.weight!.data.set(gamma.data);
    bn.bias!.data.set(beta.data);
    for (let step = 0; step < 3; step++) {
      const x = randn(shape, { dtype: 'float64', generator });
      for (let i = 0; i < x.size; i++) x.data[i] = 2 + 3 * x.data[i]!;
      const upstream = randn(shape, { dtype: 'float64', generator });
      const a = run((xx) => sn.forward(xx), x, upstream);
      const b = run((xx) => bn.forward(xx), x, upstream);
      expectClose(a.y, b.y, 1e-10, 1e-10);
      expectClose(a.dx, b.dx, 1e-10, 1e-8);
      expectClose(sn.weight.grad!, bn.weight!.grad!, 1e-9, 1e-9);
      expectClose(sn.bias.grad!, bn.bias!.grad!, 1e-9, 1e-9);
      sn.zeroGrad();
      bn.zeroGrad();
    }
    expectClose(sn.runningMean!, bn.runningMean!, 1e-12, 1e-12);
    expectClose(sn.runningVar!, bn.runningVar!, 1e-12, 1e-12);
    expect(sn.numBatchesTracked!.item()).toBe(3);
    sn.eval();
    bn.eval();
    const x = randn([2, 3, 5, 5], { dtype: 'float64', generator });
    const upstream = randn([2, 3, 5, 5], { dtype: 'float64', generator });
    const a = run((xx) => sn.forward(xx), x, upstream);
    const b = run((xx) => bn.forward(xx), x, upstream);
    expectClose(a.y, b.y, 1e-12, 1e-10);
    expectClose(a.dx, b.dx, 1e-12, 1e-10);
  });

  it('layer: LayerNorm over (C, *spatial) with the per-channel gamma and beta broadcast', () => {
    const generator = new Generator(22);
    const gamma = randn([c], { dtype: 'float64', generator });
    const beta = randn([c], { dtype: 'float64', generator });
    const sn = oneHotSwitchable(1, c, gamma, beta);
    const ln = new LayerNorm({ normalizedShape: shape.slice(1), dtype: 'float64' });
    const spatial = shape[2]! * shape[3]!;
    for (let i = 0; i < c * spatial; i++) {
      ln.weight!.data[i] = gamma.data[Math.floor(i / spatial)]!;
      ln.bias!.data[i] = beta.data[Math.floor(i / spatial)]!;
    }
    for (const mode of ['train', 'eval'] as const) {
      sn.train(mode === 'train');
      const x = randn(shape, { dtype: 'float64', generator });
      const upstream = randn(shape, { dtype: 'float64', generator });
      const a = run((xx) => sn.forward(xx), x, upstream);
      const b = run((xx) => ln.forward(xx), x, upstream);
      expectClose(a.y, b.y, 1e-10, 1e-10);
      expectClose(a.dx, b.dx, 1e-10, 1e-8);
    }
  });

  it('instance: InstanceNorm with affine (training and eval: instance statistics come from the input in both)', () => {
    const generator = new Generator(23);
    const gamma = randn([c], { dtype: 'float64', generator });
    const beta = randn([c], { dtype: 'float64', generator });
    const sn = oneHotSwitchable(0, c, gamma, beta);
    const inorm = new InstanceNorm({ numFeatures: c, affine: true, dtype: 'float64' });
    inorm.weight!.data.set(gamma.data);
    inorm.bias!.data.set(beta.data);
    for (const mode of ['train', 'eval'] as const) {
      sn.train(mode === 'train');
      inorm.train(mode === 'train');
      const x = randn(shape, { dtype: 'float64', generator });
      const upstream = randn(shape, { dtype: 'float64', generator });
      const a = run((xx) => sn.forward(xx), x, upstream);
      const b = run((xx) => inorm.forward(xx), x, upstream);
      expectClose(a.y, b.y, 1e-10, 1e-10);
      expectClose(a.dx, b.dx, 1e-10, 1e-8);
      expectClose(sn.weight.grad!, inorm.weight!.grad!, 1e-9, 1e-9);
      sn.zeroGrad();
      inorm.zeroGrad();
    }
  });
});

describe('SwitchableNorm', () => {
  it('starts with equal importance, reports the softmaxed weights, and names its state like the authors\' code', () => {
    const sn = new SwitchableNorm({ numFeatures: 4 });
    const third = 1 / 3;
    expect(sn.importance()).toEqual({ mean: { instance: third, layer: third, batch: third }, variance: { instance: third, layer: third, batch: third } });
    sn.meanWeight.data.set([0, Math.log(2), Math.log(5)]);
    const importance = sn.importance();
    expectClose([importance.mean.instance, importance.mean.layer, importance.mean.batch!], [1 / 8, 2 / 8, 5 / 8], 1e-7, 1e-6);
    expect(Object.keys(sn.stateDict()).sort()).toEqual(['bias', 'mean_weight', 'num_batches_tracked', 'running_mean', 'running_var', 'var_weight', 'weight']);
    const free = new SwitchableNorm({ numFeatures: 4, usingBatchStats: false });
    expect(Object.keys(free.stateDict()).sort()).toEqual(['bias', 'mean_weight', 'var_weight', 'weight']);
    expect(free.meanWeight.shape).toEqual([2]);
    expect(free.importance()).toEqual({ mean: { instance: 0.5, layer: 0.5 }, variance: { instance: 0.5, layer: 0.5 } });
  });

  it('matches the reference module-level in training and eval, and is one autograd node in both', () => {
    const generator = new Generator(31);
    const sn = new SwitchableNorm({ numFeatures: 3, dtype: 'float64', momentum: 0.3 });
    sn.meanWeight.data.set([0.2, -0.5, 0.4]);
    sn.varWeight.data.set([-0.1, 0.3, 0.6]);
    for (let step = 0; step < 2; step++) {
      const x = randn([4, 3, 6], { dtype: 'float64', generator });
      const expected = referenceSwitchableNorm(x, { weight: sn.weight, bias: sn.bias, meanWeight: sn.meanWeight, varWeight: sn.varWeight, batch: 'batch', eps: EPS });
      const y = sn.forward(x);
      expectClose(y, expected, 1e-12, 1e-10);
      expect(graphOps(y)).toEqual(['switchableNorm']);
    }
    sn.eval();
    const x = randn([2, 3, 6], { dtype: 'float64', generator });
    const fixed = { mean: sn.runningMean!.clone(), variance: sn.runningVar!.clone() };
    const expected = referenceSwitchableNorm(x, { weight: sn.weight, bias: sn.bias, meanWeight: sn.meanWeight, varWeight: sn.varWeight, batch: fixed, eps: EPS });
    const y = sn.forward(x);
    expectClose(y, expected, 1e-12, 1e-10);
    expect(graphOps(y)).toEqual(['switchableNorm']);
  });

  it('updates running statistics with PyTorch\'s momentum convention and the unbiased batch variance', () => {
    const generator = new Generator(41);
    const sn = new SwitchableNorm({ numFeatures: 3, dtype: 'float64', momentum: 0.25 });
    const expectedMean = new Float64Array(3);
    const expectedVar = new Float64Array(3).fill(1);
    for (let step = 0; step < 4; step++) {
      const x = randn([3, 3, 2, 4], { dtype: 'float64', generator });
      for (let i = 0; i < x.size; i++) x.data[i] = step + 2 * x.data[i]!;
      sn.forward(x);
      const batchMean = mean(x, [0, 2, 3]);
      const batchVar = variance(x, [0, 2, 3], { unbiased: true });
      for (let ch = 0; ch < 3; ch++) {
        expectedMean[ch] = 0.75 * expectedMean[ch]! + 0.25 * batchMean.data[ch]!;
        expectedVar[ch] = 0.75 * expectedVar[ch]! + 0.25 * batchVar.data[ch]!;
      }
    }
    expectClose(sn.runningMean!, expectedMean, 1e-12, 1e-12);
    expectClose(sn.runningVar!, expectedVar, 1e-12, 1e-12);
    expect(sn.numBatchesTracked!.item()).toBe(4);
  });

  it('usingMovingAverage: false keeps the cumulative average of every batch seen', () => {
    const generator = new Generator(42);
    const sn = new SwitchableNorm({ numFeatures: 2, dtype: 'float64', usingMovingAverage: false });
    const means: Tensor[] = [];
    const variances: Tensor[] = [];
    for (let step = 0; step < 3; step++) {
      const x = randn([2, 2, 5], { dtype: 'float64', generator });
      for (let i = 0; i < x.size; i++) x.data[i] = 3 * step + x.data[i]!;
      sn.forward(x);
      means.push(mean(x, [0, 2]));
      variances.push(variance(x, [0, 2], { unbiased: true }));
    }
    const average = (list: Tensor[], ch: number) => list.reduce((s, t) => s + t.data[ch]!, 0) / list.length;
    expectClose(sn.runningMean!, [average(means, 0), average(means, 1)], 1e-12, 1e-12);
    expectClose(sn.runningVar!, [average(variances, 0), average(variances, 1)], 1e-12, 1e-12);
  });

  it('in eval uses the running averages, changes no state and is deterministic; gradients flow to the logits', () => {
    const generator = new Generator(43);
    const sn = new SwitchableNorm({ numFeatures: 3, dtype: 'float64' });
    for (let step = 0; step < 3; step++) sn.forward(randn([4, 3, 5], { dtype: 'float64', generator }));
    sn.eval();
    const before = Object.fromEntries(Object.entries(sn.stateDict()).map(([k, t]) => [k, t.data.slice()]));
    const x = randn([2, 3, 5], { dtype: 'float64', generator, requiresGrad: true });
    const y1 = sn.forward(x);
    y1.backward(ones([2, 3, 5], { dtype: 'float64' }).data.map((_, i) => Math.sin(i)));
    const y2 = sn.forward(x);
    expect(Array.from(y2.data)).toEqual(Array.from(y1.data));
    for (const [key, t] of Object.entries(sn.stateDict())) expect(Array.from(t.data), key).toEqual(Array.from(before[key]!));
    // The batch term of the eval output is the running averages: changing them changes the output.
    expect(sn.meanWeight.grad!.data.some((v) => v !== 0)).toBe(true);
    expect(sn.varWeight.grad!.data.some((v) => v !== 0)).toBe(true);
    sn.runningMean!.data[0] = 5;
    expect(sn.forward(x).data[0]).not.toBe(y1.data[0]);
  });

  it('passes gradcheck module-level in training and eval, including the importance logits', () => {
    const generator = new Generator(44);
    const sn = new SwitchableNorm({ numFeatures: 3, dtype: 'float64' });
    sn.meanWeight.data.set([0.3, -0.1, 0.2]);
    sn.varWeight.data.set([-0.2, 0.4, 0.1]);
    sn.weight.data.set([1.2, 0.8, -0.5]);
    for (let step = 0; step < 2; step++) sn.forward(randn([3, 3, 4], { dtype: 'float64', generator }));
    for (const mode of ['train', 'eval'] as const) {
      sn.train(mode === 'train');
      const x = randn([3, 3, 4], { dtype: 'float64', generator, requiresGrad: true });
      expectGradcheck(gradcheck((xx) => sn.forward(xx), [x, ...sn.parameters()]));
    }
  });

  it('usingBatchStats: false is the batch-free IN + LN variant: same output in train and eval, samples independent', () => {
    const generator = new Generator(45);
    const sn = new SwitchableNorm({ numFeatures: 3, dtype: 'float64', usingBatchStats: false });
    sn.meanWeight.data.set([0.4, -0.3]);
    const x = randn([3, 3, 4], { dtype: 'float64', generator });
    const train = sn.forward(x);
    const evalOut = sn.eval().forward(x);
    expect(Array.from(evalOut.data)).toEqual(Array.from(train.data));
    const alone = sn.forward(new Tensor(x.data.slice(0, 12), [1, 3, 4]));
    expect(Array.from(alone.data)).toEqual(Array.from(train.data.slice(0, 12)));
    const expected = referenceSwitchableNorm(x, { weight: sn.weight, bias: sn.bias, meanWeight: sn.meanWeight, varWeight: sn.varWeight, batch: 'none', eps: EPS });
    expectClose(train, expected, 1e-12, 1e-10);
  });

  it('refuses bad input with typed errors, and a failing forward changes no state', () => {
    const sn = new SwitchableNorm({ numFeatures: 4 });
    sn.forward(randn([2, 4, 3]));
    const before = Object.fromEntries(Object.entries(sn.stateDict()).map(([k, t]) => [k, Array.from(t.data)]));
    expect(() => sn.forward(randn([2, 3, 3]))).toThrow(/SwitchableNorm.forward: expected 4 channels on axis 1 \(numFeatures = 4\), \[N, 4, \*\], got shape \[2, 3, 3\] with 3 channels/);
    expect(() => sn.forward(randn([2, 4]))).toThrow(ShapeError);
    expect(() => sn.forward(randn([2, 4, 3], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => sn.forward(randn([2, 4, 3]), { mask: ones([2, 3]) })).toThrow(ContextError);
    expect(() => sn.forward(randn([1, 4, 1]))).toThrow(/more than 1 value per channel in training/);
    expect(() => sn.forward(randn([2, 4, 0]))).toThrow(ShapeError);
    for (const [key, t] of Object.entries(sn.stateDict())) expect(Array.from(t.data), key).toEqual(before[key]);
    // One value per channel is fine in eval (running statistics) and without batch statistics.
    expect(sn.eval().forward(randn([1, 4, 1])).shape).toEqual([1, 4, 1]);
    expect(new SwitchableNorm({ numFeatures: 4, usingBatchStats: false }).forward(randn([1, 4, 1])).shape).toEqual([1, 4, 1]);
  });

  it('refuses bad options with OptionError naming the option', () => {
    expect(() => new SwitchableNorm({ numFeatures: 0 })).toThrow(/numFeatures to be an integer >= 1/);
    expect(() => new SwitchableNorm({ numFeatures: 2, eps: -1 })).toThrow(/eps to be a finite number > 0/);
    expect(() => new SwitchableNorm({ numFeatures: 2, momentum: 1.5 })).toThrow(/momentum to be a finite number >= 0 <= 1/);
    expect(() => new SwitchableNorm({ numFeatures: 2, usingBatchStats: 'yes' as unknown as boolean })).toThrow(OptionError);
    expect(() => new SwitchableNorm({ numFeatures: 2, dtype: 'int8' as unknown as DType })).toThrow(OptionError);
  });

  it('with batch size 2, where batch statistics are poor, training moves the importance to instance statistics (seeded)', () => {
    // Each (sample, channel) carries its own gain and offset (a "style"); the target is the content z.
    // Instance statistics remove the style exactly; batch statistics over two samples cannot, and
    // layer statistics mix channels with different styles. Starting from 1/3 each, the instance
    // importance must exceed 0.9 for the means and for the variances after 150 Adam steps (it reaches
    // about 0.99 with this seed), and beat the batch importance by 0.85 or more.
    const generator = new Generator(2024);
    const [n, c, s] = [2, 4, 16];
    const sn = new SwitchableNorm({ numFeatures: c, dtype: 'float64' });
    const optimizer = new Adam(sn.parameters(), { lr: 0.05 });
    for (let step = 0; step < 150; step++) {
      const z = randn([n, c, s], { dtype: 'float64', generator });
      const x = z.clone();
      for (let slot = 0; slot < n * c; slot++) {
        const gain = Math.exp(generator.normal());
        const offset = 3 * generator.normal();
        for (let i = slot * s; i < slot * s + s; i++) x.data[i] = gain * x.data[i]! + offset;
      }
      // The target: z standardised per (n, c), what instance normalisation of x gives.
      const target = noGrad(() => referenceSwitchableNorm(x, { meanWeight: tensor(oneHot(0), { dtype: 'float64' }), varWeight: tensor(oneHot(0), { dtype: 'float64' }), batch: 'batch', eps: EPS }));
      optimizer.zeroGrad();
      mse(sn.forward(x), target).backward();
      optimizer.step();
    }
    const { mean: meanImportance, variance: varImportance } = sn.importance();
    expect(meanImportance.instance).toBeGreaterThan(0.9);
    expect(varImportance.instance).toBeGreaterThan(0.9);
    expect(meanImportance.instance - meanImportance.batch!).toBeGreaterThan(0.85);
    expect(varImportance.instance - varImportance.batch!).toBeGreaterThan(0.85);
  });
});
