import {
  Module, Parameter, ShapeError, checkModuleDType, dtypeOptionSpec, formatShape, normalize, ones, resolveModuleOptions, zeros,
  type DType, type Normalizer, type NormalizerContext, type OptionsSchema, type Tensor,
} from '@normkit/tensor';
import { channelsFirst, checkChannels, checkEps, refuseMask, type ChannelsFirst } from './input';

/** FilterResponseNorm's and FilterResponseNormTLU's options besides numFeatures: the schema the constructors and the plugin read. */
export const filterResponseNormOptionsSchema = {
  eps: { type: 'number', default: 1e-6, min: 0, minExclusive: true, description: 'Fixed epsilon added to the mean square' },
  learnableEps: { type: 'boolean', default: false, description: "Add the paper's learned epsilon: eps + |eps_learned|, eps_learned starting at 0" },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;

export interface FilterResponseNormFunctionOptions {
  /** Per-channel scale gamma, [C], or null. */
  weight?: Tensor | null;
  /** Per-channel shift beta, [C], or null. */
  bias?: Tensor | null;
  /** The fixed epsilon (default 1e-6); must be > 0. */
  eps?: number;
  /** The paper's learned epsilon, a one-element tensor: eps_total = eps + |epsLearned|. */
  epsLearned?: Tensor | null;
  /** TLU threshold, [C]: z = max(y, tau) inside the same node. Null: plain FRN. */
  tau?: Tensor | null;
}

/**
 * Filter Response Normalization as a function (Singh & Krishnan, "Filter Response Normalization
 * Layer: Eliminating Batch Dependence in the Training of Deep Neural Networks", CVPR 2020), per
 * sample and channel of an [N, C, *] input:
 *
 *   nu2 = mean over spatial of x^2
 *   y   = gamma_c * x * rsqrt(nu2 + eps_total) + beta_c,   eps_total = eps + |epsLearned|
 *   z   = max(y, tau_c)                                     (when tau is given: FRN + TLU)
 *
 * No mean is subtracted, so it works on one sample and even on 1x1 maps (where the learned
 * epsilon matters). One fused node: the shared `normalize` kernel with `center: false`, the
 * learned epsilon and the TLU threshold as its epilogue.
 *
 * @example
 * const z = filterResponseNorm(randn([1, 8, 5, 5]), { weight: ones([8]), bias: zeros([8]), tau: zeros([8]) });
 */
export function filterResponseNorm(x: Tensor, options: FilterResponseNormFunctionOptions = {}): Tensor {
  const tau = options.tau ?? null;
  const op = tau ? 'filterResponseNormTLU' : 'filterResponseNorm';
  const sizes = channelsFirst(op, x, 2);
  const eps = checkEps(op, options.eps ?? 1e-6);
  const epsLearned = options.epsLearned ?? null;
  if (epsLearned && epsLearned.size !== 1) {
    throw new ShapeError({ op, expected: 'a one-element epsLearned', given: `shape ${formatShape(epsLearned.shape)}` });
  }
  for (const [name, t] of [['weight', options.weight], ['bias', options.bias], ['tau', tau]] as const) {
    if (t && t.size !== sizes.channels) throw new ShapeError({ op, expected: `${name} with ${sizes.channels} elements (one per channel)`, given: `shape ${formatShape(t.shape)}` });
  }
  return runFilterResponseNorm(x, sizes, { ...options, eps });
}

/** The kernel call on options already checked (by `filterResponseNorm`, or by the modules' constructors and input checks). */
export function runFilterResponseNorm(x: Tensor, { batch, channels, spatial }: ChannelsFirst, options: FilterResponseNormFunctionOptions & { eps: number }): Tensor {
  const tau = options.tau ?? null;
  const op = tau ? 'filterResponseNormTLU' : 'filterResponseNorm';
  const { eps } = options;
  const epsLearned = options.epsLearned ?? null;
  return normalize(x, {
    op,
    layout: { outer: batch, groups: channels, inner: spatial },
    acrossOuter: false,
    // nu2 is the mean square: no centring.
    center: false,
    eps: epsLearned ? { fixed: eps, learned: epsLearned } : eps,
    weight: options.weight ?? null,
    bias: options.bias ?? null,
    threshold: tau,
    affineBlock: spatial,
  }).output;
}

export interface FilterResponseNormOptions {
  /** C, the input's channel dim. */
  numFeatures: number;
  /** The fixed epsilon (default 1e-6); must be > 0. */
  eps?: number;
  /** Add the paper's learned epsilon: eps_total = eps + |eps_learned|, eps_learned starting at 0 (default false). */
  learnableEps?: boolean;
  /** Parameter dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
}

/**
 * The parameters FilterResponseNorm and FilterResponseNormTLU share, with the reference code's
 * names: `weight` (gamma, ones), `bias` (beta, zeros) and, with `learnableEps`, `eps_learned` [1].
 */
export abstract class FilterResponseNormBase extends Module implements Normalizer {
  readonly numFeatures: number;
  readonly eps: number;
  readonly learnableEps: boolean;
  readonly dtype: DType;
  /** gamma, [C] (ones). */
  weight: Tensor;
  /** beta, [C] (zeros). */
  bias: Tensor;
  /**
   * The learned part of epsilon, [1], starting at 0, or null. The total |eps_learned| + eps can never
   * reach 0. Like `abs` in PyTorch and TensorFlow, its gradient at exactly 0 is 0, so gradient
   * descent alone leaves an exact 0 in place; a nonzero value (set directly or loaded) learns.
   */
  epsLearned: Tensor | null;

  protected constructor(op: string, options: FilterResponseNormOptions) {
    super();
    // Checked once, here, against the schema the plugin uses too; forward trusts these fields.
    const resolved = resolveModuleOptions(op, options, { schema: filterResponseNormOptionsSchema, required: { numFeatures: { min: 1, integer: true } } });
    ({ numFeatures: this.numFeatures, eps: this.eps, learnableEps: this.learnableEps, dtype: this.dtype } = resolved);
    const dtype = this.dtype;
    this.weight = this.registerParameter('weight', new Parameter(ones([this.numFeatures], { dtype })));
    this.bias = this.registerParameter('bias', new Parameter(zeros([this.numFeatures], { dtype })));
    this.epsLearned = null;
  }

  /** Registers `eps_learned` after any parameters a subclass registers first (state-dict order). */
  protected registerLearnedEps(): void {
    if (this.learnableEps) this.epsLearned = this.registerParameter('eps_learned', new Parameter(zeros([1], { dtype: this.dtype })));
  }

  /** gamma 1, beta 0, eps_learned 0 (`reset_parameters`). */
  resetParameters(): void {
    this.weight.data.fill(1);
    this.bias.data.fill(0);
    this.epsLearned?.data.fill(0);
  }

  /** Mask, layout, channels and dtype of a forward's input; returns its sizes. */
  protected checkInput(op: string, x: Tensor, context: NormalizerContext | undefined): ChannelsFirst {
    refuseMask(op, context);
    const sizes = channelsFirst(op, x, 2);
    checkChannels(op, x, this.numFeatures, 'numFeatures');
    checkModuleDType(op, x, this.dtype);
    return sizes;
  }

  abstract override forward(x: Tensor, context?: NormalizerContext): Tensor;
}

/**
 * Filter Response Normalization (Singh & Krishnan, CVPR 2020) without its activation: for each
 * sample and channel, `y = gamma * x / sqrt(mean_spatial(x^2) + eps) + beta`. Batch-independent
 * and mean-free, so it trains with batch size 1; pair it with `TLU`, or use the fused
 * `FilterResponseNormTLU`, as the paper does (FRN alone followed by ReLU loses the mean centring).
 *
 * @example
 * const frn = new FilterResponseNorm({ numFeatures: 32, learnableEps: true });
 * const y = frn.forward(randn([1, 32, 7, 7]));
 */
export class FilterResponseNorm extends FilterResponseNormBase {
  constructor(options: FilterResponseNormOptions) {
    super('FilterResponseNorm', options);
    this.registerLearnedEps();
  }

  forward(x: Tensor, context?: NormalizerContext): Tensor {
    const sizes = this.checkInput('FilterResponseNorm.forward', x, context);
    return runFilterResponseNorm(x, sizes, { weight: this.weight, bias: this.bias, eps: this.eps, epsLearned: this.epsLearned });
  }
}
