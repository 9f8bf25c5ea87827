import {
  Parameter, RunningStatisticsNorm, ShapeError, ValueError, checkModuleDType, checkNumberOption, dtypeOptionSpec, formatShape, normalize, ones, resolveModuleOptions,
  updateInstanceRunningStatistics, zeros,
  type DType, type Normalizer, type NormalizerContext, type OptionsSchema, type Tensor,
} from '@normkit/tensor';
import { channelsFirst, checkChannels, checkEps, refuseMask, type ChannelsFirst } from './input';

/** InstanceNorm's options besides numFeatures, with PyTorch's defaults: the one schema the constructor, the plugin and the docs read. */
export const instanceNormOptionsSchema = {
  eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'Added to the variance' },
  momentum: { type: 'number', default: 0.1, min: 0, max: 1, description: 'Running-average factor (PyTorch convention)' },
  affine: { type: 'boolean', default: false, description: 'Learn per-channel weight and bias (false in PyTorch; Flax and Keras learn them)' },
  trackRunningStats: { type: 'boolean', default: false, description: 'Keep running statistics and use them in eval' },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;

export interface InstanceNormFunctionOptions {
  /** Per-channel scale gamma, [C], or null. */
  weight?: Tensor | null;
  /** Per-channel shift beta, [C], or null. */
  bias?: Tensor | null;
  /** Running mean, [C]: updated in place when instance statistics are used, read otherwise. */
  runningMean?: Tensor | null;
  /** Running (unbiased) variance, [C], updated and read like `runningMean`. */
  runningVar?: Tensor | null;
  /** true (default): per-instance statistics; false: the running statistics (both must be given). */
  useInputStats?: boolean;
  /** Running-average factor: running = (1 - momentum) * running + momentum * batch value (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5); must be > 0. */
  eps?: number;
}

/**
 * Instance Normalization as a function (Ulyanov, Vedaldi & Lempitsky, "Instance Normalization:
 * The Missing Ingredient for Fast Stylization", 2016), like `torch.nn.functional.instance_norm`:
 * for each sample and channel, over the spatial positions,
 *
 *   y = (x - mean) / sqrt(var + eps) * gamma_c + beta_c
 *
 * One fused node (the shared `normalize` kernel, layout [N, C, spatial]). With running statistics
 * and `useInputStats`, after a successful forward (PyTorch's rule):
 *
 *   running_mean = (1 - momentum) * running_mean + momentum * mean_n(mean[n, c])
 *   running_var  = (1 - momentum) * running_var  + momentum * mean_n(var[n, c] * S / (S - 1))
 *
 * with S spatial positions (unbiased variance). Without `useInputStats`, the running statistics
 * normalise instead and are left unchanged.
 *
 * @example
 * const y = instanceNorm(randn([2, 3, 8, 8]));
 */
export function instanceNorm(x: Tensor, options: InstanceNormFunctionOptions = {}): Tensor {
  const op = 'instanceNorm';
  const sizes = channelsFirst(op, x, 3);
  const eps = checkEps(op, options.eps ?? 1e-5);
  const momentum = checkNumberOption(op, 'momentum', options.momentum ?? 0.1, { min: 0, max: 1 });
  const useInputStats = options.useInputStats ?? true;
  const runningMean = options.runningMean ?? null;
  const runningVar = options.runningVar ?? null;
  if ((runningMean === null) !== (runningVar === null)) {
    throw new ValueError({ op, expected: 'both runningMean and runningVar, or neither', given: `only ${runningMean ? 'runningMean' : 'runningVar'}` });
  }
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar]] as const) {
    if (t && t.size !== sizes.channels) throw new ShapeError({ op, expected: `${name} with ${sizes.channels} elements (one per channel)`, given: `shape ${formatShape(t.shape)}` });
  }
  if (useInputStats) checkInstanceStatistics(x, sizes);
  if (!useInputStats && (!runningMean || !runningVar)) {
    throw new ValueError({ op, expected: 'runningMean and runningVar when useInputStats is false', given: 'none' });
  }
  return runInstanceNorm(x, sizes, { ...options, eps, momentum, useInputStats, runningMean, runningVar });
}

/** Instance statistics need two spatial positions: the variance of one value is undefined (and its unbiased estimate divides by 0). PyTorch refuses too. */
function checkInstanceStatistics(x: Tensor, sizes: ChannelsFirst): void {
  if (sizes.spatial > 1) return;
  throw new ValueError({
    op: 'instanceNorm',
    expected: 'more than 1 spatial element per channel when using instance statistics (training, or trackRunningStats false)',
    given: `input of shape ${formatShape(x.shape)}`,
  });
}

/** The kernel call and the running update, on options already checked (by `instanceNorm` or by the module's constructor). */
function runInstanceNorm(
  x: Tensor,
  { batch, channels, spatial }: ChannelsFirst,
  options: Required<Pick<InstanceNormFunctionOptions, 'eps' | 'momentum' | 'useInputStats' | 'runningMean' | 'runningVar'>> & InstanceNormFunctionOptions,
): Tensor {
  const { runningMean, runningVar, useInputStats } = options;
  let statistics: { mean: Float64Array; variance: Float64Array } | undefined;
  if (!useInputStats) {
    // One statistic per (sample, channel) slot: the running value of the channel.
    statistics = { mean: new Float64Array(batch * channels), variance: new Float64Array(batch * channels) };
    for (let n = 0; n < batch; n++) {
      for (let c = 0; c < channels; c++) {
        statistics.mean[n * channels + c] = runningMean!.data[c]!;
        statistics.variance[n * channels + c] = runningVar!.data[c]!;
      }
    }
  }
  const result = normalize(x, {
    op: 'instanceNorm',
    layout: { outer: batch, groups: channels, inner: spatial },
    acrossOuter: false,
    center: true,
    eps: options.eps,
    weight: options.weight ?? null,
    bias: options.bias ?? null,
    affineBlock: spatial,
    ...(statistics ? { statistics } : {}),
  });
  if (useInputStats && runningMean && runningVar) {
    // Only after the forward succeeded: a throwing call leaves the running statistics untouched.
    updateInstanceRunningStatistics({ runningMean: runningMean.data, runningVar: runningVar.data, numBatchesTracked: null }, result.statistics, options.momentum);
  }
  return result.output;
}

export interface InstanceNormOptions {
  /** C, the input's channel dim. */
  numFeatures: number;
  /** Added to the variance (default 1e-5); must be > 0. */
  eps?: number;
  /** Running-average factor in [0, 1] (default 0.1), PyTorch's convention. */
  momentum?: number;
  /** Learn a per-channel gamma and beta (default false, as in PyTorch; Flax and Keras default to learnable). */
  affine?: boolean;
  /** Keep running mean and variance, used in eval (default false, as in PyTorch). */
  trackRunningStats?: boolean;
  /** Parameter and buffer dtype (default float32); inputs must have the same dtype when there are any. */
  dtype?: DType;
}

/**
 * Instance Normalization (Ulyanov et al., 2016), like `torch.nn.InstanceNorm1d/2d/3d` with
 * PyTorch's defaults and state-dict names: each sample's each channel is normalised over its
 * spatial positions. It is GroupNorm with C groups; unlike BatchNorm it uses no batch
 * statistics, and unlike LayerNorm it never mixes channels.
 *
 * Defaults differ between libraries: PyTorch has `affine = false` and `trackRunningStats = false`
 * (followed here), while Flax's and Keras's InstanceNormalization learn the scale and bias by default.
 *
 * With `trackRunningStats`, training updates `running_mean` and unbiased `running_var` (PyTorch's
 * momentum convention) after each successful forward, and eval normalises with them. The
 * `num_batches_tracked` buffer exists for state-dict compatibility and, as in PyTorch, stays 0.
 * Instance statistics need more than one spatial position: the forward refuses spatial size 1.
 *
 * @example
 * const norm = new InstanceNorm({ numFeatures: 64, affine: true });
 * const y = norm.forward(randn([8, 64, 32, 32]));
 */
export class InstanceNorm extends RunningStatisticsNorm implements Normalizer {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly dtype: DType;
  /** gamma, [C] (ones), or null without affine. */
  weight: Tensor | null;
  /** beta, [C] (zeros), or null without affine. */
  bias: Tensor | null;

  constructor(options: InstanceNormOptions) {
    super();
    // Checked once, here, against the schema the plugin uses too; forward trusts these fields.
    const resolved = resolveModuleOptions('InstanceNorm', options, { schema: instanceNormOptionsSchema, required: { numFeatures: { min: 1, integer: true } } });
    ({ numFeatures: this.numFeatures, eps: this.eps, momentum: this.momentum, affine: this.affine, trackRunningStats: this.trackRunningStats, dtype: this.dtype } = resolved);
    const dtype = this.dtype;
    this.weight = this.affine ? this.registerParameter('weight', new Parameter(ones([this.numFeatures], { dtype }))) : null;
    this.bias = this.affine ? this.registerParameter('bias', new Parameter(zeros([this.numFeatures], { dtype }))) : null;
    if (this.trackRunningStats) this.registerRunningStatistics(this.numFeatures, dtype);
  }

  /** Resets the running statistics, gamma to 1 and beta to 0 (`reset_parameters`). */
  resetParameters(): void {
    this.resetRunningStats();
    this.weight?.data.fill(1);
    this.bias?.data.fill(0);
  }

  forward(x: Tensor, context?: NormalizerContext): Tensor {
    const op = 'InstanceNorm.forward';
    refuseMask(op, context);
    const sizes = channelsFirst(op, x, 3);
    checkChannels(op, x, this.numFeatures, 'numFeatures');
    if (this.affine || this.trackRunningStats) checkModuleDType(op, x, this.dtype);
    const useInputStats = this.training || !this.trackRunningStats;
    if (useInputStats) checkInstanceStatistics(x, sizes);
    return runInstanceNorm(x, sizes, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      useInputStats,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}
