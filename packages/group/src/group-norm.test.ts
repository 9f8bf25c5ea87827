import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  DTypeError, Generator, OptionError, ShapeError, add, div, expand, gradcheck, graphOps, mean, mul, randn, reshape, sqrt, sub, sum,
  ValueError, tensor, variance, type Tensor,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import torch from './__fixtures__/torch-group.json';
import { GroupNorm, groupNorm } from './group-norm';
import { InstanceNorm } from './instance-norm';
import { f64, gradientsOf, leaf, sampleOf, trainOnOneSample } from './test-support';

/** GroupNorm composed from primitive ops in float64: statistics over [N, G, (C/G) * spatial]. */
function referenceGroupNorm(x: Tensor, groups: number, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const [n, c] = x.shape as [number, number];
  const grouped = reshape(x, [n, groups, -1]);
  const centred = sub(grouped, mean(grouped, [2], { keepdim: true }));
  const xhat = reshape(div(centred, sqrt(add(variance(grouped, [2], { keepdim: true, unbiased: false }), eps))), [n, c, -1]);
  let y = xhat;
  if (weight) y = mul(y, reshape(weight, [1, c, 1]));
  if (bias) y = add(y, reshape(bias, [1, c, 1]));
  return reshape(y, x.shape);
}

/** LayerNorm over (C, *) with ELEMENTWISE weight and bias [C, *spatial], composed from primitive ops. */
function referenceLayerNorm(x: Tensor, elementWeight: Tensor, elementBias: Tensor, eps: number): Tensor {
  const axes = x.shape.map((_, i) => i).slice(1);
  const centred = sub(x, mean(x, axes, { keepdim: true }));
  const xhat = div(centred, sqrt(add(variance(x, axes, { keepdim: true, unbiased: false }), eps)));
  return add(mul(xhat, elementWeight), elementBias);
}

function groupNormModule(numGroups: number, numChannels: number, generator: Generator): GroupNorm {
  const norm = new GroupNorm({ numGroups, numChannels, dtype: 'float64' });
  // Random affine values: the default ones and zeros would hide a misplaced gamma or beta.
  norm.weight!.data.set(randn([numChannels], { dtype: 'float64', generator }).data);
  norm.bias!.data.set(randn([numChannels], { dtype: 'float64', generator }).data);
  return norm;
}

describe('GroupNorm', () => {
  it('matches the float64 reference composed from primitive ops, forward and every gradient', () => {
    const generator = new Generator(1);
    const norm = groupNormModule(3, 6, generator);
    const x = randn([4, 6, 3, 5], { ...f64, generator, mean: 2, std: 3 });
    const upstream = randn([4, 6, 3, 5], { dtype: 'float64', generator });
    const inputs = [x, norm.weight!, norm.bias!];
    expectClose(norm.forward(x), referenceGroupNorm(x, 3, norm.weight, norm.bias, 1e-5), 1e-12, 1e-12);
    const fused = gradientsOf(() => norm.forward(x), inputs, upstream);
    const composed = gradientsOf(() => referenceGroupNorm(x, 3, norm.weight, norm.bias, 1e-5), inputs, upstream);
    fused.forEach((g, i) => expectClose(g, composed[i]!, 1e-11, 1e-10));
    expectGradcheck(gradcheck((xx) => norm.forward(xx), [x, norm.weight!, norm.bias!]));
  });

  it('matches PyTorch (torch.nn.GroupNorm, float64): output and gradients', () => {
    const f = torch.groupNorm;
    const norm = new GroupNorm({ numGroups: f.numGroups, numChannels: f.shape[1]!, eps: f.eps, dtype: 'float64' });
    norm.loadStateDict({ weight: leaf(f.weight, [f.shape[1]!]), bias: leaf(f.bias, [f.shape[1]!]) });
    const x = leaf(f.x, f.shape);
    const y = norm.forward(x);
    expectClose(y, f.y, 1e-12, 1e-12);
    y.backward(Float64Array.from(f.upstream));
    expectClose(x.grad!, f.gradX, 1e-11, 1e-10);
    expectClose(norm.weight!.grad!, f.gradWeight, 1e-11, 1e-10);
    expectClose(norm.bias!.grad!, f.gradBias, 1e-11, 1e-10);
  });

  it('with one group equals LayerNorm over (C, *) whose elementwise affine is the per-channel one broadcast', () => {
    const generator = new Generator(2);
    const [n, c, h, w] = [3, 4, 2, 5];
    const norm = groupNormModule(1, c, generator);
    const x = randn([n, c, h, w], { ...f64, generator, mean: -1, std: 2 });
    const upstream = randn([n, c, h, w], { dtype: 'float64', generator });
    // The elementwise LayerNorm parameters are built FROM the per-channel ones, so gradients flow back to them.
    const layerNorm = (): Tensor =>
      referenceLayerNorm(x, expand(reshape(norm.weight!, [c, 1, 1]), [c, h, w]), expand(reshape(norm.bias!, [c, 1, 1]), [c, h, w]), 1e-5);
    expectClose(norm.forward(x), layerNorm(), 1e-12, 1e-12);
    const inputs = [x, norm.weight!, norm.bias!];
    const fromGroupNorm = gradientsOf(() => norm.forward(x), inputs, upstream);
    const fromLayerNorm = gradientsOf(layerNorm, inputs, upstream);
    fromGroupNorm.forEach((g, i) => expectClose(g, fromLayerNorm[i]!, 1e-11, 1e-10));
  });

  it('with C groups equals InstanceNorm with affine using instance statistics (training, or trackRunningStats false)', () => {
    const generator = new Generator(3);
    const [n, c] = [3, 5];
    const group = groupNormModule(c, c, generator);
    const upstream = randn([n, c, 4, 3], { dtype: 'float64', generator });
    const x = randn([n, c, 4, 3], { ...f64, generator, mean: 1, std: 2 });
    const configurations = [
      new InstanceNorm({ numFeatures: c, affine: true, trackRunningStats: true, dtype: 'float64' }).train(),
      new InstanceNorm({ numFeatures: c, affine: true, trackRunningStats: false, dtype: 'float64' }).train(),
      new InstanceNorm({ numFeatures: c, affine: true, trackRunningStats: false, dtype: 'float64' }).eval(),
    ];
    for (const instance of configurations) {
      instance.loadStateDict({ ...instance.stateDict(), weight: group.weight!, bias: group.bias! });
      // Same layout through the same kernel: the results are bit-identical, not merely close.
      expectClose(instance.forward(x), group.forward(x), 0, 0);
      const fromGroup = gradientsOf(() => group.forward(x), [x, group.weight!, group.bias!], upstream);
      const fromInstance = gradientsOf(() => instance.forward(x), [x, instance.weight!, instance.bias!], upstream);
      fromGroup.forEach((g, i) => expectClose(g, fromInstance[i]!, 0, 0));
    }
  });

  it('is batch-independent: changing sample j leaves sample i bit-identical, output and gradient', () => {
    const generator = new Generator(4);
    const norm = groupNormModule(2, 4, generator);
    const x = randn([3, 4, 5], { ...f64, generator });
    const changed = x.clone().requireGrad();
    for (let i = 20; i < 40; i++) changed.data[i] = 100 * generator.normal(); // sample 1 only
    const upstream = randn([3, 4, 5], { dtype: 'float64', generator });
    const [gradX] = gradientsOf(() => norm.forward(x), [x], upstream);
    const [gradChanged] = gradientsOf(() => norm.forward(changed), [changed], upstream);
    const y = norm.forward(x);
    const yChanged = norm.forward(changed);
    for (const i of [0, 2]) {
      expect(sampleOf(yChanged, i)).toEqual(sampleOf(y, i));
      expect(sampleOf(gradChanged!, i)).toEqual(sampleOf(gradX!, i));
    }
    expect(sampleOf(yChanged, 1)).not.toEqual(sampleOf(y, 1));
  });

  it('accepts a [N, L] mask for [N, C, L] sequences: statistics over real positions, padded outputs 0 with no gradient', () => {
    const generator = new Generator(5);
    const [n, c, length] = [2, 4, 6];
    const norm = groupNormModule(2, c, generator);
    const mask = tensor([1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1], { shape: [n, length], dtype: 'float64' });
    const x = randn([n, c, length], { ...f64, generator, std: 2 });
    const y = norm.forward(x, { mask });
    // Reference on the real positions only: sample 0 is GroupNorm of its first 4 positions.
    const real = leaf(Array.from({ length: c * 4 }, (_, k) => x.data[Math.floor(k / 4) * length + (k % 4)]!), [1, c, 4]);
    const expected = referenceGroupNorm(real, 2, norm.weight, norm.bias, 1e-5);
    for (let ch = 0; ch < c; ch++) {
      for (let t = 0; t < length; t++) {
        const value = y.data[ch * length + t]!;
        if (t < 4) expect(value).toBeCloseTo(expected.data[ch * 4 + t]!, 12);
        else expect(value).toBe(0);
      }
    }
    // Sample 1 has no padding: plain GroupNorm (to rounding: the unmasked call takes the unrolled fast path).
    const whole = norm.forward(x);
    expectClose(sampleOf(y, 1), sampleOf(whole, 1), 1e-13, 1e-13);
    // Padded positions get no gradient and do not leak into the statistics; finite differences agree.
    norm.forward(x, { mask }).backward(randn([n, c, length], { dtype: 'float64', generator }));
    for (let ch = 0; ch < c; ch++) for (const t of [4, 5]) expect(x.grad!.data[ch * length + t]).toBe(0);
    expectGradcheck(gradcheck((xx) => norm.forward(xx, { mask }), [x, norm.weight!, norm.bias!]));
    expect(() => norm.forward(x, { mask: tensor([1, 1, 1], { shape: [1, 3] }) })).toThrow(/groupNorm: expected a mask of shape \[2, 6\]/);
  });

  it('refuses mask values other than 0 and 1, like BatchNorm and LayerNorm, instead of treating them as real', () => {
    const norm = groupNormModule(2, 4, new Generator(6));
    const x = randn([2, 4, 3], f64);
    for (const bad of [0.5, 2, -1]) {
      const mask = tensor([1, 1, 0, 1, bad, 1], { shape: [2, 3], dtype: 'float64' });
      expect(() => norm.forward(x, { mask })).toThrow(ValueError);
      expect(() => groupNorm(x, { numGroups: 2, mask })).toThrow(`groupNorm: expected mask values 1 (real) or 0 (padding), got ${bad} at flat index 4`);
    }
  });

  it('is one node in the autograd graph (module and function, with or without affine, with a mask)', () => {
    const x = randn([2, 4, 3, 3], f64);
    expect(graphOps(new GroupNorm({ numGroups: 2, numChannels: 4, dtype: 'float64' }).forward(x))).toEqual(['groupNorm']);
    expect(graphOps(new GroupNorm({ numGroups: 2, numChannels: 4, affine: false }).forward(x))).toEqual(['groupNorm']);
    expect(graphOps(groupNorm(randn([2, 4, 5], f64), { numGroups: 4, mask: tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]) }))).toEqual(['groupNorm']);
  });

  it('gives finite outputs and gradients on constant inputs', () => {
    const norm = groupNormModule(2, 4, new Generator(6));
    const x = tensor(new Float64Array(2 * 4 * 9).fill(3.5), { shape: [2, 4, 3, 3], requiresGrad: true });
    const y = norm.forward(x);
    // Zero variance: xhat = 0, so y is beta everywhere.
    for (let i = 0; i < y.size; i++) expect(y.data[i]).toBeCloseTo(norm.bias!.data[Math.floor(i / 9) % 4]!, 12);
    sum(mul(y, y)).backward();
    for (const t of [x, norm.weight!, norm.bias!]) expect(Array.from(t.grad!.data).every(Number.isFinite)).toBe(true);
  });

  it('has PyTorch state-dict names and defaults (ones, zeros), or no parameters without affine', () => {
    const norm = new GroupNorm({ numGroups: 2, numChannels: 4 });
    expect(Object.keys(norm.stateDict())).toEqual(['weight', 'bias']);
    expect(Array.from(norm.weight!.data)).toEqual([1, 1, 1, 1]);
    expect(Array.from(norm.bias!.data)).toEqual([0, 0, 0, 0]);
    expect(Object.keys(new GroupNorm({ numGroups: 2, numChannels: 4, affine: false }).stateDict())).toEqual([]);
    expect(norm.forward(randn([1, 4])).shape).toEqual([1, 4]);
  });

  it('refuses bad options and inputs with typed errors naming what was expected', () => {
    expect(() => new GroupNorm({ numGroups: 3, numChannels: 4 })).toThrow(OptionError);
    expect(() => new GroupNorm({ numGroups: 3, numChannels: 4 })).toThrow(/GroupNorm: expected numChannels divisible by numGroups, got numChannels = 4, numGroups = 3/);
    expect(() => new GroupNorm({ numGroups: 2, numChannels: 4, eps: 0 })).toThrow(/GroupNorm: expected eps to be a finite number > 0, got eps = 0/);
    expect(() => new GroupNorm({ numGroups: 2, numChannels: 4, eps: -1e-5 })).toThrow(OptionError);
    expect(() => new GroupNorm({ numGroups: 2, numChannels: 4, dtype: 'int8' as 'float32' })).toThrow(OptionError);
    expect(() => new GroupNorm({ numGroups: 2, numChannels: 4, dtype: 'int8' as 'float32' })).toThrow("GroupNorm: expected dtype 'float32' or 'float64', got dtype = int8");
    expect(() => new GroupNorm({ numGroups: 0, numChannels: 4 })).toThrow(/numGroups to be an integer >= 1/);
    const norm = new GroupNorm({ numGroups: 2, numChannels: 4 });
    expect(() => norm.forward(randn([2, 6, 3]))).toThrow(ShapeError);
    expect(() => norm.forward(randn([2, 6, 3]))).toThrow(/GroupNorm.forward: expected 4 channels on axis 1 \(numChannels = 4\), \[N, 4, \*\], got shape \[2, 6, 3\] with 6 channels/);
    expect(() => norm.forward(randn([4]))).toThrow(/expected an input of shape \[N, C\] or \[N, C, \*spatial\]/);
    expect(() => norm.forward(randn([2, 4, 3], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => groupNorm(randn([2, 6, 3]), { numGroups: 4 })).toThrow(/groupNorm: expected a channel count divisible by numGroups = 4, got 6 channels/);
    expect(() => groupNorm(randn([2, 4, 3]), { numGroups: 2, weight: randn([3]) })).toThrow(/groupNorm: expected weight with 4 elements/);
  });

  it('float32 (the default dtype) agrees with the float64 reference, gradients stored as float32', () => {
    const generator = new Generator(8);
    const norm = new GroupNorm({ numGroups: 2, numChannels: 4 });
    norm.weight!.data.set(randn([4], { generator }).data);
    const x = randn([2, 4, 8], { generator, mean: 3, std: 2, requiresGrad: true });
    const x64 = tensor(Float64Array.from(x.data), { shape: x.shape });
    const expected = referenceGroupNorm(x64, 2, norm.weight!.to('float64'), norm.bias!.to('float64'), 1e-5);
    const y = norm.forward(x);
    expect(y.dtype).toBe('float32');
    expectClose(y, expected, 1e-5, 1e-5);
    y.backward(randn([2, 4, 8], { generator }));
    expect([x.grad!.dtype, norm.weight!.grad!.dtype]).toEqual(['float32', 'float32']);
  });

  it('trains with batch size 1 (the loss goes down)', () => {
    const norm = new GroupNorm({ numGroups: 4, numChannels: 8, dtype: 'float64' });
    const losses = trainOnOneSample(norm, 8, 60, 0.1);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
  });
});

describe("GroupNorm: degenerate and empty inputs (PyTorch's rule)", () => {
  it('refuses exactly one value per group in the whole input, N·(C/G)·spatial = 1, in training and in eval, as PyTorch does', () => {
    for (const shape of [[1, 2, 1, 1], [1, 2], [1, 3, 1]]) {
      const norm = new GroupNorm({ numGroups: shape[1]!, numChannels: shape[1]!, dtype: 'float64' });
      for (const mode of ['train', 'eval'] as const) {
        norm[mode]();
        const x = randn(shape, { dtype: 'float64' });
        expect(() => norm.forward(x)).toThrow(ValueError);
        expect(() => norm.forward(x)).toThrow(
          `GroupNorm.forward: expected more than 1 value per channel (N * C / numGroups * spatial > 1, PyTorch's "Expected more than 1 value per channel when training", raised in eval too), got input size ${JSON.stringify(shape).replaceAll(',', ', ')}`,
        );
      }
      expect(() => groupNorm(randn(shape, { dtype: 'float64' }), { numGroups: shape[1]! })).toThrow(/^groupNorm: expected more than 1 value per channel/);
    }
  });

  it('accepts what PyTorch accepts: two values per group, or N = 2 with one value per group and sample (which gives beta)', () => {
    const norm = new GroupNorm({ numGroups: 2, numChannels: 4, dtype: 'float64' });
    expect(norm.forward(randn([1, 4, 1], { dtype: 'float64' })).shape).toEqual([1, 4, 1]);
    norm.bias!.data.set([1, 2, 3, 4]);
    const single = new GroupNorm({ numGroups: 2, numChannels: 2, dtype: 'float64' });
    single.bias!.data.set([5, 6]);
    expectClose(single.forward(randn([2, 2, 1, 1], { dtype: 'float64' })), [5, 6, 5, 6], 0);
  });

  it('an empty batch gives an empty output and zero gradients for gamma and beta', () => {
    const norm = new GroupNorm({ numGroups: 2, numChannels: 4, dtype: 'float64' });
    const x = randn([0, 4, 3], { dtype: 'float64', requiresGrad: true });
    const y = norm.forward(x);
    expect(y.shape).toEqual([0, 4, 3]);
    sum(y).backward();
    expect(Array.from(norm.weight!.grad!.data)).toEqual([0, 0, 0, 0]);
    expect(Array.from(norm.bias!.grad!.data)).toEqual([0, 0, 0, 0]);
  });
});
