import {
  checkChannels, Parameter, RunningStatisticsNorm, ShapeError, ValueError, allocate, checkTensor, customOp, checkModuleDType, checkPaddingMask, dtypeOptionSpec, formatShape, noGrad,
  normalize, ones, resolveModuleOptions, zeros,
  type Tensor, type DType, type ModuleOptionsSpec, type NormLayout, type NormStatistics, type Normalizer, type NormalizerContext, type OptionsSchema, type OptionValues,
  type RequiredNumberOption, type TypedArray,
} from '@normkit/tensor';

/**
 * The options BatchNorm, GhostBatchNorm and SyncBatchNorm share besides numFeatures: the one schema
 * the constructor checks, the plugins resolve and the docs list.
 */
export const batchNormOptionsSchema = {
  eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'Added to the variance.' },
  momentum: {
    type: 'number',
    default: 0.1,
    min: 0,
    max: 1,
    nullable: true,
    description: "Weight of the new batch in the running averages (PyTorch's convention); null: cumulative average.",
  },
  affine: { type: 'boolean', default: true, description: 'Learn a per-channel scale and shift.' },
  trackRunningStats: { type: 'boolean', default: true, description: 'Keep running averages for eval; false: batch statistics in eval too.' },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;

/** numFeatures: required by the constructors, taken from the slot by the plugins. */
export const numFeaturesOption = { numFeatures: { min: 1, integer: true } } as const satisfies Record<string, RequiredNumberOption>;

/** A batch-style constructor's accepted options: a schema extending BatchNorm's, numFeatures, and keys it checks itself. */
export type BatchNormOptionsSpec = ModuleOptionsSpec<typeof batchNormOptionsSchema & OptionsSchema, typeof numFeaturesOption>;

export interface BatchNormOptions {
  /** C, the size of the channel axis (axis 1). */
  numFeatures: number;
  /** Added to the variance (default 1e-5); must be > 0. */
  eps?: number;
  /**
   * Weight of the new batch statistic in the running averages (default 0.1, PyTorch's convention:
   * `running = (1 - momentum) * running + momentum * batch`); in [0, 1]. null: a cumulative moving
   * average over `num_batches_tracked` batches.
   */
  momentum?: number | null;
  /** Learn a per-channel gamma (ones) and beta (zeros) (default true). */
  affine?: boolean;
  /** Keep running averages for eval (default true); false: eval uses batch statistics too. */
  trackRunningStats?: boolean;
  /** Parameter and buffer dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
}

/** The input as the shared kernel sees it, checked. */
export interface BatchNormInput {
  x: Tensor;
  /** [N, C, spatial]. */
  layout: NormLayout;
  /** The padding mask's values (1 real, 0 padded), one per (sample, spatial position). */
  mask?: TypedArray;
  /** Values per channel each sample contributes to the statistics (its real positions). */
  valuesPerSample: Float64Array;
  /** Training mode (the module's flag at this forward). */
  training: boolean;
}

/** How a subclass computes batch statistics: chunks of the batch, and a cross-replica reduction. */
export interface BatchStatisticsPlan {
  outerChunk?: number;
  allReduce?: (buffer: Float64Array) => void;
  /**
   * The batch holds no value at all (N = 0 or an empty spatial axis; for SyncBatchNorm, on every
   * replica): there is nothing to normalise and no statistic to take.
   */
  empty?: boolean;
}

/**
 * The output for an input with no values: an empty tensor of x's shape, one node whose gradients
 * are zero for gamma and beta (and empty for x), as PyTorch gives for an empty batch.
 */
export function emptyNormOutput(op: string, x: Tensor, weight: Tensor | null, bias: Tensor | null): Tensor {
  const zerosOf = (t: Tensor | null) => t && allocate(t.dtype, t.size);
  return customOp({
    op,
    inputs: { x, weight, bias },
    data: allocate(x.dtype, 0),
    shape: x.shape,
    backward: () => ({ x: zerosOf(x), weight: zerosOf(weight), bias: zerosOf(bias) }),
  });
}

/**
 * BatchNorm's options checked against `batchNormOptionsSchema` (defaults filled, unknown keys
 * refused; errors name `op`), for modules built on a BatchNorm (ConditionalBatchNorm).
 */
export function checkBatchNormOptions(op: string, options: BatchNormOptions): Required<BatchNormOptions> {
  return resolveModuleOptions(op, options, { schema: batchNormOptionsSchema, required: numFeaturesOption });
}

/** Sums `valuesPerSample` over consecutive chunks of `chunk` samples (one chunk: the whole batch). */
export function valuesPerChunk(valuesPerSample: Float64Array, chunk: number): Float64Array {
  const counts = new Float64Array(Math.max(1, Math.ceil(valuesPerSample.length / chunk)));
  for (let o = 0; o < valuesPerSample.length; o++) counts[Math.floor(o / chunk)]! += valuesPerSample[o]!;
  return counts;
}

/**
 * Batch Normalization (Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training
 * by Reducing Internal Covariate Shift", ICML 2015), exactly as `torch.nn.BatchNorm1d/2d/3d` for
 * any input of rank 2 or more with channels on axis 1 ([N, C], [N, C, L], [N, C, H, W], ...):
 *
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta
 *
 * In training, mean and the biased variance are taken per channel over the batch and every spatial
 * position; the running averages then move towards them, storing the unbiased variance
 * (var * n / (n - 1)) in `running_var`. In eval, the running averages are used instead, folded with
 * gamma and beta into one scale and shift per channel. With `trackRunningStats: false` there are
 * no running averages and batch statistics are used in eval too.
 *
 * An empty batch ([0, C, *], or an empty spatial axis) gives an empty output and zero gradients for
 * gamma and beta; in training it leaves the running averages unchanged and still increments
 * `num_batches_tracked`, as PyTorch 1.13 does. One value per channel in training is refused
 * (PyTorch's "Expected more than 1 value per channel when training"), as a typed ValueError.
 *
 * Masked statistics for variable-length sequences: `forward(x, { mask })` with x = [N, C, L] and a
 * [N, L] mask (1 = real token, 0 = padding; generally x's shape without the channel axis). Mean,
 * variance and the running-average update use the real positions only, padded outputs are 0 and
 * their upstream gradient reaches nothing: the result equals BatchNorm over the real tokens alone.
 *
 * Siblings: GhostBatchNorm takes these statistics per chunk of the batch, SyncBatchNorm across the
 * replicas of a process group; GroupNorm, LayerNorm and InstanceNorm (other packages) take them
 * per sample and so do not depend on the batch. All run the shared fused `normalize` kernel: the
 * forward is ONE autograd node with an analytic backward, statistics accumulate in float64.
 *
 * Parameters and buffers carry PyTorch's names: `weight`, `bias`, `running_mean`, `running_var`,
 * `num_batches_tracked`, so state dicts move between the two unchanged.
 *
 * @example
 * const bn = new BatchNorm({ numFeatures: 16 });
 * const y = bn.forward(randn([8, 16, 32, 32])); // training: batch statistics, running averages move
 * bn.eval();
 * const z = bn.forward(randn([1, 16, 32, 32])); // eval: running averages
 */
export class BatchNorm extends RunningStatisticsNorm implements Normalizer {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly dtype: DType;
  /** The options as the constructor resolved them (a subclass reads its own schema's values here). */
  protected readonly resolvedOptions: Readonly<Record<string, unknown>>;

  constructor(options: BatchNormOptions) {
    super();
    // Checked once, here, against the schema the plugin uses too; forward trusts these fields.
    const resolved = resolveModuleOptions(this.className(), options, this.optionsSpec()) as OptionValues<typeof batchNormOptionsSchema> & { numFeatures: number };
    this.resolvedOptions = resolved;
    this.numFeatures = resolved.numFeatures;
    this.eps = resolved.eps;
    this.momentum = resolved.momentum;
    this.affine = resolved.affine;
    this.trackRunningStats = resolved.trackRunningStats;
    this.dtype = resolved.dtype;
    const c = this.numFeatures;
    const dtype = this.dtype;
    if (this.affine) {
      this.registerParameter('weight', new Parameter(ones([c], { dtype })));
      this.registerParameter('bias', new Parameter(zeros([c], { dtype })));
    }
    if (this.trackRunningStats) this.registerRunningStatistics(c, dtype);
  }

  /** The options this class accepts: BatchNorm's schema and numFeatures; subclasses add theirs. */
  protected optionsSpec(): BatchNormOptionsSpec {
    return { schema: batchNormOptionsSchema, required: numFeaturesOption };
  }

  /** gamma, [C], or null without affine. */
  get weight(): Parameter | null {
    return this.getParameter('weight') ?? null;
  }

  /** beta, [C], or null without affine. */
  get bias(): Parameter | null {
    return this.getParameter('bias') ?? null;
  }

  /** The class name in errors (stable under bundling, unlike `constructor.name`). */
  protected className(): string {
    return 'BatchNorm';
  }

  /** The op name of the fused node in the autograd graph. */
  protected kernelName(): string {
    return 'batchNorm';
  }

  /** Resets the running statistics and sets gamma to 1 and beta to 0 (`reset_parameters`). */
  resetParameters(): void {
    this.resetRunningStats();
    this.weight?.data.fill(1);
    this.bias?.data.fill(0);
  }

  forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    const op = `${this.className()}.forward`;
    const input = this.checkInput(op, x, context.mask ?? null);
    const mask = input.mask ? { mask: input.mask, maskSpatial: input.layout.inner } : {};
    const common = {
      op: this.kernelName(),
      layout: input.layout,
      acrossOuter: true,
      center: true,
      eps: this.eps,
      weight: this.weight,
      bias: this.bias,
      // Per-channel affine: a whole channel's spatial run shares one gamma and beta.
      affineBlock: input.layout.inner,
      ...mask,
    };
    if (!this.training && this.trackRunningStats) {
      if (x.size === 0) return emptyNormOutput(this.kernelName(), x, this.weight, this.bias);
      return normalize(x, { ...common, statistics: this.runningStatistics() }).output;
    }
    // Every check (including a subclass's collective one) runs before the kernel and before any state changes.
    const plan = this.planBatchStatistics(op, input);
    if (plan.empty) {
      // PyTorch 1.13: an empty batch leaves the running averages alone but still counts as a batch.
      if (this.training && this.trackRunningStats) noGrad(() => this.trackEmptyBatch());
      return emptyNormOutput(this.kernelName(), x, this.weight, this.bias);
    }
    const { output, statistics } = normalize(x, { ...common, ...plan });
    if (this.training && this.trackRunningStats) noGrad(() => this.updateRunningStats(statistics));
    return output;
  }

  /** Validates rank, channels, dtype and mask; nothing is computed or changed yet. */
  protected checkInput(op: string, x: Tensor, mask: Tensor | null): BatchNormInput {
    checkTensor(op, x, 'x');
    if (x.ndim < 2) {
      throw new ShapeError({ op, expected: 'an input of rank 2 or more, [N, C, *]', given: `shape ${formatShape(x.shape)} (rank ${x.ndim})` });
    }
    checkChannels(op, x, this.numFeatures, 'numFeatures');
    checkModuleDType(op, x, this.dtype);
    const n = x.shape[0]!;
    const spatial = x.shape.slice(2).reduce((a, b) => a * b, 1);
    const layout = { outer: n, groups: this.numFeatures, inner: spatial };
    const valuesPerSample = new Float64Array(n).fill(layout.inner);
    if (!mask) return { x, layout, valuesPerSample, training: this.training };

    const m = checkPaddingMask(op, mask, [n, ...x.shape.slice(2)], { shapeMeaning: "the input's shape without the channel axis" });
    for (let o = 0; o < n; o++) {
      let real = 0;
      for (let i = o * spatial, end = i + spatial; i < end; i++) real += m[i]!;
      valuesPerSample[o] = real;
    }
    return { x, layout, mask: m, valuesPerSample, training: this.training };
  }

  /**
   * Checks that batch statistics are defined (more than one value per channel, as PyTorch
   * requires in training) and says how to compute them. BatchNorm: over the whole batch.
   */
  protected planBatchStatistics(op: string, input: BatchNormInput): BatchStatisticsPlan {
    if (input.x.size === 0) return { empty: true };
    const [count] = valuesPerChunk(input.valuesPerSample, Math.max(1, input.layout.outer));
    this.checkValuesPerChannel(op, input, count!, '');
    return {};
  }

  /** PyTorch's "Expected more than 1 value per channel when training", as a typed error. */
  protected checkValuesPerChannel(op: string, input: BatchNormInput, count: number, where: string): void {
    if (count > 1) return;
    const because = input.mask ? `${count} real value(s) per channel under the mask` : `${count} value(s) per channel`;
    throw new ValueError(
      {
        op,
        expected: 'more than 1 value per channel when using batch statistics (training, or trackRunningStats: false)',
        given: `input of shape ${formatShape(input.x.shape)}${where}: ${because}`,
      },
      'The variance of a single value is undefined; use a larger batch (or more real tokens), or eval mode.',
    );
  }

  /** What an empty training batch does to the running statistics: counts it (PyTorch's `num_batches_tracked += 1`). */
  protected trackEmptyBatch(): void {
    this.countEmptyBatch();
  }

  /**
   * Moves the running averages towards the batch statistics, once per statistics chunk in order
   * (GhostBatchNorm has several): mean, and the unbiased variance var * n / (n - 1).
   */
  protected updateRunningStats(statistics: NormStatistics): void {
    this.trackBatchStatistics(statistics, this.momentum);
  }

  /**
   * Makes this module use another module's parameter and buffer tensors (shared, not copied), so an
   * optimizer holding them keeps working: what `convertSyncBatchNorm` does when it swaps modules.
   */
  adoptState(source: BatchNorm): void {
    const describe = (m: BatchNorm): string => `numFeatures ${m.numFeatures}, affine ${m.affine}, trackRunningStats ${m.trackRunningStats}, dtype ${m.dtype}`;
    if (describe(source) !== describe(this)) {
      throw new ShapeError({ op: `${this.className()}.adoptState`, expected: `a batch norm with ${describe(this)}`, given: describe(source) });
    }
    if (source.weight) this.registerParameter('weight', source.weight);
    if (source.bias) this.registerParameter('bias', source.bias);
    for (const name of ['running_mean', 'running_var', 'num_batches_tracked']) {
      const buffer = source.getBuffer(name);
      if (buffer) this.setBuffer(name, buffer);
    }
    this.training = source.training;
  }
}
