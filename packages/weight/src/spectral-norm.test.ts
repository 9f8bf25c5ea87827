import { describe, expect, it } from 'vitest';
import {
  Conv2d, ConvTranspose2d, Embedding, Generator, Linear, Module, OptionError, ShapeError, ValueError, cached, div, gradcheck, graphOps, manualSeed,
  matmul, noGrad, parametrizationsOf, permute, removeParametrizations, reshape, sum, mul, tensor,
  type Tensor, type TensorModule,
} from '@normkit/tensor';
import { describeParametrization, expectClose, expectGradcheck, expectThrowsWithoutStateChange } from '@normkit/testkit';
import { fixtureStateDict, torchFixtures, type SpectralFixture } from './__fixtures__/torch-weight';
import { spectralNormPlugin } from './plugins';
import { SpectralNorm, powerIteration, spectralNorm, spectralNormOf, spectralNormWeight } from './spectral-norm';
import { asMatrix, gaussian, replaySteps, snapshot, topSingularValue } from './test-support';
import { weightNorm } from './weight-norm';
import { weightStandardization } from './weight-standardization';
import { WSConv2d, WSLinear } from './ws-layers';

function unit(values: Tensor): Tensor {
  const norm = Math.hypot(...Array.from(values.data));
  return tensor(Array.from(values.data, (v) => v / norm), { dtype: 'float64' });
}

/** W / (u^T M v) composed from primitive ops, M = W with `dim` first, flattened; u and v constants. */
function referenceSpectralNorm(weight: Tensor, u: Tensor, v: Tensor, dim: number): Tensor {
  const order = [dim, ...weight.shape.map((_, axis) => axis).filter((axis) => axis !== dim)];
  const rows = weight.shape[dim]!;
  const matrix = reshape(permute(weight, order), [rows, weight.size / rows]);
  const sigma = matmul(matmul(reshape(u, [1, rows]), matrix), reshape(v, [weight.size / rows, 1]));
  return div(weight, reshape(sigma, weight.shape.map(() => 1)));
}

function spectralNormOfWeight(module: Module, name = 'weight', dim = 0): number {
  const value = (module as unknown as Record<string, Tensor>)[name]!;
  return topSingularValue(asMatrix(value, dim));
}

function trainingReads(module: Module, count: number, name = 'weight'): void {
  module.train();
  for (let i = 0; i < count; i++) void (module as unknown as Record<string, Tensor>)[name];
}

describe('spectralNormWeight (the fused kernel)', () => {
  for (const dim of [0, 1, 2]) {
    it(`matches the composed float64 reference, values and gradients through sigma, dim ${dim}`, () => {
      const weight = gaussian([4, 3, 5], 1, true);
      const rows = weight.shape[dim]!;
      const u = unit(gaussian([rows], 2));
      const v = unit(gaussian([weight.size / rows], 3));
      const upstream = gaussian(weight.shape, 4);
      const { output, sigma } = spectralNormWeight(weight, u, v, { dim });
      output.backward(upstream);
      const fusedGrad = weight.grad!.clone();
      weight.grad = null;
      const reference = referenceSpectralNorm(weight, u, v, dim);
      reference.backward(upstream);
      expectClose(output, reference, 1e-14, 1e-12);
      expectClose(fusedGrad, weight.grad!, 1e-13, 1e-11);
      // sigma = u^T M v, independently.
      const matrix = asMatrix(weight, dim);
      const expectedSigma = matrix.reduce((total, row, r) => total + u.data[r]! * row.reduce((t, m, c) => t + m * v.data[c]!, 0), 0);
      expect(sigma).toBeCloseTo(expectedSigma, 13);
      expect(graphOps(output)).toEqual(['spectralNorm']);
    });
  }

  it('passes gradcheck with respect to the weight (u, v fixed), 2-D and 4-D', () => {
    for (const [shape, dim] of [[[3, 4], 0], [[3, 2, 2, 2], 1]] as const) {
      const weight = gaussian(shape, 5, true);
      const rows = shape[dim];
      const u = unit(gaussian([rows], 6));
      const v = unit(gaussian([weight.size / rows], 7));
      expectGradcheck(gradcheck(() => spectralNormWeight(weight, u, v, { dim }).output, [weight]));
    }
  });

  it('divides by 1 when sigma is exactly 0 (an all-zero weight): finite, gradient passes through', () => {
    const weight = tensor([[0, 0], [0, 0]], { dtype: 'float64', requiresGrad: true });
    const { output, sigma } = spectralNormWeight(weight, unit(gaussian([2], 8)), unit(gaussian([2], 9)));
    expect(sigma).toBe(0);
    expectClose(output, [0, 0, 0, 0], 0, 0);
    output.backward(tensor([[1, 2], [3, 4]], { dtype: 'float64' }));
    expectClose(weight.grad!, [1, 2, 3, 4], 0, 0);
  });

  it('refuses u or v of the wrong size and weights of rank < 2', () => {
    const weight = gaussian([4, 3], 10);
    expect(() => spectralNormWeight(weight, gaussian([3], 1), gaussian([3], 2))).toThrow(ShapeError);
    expect(() => spectralNormWeight(weight, gaussian([3], 1), gaussian([3], 2))).toThrow(/u with 4 and v with 3 elements/);
    expect(() => spectralNormWeight(gaussian([4], 1), gaussian([1], 1), gaussian([4], 2))).toThrow(/at least 2 dims/);
  });
});

describe('spectralNorm on modules', () => {
  const hosts: [string, () => Module, number][] = [
    ['Linear(7 -> 5)', () => new Linear({ inFeatures: 7, outFeatures: 5, dtype: 'float64', generator: new Generator(21) }), 0],
    ['Conv2d(3 -> 4, k3)', () => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, dtype: 'float64', generator: new Generator(22) }), 0],
    ['ConvTranspose2d(4 -> 3, k2), dim 1', () => new ConvTranspose2d({ inChannels: 4, outChannels: 3, kernelSize: 2, dtype: 'float64', generator: new Generator(23) }), 1],
    ['Embedding(6, 4)', () => new Embedding({ numEmbeddings: 6, embeddingDim: 4, dtype: 'float64', generator: new Generator(24) }), 0],
  ];
  for (const [label, make, dim] of hosts) {
    it(`${label}: sigma converges to the top singular value (long float64 power iteration) and ||W_sn||_2 = 1`, () => {
      const module = make();
      const weight = module.getParameter('weight')!.clone();
      const expected = topSingularValue(asMatrix(weight, dim));
      manualSeed(3);
      spectralNorm(module);
      expect(spectralNormOf(module)!.dim).toBe(dim);
      trainingReads(module, 300);
      const sigma = spectralNormOf(module)!.sigma;
      expect(Math.abs(sigma - expected) / expected).toBeLessThan(1e-9);
      expect(Math.abs(spectralNormOfWeight(module, 'weight', dim) - 1)).toBeLessThan(1e-3);
    });
  }

  it('is right in eval before any training step: the warm-up at registration converges sigma', () => {
    manualSeed(5);
    const layer = spectralNorm(new Linear({ inFeatures: 16, outFeatures: 8, dtype: 'float64', generator: new Generator(25) })).eval();
    expect(Math.abs(spectralNormOfWeight(layer) - 1)).toBeLessThan(1e-3);
    // Without the warm-up (the old torch.nn.utils.spectral_norm), eval divides by a random estimate.
    manualSeed(5);
    const cold = spectralNorm(new Linear({ inFeatures: 16, outFeatures: 8, dtype: 'float64', generator: new Generator(25) }), { warmUpIterations: 0 }).eval();
    expect(Math.abs(spectralNormOfWeight(cold) - 1)).toBeGreaterThan(0.05);
    // PyTorch's fixed 15 iterations leave this matrix (close top singular values) a few percent off.
    manualSeed(5);
    const fifteen = spectralNorm(new Linear({ inFeatures: 16, outFeatures: 8, dtype: 'float64', generator: new Generator(25) }), { warmUpIterations: 15 }).eval();
    expect(Math.abs(spectralNormOfWeight(fifteen) - 1)).toBeGreaterThan(0.01);
  });

  it('the warm-up stops once sigma settles; powerIteration reports the iterations it ran', () => {
    const weight = tensor([[10, 0, 0], [0, 1, 0]], { dtype: 'float64' });
    const u = unit(tensor([1, 1], { dtype: 'float64' }));
    const v = unit(tensor([1, 1, 1], { dtype: 'float64' }));
    const ran = powerIteration(weight, u, v, { dim: 0, iterations: 100, eps: 1e-12, tolerance: 1e-7 });
    expect(ran).toBeGreaterThan(2);
    expect(ran).toBeLessThan(20);
    expect(spectralNormWeight(weight, u, v).sigma).toBeCloseTo(10, 12);
    expect(powerIteration(weight, u, v, { dim: 0, iterations: 7, eps: 1e-12 })).toBe(7);
  });

  it('eval reads run no power iteration: deterministic, bit-identical, buffers unchanged even after backward', () => {
    const layer = spectralNorm(new Linear({ inFeatures: 5, outFeatures: 4, dtype: 'float64', generator: new Generator(26) }));
    trainingReads(layer, 2);
    layer.eval();
    const before = snapshot(layer);
    const first = layer.weight;
    const second = layer.weight;
    expect(Array.from(second.data)).toEqual(Array.from(first.data));
    sum(mul(layer.forward(gaussian([3, 5], 27)), 1)).backward();
    expect(snapshot(layer)).toEqual(before);
    // sigma = u^T W v from the stored vectors.
    const sn = spectralNormOf(layer)!;
    const u = sn.getBuffer('_u')!;
    const v = sn.getBuffer('_v')!;
    const matrix = asMatrix(parametrizationsOf(layer, 'weight')!.original, 0);
    const expected = matrix.reduce((total, row, r) => total + u.data[r]! * row.reduce((t, m, c) => t + m * v.data[c]!, 0), 0);
    expect(sn.sigma).toBeCloseTo(expected, 14);
    // Training reads move u and v.
    layer.train();
    void layer.weight;
    expect(snapshot(layer)['parametrizations.weight.0._u']).not.toEqual(before['parametrizations.weight.0._u']);
  });

  it('runs nPowerIterations iterations per training read', () => {
    manualSeed(7);
    const layer = spectralNorm(new Linear({ inFeatures: 5, outFeatures: 4, dtype: 'float64', generator: new Generator(28) }), { nPowerIterations: 3, warmUpIterations: 0 });
    const sn = spectralNormOf(layer)!;
    const u = sn.getBuffer('_u')!.clone();
    const v = sn.getBuffer('_v')!.clone();
    powerIteration(parametrizationsOf(layer, 'weight')!.original, u, v, { dim: 0, iterations: 3, eps: 1e-12 });
    void layer.weight;
    expectClose(sn.getBuffer('_u')!, u, 0, 0);
    expectClose(sn.getBuffer('_v')!, v, 0, 0);
  });

  it('a node keeps the u and v of its own forward (two forwards, one backward: the GAN pattern)', () => {
    const layer = spectralNorm(new Linear({ inFeatures: 4, outFeatures: 3, dtype: 'float64', generator: new Generator(29) }), { warmUpIterations: 0 });
    const sn = spectralNormOf(layer)!;
    const original = parametrizationsOf(layer, 'weight')!.original;
    const [g1, g2] = [gaussian([3, 4], 30), gaussian([3, 4], 31)];
    const w1 = layer.weight;
    const [u1, v1] = [sn.getBuffer('_u')!.clone(), sn.getBuffer('_v')!.clone()];
    const w2 = layer.weight;
    const [u2, v2] = [sn.getBuffer('_u')!.clone(), sn.getBuffer('_v')!.clone()];
    sum(mul(w1, g1)).backward();
    sum(mul(w2, g2)).backward();
    const copy = original.clone().requireGrad();
    sum(mul(spectralNormWeight(copy, u1, v1).output, g1)).backward();
    sum(mul(spectralNormWeight(copy, u2, v2).output, g2)).backward();
    expectClose(original.grad!, copy.grad!, 1e-14, 1e-12);
  });

  it('inside cached(), a module called twice computes its weight once: one node, one power iteration', () => {
    manualSeed(9);
    const layer = spectralNorm(new Linear({ inFeatures: 3, outFeatures: 3, dtype: 'float64', generator: new Generator(32) }));
    manualSeed(9);
    const twin = spectralNorm(new Linear({ inFeatures: 3, outFeatures: 3, dtype: 'float64', generator: new Generator(32) }));
    const out = cached(() => layer.forward(layer.forward(gaussian([2, 3], 33))));
    void twin.weight; // exactly one training read
    expect(snapshot(layer)).toEqual(snapshot(twin));
    expect(graphOps(out).filter((op) => op === 'spectralNorm')).toHaveLength(1);
    // Outside cached every read iterates again.
    layer.forward(layer.forward(gaussian([2, 3], 33)));
    void twin.weight;
    expect(snapshot(layer)).not.toEqual(snapshot(twin));
  });

  it('a zero weight reads as zeros with finite gradients, and u, v stay unit vectors to recover later', () => {
    const layer = new Linear({ inFeatures: 4, outFeatures: 3, dtype: 'float64', generator: new Generator(34) });
    const weight = layer.weight.clone();
    layer.getParameter('weight')!.data.fill(0);
    spectralNorm(layer);
    const value = layer.weight;
    expectClose(value, new Array<number>(12).fill(0), 0, 0);
    value.backward(gaussian([3, 4], 35));
    expect(Array.from(parametrizationsOf(layer, 'weight')!.original.grad!.data).every(Number.isFinite)).toBe(true);
    const sn = spectralNormOf(layer)!;
    expect(Math.hypot(...Array.from(sn.getBuffer('_u')!.data))).toBeCloseTo(1, 14);
    parametrizationsOf(layer, 'weight')!.original.data.set(weight.data);
    trainingReads(layer, 200);
    expect(sn.sigma).toBeCloseTo(topSingularValue(asMatrix(weight, 0)), 10);
  });

  it('a 1-D tensor is divided by its norm, like PyTorch (no buffers); gradcheck', () => {
    const layer = spectralNorm(new Linear({ inFeatures: 3, outFeatures: 5, dtype: 'float64', generator: new Generator(36) }), { name: 'bias' });
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'parametrizations.bias.original']);
    const original = parametrizationsOf(layer, 'bias')!.original;
    expect(Math.hypot(...Array.from(layer.bias!.data))).toBeCloseTo(1, 14);
    expect(spectralNormOf(layer, 'bias')!.sigma).toBeCloseTo(Math.hypot(...Array.from(original.data)), 14);
    expectGradcheck(gradcheck(() => layer.bias!, [original]));
  });

  it('gradcheck through a parametrized Conv2d in eval (gradients flow through sigma)', () => {
    const conv = spectralNorm(new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 2, dtype: 'float64', generator: new Generator(37) })).eval();
    const x = gaussian([1, 2, 3, 3], 38, true);
    expectGradcheck(gradcheck(() => conv.forward(x), [parametrizationsOf(conv, 'weight')!.original, x]));
  });

  const torchCases: [string, SpectralFixture, () => TensorModule, string][] = [
    ['Linear', torchFixtures.spectralLinear, () => new Linear({ inFeatures: 5, outFeatures: 4, dtype: 'float64' }), 'weight'],
    ['Conv2d, nPowerIterations 2', torchFixtures.spectralConv2d, () => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, dtype: 'float64' }), 'weight'],
    [
      'ConvTranspose2d (dim 1 by default)', torchFixtures.spectralConvTranspose2d,
      () => new ConvTranspose2d({ inChannels: 4, outChannels: 3, kernelSize: 3, stride: 2, padding: 1, dtype: 'float64' }), 'weight',
    ],
    ['a 1-D bias', torchFixtures.spectralBias, () => new Linear({ inFeatures: 4, outFeatures: 6, dtype: 'float64' }), 'bias'],
  ];
  for (const [label, fixture, make, name] of torchCases) {
    it(`matches PyTorch's parametrizations.spectral_norm, train steps and eval, with its state-dict keys: ${label}`, () => {
      const module = spectralNorm(make(), { name, nPowerIterations: fixture.nPowerIterations });
      expect(Object.keys(module.stateDict())).toEqual(fixture.stateDictKeys);
      expect(spectralNormOf(module, name)!.dim).toBe(fixture.dim);
      module.loadStateDict(fixtureStateDict(fixture.initialState));
      replaySteps(module, fixture.steps, { learningRate: torchFixtures.meta.learningRate });
    });
  }

  it('removal keeps W / sigma as a plain weight (leaveParametrized), or restores W', () => {
    const layer = spectralNorm(new Linear({ inFeatures: 4, outFeatures: 3, dtype: 'float64', generator: new Generator(39) })).eval();
    const original = parametrizationsOf(layer, 'weight')!.original.clone();
    const value = layer.weight.clone();
    removeParametrizations(layer, 'weight');
    expectClose(layer.weight, value, 0, 0);
    const restored = spectralNorm(new Linear({ inFeatures: 4, outFeatures: 3, dtype: 'float64', generator: new Generator(39) }));
    removeParametrizations(restored, 'weight', { leaveParametrized: false });
    expectClose(restored.weight, original, 0, 0);
    expect(Object.keys(restored.stateDict())).toEqual(['bias', 'weight']);
  });
});

describe('spectralNorm bad input', () => {
  const host = () => new Linear({ inFeatures: 3, outFeatures: 2 });

  it('refuses nPowerIterations < 1, eps <= 0 and a negative warm-up, with OptionErrors naming them', () => {
    expect(() => spectralNorm(host(), { nPowerIterations: 0 })).toThrow(OptionError);
    expect(() => spectralNorm(host(), { nPowerIterations: 0 })).toThrow(/nPowerIterations to be an integer >= 1, got nPowerIterations = 0/);
    expect(() => spectralNorm(host(), { nPowerIterations: 1.5 })).toThrow(OptionError);
    expect(() => spectralNorm(host(), { eps: 0 })).toThrow(/eps to be a finite number > 0, got eps = 0/);
    expect(() => spectralNorm(host(), { eps: -1e-12 })).toThrow(OptionError);
    expect(() => spectralNorm(host(), { warmUpIterations: -1 })).toThrow(/warmUpIterations to be an integer >= 0/);
  });

  it('refuses a dim out of range (ShapeError) and negative dims (OptionError explaining PyTorch)', () => {
    expect(() => spectralNorm(host(), { dim: 2 })).toThrow(ShapeError);
    expect(() => spectralNorm(host(), { dim: 2 })).toThrow(/dim in \[0, 1\] for Linear\.weight of shape \[2, 3\], got dim = 2/);
    expect(() => spectralNorm(host(), { dim: -1 })).toThrow(OptionError);
    expect(() => spectralNorm(host(), { dim: -1 })).toThrow(/PyTorch/);
  });

  it('refuses an unknown name and a second spectral norm on the same tensor, saying so, changing nothing', () => {
    expect(() => spectralNorm(host(), { name: 'kernel' })).toThrow(ValueError);
    expect(() => spectralNorm(host(), { name: 'kernel' })).toThrow(/parameters: weight, bias; buffers: none\), got "kernel"/);
    const layer = spectralNorm(host());
    const before = snapshot(layer);
    expect(() => spectralNorm(layer)).toThrow(/not already parametrized with spectral norm, got spectral norm already at index 0/);
    expect(snapshot(layer)).toEqual(before);
    expect(parametrizationsOf(layer, 'weight')!.length).toBe(1);
  });

  it('refuses a scalar tensor', () => {
    class WithScalar extends Module {
      constructor() {
        super();
        this.registerBuffer('temperature', tensor([2], { shape: [] }));
      }
      forward(): void {}
    }
    expect(() => spectralNorm(new WithScalar(), { name: 'temperature' })).toThrow(/at least 1 dim, got a scalar WithScalar.temperature/);
  });

  it('registration through the plugin draws u and v from the default generator (manualSeed makes it reproducible)', () => {
    const build = () => {
      manualSeed(42);
      const layer = host();
      noGrad(() => layer.getParameter('weight')!.data.set([1, 2, 3, 4, 5, 6]));
      return snapshot(spectralNorm(layer, { warmUpIterations: 0 }));
    };
    expect(build()).toEqual(build());
    expect(new SpectralNorm(tensor([[1, 2], [3, 4]]), { warmUpIterations: 0, generator: new Generator(1) }).getBuffer('_u')!.shape).toEqual([2]);
  });
});

describe('spectral norm chained after weight norm', () => {
  it("uses PyTorch's chain keys (original0, original1, 1._u, 1._v) and matches its outputs and gradients", () => {
    const fixture = torchFixtures.chainWeightNormSpectralNorm;
    const layer = spectralNorm(weightNorm(new Linear({ inFeatures: 5, outFeatures: 4, dtype: 'float64' })));
    expect(Object.keys(layer.stateDict())).toEqual(fixture.stateDictKeys);
    layer.loadStateDict(fixtureStateDict(fixture.initialState));
    replaySteps(layer, fixture.steps, { learningRate: torchFixtures.meta.learningRate });
  });
});

describeParametrization(spectralNormPlugin, {
  module: ({ dtype, generator }) => new Linear({ inFeatures: 3, outFeatures: 4, dtype, generator }),
});

describeParametrization(spectralNormPlugin, {
  module: ({ dtype, generator }) => new ConvTranspose2d({ inChannels: 3, outChannels: 2, kernelSize: 2, dtype, generator }),
  options: { nPowerIterations: 2 },
});

describe('a forward that throws changes no state (u and v move only when the forward succeeds)', () => {
  const f64 = { dtype: 'float64' } as const;
  const cases: Array<{ label: string; host: () => Module; bad: () => unknown; call?: (host: Module, input: unknown) => unknown }> = [
    { label: 'Linear, wrong inFeatures', host: () => new Linear({ inFeatures: 3, outFeatures: 4, ...f64 }), bad: () => gaussian([2, 5], 1) },
    { label: 'Linear, wrong dtype', host: () => new Linear({ inFeatures: 3, outFeatures: 4, ...f64 }), bad: () => tensor([[1, 2, 3]]) },
    { label: 'Conv2d, wrong channels', host: () => new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3, ...f64 }), bad: () => gaussian([1, 4, 5, 5], 2) },
    { label: 'Conv2d, wrong rank', host: () => new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3, ...f64 }), bad: () => gaussian([5, 5], 2) },
    {
      label: 'ConvTranspose2d, wrong channels',
      host: () => new ConvTranspose2d({ inChannels: 2, outChannels: 3, kernelSize: 3, ...f64 }),
      bad: () => gaussian([1, 4, 5, 5], 3),
    },
    {
      label: 'ConvTranspose2d, bad outputSize',
      host: () => new ConvTranspose2d({ inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, ...f64 }),
      bad: () => gaussian([1, 2, 4, 4], 3),
      call: (host, x) => (host as ConvTranspose2d).forward(x as Tensor, [20, 20]),
    },
    { label: 'Embedding, index out of range', host: () => new Embedding({ numEmbeddings: 5, embeddingDim: 3, ...f64 }), bad: () => [7] },
    { label: 'Embedding, negative index', host: () => new Embedding({ numEmbeddings: 5, embeddingDim: 3, ...f64 }), bad: () => [-1] },
    { label: 'WSLinear, wrong inFeatures', host: () => new WSLinear({ inFeatures: 3, outFeatures: 4, ...f64 }), bad: () => gaussian([2, 5], 4) },
    { label: 'WSConv2d, wrong dtype', host: () => new WSConv2d({ inChannels: 2, outChannels: 3, kernelSize: 3, ...f64 }), bad: () => tensor([[[[1]], [[2]]]]) },
  ];
  for (const { label, host: makeHost, bad, call } of cases) {
    it(`${label}: the training forward throws and u, v and the weight stay bit-identical`, () => {
      const host = spectralNorm(makeHost(), { generator: new Generator(5) }).train();
      const forward = call ?? ((module: Module, input: unknown) => (module as unknown as { forward(x: unknown): Tensor }).forward(input));
      expectThrowsWithoutStateChange(host, () => forward(host, bad()));
    });
  }

  it('chained after weight standardization: nothing moves either', () => {
    const host = spectralNorm(weightStandardization(new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3, ...f64 })), { generator: new Generator(6) });
    expectThrowsWithoutStateChange(host, () => host.forward(gaussian([1, 5, 5, 5], 7)), ShapeError);
  });

  it('a wrong-shaped weight given to the parametrization itself throws before the power iteration', () => {
    const host = spectralNorm(new Linear({ inFeatures: 3, outFeatures: 4, ...f64 }), { generator: new Generator(8) }).train();
    const parametrization = spectralNormOf(host)!;
    expectThrowsWithoutStateChange(host, () => parametrization.forward(gaussian([4, 5], 9)), ShapeError);
  });
});
