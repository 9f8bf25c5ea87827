import type { BatchNorm } from '@normkit/batch';
import type { InstanceNorm } from '@normkit/group';
import {
  Linear, ReLU, Sequential, ShapeError, checkModuleDType, formatShape, resolveModuleOptions, slice,
  type DType, type Generator, type NormalizerContext, type OptionsSchema, type Tensor,
} from '@normkit/tensor';
import {
  ModulatedNorm, checkChannelsFirstInput, createParamFreeNorm, dtypeOption, epsOption, momentumOption, normalizeWithoutAffine,
  perSampleChannel, refuseMask, requireCondition, type ConditionalModulation, type ParamFreeNormKind,
} from './modulated-norm';

/** FiLM's options besides numFeatures and conditionDim: the one schema the constructor, the plugin and the docs read. */
export const filmOptionsSchema = {
  hidden: { type: 'number', default: null, min: 1, integer: true, nullable: true, description: 'Hidden width of the FiLM generator MLP; null: one Linear.' },
  norm: { type: 'enum', values: ['none', 'batch', 'instance', 'layer'], default: 'none', description: 'Parameter-free normalizer before the modulation.' },
  eps: epsOption,
  momentum: momentumOption,
  dtype: dtypeOption,
} as const satisfies OptionsSchema;

export interface FiLMOptions {
  /** C, the channels of x [N, C, *] (axis 1), each modulated by its own gamma and beta. */
  numFeatures: number;
  /** Width of the condition vector [N, conditionDim]. */
  conditionDim: number;
  /**
   * Width of the FiLM generator's hidden layer: Linear -> ReLU -> Linear. Omitted (or null): one
   * Linear(conditionDim, 2 * numFeatures).
   */
  hidden?: number | null;
  /**
   * Parameter-free normalizer applied before the modulation (default 'none', FiLM alone):
   * 'batch' (BatchNorm, running statistics, as in the paper's FiLM-ed ResBlocks), 'instance'
   * (InstanceNorm, needs spatial dims) or 'layer' (LayerNorm over every dim but the batch).
   */
  norm?: ParamFreeNormKind;
  /** Added to the variance of the normalizer (default 1e-5); must be > 0. */
  eps?: number;
  /** Running-average factor of BatchNorm's statistics (default 0.1, PyTorch's convention). */
  momentum?: number;
  /** Parameter and buffer dtype (default float32); x and the condition must have the same dtype. */
  dtype?: DType;
  /** Drives the generator's initialisation (PyTorch's Linear init); the default generator otherwise. */
  generator?: Generator;
}

/**
 * FiLM, feature-wise linear modulation (Perez et al., "FiLM: Visual Reasoning with a General
 * Conditioning Layer", AAAI 2018): a per-sample, per-feature gamma and beta regressed from a
 * condition vector c by a FiLM generator, broadcast over the remaining dims:
 *
 *   (gamma, beta) = Linear(c)   or   Linear(ReLU(Linear(c)))  with `hidden`
 *   y = gamma * norm(x) + beta
 *
 * `norm` is optional: none by default (FiLM needs no normalisation), or a parameter-free BatchNorm
 * (`@normkit/batch`, running statistics), InstanceNorm (`@normkit/group`) or LayerNorm over every
 * dim but the batch (`@normkit/layer`), each one fused node. The modulation is the core's
 * `modulate` in its direct form (FiLM's gamma is the scale itself), one node. Siblings:
 * ConditionalBatchNorm looks gamma and beta up per class instead of predicting them; SPADE predicts
 * them per pixel; AdaLN (@normkit/layer) is FiLM on a LayerNorm, in the one-plus form.
 *
 * Input x [N, numFeatures, *] (channels on axis 1); `forward(x, { condition })` with the condition
 * [N, conditionDim]. State dict: `film_generator.0.weight` / `.bias` (and `film_generator.2.*` with
 * `hidden`), whose output rows are gamma then beta; `param_free_norm.*` with norm 'batch'.
 *
 * @example
 * const film = new FiLM({ numFeatures: 64, conditionDim: 128, hidden: 256, norm: 'batch' });
 * const y = film.forward(randn([8, 64, 14, 14]), { condition: questionEmbedding }); // [8, 128]
 */
export class FiLM extends ModulatedNorm<Tensor> {
  readonly numFeatures: number;
  readonly conditionDim: number;
  readonly hidden: number | null;
  /** The parameter-free normalizer's kind (the `norm` option). */
  readonly norm: ParamFreeNormKind;
  readonly eps: number;
  readonly momentum: number;
  readonly dtype: DType;
  /** BatchNorm or InstanceNorm without affine (`param_free_norm`), or null for 'layer' and 'none' (no state). */
  readonly normalizer: BatchNorm | InstanceNorm | null;
  /** `film_generator`: Sequential(Linear) or Sequential(Linear, ReLU, Linear), output [N, 2 * numFeatures]. */
  readonly filmGenerator: Sequential;

  constructor(options: FiLMOptions) {
    super('FiLM', 'filmModulate', 'direct');
    // Checked once, here, against the schema the plugin uses too; forward trusts these fields.
    const resolved = resolveModuleOptions('FiLM', options, {
      schema: filmOptionsSchema,
      required: { numFeatures: { min: 1, integer: true }, conditionDim: { min: 1, integer: true } },
      other: ['generator'],
    });
    ({ numFeatures: this.numFeatures, conditionDim: this.conditionDim, hidden: this.hidden, eps: this.eps, momentum: this.momentum, dtype: this.dtype } = resolved);
    this.norm = resolved.norm;
    const module = createParamFreeNorm(this.norm, resolved);
    this.normalizer = module ? this.registerModule('param_free_norm', module) : null;
    const linear = (inFeatures: number, outFeatures: number) => new Linear({ inFeatures, outFeatures, dtype: this.dtype, generator: options.generator });
    const outFeatures = 2 * this.numFeatures;
    this.filmGenerator = this.registerModule(
      'film_generator',
      this.hidden === null
        ? new Sequential(linear(this.conditionDim, outFeatures))
        : new Sequential(linear(this.conditionDim, this.hidden), new ReLU(), linear(this.hidden, outFeatures)),
    );
  }

  protected override checkInput(op: string, x: Tensor, context: NormalizerContext): Tensor {
    const minRank = this.norm === 'instance' ? 3 : 2;
    const example = minRank === 3 ? `[N, ${this.numFeatures}, *spatial] with at least one spatial dim (norm 'instance')` : `[N, ${this.numFeatures}, *]`;
    checkChannelsFirstInput(op, x, this.numFeatures, 'numFeatures', this.dtype, { min: minRank, example });
    refuseMask(op, context);
    const needed = `a condition vector [N, ${this.conditionDim}]`;
    const condition = requireCondition(op, context, needed);
    if (condition.ndim !== 2 || condition.shape[0] !== x.shape[0] || condition.shape[1] !== this.conditionDim) {
      throw new ShapeError({
        op,
        expected: `a condition of shape [${x.shape[0]}, ${this.conditionDim}] (the input's batch size, conditionDim = ${this.conditionDim})`,
        given: `shape ${formatShape(condition.shape)}`,
      });
    }
    checkModuleDType(op, condition, this.dtype, 'condition');
    return condition;
  }

  protected override predictModulation(x: Tensor, condition: Tensor): ConditionalModulation {
    const predicted = this.filmGenerator.forward(condition);
    const c = this.numFeatures;
    return {
      scale: perSampleChannel(slice(predicted, 1, 0, c), x.ndim),
      shift: perSampleChannel(slice(predicted, 1, c, 2 * c), x.ndim),
    };
  }

  protected override normalize(x: Tensor): Tensor {
    return normalizeWithoutAffine(this.norm, this.normalizer, x, this.eps);
  }
}
