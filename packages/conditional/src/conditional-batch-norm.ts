import { BatchNorm, batchNormOptionsSchema } from '@normkit/batch';
import {
  ContextError, Embedding, Generator, ShapeError, ValueError, checkTensor, formatShape, init, isTensor, resolveModuleOptions,
  type Tensor, type DType, type NormalizerContext, type OptionsSchema,
} from '@normkit/tensor';
import { ModulatedNorm, checkChannelsFirstInput, dtypeOption, perSampleChannel, type ConditionalModulation } from './modulated-norm';

/** ConditionalBatchNorm's options besides numFeatures and numClasses: BatchNorm's without affine (the per-class tables are the affine). */
export const conditionalBatchNormOptionsSchema = {
  eps: batchNormOptionsSchema.eps,
  momentum: batchNormOptionsSchema.momentum,
  trackRunningStats: batchNormOptionsSchema.trackRunningStats,
  dtype: dtypeOption,
} as const satisfies OptionsSchema;

export interface ConditionalBatchNormOptions {
  /** C, the size of the channel axis (axis 1). */
  numFeatures: number;
  /** Number of classes K: labels are integers in [0, K - 1]. */
  numClasses: number;
  /** Added to the variance (default 1e-5); must be > 0. */
  eps?: number;
  /**
   * Weight of the new batch statistic in the running averages (default 0.1, PyTorch's convention);
   * null: a cumulative moving average.
   */
  momentum?: number | null;
  /** Keep running averages for eval (default true); false: eval uses batch statistics too. */
  trackRunningStats?: boolean;
  /** Parameter and buffer dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
}

/**
 * Class ids from `forward`'s context, checked: one integer in [0, numClasses - 1] per sample, as a
 * Tensor of shape [N] or an array of N numbers. Throws ContextError when absent, ShapeError for the
 * wrong count, ValueError for a non-integer or out-of-range id.
 */
export function checkLabels(op: string, labels: NormalizerContext['labels'], batch: number, numClasses: number): Int32Array {
  const expected = `labels: ${batch} integer class id(s) in [0, ${numClasses - 1}] (numClasses = ${numClasses}), one per sample`;
  if (labels === undefined || labels === null) {
    throw new ContextError({ op, expected: `${expected}, in the context: forward(x, { labels })`, given: 'no labels' });
  }
  let values: ArrayLike<unknown>;
  if (isTensor(labels)) {
    checkTensor(op, labels, 'labels');
    if (labels.ndim !== 1 || labels.shape[0] !== batch) {
      throw new ShapeError({ op, expected: `labels of shape [${batch}] (the input's batch size)`, given: `labels of shape ${formatShape(labels.shape)}` });
    }
    values = labels.data;
  } else if (Array.isArray(labels) || ArrayBuffer.isView(labels)) {
    values = labels as ArrayLike<unknown>;
    if (values.length !== batch) {
      throw new ShapeError({ op, expected: `${batch} labels (the input's batch size)`, given: `${values.length} labels` });
    }
  } else {
    throw new ContextError({ op, expected: `${expected}, as a Tensor [N] or an array`, given: String(labels) });
  }
  const ids = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new ValueError({ op, expected: `integer class ids (${expected})`, given: `${String(v)} at position ${i}` });
    }
    if (v < 0 || v >= numClasses) {
      throw new ValueError({ op, expected: `class ids in [0, ${numClasses - 1}] (numClasses = ${numClasses})`, given: `${v} at position ${i}` });
    }
    ids[i] = v;
  }
  return ids;
}

/**
 * Conditional Batch Normalization (de Vries et al., "Modulating early visual processing by
 * language", NeurIPS 2017; the class-conditional BN of cGANs with a projection discriminator,
 * Miyato & Koyama 2018, and of BigGAN, Brock et al. 2019): BatchNorm statistics shared by every
 * class, and one gamma and beta row per class:
 *
 *   y = gamma[label] * (x - mean) / sqrt(var + eps) + beta[label]
 *
 * The normalisation is `@normkit/batch`'s BatchNorm without affine, so mean, variance and the
 * running averages (shared by all classes; eval uses them) are exactly BatchNorm's, in one fused
 * node. gamma and beta are two embedding tables [numClasses, C] (gamma initialised to 1, beta to 0,
 * so every class starts as plain BatchNorm), looked up per sample and applied with the core's
 * `modulate` in its direct form, one node whose backward reaches x and both tables. With one class
 * it is BatchNorm with affine. Siblings: FiLM predicts gamma and beta from a condition vector
 * rather than looking them up, SPADE predicts them per pixel from a segmentation map; AdaLN
 * (@normkit/layer) is the same modulation on a LayerNorm.
 *
 * Input [N, C, *] (rank 2 or more, channels on axis 1); `forward(x, { labels })` with labels a
 * Tensor [N] or an array of N class ids. A padding mask (`{ mask }`, [N, *]) is handed to
 * BatchNorm, so padded positions stay out of the statistics; their output is beta[label].
 * State dict: `bn.running_mean`, `bn.running_var`, `bn.num_batches_tracked`, `gamma.weight`,
 * `beta.weight`.
 *
 * @example
 * const cbn = new ConditionalBatchNorm({ numFeatures: 64, numClasses: 10 });
 * const y = cbn.forward(randn([8, 64, 16, 16]), { labels: [0, 1, 2, 3, 4, 5, 6, 7] });
 */
export class ConditionalBatchNorm extends ModulatedNorm<Int32Array> {
  readonly numFeatures: number;
  readonly numClasses: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly trackRunningStats: boolean;
  readonly dtype: DType;
  /** BatchNorm without affine: the statistics and running averages shared by every class. */
  readonly bn: BatchNorm;
  /** Per-class gamma rows, `gamma.weight` [numClasses, C], initialised to 1. */
  readonly gamma: Embedding;
  /** Per-class beta rows, `beta.weight` [numClasses, C], initialised to 0. */
  readonly beta: Embedding;

  constructor(options: ConditionalBatchNormOptions) {
    super('ConditionalBatchNorm', 'conditionalBatchNormModulate', 'direct');
    const op = 'ConditionalBatchNorm';
    // Checked once, here, against the schema the plugin uses too; forward trusts these fields.
    const resolved = resolveModuleOptions(op, options, {
      schema: conditionalBatchNormOptionsSchema,
      required: { numFeatures: { min: 1, integer: true }, numClasses: { min: 1, integer: true } },
    });
    ({ numFeatures: this.numFeatures, numClasses: this.numClasses, eps: this.eps, momentum: this.momentum, trackRunningStats: this.trackRunningStats } = resolved);
    this.dtype = resolved.dtype;
    const { numClasses: _classes, ...batchNormOptions } = resolved;
    this.bn = this.registerModule('bn', new BatchNorm({ ...batchNormOptions, affine: false }));
    const table = { numEmbeddings: this.numClasses, embeddingDim: this.numFeatures, dtype: this.dtype };
    // Embedding draws N(0, 1) at construction; the rows are set right after, and a private generator
    // keeps those throwaway draws off the default random stream.
    this.gamma = this.registerModule('gamma', new Embedding({ ...table, generator: new Generator(0) }));
    this.beta = this.registerModule('beta', new Embedding({ ...table, generator: new Generator(0) }));
    this.resetParameters();
  }

  /** Running mean 0, running variance 1, no batches tracked. */
  resetRunningStats(): void {
    this.bn.resetRunningStats();
  }

  /** Resets the running statistics, every gamma row to 1 and every beta row to 0. */
  resetParameters(): void {
    this.resetRunningStats();
    init.ones(this.gamma.weight);
    init.zeros(this.beta.weight);
  }

  protected override checkInput(op: string, x: Tensor, context: NormalizerContext): Int32Array {
    checkChannelsFirstInput(op, x, this.numFeatures, 'numFeatures', this.dtype, { min: 2, example: `[N, ${this.numFeatures}, *]` });
    return checkLabels(op, context.labels, x.shape[0]!, this.numClasses);
  }

  protected override predictModulation(x: Tensor, labels: Int32Array): ConditionalModulation {
    return {
      scale: perSampleChannel(this.gamma.forward(labels), x.ndim),
      shift: perSampleChannel(this.beta.forward(labels), x.ndim),
    };
  }

  protected override normalize(x: Tensor, context: NormalizerContext): Tensor {
    return this.bn.forward(x, context.mask ? { mask: context.mask } : {});
  }
}
