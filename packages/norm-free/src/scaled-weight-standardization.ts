import {
  Module, OptionError, ValueError, checkOptionKeys, noGrad, parametrizationsOf, registerParametrization,
  type Conv2dLayerOptions, type LinearOptions, type Pair,
} from '@normkit/tensor';
import {
  WSConv2d, WSLinear, createWeightStandardization, resolveStandardization, type EpsMode, type WeightStandardization,
} from '@normkit/weight';

/**
 * The nonlinearity gammas of the NFNets code (DeepMind's `nfnets/base.py`, copied by timm as
 * `_nonlin_gamma`): `gamma = 1 / sqrt(Var[g(x)])` for `x ~ N(0, 1)`, so that `gamma * g(x)` has unit
 * variance. The variance, not `E[g(x)^2]`: a standardized weight row sums to zero, so the mean of
 * `g(x)` cancels in `w_hat . g(x)` and only its spread reaches the next layer. DeepMind estimated them
 * by sampling, so they differ from the exact integrals (`computeGamma`) in the fourth digit
 * (ReLU: 1.7139588594436646 here, exactly `sqrt(2 / (1 - 1/pi))` = 1.7128585...). Keys follow
 * normkit's op names; `leakyRelu` has slope 0.01 and `gelu` is jax's default (tanh) GELU, which
 * differs from the erf GELU only in the sixth digit of its gamma.
 */
export const NONLINEARITY_GAMMA = Object.freeze({
  identity: 1.0,
  relu: 1.7139588594436646,
  gelu: 1.7015043497085571,
  silu: 1.7881293296813965,
  tanh: 1.5939117670059204,
  sigmoid: 4.803835391998291,
  leakyRelu: 1.70590341091156,
  elu: 1.2716004848480225,
  celu: 1.270926833152771,
  selu: 1.0008515119552612,
  relu6: 1.7131484746932983,
  softplus: 1.9203323125839233,
  softsign: 2.338853120803833,
  logSigmoid: 1.9193484783172607,
} as const);

export type NonlinearityName = keyof typeof NONLINEARITY_GAMMA;

export const NONLINEARITY_NAMES = Object.freeze(Object.keys(NONLINEARITY_GAMMA)) as readonly NonlinearityName[];

/**
 * The exact gamma of any nonlinearity, `1 / sqrt(Var[g(x)])` for `x ~ N(0, 1)`, by Simpson's rule
 * on [-12, 12] (24000 panels; the Gaussian tail beyond is below 1e-31). For an activation missing
 * from `NONLINEARITY_GAMMA`, or to use exact values instead of DeepMind's sampled ones.
 *
 * @example
 * computeGamma((x) => Math.max(x, 0)); // 1.7128585504..., sqrt(2 / (1 - 1/pi))
 * computeGamma((x) => x * x);          // 1 / sqrt(2)
 */
export function computeGamma(activation: (x: number) => number): number {
  const op = 'computeGamma';
  if (typeof activation !== 'function') throw new ValueError({ op, expected: 'a function of one number', given: typeof activation });
  const limit = 12;
  const panels = 24_000;
  const h = (2 * limit) / panels;
  const norm = 1 / Math.sqrt(2 * Math.PI);
  const integrate = (f: (x: number) => number): number => {
    let total = 0;
    for (let i = 0; i <= panels; i++) {
      const x = -limit + i * h;
      const weight = i === 0 || i === panels ? 1 : i % 2 === 1 ? 4 : 2;
      total += weight * norm * Math.exp(-0.5 * x * x) * f(x);
    }
    return (total * h) / 3;
  };
  const mean = integrate(activation);
  // Second pass around the mean: no cancellation for activations with a large mean (sigmoid).
  const variance = integrate((x) => (activation(x) - mean) ** 2);
  // A constant leaves only quadrature rounding (relative 1e-16 of its square) as variance.
  if (!Number.isFinite(variance) || variance <= 1e-12 * mean * mean || variance === 0) {
    throw new ValueError({ op, expected: 'an activation with a finite, non-zero variance under N(0, 1)', given: `variance ${variance}` });
  }
  return 1 / Math.sqrt(variance);
}

/** How a scaled-WS layer gets its gamma: a number, or the name of the nonlinearity that feeds it (default: gamma 1). */
export interface GammaOptions {
  /** A fixed gamma (finite, > 0); default 1 (no nonlinearity before the layer, or gamma applied in the activation). */
  gamma?: number;
  /** The nonlinearity feeding the layer: its gamma from `NONLINEARITY_GAMMA`. Give `gamma` or this, not both. */
  nonlinearity?: NonlinearityName;
}

/** Resolves `gamma` / `nonlinearity` to a number, with OptionErrors naming the choices. */
export function resolveGamma(op: string, options: GammaOptions): number {
  const { gamma, nonlinearity } = options;
  if (gamma !== undefined && nonlinearity !== undefined) {
    throw new OptionError({ op, expected: 'either gamma or nonlinearity, not both', given: `gamma = ${gamma}, nonlinearity = ${JSON.stringify(nonlinearity)}` });
  }
  if (nonlinearity !== undefined) {
    if (typeof nonlinearity !== 'string' || !Object.hasOwn(NONLINEARITY_GAMMA, nonlinearity)) {
      throw new OptionError(
        { op, expected: `nonlinearity among ${NONLINEARITY_NAMES.join(', ')}`, given: `nonlinearity = ${JSON.stringify(nonlinearity)}` },
        'For another activation pass gamma: computeGamma(activation)',
      );
    }
    return NONLINEARITY_GAMMA[nonlinearity];
  }
  if (gamma === undefined) return 1;
  if (typeof gamma !== 'number' || !Number.isFinite(gamma) || gamma <= 0) {
    throw new OptionError({ op, expected: 'gamma to be a finite number > 0', given: `gamma = ${String(gamma)}` });
  }
  return gamma;
}

/** Options of ScaledStdConv2d and ScaledStdLinear besides the layer's own. */
export interface ScaledStdOptions extends GammaOptions {
  /**
   * Keeps the standard deviation away from 0 (default 1e-6, timm's ScaledStdConv2d); must be > 0.
   * DeepMind's `rsqrt(max(var * fanIn, 1e-4))` is `eps: 1e-4 / fanIn, epsMode: 'max'`.
   */
  eps?: number;
  /** 'add' (default): sqrt(var + eps); 'max': sqrt(max(var, eps)). */
  epsMode?: EpsMode;
}

const SCALED_STD_KEYS = { eps: true, epsMode: true, gamma: true, nonlinearity: true } as const satisfies Record<keyof ScaledStdOptions, true>;
/** Every option key of the scaled-WS layers and parametrization (the compiler keeps the lists complete): any other is refused. */
const SCALED_STD_CONV2D_OPTION_KEYS = Object.keys({
  inChannels: true, outChannels: true, kernelSize: true, stride: true, padding: true, dilation: true, groups: true, bias: true, dtype: true, generator: true,
  ...SCALED_STD_KEYS,
} satisfies Record<keyof (Conv2dLayerOptions & ScaledStdOptions), true>);
const SCALED_STD_LINEAR_OPTION_KEYS = Object.keys({
  inFeatures: true, outFeatures: true, bias: true, dtype: true, generator: true, ...SCALED_STD_KEYS,
} satisfies Record<keyof (LinearOptions & ScaledStdOptions), true>);
const SCALED_WS_PARAMETRIZATION_KEYS = Object.keys({ dim: true, ...SCALED_STD_KEYS } satisfies Record<keyof ScaledWeightStandardizationParametrizationOptions, true>);

function refuseFixedOptions(op: string, options: object): void {
  for (const key of ['gain', 'scale']) {
    if (key in options) {
      throw new OptionError(
        { op, expected: 'no gain or scale option (scaled WS always learns a gain and fixes scale = gamma / sqrt(fanIn))', given: `option "${key}"` },
        'For another scale use WSConv2d / WSLinear from @normkit/weight',
      );
    }
  }
}

function pairProduct(pair: Pair): number {
  return typeof pair === 'number' ? pair * pair : pair[0] * pair[1];
}

/** gamma / sqrt(fanIn) when fanIn is a usable count; 1 otherwise, so the layer's own checks name the bad option. */
function scaleFor(gamma: number, fanIn: number): number {
  return Number.isFinite(fanIn) && fanIn > 0 ? gamma / Math.sqrt(fanIn) : 1;
}

/**
 * A scaled-WS layer's options, checked once: no gain or scale of its own, known keys only, gamma
 * resolved; returns the options of the WS layer it is (`gain: true`, `scale = gamma / sqrt(fanIn)`,
 * `fanIn` read after the checks) and the gamma.
 */
function resolveScaledStdLayer<O extends ScaledStdOptions>(
  op: string, options: O, keys: readonly string[], fanIn: (options: O) => number,
): { layer: Omit<O, 'nonlinearity' | 'gamma'> & { gain: true; scale: number; eps: number; epsMode: EpsMode }; gamma: number } {
  refuseFixedOptions(op, options);
  checkOptionKeys(op, options, keys);
  const gamma = resolveGamma(op, options);
  const { eps, epsMode } = resolveStandardization(op, { eps: options.eps ?? 1e-6, epsMode: options.epsMode });
  const { nonlinearity: _nonlinearity, gamma: _gamma, ...layer } = options;
  return { layer: { ...layer, gain: true, scale: scaleFor(gamma, fanIn(options)), eps, epsMode }, gamma };
}

/**
 * A Conv2d with NFNets' scaled weight standardization (Brock et al., 2021, "Characterizing
 * signal propagation to close the performance gap in unnormalized ResNets"), per output channel:
 *
 *   w_hat = gain * gamma * (w - mean(w)) / (std(w) * sqrt(fanIn)),   std = sqrt(var + eps)
 *
 * `fanIn = inChannels / groups * kH * kW`, `gain` learnable per output channel `[out, 1, 1, 1]`
 * (init 1), `gamma` fixed for the nonlinearity feeding the layer (`NONLINEARITY_GAMMA`). With
 * unit-variance inputs `gamma * g(x)`, each output then has variance about `gain^2`: the signal
 * keeps its scale through depth without activation normalization. Recomputed at every forward
 * as one fused node by @normkit/weight's weight-standardization kernel (this is its `WSConv2d`
 * with `gain: true` and `scale = gamma / sqrt(fanIn)`). Parameters `weight`, `bias`, `gain`:
 * timm's `ScaledStdConv2d` layout, so its state dicts load as they are.
 *
 * @example
 * const conv = new ScaledStdConv2d({ inChannels: 64, outChannels: 64, kernelSize: 3, padding: 1, nonlinearity: 'relu' });
 * const y = conv.forward(relu(x));
 */
export class ScaledStdConv2d extends WSConv2d {
  /** The fixed gamma of the nonlinearity feeding the layer. */
  readonly gamma: number;

  constructor(options: Conv2dLayerOptions & ScaledStdOptions) {
    const { layer, gamma } = resolveScaledStdLayer('ScaledStdConv2d', options, SCALED_STD_CONV2D_OPTION_KEYS, (o) => (o.inChannels / (o.groups ?? 1)) * pairProduct(o.kernelSize));
    super(layer);
    this.gamma = gamma;
  }
}

/**
 * A Linear with scaled weight standardization, per output row over its `inFeatures` inputs:
 * `w_hat = gain * gamma * (w - mean) / (std * sqrt(inFeatures))`, gain `[outFeatures, 1]` (init 1).
 * See `ScaledStdConv2d`; this is @normkit/weight's `WSLinear` with `gain: true` and
 * `scale = gamma / sqrt(inFeatures)`.
 *
 * @example
 * const layer = new ScaledStdLinear({ inFeatures: 256, outFeatures: 256, nonlinearity: 'gelu' });
 * const y = layer.forward(gelu(x)); // variance about 1 for x ~ N(0, 1)
 */
export class ScaledStdLinear extends WSLinear {
  readonly gamma: number;

  constructor(options: LinearOptions & ScaledStdOptions) {
    const { layer, gamma } = resolveScaledStdLayer('ScaledStdLinear', options, SCALED_STD_LINEAR_OPTION_KEYS, (o) => o.inFeatures);
    super(layer);
    this.gamma = gamma;
  }
}

export interface ScaledWeightStandardizationParametrizationOptions extends ScaledStdOptions {
  /** The dim of the output units (default 0: Linear, Conv2d, Embedding); fanIn is the size of the rest. */
  dim?: number;
}

export interface ScaledWeightStandardizationOptions extends ScaledWeightStandardizationParametrizationOptions {
  /** The parameter to parametrize (default 'weight'). */
  name?: string;
}

/** The shape `module[name]` has now (plain, or as its parametrizations compute it in eval mode), or undefined. */
function currentShape(module: Module, name: string): readonly number[] | undefined {
  const plain = module.getParameter(name) ?? module.getBuffer(name);
  if (plain !== undefined) return plain.shape;
  const list = parametrizationsOf(module, name);
  if (list === undefined) return undefined;
  const wasTraining = list.training;
  list.train(false);
  try {
    return noGrad(() => list.forward()).shape;
  } finally {
    list.train(wasTraining);
  }
}

/**
 * Builds scaled weight standardization for `module[name]` as a parametrization without
 * registering it: @normkit/weight's WeightStandardization with a learnable gain and
 * `scale = gamma / sqrt(fanIn)`, fanIn being the elements per output unit. What the
 * `scaled-weight-standardization` plugin's `create` calls.
 */
export function createScaledWeightStandardization(
  module: Module,
  name: string,
  options: ScaledWeightStandardizationParametrizationOptions = {},
): WeightStandardization {
  const op = 'scaledWeightStandardization';
  checkOptionKeys(op, options, SCALED_WS_PARAMETRIZATION_KEYS);
  const gamma = resolveGamma(op, options);
  const dim = options.dim ?? 0;
  const base = { dim, eps: options.eps ?? 1e-6, epsMode: options.epsMode ?? 'add', gain: true } as const;
  const shape = module instanceof Module && typeof name === 'string' ? currentShape(module, name) : undefined;
  if (shape === undefined || !Number.isInteger(dim) || dim < 0 || dim >= shape.length) {
    // @normkit/weight's checks name what is wrong (no such tensor, a bad dim), listing the module's tensors.
    createWeightStandardization(module, name, base);
    throw new ValueError({ op, expected: `a tensor "${String(name)}" with a dim ${String(dim)}`, given: 'none' });
  }
  let size = 1;
  for (const d of shape) size *= d;
  return createWeightStandardization(module, name, { ...base, scale: scaleFor(gamma, size / shape[dim]!) });
}

/**
 * Scaled weight standardization (NFNets) on `module[name]` as a parametrization: every read of
 * the weight computes `gain * gamma * (w - mean) / (std * sqrt(fanIn))` per output unit. The same
 * maths as `ScaledStdConv2d` / `ScaledStdLinear` on any existing layer; the stored weight becomes
 * `parametrizations.weight.original` and the gain `parametrizations.weight.0.gain`. Returns the module.
 *
 * @example
 * const conv = scaledWeightStandardization(new Conv2d({ inChannels: 16, outChannels: 32, kernelSize: 3 }), { nonlinearity: 'relu' });
 */
export function scaledWeightStandardization<M extends Module>(module: M, options: ScaledWeightStandardizationOptions = {}): M {
  checkOptionKeys('scaledWeightStandardization', options, ['name', ...SCALED_WS_PARAMETRIZATION_KEYS]);
  const { name = 'weight', ...rest } = options;
  return registerParametrization(module, name, createScaledWeightStandardization(module, name, rest));
}
