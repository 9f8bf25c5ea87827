import { describe, expect, it } from 'vitest';
import {
  Conv2d, ConvTranspose2d, DTypeError, Embedding, Generator, Linear, OptionError, ShapeError, ValueError, add, conv2d, div, gradcheck, graphOps,
  maximum, mean, mul, normalize, parametrizationsOf, removeParametrizations, sqrt, sub, sum, tensor, variance,
  type Tensor,
} from '@normkit/tensor';
import { describeParametrization, expectClose, expectGradcheck } from '@normkit/testkit';
import { fixtureTensor, torchFixtures } from './__fixtures__/torch-weight';
import { weightStandardizationPlugin } from './plugins';
import { gaussian, snapshot } from './test-support';
import { WeightStandardization, standardizeWeight, weightStandardization, type EpsMode } from './weight-standardization';

const allAxesBut = (ndim: number, dim: number) => Array.from({ length: ndim }, (_, i) => i).filter((i) => i !== dim);

/** gain * scale * (w - mean) / sqrt(var + eps) (or sqrt(max(var, eps))) composed from primitive ops, float64. */
function referenceStandardize(weight: Tensor, options: { dim: number; eps: number; epsMode: EpsMode; scale: number; gain?: Tensor }): Tensor {
  const axes = allAxesBut(weight.ndim, options.dim);
  const centered = sub(weight, mean(weight, axes, { keepdim: true }));
  const biased = variance(weight, axes, { keepdim: true, unbiased: false });
  const std = sqrt(options.epsMode === 'add' ? add(biased, options.eps) : maximum(biased, options.eps));
  const standardized = mul(div(centered, std), options.scale);
  return options.gain ? mul(standardized, options.gain) : standardized;
}

/** A weight [4, 3, 2, 2] whose unit 1 (along `dim`) has a spread far below sqrt(eps), to exercise the 'max' clamp. */
function weightWithFlatUnit(dim: number, seed: number): Tensor {
  const weight = gaussian([4, 3, 2, 2], seed, true);
  const shape = weight.shape;
  const strides = [12, 4, 2, 1];
  for (let k = 0; k < weight.size; k++) {
    const index = Math.floor(k / strides[dim]!) % shape[dim]!;
    if (index === 1) weight.data[k] = 0.5 + 1e-4 * Math.sin(k);
  }
  return weight;
}

describe('standardizeWeight (the fused kernel)', () => {
  const configurations: { label: string; dim: number; epsMode: EpsMode; withGain: boolean; scale: number; eps: number }[] = [
    { label: 'plain WS, dim 0', dim: 0, epsMode: 'add', withGain: false, scale: 1, eps: 1e-5 },
    { label: "scaled WS with gain, 'add', dim 0", dim: 0, epsMode: 'add', withGain: true, scale: 1.7139588594436646 / Math.sqrt(12), eps: 1e-6 },
    { label: "scaled WS with gain, 'max' (one unit clamped), dim 0", dim: 0, epsMode: 'max', withGain: true, scale: 1 / Math.sqrt(12), eps: 1e-4 },
    { label: "'add' with gain, dim 1", dim: 1, epsMode: 'add', withGain: true, scale: 0.5, eps: 1e-5 },
    { label: "'max' (one unit clamped), dim 3", dim: 3, epsMode: 'max', withGain: false, scale: 2, eps: 1e-4 },
  ];
  for (const { label, dim, epsMode, withGain, scale, eps } of configurations) {
    it(`matches the composed float64 reference, values and gradients: ${label}`, () => {
      const weight = epsMode === 'max' ? weightWithFlatUnit(dim, 1) : gaussian([4, 3, 2, 2], 1, true);
      const gainShape = weight.shape.map((d, axis) => (axis === dim ? d : 1));
      const gain = withGain ? gaussian(gainShape, 2, true) : undefined;
      const upstream = gaussian(weight.shape, 3);
      const fused = standardizeWeight(weight, { dim, eps, epsMode, scale, gain });
      fused.backward(upstream);
      const fusedGrads = [weight.grad!.clone(), gain?.grad?.clone()];
      weight.grad = null;
      if (gain) gain.grad = null;
      const reference = referenceStandardize(weight, { dim, eps, epsMode, scale, gain });
      reference.backward(upstream);
      expectClose(fused, reference, 1e-13, 1e-11);
      expectClose(fusedGrads[0]!, weight.grad!, 1e-11, 1e-9);
      if (gain) expectClose(fusedGrads[1]!, gain.grad!, 1e-12, 1e-10);
      expect(graphOps(fused)).toEqual(['weightStandardization']);
    });

    it(`passes gradcheck for the weight${withGain ? ' and the gain' : ''}: ${label}`, () => {
      const weight = epsMode === 'max' ? weightWithFlatUnit(dim, 4) : gaussian([4, 3, 2, 2], 4, true);
      const gain = withGain ? gaussian(weight.shape.map((d, axis) => (axis === dim ? d : 1)), 5, true) : undefined;
      const inputs = gain ? [weight, gain] : [weight];
      expectGradcheck(gradcheck(() => standardizeWeight(weight, { dim, eps, epsMode, scale, gain }), inputs, { atol: 1e-6, rtol: 1e-5 }));
    });
  }

  it("equals the core normalize kernel with layout [1, units, fanIn] and the gain as a per-group weight", () => {
    const weight = gaussian([5, 2, 3, 3], 6, true);
    const gain = gaussian([5], 7, true);
    const upstream = gaussian(weight.shape, 8);
    const ours = standardizeWeight(weight, { gain, eps: 1e-5 });
    ours.backward(upstream);
    const grads = [weight.grad!.clone(), gain.grad!.clone()];
    weight.grad = null;
    gain.grad = null;
    const core = normalize(weight, {
      op: 'ws-reference', layout: { outer: 1, groups: 5, inner: 18 }, acrossOuter: false, center: true, eps: 1e-5, weight: gain, affineBlock: 18,
    }).output;
    core.backward(upstream);
    expectClose(ours, core, 1e-14, 1e-12);
    expectClose(grads[0]!, weight.grad!, 1e-13, 1e-11);
    expectClose(grads[1]!, gain.grad!, 1e-13, 1e-11);
  });

  it('gives zero mean and unit variance (var / (var + eps)) per output unit', () => {
    const conv = new Conv2d({ inChannels: 8, outChannels: 6, kernelSize: 3, dtype: 'float64', generator: new Generator(9) });
    for (const eps of [1e-5, 1e-12]) {
      const standardized = standardizeWeight(conv.weight, { eps });
      const units = standardized.shape[0]!;
      const fanIn = standardized.size / units;
      const rawVariance = variance(conv.weight, [1, 2, 3], { unbiased: false });
      for (let u = 0; u < units; u++) {
        const row = Array.from(standardized.data.slice(u * fanIn, (u + 1) * fanIn));
        const rowMean = row.reduce((a, b) => a + b, 0) / fanIn;
        const rowVariance = row.reduce((a, b) => a + (b - rowMean) ** 2, 0) / fanIn;
        expect(Math.abs(rowMean)).toBeLessThan(1e-15);
        const v = rawVariance.data[u]!;
        expect(rowVariance).toBeCloseTo(v / (v + eps), 13);
        expect(Math.abs(rowVariance - 1)).toBeLessThan(eps === 1e-12 ? 1e-9 : 1e-2);
      }
    }
  });

  it('accumulates in float64: float32 matches float64 to float32 precision, even with a large mean', () => {
    const weight = gaussian([8, 500], 10);
    const shifted = tensor(Array.from(weight.data, (v) => v + 1000), { shape: weight.shape, dtype: 'float64' });
    expectClose(standardizeWeight(shifted.to('float32')), standardizeWeight(shifted), 5e-4, 1e-4);
  });

  it('a zero unit reads as zeros with finite gradients', () => {
    for (const epsMode of ['add', 'max'] as const) {
      const weight = tensor([[0, 0, 0], [1, 2, 4]], { dtype: 'float64', requiresGrad: true });
      const out = standardizeWeight(weight, { epsMode });
      expectClose(out.data.slice(0, 3), [0, 0, 0], 0, 0);
      out.backward(gaussian([2, 3], 11));
      expect(Array.from(weight.grad!.data).every(Number.isFinite)).toBe(true);
    }
  });

  it('refuses bad eps, epsMode, scale, gain and dim with typed errors', () => {
    const weight = gaussian([4, 3], 12);
    expect(() => standardizeWeight(weight, { eps: 0 })).toThrow(OptionError);
    expect(() => standardizeWeight(weight, { eps: -1 })).toThrow(/eps to be a finite number > 0, got eps = -1/);
    expect(() => standardizeWeight(weight, { epsMode: 'min' as EpsMode })).toThrow(/epsMode to be 'add'.*or 'max'/);
    expect(() => standardizeWeight(weight, { scale: 0 })).toThrow(/scale to be a finite number > 0, got scale = 0/);
    expect(() => standardizeWeight(weight, { scale: Number.NaN })).toThrow(OptionError);
    expect(() => standardizeWeight(weight, { gain: gaussian([3, 1], 13) })).toThrow(ShapeError);
    expect(() => standardizeWeight(weight, { gain: gaussian([3, 1], 13) })).toThrow(/gain with one value per unit along dim 0: 4 element\(s\), e\.g\. shape \[4, 1\]/);
    expect(() => standardizeWeight(weight, { gain: gaussian([4, 1], 13).to('float32') })).toThrow(DTypeError);
    expect(() => standardizeWeight(weight, { dim: 2 })).toThrow(ShapeError);
    expect(() => standardizeWeight(weight, { dim: -1 })).toThrow(/Negative dims are refused/);
  });
});

describe('weightStandardization on modules', () => {
  it("recomputes the standardized weight at each read, with PyTorch's parametrize keys, one node", () => {
    const conv = weightStandardization(new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, dtype: 'float64', generator: new Generator(14) }));
    expect(Object.keys(conv.stateDict())).toEqual(['bias', 'parametrizations.weight.original']);
    const original = parametrizationsOf(conv, 'weight')!.original;
    expectClose(conv.weight, referenceStandardize(original, { dim: 0, eps: 1e-5, epsMode: 'add', scale: 1 }), 1e-14, 1e-12);
    expect(graphOps(conv.weight)).toEqual(['weightStandardization']);
    original.data[0] = original.data[0]! + 1;
    expectClose(conv.weight, referenceStandardize(original, { dim: 0, eps: 1e-5, epsMode: 'add', scale: 1 }), 1e-14, 1e-12);
  });

  it('with gain: a learnable [out, 1, ...] parameter under parametrizations.weight.0.gain that gets gradients', () => {
    const conv = weightStandardization(new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 2, dtype: 'float64', generator: new Generator(15) }), {
      gain: true, scale: 0.5, eps: 1e-4, epsMode: 'max',
    });
    expect(Object.keys(conv.stateDict())).toEqual(['bias', 'parametrizations.weight.original', 'parametrizations.weight.0.gain']);
    const ws = parametrizationsOf(conv, 'weight')!.at(0) as WeightStandardization;
    expect(ws.gain!.shape).toEqual([3, 1, 1, 1]);
    expect(Array.from(ws.gain!.data)).toEqual([1, 1, 1]);
    const x = gaussian([1, 2, 3, 3], 16, true);
    expectGradcheck(gradcheck(() => conv.forward(x), [parametrizationsOf(conv, 'weight')!.original, ws.gain!, x]));
  });

  it('works on Linear, Embedding and ConvTranspose2d (dim 1: output channels)', () => {
    const linear = weightStandardization(new Linear({ inFeatures: 5, outFeatures: 3, dtype: 'float64', generator: new Generator(17) }));
    expectClose(linear.weight, referenceStandardize(parametrizationsOf(linear, 'weight')!.original, { dim: 0, eps: 1e-5, epsMode: 'add', scale: 1 }), 1e-14, 1e-12);
    const embedding = weightStandardization(new Embedding({ numEmbeddings: 4, embeddingDim: 6, dtype: 'float64', generator: new Generator(18) }));
    expect(embedding.forward([1, 3]).shape).toEqual([2, 6]);
    const deconv = weightStandardization(new ConvTranspose2d({ inChannels: 2, outChannels: 3, kernelSize: 2, dtype: 'float64', generator: new Generator(19) }), { dim: 1 });
    expectClose(deconv.weight, referenceStandardize(parametrizationsOf(deconv, 'weight')!.original, { dim: 1, eps: 1e-5, epsMode: 'add', scale: 1 }), 1e-14, 1e-12);
  });

  it('matches the WS formula written in PyTorch (fixture), through a Conv2d', () => {
    const fixture = torchFixtures.wsPlain;
    const conv = weightStandardization(new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, dtype: 'float64' }));
    conv.loadStateDict({ bias: fixtureTensor(fixture.bias), 'parametrizations.weight.original': fixtureTensor(fixture.weight) });
    const x = fixtureTensor(fixture.x, true);
    expectClose(conv.weight, fixture.standardized.data, 1e-13, 1e-11);
    const out = conv.forward(x);
    expectClose(out, fixture.output.data, 1e-12, 1e-10);
    out.backward(fixtureTensor(fixture.upstream));
    expectClose(parametrizationsOf(conv, 'weight')!.original.grad!, fixture.grads.weight!.data, 1e-11, 1e-9);
    expectClose(conv.bias!.grad!, fixture.grads.bias!.data, 1e-11, 1e-9);
    expectClose(x.grad!, fixture.grads.x!.data, 1e-11, 1e-9);
  });

  it("matches DeepMind's NFNets standardize_weight (fixture) as scale 1/sqrt(fanIn), eps' = eps/fanIn, epsMode 'max'", () => {
    const fixture = torchFixtures.wsDeepMind;
    const weight = fixtureTensor(fixture.weight, true);
    const gain = fixtureTensor(fixture.gain, true);
    const bias = fixtureTensor(fixture.bias, true);
    const x = fixtureTensor(fixture.x, true);
    const fanIn = weight.size / weight.shape[0]!;
    const standardized = standardizeWeight(weight, { gain, scale: 1 / Math.sqrt(fanIn), eps: 1e-4 / fanIn, epsMode: 'max' });
    expectClose(standardized, fixture.standardized.data, 1e-13, 1e-11);
    const out = conv2d(x, standardized, bias, fixture.options);
    expectClose(out, fixture.output.data, 1e-12, 1e-10);
    out.backward(fixtureTensor(fixture.upstream));
    expectClose(weight.grad!, fixture.grads.weight!.data, 1e-10, 1e-9);
    expectClose(gain.grad!, fixture.grads.gain!.data, 1e-11, 1e-9);
    expectClose(x.grad!, fixture.grads.x!.data, 1e-11, 1e-9);
  });

  it('removal keeps the standardized weight; the gain goes with the parametrization', () => {
    const linear = weightStandardization(new Linear({ inFeatures: 4, outFeatures: 2, dtype: 'float64', generator: new Generator(20) }), { gain: true });
    (parametrizationsOf(linear, 'weight')!.at(0) as WeightStandardization).gain!.data.set([2, 3]);
    const value = linear.weight.clone();
    removeParametrizations(linear, 'weight');
    expectClose(linear.weight, value, 0, 0);
    expect(Object.keys(linear.stateDict())).toEqual(['bias', 'weight']);
  });

  it('assigning a weight stores it (identity right inverse): it reads back standardized', () => {
    const linear = weightStandardization(new Linear({ inFeatures: 3, outFeatures: 2, dtype: 'float64' }));
    linear.weight = tensor([[1, 2, 3], [0, 0, 6]], { dtype: 'float64' });
    expectClose(parametrizationsOf(linear, 'weight')!.original, [1, 2, 3, 0, 0, 6], 0, 0);
    expectClose(linear.weight, standardizeWeight(tensor([[1, 2, 3], [0, 0, 6]], { dtype: 'float64' })), 0, 0);
    expect(sum(linear.weight).item()).toBeCloseTo(0, 14);
  });
});

describe('weightStandardization bad input', () => {
  const host = () => new Linear({ inFeatures: 3, outFeatures: 2 });

  it('refuses eps <= 0, a bad scale and bad dims', () => {
    expect(() => weightStandardization(host(), { eps: 0 })).toThrow(OptionError);
    expect(() => weightStandardization(host(), { scale: -2 })).toThrow(OptionError);
    expect(() => weightStandardization(host(), { dim: 2 })).toThrow(/dim in \[0, 1\] for the weight of shape \[2, 3\], got dim = 2/);
    expect(() => weightStandardization(host(), { dim: -1 })).toThrow(/PyTorch/);
  });

  it('refuses units of one element (they would always read 0)', () => {
    expect(() => weightStandardization(new Linear({ inFeatures: 1, outFeatures: 3 }))).toThrow(ShapeError);
    expect(() => weightStandardization(new Linear({ inFeatures: 1, outFeatures: 3 }))).toThrow(/1 element\(s\) per unit, which would always read 0/);
  });

  it('refuses an unknown name and a second standardization on the same tensor, saying so, changing nothing', () => {
    expect(() => weightStandardization(host(), { name: 'weights' })).toThrow(ValueError);
    const layer = weightStandardization(host());
    const before = snapshot(layer);
    expect(() => weightStandardization(layer, { gain: true })).toThrow(/not already parametrized with weight standardization, got weight standardization already at index 0/);
    expect(snapshot(layer)).toEqual(before);
  });

  it('the parametrization refuses a bad epsMode', () => {
    expect(() => new WeightStandardization(gaussian([2, 3], 1), { epsMode: 'both' as EpsMode })).toThrow(OptionError);
  });
});

describeParametrization(weightStandardizationPlugin, {
  module: ({ dtype, generator }) => new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 2, dtype, generator }),
});

describeParametrization(weightStandardizationPlugin, {
  module: ({ dtype, generator }) => new Linear({ inFeatures: 5, outFeatures: 4, dtype, generator }),
  options: { gain: true, scale: 0.7, eps: 1e-4, epsMode: 'max' },
});
