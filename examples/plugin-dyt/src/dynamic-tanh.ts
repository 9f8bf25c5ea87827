import {
  DTypeError, Module, Parameter, ShapeError, ValueError, allocate, customOp, formatShape, full, ones, refuseMask, zeros,
  type DType, type Normalizer, type NormalizerContext, type Tensor,
} from '@normkit/tensor';

export interface DynamicTanhFunctionOptions {
  /** The learnable scalar alpha, shape [1]. */
  alpha: Tensor;
  /** Per-channel scale gamma, [C], or null. */
  weight?: Tensor | null;
  /** Per-channel shift beta, [C], or null. */
  bias?: Tensor | null;
}

/**
 * Dynamic Tanh as a function (Zhu, Chen, He, LeCun and Liu, "Transformers without Normalization",
 * CVPR 2025): an element-wise drop-in for LayerNorm in Transformers,
 *
 *   y = weight_c * tanh(alpha * x) + bias_c        over the last dim c of x = [..., C]
 *
 * with a learnable scalar alpha. It computes no statistics, so it is batch- and token-independent
 * and costs one pass. float32 inputs use `tanhFloat32` (float32-accurate, much cheaper than
 * Math.tanh); float64 inputs use Math.tanh. One fused autograd node; the backward, with t = tanh(alpha * x):
 *
 *   dx      = dy * weight * alpha * (1 - t^2)
 *   dalpha  = sum(dy * weight * x * (1 - t^2))
 *   dweight = sum over rows of dy * t,   dbias = sum over rows of dy      (accumulated in float64)
 *
 * @example
 * const y = dynamicTanh(randn([2, 8]), { alpha: full([1], 0.5), weight: ones([8]), bias: zeros([8]) });
 */
export function dynamicTanh(x: Tensor, options: DynamicTanhFunctionOptions): Tensor {
  const op = 'dynamicTanh';
  const { alpha } = options;
  const weight = options.weight ?? null;
  const bias = options.bias ?? null;
  if (x.ndim === 0) throw new ShapeError({ op, expected: 'an input of shape [..., C]', given: 'a scalar' });
  const channels = x.shape[x.ndim - 1]!;
  if (alpha.size !== 1) throw new ShapeError({ op, expected: 'alpha with one element', given: `shape ${formatShape(alpha.shape)}` });
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && (p.ndim !== 1 || p.size !== channels)) {
      throw new ShapeError({ op, expected: `${name} of shape [${channels}] (the last dim of x)`, given: formatShape(p.shape) });
    }
  }
  for (const t of [alpha, weight, bias]) {
    if (t && t.dtype !== x.dtype) throw new DTypeError({ op, expected: `parameters of the input's dtype (${x.dtype})`, given: t.dtype });
  }
  const a = alpha.data[0]!;
  if (!Number.isFinite(a)) throw new ValueError({ op, expected: 'a finite alpha', given: `alpha = ${a}` });

  const xs = x.data;
  const w = weight?.data;
  const b = bias?.data;
  const rows = x.size / channels;
  const out = allocate(x.dtype, x.size);
  // tanh(alpha * x) is kept for the backward (one array, instead of recomputing tanh).
  const t = allocate(x.dtype, x.size);
  const tanhOf = x.dtype === 'float32' ? tanhFloat32 : Math.tanh;
  for (let r = 0, i = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++, i++) {
      const value = tanhOf(a * xs[i]!);
      t[i] = value;
      out[i] = (w ? w[c]! : 1) * value + (b ? b[c]! : 0);
    }
  }

  return customOp({
    op,
    inputs: { x, alpha, weight, bias },
    data: out,
    shape: x.shape,
    backward: (gy) => {
      const gradX = x.requiresGrad ? allocate(x.dtype, x.size) : null;
      const gradWeight = weight ? new Float64Array(channels) : null;
      const gradBias = bias ? new Float64Array(channels) : null;
      let gradAlpha = 0;
      for (let r = 0, i = 0; r < rows; r++) {
        for (let c = 0; c < channels; c++, i++) {
          const g = gy[i]!;
          const value = t[i]!;
          const dTanh = (w ? w[c]! : 1) * g * (1 - value * value);
          if (gradX) gradX[i] = dTanh * a;
          gradAlpha += dTanh * xs[i]!;
          if (gradWeight) gradWeight[c]! += g * value;
          if (gradBias) gradBias[c]! += g;
        }
      }
      // The float64 accumulators go back as they are: the engine casts them to each input's dtype.
      return { x: gradX, alpha: new Float64Array([gradAlpha]), weight: gradWeight, bias: gradBias };
    },
  });
}

const TANH_CLAMP = 7.90531110763549805;

/**
 * tanh to float32 accuracy (at most 3e-7 from Math.tanh, a few ulp near 1), about 4x faster
 * than Math.tanh in V8, where the transcendental call would cost more than LayerNorm's whole
 * kernel: Eigen's rational minimax approximation (generic_fast_tanh_float), an odd degree-13
 * numerator over an even degree-6 denominator on [-7.905, 7.905], where tanh rounds to +-1 in float32.
 */
export function tanhFloat32(z: number): number {
  if (Math.abs(z) < 0.0004) return z;
  const x = z > TANH_CLAMP ? TANH_CLAMP : z < -TANH_CLAMP ? -TANH_CLAMP : z;
  const x2 = x * x;
  let p = x2 * -2.76076847742355e-16 + 2.00018790482477e-13;
  p = p * x2 - 8.60467152213735e-11;
  p = p * x2 + 5.12229709037114e-8;
  p = p * x2 + 1.48572235717979e-5;
  p = p * x2 + 6.37261928875436e-4;
  p = p * x2 + 4.89352455891786e-3;
  let q = x2 * 1.19825839466702e-6 + 1.18534705686654e-4;
  q = q * x2 + 2.268434632439e-3;
  q = q * x2 + 4.89352518554385e-3;
  return (p * x) / q;
}

export interface DynamicTanhOptions {
  /** C, the last dim of the input. */
  numFeatures: number;
  /** Initial alpha (default 0.5, the paper's value for most models; it suggests smaller for LLM width and depth). */
  alphaInit?: number;
  /** Learn per-channel weight (ones) and bias (zeros) (default true). */
  elementwiseAffine?: boolean;
  /** Parameter dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
}

/**
 * Dynamic Tanh (DyT) as a layer, a drop-in for LayerNorm over the last dim: parameters `alpha` [1],
 * `weight` [C] and `bias` [C], named as in the paper's reference code so its state dicts load.
 *
 * @example
 * const dyt = new DynamicTanh({ numFeatures: 768 });
 * dyt.forward(randn([8, 128, 768])).shape; // [8, 128, 768]
 */
export class DynamicTanh extends Module implements Normalizer {
  readonly numFeatures: number;
  readonly dtype: DType;
  readonly alpha: Parameter;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;

  constructor(options: DynamicTanhOptions) {
    super();
    const op = 'DynamicTanh';
    if (!Number.isInteger(options.numFeatures) || options.numFeatures < 1) {
      throw new ValueError({ op, expected: 'numFeatures to be an integer >= 1', given: `numFeatures = ${String(options.numFeatures)}` });
    }
    const alphaInit = options.alphaInit ?? 0.5;
    if (!(alphaInit > 0) || !Number.isFinite(alphaInit)) {
      throw new ValueError({ op, expected: 'alphaInit to be a finite number > 0', given: `alphaInit = ${alphaInit}` });
    }
    this.numFeatures = options.numFeatures;
    this.dtype = options.dtype ?? 'float32';
    this.alpha = this.registerParameter('alpha', new Parameter(full([1], alphaInit, { dtype: this.dtype })));
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? this.registerParameter('weight', new Parameter(ones([this.numFeatures], { dtype: this.dtype }))) : null;
    this.bias = affine ? this.registerParameter('bias', new Parameter(zeros([this.numFeatures], { dtype: this.dtype }))) : null;
  }

  forward(x: Tensor, context?: NormalizerContext): Tensor {
    const op = 'DynamicTanh.forward';
    // The traits say acceptsMask: false, so a mask is refused rather than ignored (the testkit checks this).
    refuseMask(op, context, 'DyT is element-wise: padded positions never reach the others, and it has nothing to mask');
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== this.numFeatures) {
      throw new ShapeError({ op, expected: `an input of shape [..., ${this.numFeatures}]`, given: formatShape(x.shape) });
    }
    if (x.dtype !== this.dtype) throw new DTypeError({ op, expected: `a ${this.dtype} input (the parameters' dtype)`, given: `a ${x.dtype} input` });
    return dynamicTanh(x, { alpha: this.alpha, weight: this.weight, bias: this.bias });
  }
}
