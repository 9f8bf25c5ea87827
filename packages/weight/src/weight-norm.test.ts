import { describe, expect, it } from 'vitest';
import {
  Conv2d, ConvTranspose2d, DTypeError, Embedding, Generator, Linear, OptionError, ShapeError, ValueError, div, gradcheck, graphOps, mul,
  parametrizationsOf, removeParametrizations, sqrt, square, sum, tensor, type Tensor,
} from '@normkit/tensor';
import { describeParametrization, expectClose, expectGradcheck } from '@normkit/testkit';
import { fixtureStateDict, fixtureTensor, torchFixtures, type WeightNormFixture } from './__fixtures__/torch-weight';
import { weightNormPlugin } from './plugins';
import { spectralNorm } from './spectral-norm';
import { gaussian, replaySteps } from './test-support';
import { WeightNorm, normExceptDim, weightNorm, weightNormWeight } from './weight-norm';

/** g * v / ||v|| composed from primitive ops (float64), the norm over `axes` kept for broadcasting. */
function referenceWeightNorm(g: Tensor, v: Tensor, axes: number[]): Tensor {
  return mul(g, div(v, sqrt(sum(square(v), axes, { keepdim: true }))));
}

const allAxesBut = (ndim: number, dim: number | null) => Array.from({ length: ndim }, (_, i) => i).filter((i) => i !== dim);

describe('weightNormWeight (the fused kernel)', () => {
  for (const dim of [0, 1, 3, null]) {
    it(`matches the composed float64 reference, values and gradients, dim ${String(dim)}`, () => {
      const vShape = [3, 4, 2, 5];
      const gShape = dim === null ? [] : vShape.map((d, axis) => (axis === dim ? d : 1));
      const v = gaussian(vShape, 1, true);
      const g = gaussian(gShape, 2, true);
      const upstream = gaussian(vShape, 3);
      const fused = weightNormWeight(g, v, { dim });
      fused.backward(upstream);
      const [fusedGradG, fusedGradV] = [g.grad!.clone(), v.grad!.clone()];
      g.grad = null;
      v.grad = null;
      const reference = referenceWeightNorm(g, v, allAxesBut(4, dim));
      reference.backward(upstream);
      expectClose(fused, reference, 1e-14, 1e-12);
      expectClose(fusedGradG, g.grad!, 1e-13, 1e-11);
      expectClose(fusedGradV, v.grad!, 1e-13, 1e-11);
      expect(graphOps(fused)).toEqual(['weightNorm']);
    });

    it(`passes gradcheck, dim ${String(dim)}`, () => {
      const vShape = [3, 2, 2, 3];
      const v = gaussian(vShape, 4, true);
      const g = gaussian(dim === null ? [] : vShape.map((d, axis) => (axis === dim ? d : 1)), 5, true);
      expectGradcheck(gradcheck(() => weightNormWeight(g, v, { dim }), [g, v]));
    });
  }

  it('accumulates in float64: float32 results match the float64 ones to float32 precision', () => {
    const v64 = gaussian([16, 300], 6);
    const g64 = gaussian([16, 1], 7);
    const w32 = weightNormWeight(g64.to('float32'), v64.to('float32'));
    expectClose(w32, weightNormWeight(g64, v64), 1e-6, 1e-6);
  });

  it('reads a zero unit as zeros with zero gradients (finite, where PyTorch gives NaN)', () => {
    const v = tensor([[0, 0, 0], [3, 4, 0]], { dtype: 'float64', requiresGrad: true });
    const g = tensor([[2], [10]], { dtype: 'float64', requiresGrad: true });
    const w = weightNormWeight(g, v);
    expectClose(w, [0, 0, 0, 6, 8, 0], 1e-15);
    w.backward(tensor([[1, 1, 1], [1, 1, 1]], { dtype: 'float64' }));
    expect(Array.from(v.grad!.data).every(Number.isFinite)).toBe(true);
    expect(Array.from(g.grad!.data).every(Number.isFinite)).toBe(true);
    expect(Array.from(v.grad!.data.slice(0, 3))).toEqual([0, 0, 0]);
  });

  it('refuses a g of the wrong size, mismatched dtypes, and bad dims', () => {
    const v = gaussian([4, 3], 8);
    expect(() => weightNormWeight(gaussian([3, 1], 9), v)).toThrow(ShapeError);
    expect(() => weightNormWeight(gaussian([3, 1], 9), v)).toThrow(/g with one value per unit along dim 0: 4 element\(s\), e\.g\. shape \[4, 1\], got g of shape \[3, 1\]/);
    expect(() => weightNormWeight(gaussian([4, 1], 9).to('float32'), v)).toThrow(DTypeError);
    expect(() => weightNormWeight(gaussian([4, 1], 9), v, { dim: 2 })).toThrow(/dim in \[0, 1\] for v of shape \[4, 3\], got dim = 2/);
    expect(() => weightNormWeight(gaussian([4, 1], 9), v, { dim: -1 })).toThrow(OptionError);
  });
});

describe('weightNorm on modules', () => {
  it('leaves the function unchanged at init (g = ||v||) on Linear, Conv2d, ConvTranspose2d and Embedding', () => {
    const generator = new Generator(11);
    const hosts = [
      { module: new Linear({ inFeatures: 5, outFeatures: 4, dtype: 'float64', generator }), x: gaussian([3, 5], 12) },
      { module: new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, dtype: 'float64', generator }), x: gaussian([2, 3, 5, 5], 13) },
      { module: new ConvTranspose2d({ inChannels: 4, outChannels: 3, kernelSize: 2, stride: 2, dtype: 'float64', generator }), x: gaussian([1, 4, 3, 3], 14), dim: 1 },
    ];
    for (const { module, x, dim } of hosts) {
      const before = module.forward(x);
      const weight = module.weight.clone();
      weightNorm(module, { dim: dim ?? 0 });
      expectClose(module.forward(x), before, 1e-14, 1e-12);
      const [g, v] = parametrizationsOf(module, 'weight')!.originals;
      expectClose(v!, weight, 0, 0);
      expectClose(g!, normExceptDim(weight, dim ?? 0), 0, 0);
    }
    const embedding = new Embedding({ numEmbeddings: 6, embeddingDim: 3, dtype: 'float64', generator });
    const before = embedding.forward([0, 5, 2]);
    weightNorm(embedding);
    expectClose(embedding.forward([0, 5, 2]), before, 1e-14, 1e-12);
  });

  it('separates magnitude from direction: scaling v changes nothing, scaling g scales the weight', () => {
    const layer = weightNorm(new Linear({ inFeatures: 6, outFeatures: 3, dtype: 'float64', generator: new Generator(15) }));
    const [g, v] = parametrizationsOf(layer, 'weight')!.originals;
    const weight = layer.weight.clone();
    v!.data.forEach((value, i) => (v!.data[i] = value * 7.5));
    expectClose(layer.weight, weight, 1e-14, 1e-13);
    g!.data.forEach((value, i) => (g!.data[i] = value * 2));
    expectClose(layer.weight, Array.from(weight.data, (value) => 2 * value), 1e-14, 1e-13);
    // Each row's norm is g.
    const rows = layer.weight;
    for (let r = 0; r < 3; r++) {
      const norm = Math.hypot(...Array.from(rows.data.slice(r * 6, r * 6 + 6)));
      expect(norm).toBeCloseTo(g!.data[r]!, 12);
    }
  });

  it("uses PyTorch's keys, g shaped [out, 1, ...] (or [] for dim null), and one graph node", () => {
    const conv = weightNorm(new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 2 }));
    expect(Object.keys(conv.stateDict())).toEqual(['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']);
    expect(conv.stateDict()['parametrizations.weight.original0']!.shape).toEqual([3, 1, 1, 1]);
    expect(graphOps(conv.weight)).toEqual(['weightNorm']);
    const whole = weightNorm(new Linear({ inFeatures: 2, outFeatures: 3 }), { dim: null });
    expect(whole.stateDict()['parametrizations.weight.original0']!.shape).toEqual([]);
  });

  it('gradcheck through a parametrized Linear, with respect to g, v and the input', () => {
    const layer = weightNorm(new Linear({ inFeatures: 4, outFeatures: 3, dtype: 'float64', generator: new Generator(16) }));
    const x = gaussian([2, 4], 17, true);
    const [g, v] = parametrizationsOf(layer, 'weight')!.originals;
    expectGradcheck(gradcheck(() => layer.forward(x), [g!, v!, x]));
  });

  const cases: [string, WeightNormFixture, () => Linear | Conv2d][] = [
    ['Linear, dim 0', torchFixtures.weightNormLinear, () => new Linear({ inFeatures: 5, outFeatures: 4, dtype: 'float64' })],
    ['Conv2d, dim 0', torchFixtures.weightNormConv2d, () => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, dtype: 'float64' })],
    ['Conv2d, dim 1', torchFixtures.weightNormConv2dDim1, () => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, dtype: 'float64' })],
    ['Linear, dim null (PyTorch dim=-1)', torchFixtures.weightNormWhole, () => new Linear({ inFeatures: 5, outFeatures: 4, dtype: 'float64' })],
  ];
  for (const [label, fixture, make] of cases) {
    it(`matches PyTorch's weight_norm parametrization: ${label}`, () => {
      const module = make();
      module.loadStateDict(fixtureStateDict(fixture.plainState));
      weightNorm(module, { dim: fixture.dim });
      expect(Object.keys(module.stateDict())).toEqual(fixture.stateDictKeys);
      // g = ||v|| as PyTorch's right_inverse computed it.
      const torchState = fixture.step.stateAfter;
      for (const key of fixture.stateDictKeys) expectClose(module.stateDict()[key]!, torchState[key]!.data, 1e-14, 1e-13);
      replaySteps(module, [fixture.step], { learningRate: torchFixtures.meta.learningRate });
    });
  }

  it("round-trips a state dict with PyTorch's keys (loading PyTorch's g and v reproduces its output)", () => {
    const fixture = torchFixtures.weightNormConv2d;
    const trained = weightNorm(new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, dtype: 'float64' }));
    trained.loadStateDict(fixtureStateDict(fixture.step.stateAfter));
    expectClose(trained.forward(fixtureTensor(fixture.step.x)), fixture.step.output.data, 1e-12, 1e-10);
    const fresh = weightNorm(new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, dtype: 'float64' }));
    fresh.loadStateDict(trained.stateDict());
    expectClose(fresh.weight, trained.weight, 0, 0);
  });

  it('removal keeps g * v / ||v|| as a plain weight; leaveParametrized: false is refused (two originals)', () => {
    const layer = weightNorm(new Linear({ inFeatures: 3, outFeatures: 2, dtype: 'float64', generator: new Generator(18) }));
    const [g] = parametrizationsOf(layer, 'weight')!.originals;
    g!.data[0] = 5;
    const value = layer.weight.clone();
    expect(() => removeParametrizations(layer, 'weight', { leaveParametrized: false })).toThrow(/parametrized from 2 originals/);
    removeParametrizations(layer, 'weight');
    expectClose(layer.weight, value, 0, 0);
    expect(Object.keys(layer.stateDict())).toEqual(['bias', 'weight']); // re-registered last, as in PyTorch
  });

  it('assigning a weight sets g and v so that it reads back exactly', () => {
    const layer = weightNorm(new Linear({ inFeatures: 3, outFeatures: 2, dtype: 'float64' }));
    layer.weight = tensor([[3, 0, 4], [1, 2, 2]], { dtype: 'float64' });
    expectClose(layer.weight, [3, 0, 4, 1, 2, 2], 1e-15, 1e-15);
    expectClose(parametrizationsOf(layer, 'weight')!.originals[0]!, [5, 3], 1e-15);
  });
});

describe('weightNorm bad input', () => {
  const host = () => new Linear({ inFeatures: 3, outFeatures: 2 });

  it("refuses negative dims, explaining PyTorch's -1 (whole tensor, not the last dim)", () => {
    expect(() => weightNorm(host(), { dim: -1 })).toThrow(OptionError);
    expect(() => weightNorm(host(), { dim: -1 })).toThrow(/weight_norm reads dim = -1 as 'the whole tensor', not 'the last dim'.*null/);
    expect(() => new WeightNorm({ dim: -2 })).toThrow(/Negative dims are refused/);
    expect(() => new WeightNorm({ dim: 0.5 })).toThrow(/dim to be an integer >= 0/);
  });

  it('refuses a dim out of range, naming the shape', () => {
    expect(() => weightNorm(host(), { dim: 2 })).toThrow(ShapeError);
    expect(() => weightNorm(host(), { dim: 2 })).toThrow(/dim in \[0, 1\] for Linear\.weight of shape \[2, 3\], got dim = 2/);
  });

  it('refuses an unknown parameter name, listing the real ones, and changes nothing', () => {
    const layer = host();
    expect(() => weightNorm(layer, { name: 'wieght' })).toThrow(ValueError);
    expect(() => weightNorm(layer, { name: 'wieght' })).toThrow(/parameters: weight, bias; buffers: none\), got "wieght"/);
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'bias']);
  });

  it('refuses a second weight norm on the same tensor, saying so', () => {
    const layer = weightNorm(host());
    expect(() => weightNorm(layer)).toThrow(ValueError);
    expect(() => weightNorm(layer)).toThrow(/not already parametrized with weight norm, got weight norm already at index 0.*removeParametrizations/);
  });

  it('refuses to chain after another parametrization (weight norm splits the original in two)', () => {
    const layer = spectralNorm(host());
    expect(() => weightNorm(layer)).toThrow(/must be the first parametrization/);
    expect(parametrizationsOf(layer, 'weight')!.length).toBe(1);
  });

  it('the plugin schema refuses negative dims, with the quirk in its description', () => {
    expect(weightNormPlugin.options.dim.min).toBe(0);
    expect(weightNormPlugin.options.dim.description).toMatch(/PyTorch's dim=-1/);
  });
});

describeParametrization(weightNormPlugin, {
  module: ({ dtype, generator }) => new Linear({ inFeatures: 3, outFeatures: 4, dtype, generator }),
  preservesValue: true,
});

describeParametrization(weightNormPlugin, {
  module: ({ dtype, generator }) => new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 2, dtype, generator }),
  options: { dim: null },
  preservesValue: true,
});
