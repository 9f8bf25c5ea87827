import {
  checkOptionKeys, Module, OptionError, Parameter, ShapeError, allocate, customOp, formatShape, ones, registerParametrization,
  type Parametrization, type Tensor, type TypedArray,
} from '@normkit/tensor';
import { checkDimInRange, checkDimOption, checkEpsOption, checkNotParametrizedWith, checkMatchingDType, targetTensor, unitLayout, unitShape } from './shared';

/**
 * Where eps enters the standard deviation:
 * - 'add': `sqrt(var + eps)` (the WS paper's form with a biased variance; timm's StdConv2d and ScaledStdConv2d);
 * - 'max': `sqrt(max(var, eps))` (DeepMind's NFNets code, `rsqrt(max(var * fanIn, eps'))`, is
 *   `scale = 1 / sqrt(fanIn)` with `eps = eps' / fanIn`).
 */
export type EpsMode = 'add' | 'max';

export interface StandardizeWeightOptions {
  /** The dim of the output units (default 0): statistics per index along it, over every other dim. */
  dim?: number;
  /** Keeps the standard deviation away from 0 (default 1e-5); must be > 0. */
  eps?: number;
  /** How eps enters, 'add' (default) or 'max'. */
  epsMode?: EpsMode;
  /**
   * Learnable per-unit gain, one value per unit (any shape of that size, e.g. `[out, 1, 1, 1]`),
   * multiplied in inside the same node and receiving its gradient; null or absent: 1.
   */
  gain?: Tensor | null;
  /** A fixed factor (default 1), e.g. NFNets' `gamma / sqrt(fanIn)`; finite and > 0. */
  scale?: number;
}

export interface ResolvedStandardization {
  dim: number;
  eps: number;
  epsMode: EpsMode;
  scale: number;
}

/** Checks and fills the options shared by every form of weight standardization. */
export function resolveStandardization(op: string, options: Omit<StandardizeWeightOptions, 'gain'>): ResolvedStandardization {
  const dim = checkDimOption(op, options.dim ?? 0, { allowNull: false })!;
  const eps = checkEpsOption(op, options.eps ?? 1e-5);
  const epsMode = options.epsMode ?? 'add';
  if (epsMode !== 'add' && epsMode !== 'max') {
    throw new OptionError({ op, expected: "epsMode to be 'add' (sqrt(var + eps)) or 'max' (sqrt(max(var, eps)))", given: `epsMode = ${JSON.stringify(epsMode)}` });
  }
  const scale = options.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new OptionError({ op, expected: 'scale to be a finite number > 0', given: `scale = ${String(scale)}` });
  }
  return { dim, eps, epsMode, scale };
}

/**
 * The weight-standardization kernel (Qiao et al., "Micro-Batch Training with Batch-Channel
 * Normalization and Weight Standardization", 2019) as one fused node from the weight (and the
 * gain) to the standardized weight, per output unit along `dim`:
 *
 *   w_hat = gain * scale * (w - mean) / sqrt(var + eps)          (epsMode 'add')
 *   w_hat = gain * scale * (w - mean) / sqrt(max(var, eps))      (epsMode 'max')
 *
 * with the biased variance over every other dim, recomputed at each call. It is the building
 * block of both plain WS (`gain` absent, `scale` 1) and NFNets' scaled WS (Brock et al. 2021:
 * learnable gain, `scale = gamma / sqrt(fanIn)`). Backward, with xhat = (w - mean) * rstd, a =
 * gain * scale and means over the unit:
 *
 *   dL/dw    = a * rstd * (G - mean(G) - xhat * mean(G * xhat))   (the last term drops where 'max' clamps)
 *   dL/dgain = scale * sum(G * xhat)
 *
 * Statistics and sums accumulate in float64. The same normalisation as the core `normalize`
 * kernel with layout `[1, units, fanIn]` (tested to agree), kept separate for the fixed scale
 * and the 'max' form. An all-zero unit reads as zeros.
 *
 * @example
 * const w = standardizeWeight(conv.weight);                              // WS
 * const scaled = standardizeWeight(conv.weight, { gain, scale: 1.7139588594436646 / Math.sqrt(fanIn), eps: 1e-4, epsMode: 'max' });
 */
export function standardizeWeight(weight: Tensor, options: StandardizeWeightOptions = {}): Tensor {
  const op = 'standardizeWeight';
  const { dim, eps, epsMode, scale } = resolveStandardization(op, options);
  checkDimInRange(op, dim, weight.shape, 'the weight');
  const gain = options.gain ?? null;
  const { before, units, after } = unitLayout(weight.shape, dim);
  if (gain !== null) {
    checkMatchingDType(op, weight, 'the weight', gain, 'gain');
    if (gain.size !== units) {
      throw new ShapeError({
        op,
        expected: `gain with one value per unit along dim ${dim}: ${units} element(s), e.g. shape ${formatShape(unitShape(weight.shape, dim))}`,
        given: `gain of shape ${formatShape(gain.shape)}`,
      });
    }
  }
  const count = before * after;
  const ws = weight.data;
  const gs = gain?.data;
  // One pass of shifted sums in float64: with the shift K = the unit's first element,
  // var = (S2 - S1^2 / n) / n over x - K loses nothing to a large mean (K is close to it).
  const shift = new Float64Array(units);
  forEachUnitRun(1, units, after, (u, start) => (shift[u] = count > 0 ? ws[start]! : 0));
  const sums = new Float64Array(units);
  const squares = new Float64Array(units);
  forEachUnitRun(before, units, after, (u, start, end) => {
    const k0 = shift[u]!;
    let s1 = 0;
    let s2 = 0;
    for (let k = start; k < end; k++) {
      const d = ws[k]! - k0;
      s1 += d;
      s2 += d * d;
    }
    sums[u]! += s1;
    squares[u]! += s2;
  });
  const mean = new Float64Array(units);
  const rstd = new Float64Array(units);
  // 'max' with var < eps: the std is the constant sqrt(eps), so var gets no gradient.
  const clamped = new Uint8Array(units);
  for (let u = 0; u < units; u++) {
    const shiftedMean = count > 0 ? sums[u]! / count : 0;
    mean[u] = shift[u]! + shiftedMean;
    const variance = count > 0 ? Math.max(squares[u]! / count - shiftedMean * shiftedMean, 0) : 0;
    if (epsMode === 'add') {
      rstd[u] = 1 / Math.sqrt(variance + eps);
    } else {
      clamped[u] = variance < eps ? 1 : 0;
      rstd[u] = 1 / Math.sqrt(Math.max(variance, eps));
    }
  }
  const out = allocate(weight.dtype, weight.size);
  forEachUnitRun(before, units, after, (u, start, end) => {
    const m = mean[u]!;
    const factor = rstd[u]! * scale * (gs ? gs[u]! : 1);
    for (let k = start; k < end; k++) out[k] = (ws[k]! - m) * factor;
  });
  return customOp({
    op: 'weightStandardization',
    inputs: { weight, gain },
    data: out,
    shape: weight.shape,
    backward: (gradOut) => {
      const gradSums = new Float64Array(units);
      const gradDotXhat = new Float64Array(units);
      forEachUnitRun(before, units, after, (u, start, end) => {
        const m = mean[u]!;
        const r = rstd[u]!;
        let sumG = 0;
        let sumGx = 0;
        for (let k = start; k < end; k++) {
          const g = gradOut[k]!;
          sumG += g;
          sumGx += g * (ws[k]! - m) * r;
        }
        gradSums[u]! += sumG;
        gradDotXhat[u]! += sumGx;
      });
      let gradWeight: TypedArray | null = null;
      if (weight.requiresGrad) {
        const grad = allocate(weight.dtype, weight.size);
        forEachUnitRun(before, units, after, (u, start, end) => {
          const m = mean[u]!;
          const r = rstd[u]!;
          const a = scale * (gs ? gs[u]! : 1);
          const meanG = gradSums[u]! / count;
          const meanGx = clamped[u] ? 0 : gradDotXhat[u]! / count;
          const factor = a * r;
          for (let k = start; k < end; k++) grad[k] = factor * (gradOut[k]! - meanG - (ws[k]! - m) * r * meanGx);
        });
        gradWeight = grad;
      }
      let gradGain: TypedArray | null = null;
      if (gain?.requiresGrad) {
        gradGain = allocate(gain.dtype, units);
        for (let u = 0; u < units; u++) gradGain[u] = scale * gradDotXhat[u]!;
      }
      return { weight: gradWeight, gain: gradGain };
    },
  });
}

/** Calls `fn(unit, start, end)` for every contiguous run of a unit's elements in the [before, units, after] layout. */
function forEachUnitRun(before: number, units: number, after: number, fn: (unit: number, start: number, end: number) => void): void {
  for (let b = 0; b < before; b++) {
    for (let u = 0; u < units; u++) {
      const start = (b * units + u) * after;
      fn(u, start, start + after);
    }
  }
}

/** Refuses units of fewer than 2 elements: they would always standardize to 0. */
export function checkUnitSize(op: string, shape: readonly number[], dim: number): void {
  const { before, after } = unitLayout(shape, dim);
  if (before * after < 2) {
    throw new ShapeError({
      op,
      expected: `a weight whose units along dim ${dim} hold at least 2 elements (each is standardized to mean 0 and variance 1)`,
      given: `shape ${formatShape(shape)}: ${before * after} element(s) per unit, which would always read 0`,
    });
  }
}

/** Every key of WeightStandardizationParametrizationOptions (the compiler keeps the list complete); `weightStandardization` adds `name`. */
const WEIGHT_STANDARDIZATION_PARAMETRIZATION_KEYS = Object.keys({
  dim: true, eps: true, epsMode: true, gain: true, scale: true,
} satisfies Record<keyof WeightStandardizationParametrizationOptions, true>);

export interface WeightStandardizationParametrizationOptions extends Omit<StandardizeWeightOptions, 'gain'> {
  /**
   * Learn a per-unit gain, initialised to 1 and shaped `[out, 1, ..., 1]` (ones except along
   * `dim`), held by the parametrization: state-dict key `parametrizations.weight.<index>.gain`.
   * Default false.
   */
  gain?: boolean;
}

/**
 * Weight standardization as a parametrization: each read of the weight returns
 * `gain * scale * (w - mean) / sqrt(var + eps)` per output unit (see `standardizeWeight`), one
 * fused node. Built from the weight it will parametrize (for its shape, dtype and the gain's).
 * Its rightInverse is the identity: assigning a weight stores it, and it reads back standardized
 * (exact for an already standardized value). Usually made by `weightStandardization(module)`.
 */
export class WeightStandardization extends Module implements Parametrization {
  readonly dim: number;
  readonly eps: number;
  readonly epsMode: EpsMode;
  readonly scale: number;
  /** The learnable per-unit gain (`[out, 1, ..., 1]`), or null. */
  readonly gain: Parameter | null;

  constructor(weight: Tensor, options: WeightStandardizationParametrizationOptions = {}) {
    super();
    const op = 'WeightStandardization';
    checkOptionKeys(op, options, WEIGHT_STANDARDIZATION_PARAMETRIZATION_KEYS);
    ({ dim: this.dim, eps: this.eps, epsMode: this.epsMode, scale: this.scale } = resolveStandardization(op, options));
    checkDimInRange(op, this.dim, weight.shape, 'the weight');
    checkUnitSize(op, weight.shape, this.dim);
    this.gain = options.gain
      ? this.registerParameter('gain', new Parameter(ones(unitShape(weight.shape, this.dim), { dtype: weight.dtype })))
      : null;
  }

  forward(weight: Tensor): Tensor {
    return standardizeWeight(weight, { dim: this.dim, eps: this.eps, epsMode: this.epsMode, scale: this.scale, gain: this.gain });
  }

  rightInverse(value: Tensor): Tensor[] {
    return [value];
  }
}

export interface WeightStandardizationOptions extends WeightStandardizationParametrizationOptions {
  /** The parameter to parametrize (default 'weight'). */
  name?: string;
}

/**
 * Builds the WeightStandardization parametrization for `module[name]` without registering it,
 * after the checks `weightStandardization` makes. What the `weight-standardization` plugin's
 * `create` calls.
 */
export function createWeightStandardization(
  module: Module,
  name: string,
  options: WeightStandardizationParametrizationOptions = {},
): WeightStandardization {
  const op = 'weightStandardization';
  const weight = targetTensor(op, module, name);
  checkNotParametrizedWith(op, module, name, WeightStandardization, 'weight standardization');
  return new WeightStandardization(weight, options);
}

/**
 * Weight Standardization (Qiao et al. 2019) on `module[name]`: every forward reads
 * `w_hat = (w - mean(w)) / sqrt(var(w) + eps)` per output unit (dim 0: an output channel of a
 * conv, a row of a Linear or Embedding weight), recomputed at each read from the stored weight,
 * so the layer sees zero-mean, unit-variance filters. Meant to pair with GroupNorm (WS + GN
 * matches BatchNorm at batch size 1 or 2 per device). State-dict key of the stored weight:
 * `parametrizations.weight.original`. Options `gain` and `scale` give NFNets' scaled WS (see
 * `standardizeWeight`). Returns the module.
 *
 * For ready layers with a plain `weight` (timm's StdConv2d layout) see `WSConv2d` and `WSLinear`.
 *
 * @example
 * const conv = weightStandardization(new Conv2d({ inChannels: 16, outChannels: 32, kernelSize: 3 }));
 * const block = new Sequential(conv, new GroupNorm({ numGroups: 8, numChannels: 32 }), new ReLU()); // GroupNorm from @normkit/group
 */
export function weightStandardization<M extends Module>(module: M, options: WeightStandardizationOptions = {}): M {
  checkOptionKeys('weightStandardization', options, ['name', ...WEIGHT_STANDARDIZATION_PARAMETRIZATION_KEYS]);
  const name = options.name ?? 'weight';
  const { name: _name, ...rest } = options;
  return registerParametrization(module, name, createWeightStandardization(module, name, rest));
}
