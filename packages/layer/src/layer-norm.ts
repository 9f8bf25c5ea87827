import {
  Module,
  Parameter,
  normalize,
  ones,
  resolveModuleOptions,
  zeros,
  type DType,
  type Normalizer,
  type NormalizerContext,
  type OptionsSchema,
  type Tensor,
} from '@normkit/tensor';
import { checkEps, checkNormalizedShape, checkRowOrElementMask, rowLayout, rowwiseDtypeOption, type RowLayout } from './row-layout';

/** LayerNorm's options besides normalizedShape: the one schema the constructor, the plugin and the docs read. */
export const layerNormOptionsSchema = {
  eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'Added to the variance (PyTorch 1e-5, Flax 1e-6).' },
  elementwiseAffine: { type: 'boolean', default: true, description: 'Learn a per-element weight (and bias).' },
  bias: { type: 'boolean', default: true, description: 'Learn the bias (with elementwiseAffine).' },
  dtype: rowwiseDtypeOption,
} as const satisfies OptionsSchema;

export interface LayerNormFunctionalOptions {
  /** Per-element scale (gamma), shaped like `normalizedShape`; none when omitted. */
  weight?: Tensor | null;
  /** Per-element shift (beta), shaped like `normalizedShape`; none when omitted. */
  bias?: Tensor | null;
  /** Added to the variance (default 1e-5, PyTorch's). */
  eps?: number;
  /**
   * One value per row (the input's shape without the normalised dims): 1 real, 0 padding; or, with
   * the input's shape, one per element: statistics over a row's unmasked elements only (Flax's `mask`).
   */
  mask?: Tensor;
  /** Name in errors and in the graph (default `layerNorm`). */
  op?: string;
}

/**
 * Layer normalization as a function, like `torch.nn.functional.layer_norm`:
 *
 *   y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias
 *
 * with mean and biased variance over the trailing `normalizedShape` dims of each row. One fused
 * node of the shared kernel (`normalize` with layout {outer: rows, groups: 1, inner}).
 *
 * @example
 * const y = layerNorm(randn([2, 5, 8]), 8, { eps: 1e-6 }); // per-token, no affine
 */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], options: LayerNormFunctionalOptions = {}): Tensor {
  const op = options.op ?? 'layerNorm';
  const shape = checkNormalizedShape(op, normalizedShape);
  const eps = checkEps(op, options.eps ?? 1e-5);
  return runLayerNorm(x, shape, rowLayout(op, x, shape), { ...options, op, eps });
}

/** The kernel call on options already checked (by `layerNorm`, or by LayerNorm's constructor and input check); the mask is checked here. */
export function runLayerNorm(
  x: Tensor, shape: readonly number[], { rows, inner }: RowLayout, options: LayerNormFunctionalOptions & { op: string; eps: number },
): Tensor {
  const { op, eps } = options;
  const masking = options.mask ? checkRowOrElementMask(op, options.mask, x, shape.length, inner) : { mask: undefined, maskSpatial: 1 };
  return normalize(x, {
    op,
    layout: { outer: rows, groups: 1, inner },
    acrossOuter: false,
    center: true,
    eps,
    weight: options.weight ?? null,
    bias: options.bias ?? null,
    affineBlock: 1,
    ...masking,
  }).output;
}

export interface LayerNormOptions {
  /** The trailing dims normalised together: `768`, or `[512, 768]` for the last two dims. */
  normalizedShape: number | readonly number[];
  /** Added to the variance (default 1e-5, PyTorch's; Flax uses 1e-6). */
  eps?: number;
  /** Learn a per-element `weight` (init 1) and, unless `bias: false`, `bias` (init 0). Default true. */
  elementwiseAffine?: boolean;
  /** Learn the additive `bias` (default true; PyTorch 2.1's `bias=False` drops it). */
  bias?: boolean;
  /** Parameter dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
}

/**
 * Layer Normalization (Ba, Kiros and Hinton, 2016), `torch.nn.LayerNorm`'s semantics and
 * state-dict names (`weight`, `bias`):
 *
 *   y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias
 *
 * Statistics are per row over the trailing `normalizedShape` dims, so unlike BatchNorm the output
 * of a sample never depends on the rest of the batch, and training and eval agree. LayerNorm is
 * GroupNorm with one group when `normalizedShape` covers all of [C, *spatial]; RMSNorm is LayerNorm
 * without the mean. The forward is ONE node of the shared fused kernel with an analytic backward,
 * statistics accumulated in float64.
 *
 * Masks: `forward(x, { mask })` takes one value per row (e.g. [N, L] for tokens [N, L, D]), 1 for
 * a real token and 0 for padding. Rows are independent, so a mask never changes the output of a
 * real row; it only makes padded rows output exactly 0 (rather than `bias`, or noise from garbage
 * values) and stops gradients to them and from them into `weight` and `bias`. A mask with the
 * input's shape is element-wise (Flax's `mask`): each row's statistics over its unmasked elements,
 * masked elements output 0 and get no gradient.
 *
 * @example
 * const norm = new LayerNorm({ normalizedShape: 768 });
 * const y = norm.forward(tokens);                 // tokens [N, L, 768]
 * const z = norm.forward(tokens, { mask });       // mask [N, L]: padded tokens -> 0
 */
export class LayerNorm extends Module implements Normalizer {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  readonly dtype: DType;
  /** Shaped like `normalizedShape`; null without elementwise affine. */
  readonly weight: Parameter | null;
  /** Shaped like `normalizedShape`; null without elementwise affine or with `bias: false`. */
  readonly bias: Parameter | null;

  constructor(options: LayerNormOptions) {
    super();
    const op = 'LayerNorm';
    // Checked once, here, against the schema the plugin uses too (any other key is refused: it would be silently ignored).
    const resolved = resolveModuleOptions(op, options, { schema: layerNormOptionsSchema, other: ['normalizedShape'] });
    this.normalizedShape = Object.freeze(checkNormalizedShape(op, options.normalizedShape));
    ({ eps: this.eps, elementwiseAffine: this.elementwiseAffine, dtype: this.dtype } = resolved);
    this.weight = this.elementwiseAffine ? this.registerParameter('weight', new Parameter(ones(this.normalizedShape, { dtype: this.dtype }))) : null;
    this.bias =
      this.elementwiseAffine && resolved.bias
        ? this.registerParameter('bias', new Parameter(zeros(this.normalizedShape, { dtype: this.dtype })))
        : null;
  }

  /** weight = 1, bias = 0. */
  resetParameters(): void {
    this.weight?.data.fill(1);
    this.bias?.data.fill(0);
  }

  override forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    const layout = rowLayout('LayerNorm.forward', x, this.normalizedShape, this.dtype);
    return runLayerNorm(x, this.normalizedShape, layout, { weight: this.weight, bias: this.bias, eps: this.eps, mask: context.mask, op: 'layerNorm' });
  }
}
