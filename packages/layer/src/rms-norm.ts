import {
  Module,
  Parameter,
  normalize,
  ones,
  resolveModuleOptions,
  type DType,
  type Normalizer,
  type NormalizerContext,
  type OptionsSchema,
  type Tensor,
} from '@normkit/tensor';
import { checkEps, checkNormalizedShape, checkRowOrElementMask, rowLayout, rowwiseDtypeOption, type RowLayout } from './row-layout';

/** PyTorch's `torch.finfo(dtype).eps`: what `nn.RMSNorm(eps=None)` adds. */
export function machineEpsilon(dtype: DType): number {
  return dtype === 'float64' ? Number.EPSILON : 2 ** -23;
}

export interface RMSNormFunctionalOptions {
  /** Per-element scale, shaped like `normalizedShape`; none when omitted. */
  weight?: Tensor | null;
  /** Added to mean(x^2) (default 1e-6); null = the machine epsilon of x's dtype, like PyTorch's `eps=None`. */
  eps?: number | null;
  /**
   * One value per row (the input's shape without the normalised dims): 1 real, 0 padding; or, with
   * the input's shape, one per element: statistics over a row's unmasked elements only (Flax's `mask`).
   */
  mask?: Tensor;
  /** Name in errors and in the graph (default `rmsNorm`). */
  op?: string;
}

/**
 * Root-mean-square normalization as a function, like `torch.nn.functional.rms_norm`:
 *
 *   y = x / sqrt(mean(x^2) + eps) * weight
 *
 * over the trailing `normalizedShape` dims of each row. One node of the shared kernel with
 * `center: false`, which skips the mean pass (that pass is RMSNorm's whole speed advantage).
 *
 * @example
 * const y = rmsNorm(randn([2, 5, 8]), 8, { weight: ones([8]) });
 */
export function rmsNorm(x: Tensor, normalizedShape: number | readonly number[], options: RMSNormFunctionalOptions = {}): Tensor {
  const op = options.op ?? 'rmsNorm';
  const shape = checkNormalizedShape(op, normalizedShape);
  const eps = options.eps === null ? null : checkEps(op, options.eps ?? 1e-6);
  return runRmsNorm(x, shape, rowLayout(op, x, shape), { ...options, op, eps });
}

/** The kernel call on options already checked (by `rmsNorm`, or by RMSNorm's constructor and input check); the mask is checked here. */
export function runRmsNorm(
  x: Tensor, shape: readonly number[], { rows, inner }: RowLayout, options: RMSNormFunctionalOptions & { op: string; eps: number | null },
): Tensor {
  const { op } = options;
  const eps = options.eps === null ? machineEpsilon(x.dtype) : options.eps;
  const masking = options.mask ? checkRowOrElementMask(op, options.mask, x, shape.length, inner) : { mask: undefined, maskSpatial: 1 };
  return normalize(x, {
    op,
    layout: { outer: rows, groups: 1, inner },
    acrossOuter: false,
    center: false,
    eps,
    weight: options.weight ?? null,
    affineBlock: 1,
    ...masking,
  }).output;
}

/** RMSNorm's options besides normalizedShape: the one schema the constructor, the plugin and the docs read. */
export const rmsNormOptionsSchema = {
  eps: {
    type: 'number',
    default: 1e-6,
    min: 0,
    minExclusive: true,
    nullable: true,
    description: 'Added to mean(x^2): Llama 1e-6 (1) or 1e-5 (2, 3); null = machine epsilon of the dtype, like PyTorch eps=None.',
  },
  elementwiseAffine: { type: 'boolean', default: true, description: 'Learn a per-element weight.' },
  dtype: rowwiseDtypeOption,
} as const satisfies OptionsSchema;

export interface RMSNormOptions {
  /** The trailing dims normalised together: `4096`, or an array for several dims. */
  normalizedShape: number | readonly number[];
  /**
   * Added to mean(x^2). Default 1e-6 (Llama 1 and T5's value; Llama 2 and 3 use 1e-5). null =
   * machine epsilon of the input's dtype, what PyTorch's `nn.RMSNorm(eps=None)` does (1.19e-7 in float32).
   */
  eps?: number | null;
  /** Learn a per-element `weight` (init 1). Default true. */
  elementwiseAffine?: boolean;
  /** Parameter dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
}

/**
 * Root Mean Square Layer Normalization (Zhang and Sennrich, 2019), as in Llama and T5:
 *
 *   y = x * rsqrt(mean(x^2) + eps) * weight
 *
 * LayerNorm without the mean centring and without a bias: it re-scales but does not re-centre,
 * which the paper finds keeps LayerNorm's benefit at lower cost. State-dict name `weight`
 * (PyTorch's `nn.RMSNorm` and Llama's `RMSNorm`). One fused node of the shared kernel.
 *
 * eps conventions differ: PyTorch's `nn.RMSNorm` defaults to eps=None, meaning
 * `torch.finfo(x.dtype).eps` (pass `eps: null` for that); Llama uses `norm_eps` 1e-6 (Llama 1) or
 * 1e-5 (Llama 2/3); here the default is 1e-6. Masks work as in LayerNorm (rows are independent:
 * padded rows output 0 and get no gradient).
 *
 * @example
 * const norm = new RMSNorm({ normalizedShape: 4096, eps: 1e-5 }); // Llama 2 settings
 * const y = norm.forward(hidden);                                 // hidden [N, L, 4096]
 */
export class RMSNorm extends Module implements Normalizer {
  readonly normalizedShape: readonly number[];
  /** null: the machine epsilon of the input's dtype. */
  readonly eps: number | null;
  readonly elementwiseAffine: boolean;
  readonly dtype: DType;
  /** Shaped like `normalizedShape`; null without elementwise affine. */
  readonly weight: Parameter | null;

  constructor(options: RMSNormOptions) {
    super();
    const op = 'RMSNorm';
    // Checked once, here, against the schema the plugin uses too; unknown keys are refused.
    const resolved = resolveModuleOptions(op, options, { schema: rmsNormOptionsSchema, other: ['normalizedShape'] });
    this.normalizedShape = Object.freeze(checkNormalizedShape(op, options.normalizedShape));
    ({ eps: this.eps, elementwiseAffine: this.elementwiseAffine, dtype: this.dtype } = resolved);
    this.weight = this.elementwiseAffine ? this.registerParameter('weight', new Parameter(ones(this.normalizedShape, { dtype: this.dtype }))) : null;
  }

  /** weight = 1. */
  resetParameters(): void {
    this.weight?.data.fill(1);
  }

  override forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    const layout = rowLayout('RMSNorm.forward', x, this.normalizedShape, this.dtype);
    return runRmsNorm(x, this.normalizedShape, layout, { weight: this.weight, eps: this.eps, mask: context.mask, op: 'rmsNorm' });
  }
}
