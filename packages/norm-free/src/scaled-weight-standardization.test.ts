import { describe, expect, it } from 'vitest';
import {
  Conv2d, Generator, Linear, OptionError, ShapeError, ValueError, conv2d, gradcheck, graphOps, matmul, mean, relu, reshape, sum, tensor, transpose,
  type Tensor,
} from '@normkit/tensor';
import { describeParametrization, expectClose, expectGradcheck } from '@normkit/testkit';
import { weightNorm } from '@normkit/weight';
import { scaledWeightStandardizationPlugin } from './plugins';
import {
  NONLINEARITY_GAMMA, NONLINEARITY_NAMES, ScaledStdConv2d, ScaledStdLinear, computeGamma, resolveGamma, scaledWeightStandardization,
  type NonlinearityName,
} from './scaled-weight-standardization';
import { gaussian } from './test-support';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const elu = (x: number) => (x > 0 ? x : Math.expm1(x));
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** Scalar activations as DeepMind's code defines them (jax.nn), to derive each gamma independently. */
const ACTIVATIONS: Record<NonlinearityName, (x: number) => number> = {
  identity: (x) => x,
  relu: (x) => Math.max(x, 0),
  gelu: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  silu: (x) => x * sigmoid(x),
  tanh: Math.tanh,
  sigmoid,
  leakyRelu: (x) => (x > 0 ? x : 0.01 * x),
  elu,
  celu: elu, // celu with alpha 1 is elu
  selu: (x) => SELU_SCALE * (x > 0 ? x : SELU_ALPHA * Math.expm1(x)),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  softplus,
  softsign: (x) => x / (1 + Math.abs(x)),
  logSigmoid: (x) => -softplus(-x),
};

/** w_hat = gain * gamma * (w - mean) / (sqrt(var + eps) * sqrt(fanIn)) per row of w viewed as [out, fanIn], float64. */
function referenceScaledWS(weight: Tensor, gain: readonly number[], gamma: number, eps: number, mode: 'add' | 'max' = 'add'): number[] {
  const out = weight.shape[0]!;
  const fanIn = weight.size / out;
  const result: number[] = [];
  for (let o = 0; o < out; o++) {
    const row = Array.from(weight.data.slice(o * fanIn, (o + 1) * fanIn));
    const m = row.reduce((s, v) => s + v, 0) / fanIn;
    const v = row.reduce((s, x) => s + (x - m) ** 2, 0) / fanIn;
    const std = Math.sqrt(mode === 'add' ? v + eps : Math.max(v, eps));
    for (const x of row) result.push((gain[o]! * gamma * (x - m)) / (std * Math.sqrt(fanIn)));
  }
  return result;
}

function rowStats(values: ArrayLike<number>, rows: number): { mean: number; variance: number }[] {
  const cols = values.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    const row = Array.from(values).slice(r * cols, (r + 1) * cols);
    const m = row.reduce((s, v) => s + v, 0) / cols;
    return { mean: m, variance: row.reduce((s, v) => s + (v - m) ** 2, 0) / cols };
  });
}

describe('the gamma constants', () => {
  it('computeGamma is 1 / sqrt(Var[g(x)]) for x ~ N(0, 1): exact on known cases', () => {
    expect(computeGamma((x) => Math.max(x, 0))).toBeCloseTo(Math.sqrt(2 / (1 - 1 / Math.PI)), 10);
    expect(computeGamma((x) => x)).toBeCloseTo(1, 12);
    expect(computeGamma((x) => x * x)).toBeCloseTo(1 / Math.SQRT2, 12);
    expect(computeGamma((x) => 3 * x + 5)).toBeCloseTo(1 / 3, 12); // the mean does not count
    expect(computeGamma(ACTIVATIONS.selu)).toBeCloseTo(1, 6); // SELU is built for unit variance
  });

  it("every NFNets constant is DeepMind's sampled estimate of 1 / sqrt(Var[g(x)]) (within 0.2%), not of 1 / sqrt(E[g(x)^2])", () => {
    expect(NONLINEARITY_GAMMA.relu).toBe(1.7139588594436646);
    expect(NONLINEARITY_GAMMA.gelu).toBe(1.7015043497085571);
    expect(NONLINEARITY_NAMES).toEqual(Object.keys(ACTIVATIONS));
    for (const name of NONLINEARITY_NAMES) {
      const exact = computeGamma(ACTIVATIONS[name]);
      expect(Math.abs(NONLINEARITY_GAMMA[name] / exact - 1), name).toBeLessThan(2e-3);
    }
    // The second moment would give 1 / sqrt(E[relu(x)^2]) = sqrt(2) for ReLU, 17% below the constant.
    expect(NONLINEARITY_GAMMA.relu / Math.SQRT2 - 1).toBeGreaterThan(0.2);
  });

  it('resolveGamma: a number, a nonlinearity name, or 1; typed errors otherwise', () => {
    expect(resolveGamma('t', {})).toBe(1);
    expect(resolveGamma('t', { gamma: 2.5 })).toBe(2.5);
    expect(resolveGamma('t', { nonlinearity: 'silu' })).toBe(NONLINEARITY_GAMMA.silu);
    expect(() => resolveGamma('t', { gamma: 1, nonlinearity: 'relu' })).toThrow(/either gamma or nonlinearity, not both/);
    expect(() => resolveGamma('t', { nonlinearity: 'swish' as never })).toThrow(OptionError);
    expect(() => resolveGamma('t', { nonlinearity: 'swish' as never })).toThrow(/nonlinearity among identity, relu, gelu.*For another activation pass gamma: computeGamma/);
    expect(() => resolveGamma('t', { nonlinearity: 'toString' as never })).toThrow(OptionError);
    expect(() => resolveGamma('t', { gamma: 0 })).toThrow(/gamma to be a finite number > 0/);
    expect(() => computeGamma(() => 1)).toThrow(/finite, non-zero variance/);
  });
});

describe('ScaledStdLinear', () => {
  it('standardized rows have mean 0 and variance gain^2 gamma^2 / fanIn * var / (var + eps), and equal the float64 reference', () => {
    const layer = new ScaledStdLinear({ inFeatures: 7, outFeatures: 3, nonlinearity: 'relu', dtype: 'float64', generator: new Generator(1) });
    expect(layer.gamma).toBe(NONLINEARITY_GAMMA.relu);
    expect(layer.scale).toBe(NONLINEARITY_GAMMA.relu / Math.sqrt(7));
    expect(layer.eps).toBe(1e-6);
    expect(layer.gain!.shape).toEqual([3, 1]);
    expect(Array.from(layer.gain!.data)).toEqual([1, 1, 1]);
    layer.gain!.data.set([1, 2, 0.5]);
    const w = layer.standardizedWeight();
    const raw = rowStats(layer.weight.data, 3);
    rowStats(w.data, 3).forEach(({ mean: m, variance: v }, row) => {
      const gain = [1, 2, 0.5][row]!;
      expect(Math.abs(m)).toBeLessThan(1e-15);
      const expected = ((gain * NONLINEARITY_GAMMA.relu) ** 2 / 7) * (raw[row]!.variance / (raw[row]!.variance + 1e-6));
      expect(v / expected - 1).toBeLessThan(1e-12);
    });
    expectClose(w, referenceScaledWS(layer.weight, [1, 2, 0.5], NONLINEARITY_GAMMA.relu, 1e-6), 1e-15, 1e-12);
    const x = gaussian([4, 7], 2);
    expectClose(layer.forward(x), matmul(x, transpose(w)).data.map((v, i) => v + layer.bias!.data[i % 3]!), 1e-14, 1e-12);
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'bias', 'gain']);
  });

  it('the gain (init 1) and the weight get gradients; gradcheck w.r.t. input, weight, bias and gain', () => {
    const layer = new ScaledStdLinear({ inFeatures: 4, outFeatures: 3, gamma: 1.3, eps: 1e-4, dtype: 'float64', generator: new Generator(3) });
    const x = gaussian([5, 4], 4, { requiresGrad: true });
    sum(relu(layer.forward(x))).backward();
    expect(layer.gain!.grad!.shape).toEqual([3, 1]);
    expect(Array.from(layer.gain!.grad!.data).some((g) => g !== 0)).toBe(true);
    layer.gain!.data.set([0.7, 1.4, 2]);
    expectGradcheck(gradcheck(() => layer.forward(x), [x, layer.weight, layer.bias!, layer.gain!]));
  });

  it('keeps unit variance: relu(x) for x ~ N(0, 1) through a relu-gamma layer has variance ~1 per output, whatever the weights', () => {
    // Var(w_hat . g(x)) = Var(g) * sum(w_hat^2) = Var(g) * gamma^2 (a standardized row sums to 0, so E[g] cancels).
    for (const seed of [1, 2]) {
      const layer = new ScaledStdLinear({ inFeatures: 128, outFeatures: 32, nonlinearity: 'relu', bias: false, dtype: 'float64', generator: new Generator(seed) });
      const y = layer.forward(relu(gaussian([4096, 128], 10 + seed)));
      const perOutput = rowStats(transpose(y).data.slice(), 32);
      const average = perOutput.reduce((s, r) => s + r.variance, 0) / 32;
      expect(Math.abs(average - 1)).toBeLessThan(0.03);
      expect(Math.abs(mean(y).item())).toBeLessThan(0.05);
    }
  });

  it('refuses gain and scale options, a bad gamma and a bad eps', () => {
    expect(() => new ScaledStdLinear({ inFeatures: 3, outFeatures: 2, gain: false } as never)).toThrow(/no gain or scale option/);
    expect(() => new ScaledStdLinear({ inFeatures: 3, outFeatures: 2, scale: 2 } as never)).toThrow(OptionError);
    expect(() => new ScaledStdLinear({ inFeatures: 3, outFeatures: 2, gamma: -1 })).toThrow(/gamma to be a finite number > 0/);
    expect(() => new ScaledStdLinear({ inFeatures: 3, outFeatures: 2, eps: 0 })).toThrow(/ScaledStdLinear: expected eps to be a finite number > 0/);
    expect(() => new ScaledStdConv2d({ inChannels: 2, outChannels: 2, kernelSize: 3, epsMode: 'min' as never })).toThrow(/ScaledStdConv2d: expected epsMode/);
    expect(() => new ScaledStdLinear({ inFeatures: 1, outFeatures: 2 })).toThrow(ShapeError);
    expect(() => new ScaledStdLinear({ inFeatures: -2, outFeatures: 2 })).toThrow(/inFeatures/);
  });
});

describe('ScaledStdConv2d', () => {
  it('convolves with gain * gamma * (w - mean) / (std * sqrt(fanIn)), fanIn = inChannels / groups * kH * kW', () => {
    const conv = new ScaledStdConv2d({
      inChannels: 4, outChannels: 6, kernelSize: [3, 2], padding: 1, groups: 2, nonlinearity: 'gelu', dtype: 'float64', generator: new Generator(5),
    });
    expect(conv.fanIn).toBe(2 * 3 * 2);
    expect(conv.scale).toBe(NONLINEARITY_GAMMA.gelu / Math.sqrt(12));
    expect(conv.gain!.shape).toEqual([6, 1, 1, 1]);
    const gains = [1, 0.5, 2, 1.5, 0.8, 1.2];
    conv.gain!.data.set(gains);
    const expected = referenceScaledWS(conv.weight, gains, NONLINEARITY_GAMMA.gelu, 1e-6);
    expectClose(conv.standardizedWeight(), expected, 1e-15, 1e-12);
    const x = gaussian([2, 4, 5, 5], 6);
    const out = conv.forward(x);
    expectClose(out, conv2d(x, reshape(tensor(expected, { dtype: 'float64' }), conv.weight.shape), conv.bias, { padding: 1, groups: 2 }), 1e-13, 1e-12);
    // The weight goes through @normkit/weight's fused kernel: one node, no second copy of standardization.
    expect(graphOps(out)).toContain('weightStandardization');
    expect(Object.keys(conv.stateDict())).toEqual(['weight', 'bias', 'gain']);
  });

  it('gradcheck w.r.t. input, weight, bias and gain', () => {
    const conv = new ScaledStdConv2d({ inChannels: 2, outChannels: 3, kernelSize: 2, nonlinearity: 'relu', eps: 1e-4, dtype: 'float64', generator: new Generator(7) });
    conv.gain!.data.set([0.5, 1.5, 2]);
    const x = gaussian([1, 2, 3, 3], 8, { requiresGrad: true });
    expectGradcheck(gradcheck(() => conv.forward(x), [x, conv.weight, conv.bias!, conv.gain!]));
  });

  it("DeepMind's form, (w - mean) * rsqrt(max(var * fanIn, 1e-4)) * gain * gamma, is eps 1e-4 / fanIn with epsMode 'max'", () => {
    const fanIn = 3 * 2 * 2;
    const conv = new ScaledStdConv2d({ inChannels: 3, outChannels: 4, kernelSize: 2, nonlinearity: 'relu', eps: 1e-4 / fanIn, epsMode: 'max', dtype: 'float64', generator: new Generator(9) });
    // Channel 1 nearly flat: var * fanIn below 1e-4, so the max takes over.
    for (let k = fanIn; k < 2 * fanIn; k++) conv.weight.data[k] = 0.3 + 1e-4 * Math.sin(k);
    const deepMind: number[] = [];
    for (let o = 0; o < 4; o++) {
      const row = Array.from(conv.weight.data.slice(o * fanIn, (o + 1) * fanIn));
      const m = row.reduce((s, v) => s + v, 0) / fanIn;
      const v = row.reduce((s, x) => s + (x - m) ** 2, 0) / fanIn;
      for (const x of row) deepMind.push(((x - m) / Math.sqrt(Math.max(v * fanIn, 1e-4))) * NONLINEARITY_GAMMA.relu);
    }
    expectClose(conv.standardizedWeight(), deepMind, 1e-15, 1e-12);
  });

  it('refuses fixed options and bad geometry with typed errors', () => {
    expect(() => new ScaledStdConv2d({ inChannels: 2, outChannels: 2, kernelSize: 3, scale: 1 } as never)).toThrow(/no gain or scale option/);
    expect(() => new ScaledStdConv2d({ inChannels: 2, outChannels: 2, kernelSize: 3, nonlinearity: 'mish' as never })).toThrow(OptionError);
    expect(() => new ScaledStdConv2d({ inChannels: 0, outChannels: 2, kernelSize: 3 })).toThrow(/inChannels/);
    expect(() => new ScaledStdConv2d({ inChannels: 1, outChannels: 2, kernelSize: 1 })).toThrow(ShapeError);
  });
});

describe('scaledWeightStandardization (parametrization)', () => {
  it('on a Conv2d computes what ScaledStdConv2d computes, with PyTorch parametrize keys', () => {
    const options = { inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, dtype: 'float64' as const };
    const conv = scaledWeightStandardization(new Conv2d({ ...options, generator: new Generator(1) }), { nonlinearity: 'relu' });
    const layer = new ScaledStdConv2d({ ...options, nonlinearity: 'relu', generator: new Generator(1) });
    expect(Object.keys(conv.stateDict())).toEqual(['bias', 'parametrizations.weight.original', 'parametrizations.weight.0.gain']);
    const x = gaussian([2, 3, 4, 4], 2);
    expectClose(conv.forward(x), layer.forward(x), 1e-14, 1e-12);
  });

  it('reads fanIn through parametrizations already on the tensor', () => {
    const layer = weightNorm(new Linear({ inFeatures: 6, outFeatures: 3, dtype: 'float64', generator: new Generator(3) }));
    scaledWeightStandardization(layer, { gamma: 2 });
    const value = layer.weight;
    rowStats(value.data, 3).forEach(({ mean: m, variance: v }) => {
      expect(Math.abs(m)).toBeLessThan(1e-15);
      expect(v).toBeCloseTo(4 / 6, 4);
    });
    expect(graphOps(value)).toEqual(['weightStandardization', 'weightNorm']);
  });

  it('refuses a missing tensor, a bad dim and a second scaled WS with typed errors', () => {
    const layer = new Linear({ inFeatures: 3, outFeatures: 2 });
    expect(() => scaledWeightStandardization(layer, { name: 'kernel' })).toThrow(ValueError);
    expect(() => scaledWeightStandardization(layer, { name: 'kernel' })).toThrow(/parameters: weight, bias/);
    expect(() => scaledWeightStandardization(layer, { dim: 2 })).toThrow(ShapeError);
    expect(() => scaledWeightStandardization(layer, { nonlinearity: 'relu', gamma: 2 })).toThrow(OptionError);
    scaledWeightStandardization(layer);
    expect(() => scaledWeightStandardization(layer)).toThrow(/already at index 0/);
  });
});

describeParametrization(scaledWeightStandardizationPlugin, {
  module: ({ dtype, generator }) => new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 2, dtype, generator }),
  options: { nonlinearity: 'relu' },
});

describeParametrization(scaledWeightStandardizationPlugin, {
  module: ({ dtype, generator }) => new Linear({ inFeatures: 5, outFeatures: 4, dtype, generator }),
  options: { nonlinearity: 'gelu', eps: 1e-4, epsMode: 'max' },
});
