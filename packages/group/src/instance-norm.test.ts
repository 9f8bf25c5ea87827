import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  ContextError, DTypeError, Generator, OptionError, ShapeError, ValueError, add, div, gradcheck, graphOps, mean, mul, randn, reshape,
  sqrt, sub, sum, tensor, variance, type Tensor,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import torch from './__fixtures__/torch-group.json';
import { InstanceNorm, instanceNorm } from './instance-norm';
import { f64, gradientsOf, leaf, sampleOf, trainOnOneSample } from './test-support';

/** InstanceNorm composed from primitive ops in float64: statistics per (sample, channel) over the spatial positions. */
function referenceInstanceNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const [n, c] = x.shape as [number, number];
  const flat = reshape(x, [n, c, -1]);
  const xhat = div(sub(flat, mean(flat, [2], { keepdim: true })), sqrt(add(variance(flat, [2], { keepdim: true, unbiased: false }), eps)));
  let y = xhat;
  if (weight) y = mul(y, reshape(weight, [1, c, 1]));
  if (bias) y = add(y, reshape(bias, [1, c, 1]));
  return reshape(y, x.shape);
}

function affineInstanceNorm(c: number, generator: Generator, trackRunningStats = false, momentum = 0.1): InstanceNorm {
  const norm = new InstanceNorm({ numFeatures: c, affine: true, trackRunningStats, momentum, dtype: 'float64' });
  norm.weight!.data.set(randn([c], { dtype: 'float64', generator }).data);
  norm.bias!.data.set(randn([c], { dtype: 'float64', generator }).data);
  return norm;
}

describe('InstanceNorm', () => {
  it('matches the float64 reference composed from primitive ops, forward and every gradient', () => {
    const generator = new Generator(11);
    const norm = affineInstanceNorm(4, generator);
    const x = randn([3, 4, 5, 2], { ...f64, generator, mean: -2, std: 3 });
    const upstream = randn([3, 4, 5, 2], { dtype: 'float64', generator });
    const inputs = [x, norm.weight!, norm.bias!];
    expectClose(norm.forward(x), referenceInstanceNorm(x, norm.weight, norm.bias, 1e-5), 1e-12, 1e-12);
    const fused = gradientsOf(() => norm.forward(x), inputs, upstream);
    const composed = gradientsOf(() => referenceInstanceNorm(x, norm.weight, norm.bias, 1e-5), inputs, upstream);
    fused.forEach((g, i) => expectClose(g, composed[i]!, 1e-11, 1e-10));
    expectGradcheck(gradcheck((xx) => norm.forward(xx), inputs));
    // Without affine (PyTorch's default) on a 1-D sequence input.
    const plain = new InstanceNorm({ numFeatures: 3 });
    const seq = randn([2, 3, 7], f64);
    expectClose(plain.forward(seq), referenceInstanceNorm(seq, null, null, 1e-5), 1e-12, 1e-12);
    expectGradcheck(gradcheck((s) => plain.forward(s), [seq]));
  });

  it('keeps running statistics exactly as PyTorch does (unbiased running_var, momentum), and uses them in eval', () => {
    const f = torch.instanceNorm;
    const c = f.shape[1]!;
    const norm = new InstanceNorm({ numFeatures: c, eps: f.eps, momentum: f.momentum, affine: true, trackRunningStats: true, dtype: 'float64' });
    expect(Object.keys(norm.stateDict())).toEqual(f.stateDictKeys);
    norm.loadStateDict({ ...norm.stateDict(), weight: leaf(f.weight, [c]), bias: leaf(f.bias, [c]) });
    for (const step of f.steps) {
      const x = leaf(step.x, f.shape);
      norm.zeroGrad();
      const y = norm.forward(x);
      expectClose(y, step.y, 1e-12, 1e-12);
      y.backward(Float64Array.from(step.upstream));
      expectClose(x.grad!, step.gradX, 1e-11, 1e-10);
      expectClose(norm.weight!.grad!, step.gradWeight, 1e-11, 1e-10);
      expectClose(norm.bias!.grad!, step.gradBias, 1e-11, 1e-10);
      expectClose(norm.runningMean!, step.runningMean, 1e-14, 1e-13);
      expectClose(norm.runningVar!, step.runningVar, 1e-14, 1e-13);
    }
    expect(norm.getBuffer('num_batches_tracked')!.item()).toBe(f.numBatchesTracked);
    norm.eval();
    expectClose(norm.forward(leaf(f.evalX, f.evalShape)), f.evalY, 1e-12, 1e-12);
  });

  it('running statistics follow the formula from primitive ops over two steps; eval leaves them unchanged', () => {
    const generator = new Generator(12);
    const momentum = 0.3;
    const norm = affineInstanceNorm(3, generator, true, momentum);
    let expectedMean = [0, 0, 0];
    let expectedVar = [1, 1, 1];
    for (let step = 0; step < 2; step++) {
      const x = randn([4, 3, 2, 3], { dtype: 'float64', generator, mean: step + 1, std: 2 });
      norm.forward(x);
      const batchMean = mean(mean(x, [2, 3]), [0]).data;
      const batchVar = mean(variance(x, [2, 3], { unbiased: true }), [0]).data;
      expectedMean = expectedMean.map((m, ch) => (1 - momentum) * m + momentum * batchMean[ch]!);
      expectedVar = expectedVar.map((v, ch) => (1 - momentum) * v + momentum * batchVar[ch]!);
      expectClose(norm.runningMean!, expectedMean, 1e-14, 1e-13);
      expectClose(norm.runningVar!, expectedVar, 1e-14, 1e-13);
    }
    norm.eval();
    const runningMean = Array.from(norm.runningMean!.data);
    const x = randn([2, 3, 2, 3], { ...f64, generator });
    const y = norm.forward(x);
    const rm = tensor(Float64Array.from(expectedMean), { shape: [1, 3, 1, 1] });
    const rv = tensor(Float64Array.from(expectedVar), { shape: [1, 3, 1, 1] });
    const expected = add(mul(div(sub(x, rm), sqrt(add(rv, 1e-5))), reshape(norm.weight!, [1, 3, 1, 1])), reshape(norm.bias!, [1, 3, 1, 1]));
    expectClose(y, expected, 1e-12, 1e-12);
    expect(Array.from(norm.runningMean!.data)).toEqual(runningMean);
    // With fixed statistics the map is affine: finite differences agree with the kernel's backward.
    expectGradcheck(gradcheck((xx) => norm.forward(xx), [x, norm.weight!, norm.bias!]));
    // Eval with spatial size 1 is fine: running statistics need no spatial positions.
    expect(norm.forward(randn([2, 3, 1], { dtype: 'float64' })).shape).toEqual([2, 3, 1]);
    norm.resetRunningStats();
    expect(Array.from(norm.runningMean!.data)).toEqual([0, 0, 0]);
    expect(Array.from(norm.runningVar!.data)).toEqual([1, 1, 1]);
  });

  it('a throwing forward changes no state (validation comes before the update)', () => {
    const norm = new InstanceNorm({ numFeatures: 3, trackRunningStats: true, dtype: 'float64' });
    norm.forward(randn([2, 3, 4], { dtype: 'float64', mean: 5 }));
    const before = norm.stateDict();
    const snapshot = Object.fromEntries(Object.entries(before).map(([k, t]) => [k, Array.from(t.data)]));
    expect(() => norm.forward(randn([2, 3, 1], { dtype: 'float64' }))).toThrow(ValueError);
    expect(() => norm.forward(randn([2, 4, 4], { dtype: 'float64' }))).toThrow(ShapeError);
    expect(() => norm.forward(randn([2, 3, 4]))).toThrow(DTypeError);
    expect(() => norm.forward(randn([2, 3, 4], { dtype: 'float64' }), { mask: tensor([[1, 1, 1, 0], [1, 1, 1, 1]]) })).toThrow(ContextError);
    for (const [key, t] of Object.entries(norm.stateDict())) expect(Array.from(t.data)).toEqual(snapshot[key]);
  });

  it('refuses spatial size 1 when it needs instance statistics, like PyTorch', () => {
    const training = new InstanceNorm({ numFeatures: 3 });
    expect(() => training.forward(randn([4, 3, 1]))).toThrow(
      /instanceNorm: expected more than 1 spatial element per channel when using instance statistics \(training, or trackRunningStats false\), got input of shape \[4, 3, 1\]/,
    );
    // Without running statistics, eval uses instance statistics too (PyTorch), so it refuses as well.
    expect(() => training.eval().forward(randn([4, 3, 1, 1]))).toThrow(ValueError);
    expect(() => training.forward(randn([4, 3]))).toThrow(/InstanceNorm.forward: expected an input of shape \[N, C, \*spatial\] with at least one spatial dim, got shape \[4, 3\]/);
  });

  it('is batch-independent in training too: changing sample j leaves sample i bit-identical', () => {
    const generator = new Generator(13);
    const norm = affineInstanceNorm(2, generator, true);
    const x = randn([3, 2, 6], { dtype: 'float64', generator });
    const changed = x.clone();
    for (let i = 0; i < 12; i++) changed.data[i] = 50 * generator.normal(); // sample 0 only
    const y = norm.forward(x);
    const yChanged = norm.forward(changed);
    for (const i of [1, 2]) expect(sampleOf(yChanged, i)).toEqual(sampleOf(y, i));
  });

  it('is one node in the autograd graph, in training and in eval with running statistics', () => {
    const norm = new InstanceNorm({ numFeatures: 2, affine: true, trackRunningStats: true, dtype: 'float64' });
    const x = randn([2, 2, 3, 3], f64);
    expect(graphOps(norm.forward(x))).toEqual(['instanceNorm']);
    expect(graphOps(norm.eval().forward(x))).toEqual(['instanceNorm']);
    expect(graphOps(instanceNorm(x))).toEqual(['instanceNorm']);
  });

  it('gives finite outputs and gradients on constant inputs', () => {
    const norm = affineInstanceNorm(2, new Generator(14));
    const x = tensor(new Float64Array(2 * 2 * 4).fill(-7), { shape: [2, 2, 4], requiresGrad: true });
    const y = norm.forward(x);
    for (let i = 0; i < y.size; i++) expect(y.data[i]).toBeCloseTo(norm.bias!.data[Math.floor(i / 4) % 2]!, 12);
    sum(mul(y, y)).backward();
    for (const t of [x, norm.weight!, norm.bias!]) expect(Array.from(t.grad!.data).every(Number.isFinite)).toBe(true);
  });

  it("has PyTorch's defaults (affine false, no running statistics) and state-dict names", () => {
    const norm = new InstanceNorm({ numFeatures: 4 });
    expect([norm.eps, norm.momentum, norm.affine, norm.trackRunningStats]).toEqual([1e-5, 0.1, false, false]);
    expect(Object.keys(norm.stateDict())).toEqual([]);
    expect(norm.parameters()).toEqual([]);
    // No parameters or buffers: any float dtype goes through.
    expect(norm.forward(randn([1, 4, 3], { dtype: 'float64' })).dtype).toBe('float64');
    const tracked = new InstanceNorm({ numFeatures: 4, affine: true, trackRunningStats: true });
    expect(Object.keys(tracked.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(tracked.parameters().length).toBe(2);
  });

  it('refuses bad options and inputs with typed errors', () => {
    expect(() => new InstanceNorm({ numFeatures: 4, eps: 0 })).toThrow(/InstanceNorm: expected eps to be a finite number > 0, got eps = 0/);
    expect(() => new InstanceNorm({ numFeatures: 4, eps: -1 })).toThrow(OptionError);
    expect(() => new InstanceNorm({ numFeatures: 4, dtype: 'int8' as 'float32' })).toThrow(OptionError);
    expect(() => new InstanceNorm({ numFeatures: 4, dtype: 'int8' as 'float32' })).toThrow("InstanceNorm: expected dtype 'float32' or 'float64', got dtype = int8");
    expect(() => new InstanceNorm({ numFeatures: 4, momentum: 1.5 })).toThrow(/momentum to be a finite number >= 0 <= 1/);
    expect(() => new InstanceNorm({ numFeatures: 4 }).forward(randn([2, 3, 5]))).toThrow(/expected 4 channels on axis 1 \(numFeatures = 4\), \[N, 4, \*\], got shape \[2, 3, 5\] with 3 channels/);
    expect(() => instanceNorm(randn([2, 3, 5]), { runningMean: randn([3]) })).toThrow(/both runningMean and runningVar, or neither/);
    expect(() => instanceNorm(randn([2, 3, 5]), { useInputStats: false })).toThrow(/runningMean and runningVar when useInputStats is false/);
    expect(() => instanceNorm(randn([2, 3, 5]), { runningMean: randn([4]), runningVar: randn([4]) })).toThrow(/runningMean with 3 elements/);
  });

  it('trains with batch size 1 (the loss goes down)', () => {
    const norm = new InstanceNorm({ numFeatures: 8, affine: true, dtype: 'float64' });
    const losses = trainOnOneSample(norm, 8, 60, 0.1);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
  });
});

describe('InstanceNorm: empty inputs', () => {
  // An empty spatial axis ([2, 3, 0]) is refused with a ShapeError by every norm of this package (PyTorch accepts it).
  for (const shape of [[0, 3, 4], [0, 3, 2, 2]]) {
    it(`${JSON.stringify(shape)}: empty output, zero parameter gradients, running statistics and count unchanged (training and eval)`, () => {
      const norm = new InstanceNorm({ numFeatures: 3, affine: true, trackRunningStats: true, dtype: 'float64' });
      norm.runningMean!.data.set([1, 2, 3]);
      const before = Array.from(norm.runningMean!.data).concat(Array.from(norm.runningVar!.data));
      const x = randn(shape, { dtype: 'float64', requiresGrad: true });
      const y = norm.forward(x);
      expect(y.shape).toEqual(shape);
      sum(y).backward();
      expect(Array.from(norm.weight!.grad!.data)).toEqual([0, 0, 0]);
      expect(Array.from(norm.bias!.grad!.data)).toEqual([0, 0, 0]);
      expect(Array.from(norm.runningMean!.data).concat(Array.from(norm.runningVar!.data))).toEqual(before);
      expect(norm.getBuffer('num_batches_tracked')!.data[0]).toBe(0);
      expect(norm.eval().forward(randn(shape, { dtype: 'float64' })).shape).toEqual(shape);
    });
  }

  it('still refuses one spatial element with instance statistics, as PyTorch', () => {
    expect(() => new InstanceNorm({ numFeatures: 3, dtype: 'float64' }).forward(randn([2, 3, 1], { dtype: 'float64' }))).toThrow(ValueError);
  });
});
