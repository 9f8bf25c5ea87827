/**
 * `init`: weight initialisers with PyTorch's formulas (`torch.nn.init`). Each one overwrites the tensor's
 * data in place (outside the graph, like PyTorch's `*_` functions under `no_grad`) and returns the
 * tensor. Random ones draw from `options.generator` (the default generator otherwise), so a seeded
 * generator reproduces a model exactly; the streams differ from PyTorch's, the distributions do not.
 *
 * Exported as the namespace `init`, like `torch.nn.init`.
 *
 * @example
 * const w = zeros([64, 32]);
 * init.kaimingUniform(w, { a: Math.sqrt(5), generator: new Generator(0) }); // nn.Linear's default
 */
import { OptionError, ShapeError, formatShape } from '../errors';
import type { Generator } from '../random';
import { defaultGenerator } from '../random';
import { checkTensor, type Tensor } from '../tensor';

/** Options shared by the random initialisers. */
export interface InitOptions {
  generator?: Generator;
}

export type FanMode = 'fanIn' | 'fanOut';

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'convTranspose1d' | 'convTranspose2d' | 'convTranspose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leakyRelu' | 'selu';

/**
 * `fanIn = size(1) * receptiveField`, `fanOut = size(0) * receptiveField`, receptiveField being the
 * product of the dims after the first two (PyTorch's `_calculate_fan_in_and_fan_out`). For a
 * ConvTranspose weight `[in, out / groups, kH, kW]` this gives PyTorch's (transposed) convention too.
 */
export function calculateFanInAndFanOut(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) {
    throw new ShapeError({
      op: 'calculateFanInAndFanOut',
      expected: 'a tensor with at least 2 dims (fan in and fan out are undefined for fewer)',
      given: `shape ${formatShape(t.shape)}`,
    });
  }
  let receptiveField = 1;
  for (let axis = 2; axis < t.ndim; axis++) receptiveField *= t.shape[axis]!;
  return { fanIn: t.shape[1]! * receptiveField, fanOut: t.shape[0]! * receptiveField };
}

/**
 * The recommended gain for a nonlinearity (PyTorch's `calculate_gain`): 1 for linear/conv/sigmoid,
 * 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky relu (slope `param`, default
 * 0.01), 3/4 for selu.
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d':
    case 'convTranspose1d': case 'convTranspose2d': case 'convTranspose3d': case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leakyRelu': {
      const slope = param ?? 0.01;
      if (!Number.isFinite(slope)) {
        throw new OptionError({ op: 'calculateGain', expected: 'a finite negative slope', given: `param = ${slope}` });
      }
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new OptionError({
        op: 'calculateGain',
        expected: 'one of linear, conv1d/2d/3d, convTranspose1d/2d/3d, sigmoid, tanh, relu, leakyRelu, selu',
        given: `nonlinearity = ${String(nonlinearity)}`,
      });
  }
}

/** Fills with U(low, high). */
export function uniform(t: Tensor, low = 0, high = 1, options: InitOptions = {}): Tensor {
  checkTensor('uniform', t, 't');
  if (!(Number.isFinite(low) && Number.isFinite(high) && low <= high)) {
    throw new OptionError({ op: 'uniform', expected: 'finite bounds with low <= high', given: `low = ${low}, high = ${high}` });
  }
  const generator = options.generator ?? defaultGenerator();
  const data = t.data;
  const width = high - low;
  for (let i = 0; i < data.length; i++) data[i] = low + width * generator.uniform();
  t.bumpVersion();
  return t;
}

/** Fills with N(mean, std^2). */
export function normal(t: Tensor, mean = 0, std = 1, options: InitOptions = {}): Tensor {
  checkTensor('normal', t, 't');
  if (!(Number.isFinite(mean) && Number.isFinite(std) && std >= 0)) {
    throw new OptionError({ op: 'normal', expected: 'a finite mean and a finite std >= 0', given: `mean = ${mean}, std = ${std}` });
  }
  const generator = options.generator ?? defaultGenerator();
  const data = t.data;
  for (let i = 0; i < data.length; i++) data[i] = mean + std * generator.normal();
  t.bumpVersion();
  return t;
}

export function constant(t: Tensor, value: number): Tensor {
  checkTensor('constant', t, 't');
  t.data.fill(value);
  t.bumpVersion();
  return t;
}

export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}

export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

/**
 * Glorot & Bengio (2010): U(-b, b) with b = gain * sqrt(6 / (fanIn + fanOut)), keeping activation
 * and gradient variance roughly constant across layers with symmetric activations.
 */
export function xavierUniform(t: Tensor, options: InitOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const std = (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut));
  const bound = Math.sqrt(3) * std;
  return uniform(t, -bound, bound, options);
}

/** Glorot & Bengio (2010): N(0, std^2) with std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal(t: Tensor, options: InitOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return normal(t, 0, (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), options);
}

export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU that follows (only used with `nonlinearity: 'leakyRelu'`); default 0. */
  a?: number;
  /** 'fanIn' preserves the forward variance, 'fanOut' the backward one; default 'fanIn'. */
  mode?: FanMode;
  /** Default 'leakyRelu', as in PyTorch. */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(op: string, t: Tensor, options: KaimingOptions): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const mode = options.mode ?? 'fanIn';
  if (mode !== 'fanIn' && mode !== 'fanOut') {
    throw new OptionError({ op, expected: "mode 'fanIn' or 'fanOut'", given: `mode = ${String(mode)}` });
  }
  const fan = mode === 'fanIn' ? fanIn : fanOut;
  if (fan === 0) {
    throw new ShapeError({ op, expected: 'a tensor with a non-zero fan', given: `shape ${formatShape(t.shape)}` });
  }
  return calculateGain(options.nonlinearity ?? 'leakyRelu', options.a ?? 0) / Math.sqrt(fan);
}

/**
 * He et al. (2015): U(-b, b) with b = sqrt(3) * gain / sqrt(fan). With `a = sqrt(5)` and the default
 * leaky-ReLU gain this is U(-1/sqrt(fanIn), 1/sqrt(fanIn)): the default of nn.Linear and nn.Conv2d.
 */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform', t, options);
  return uniform(t, -bound, bound, options);
}

/** He et al. (2015): N(0, std^2) with std = gain / sqrt(fan). */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd('kaimingNormal', t, options), options);
}

/**
 * PyTorch's default Linear/Conv initialisation (`reset_parameters`): kaiming uniform with
 * a = sqrt(5) on the weight, and U(-1/sqrt(fanIn), 1/sqrt(fanIn)) on the bias (0 when fanIn = 0).
 */
export function defaultLayerInit(weight: Tensor, bias: Tensor | null, options: InitOptions = {}): void {
  const { fanIn } = calculateFanInAndFanOut(weight);
  if (fanIn > 0) kaimingUniform(weight, { a: Math.sqrt(5), generator: options.generator });
  if (bias) {
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform(bias, -bound, bound, options);
  }
}
