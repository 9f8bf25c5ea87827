import {
  Module, Parameter, ShapeError, ValueError, checkDTypeOption, checkModuleDType, checkNumberOption, formatShape, normalize, ones, scalar, zeros,
  type DType, type Normalizer, type NormalizerContext, type Tensor,
} from '@normkit/tensor';
import { channelsFirst, checkChannels, checkEps, refuseMask } from './input';

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
  const { batch, channels, spatial } = channelsFirst(op, x, 3);
  const eps = checkEps(op, options.eps ?? 1e-5);
  const momentum = checkNumberOption(op, 'momentum', options.momentum ?? 0.1, { min: 0, max: 1 });
  const useInputStats = options.useInputStats ?? true;
  const runningMean = options.runningMean ?? null;
  const runningVar = options.runningVar ?? null;
  if ((runningMean === null) !== (runningVar === null)) {
    throw new ValueError({ op, expected: 'both runningMean and runningVar, or neither', given: `only ${runningMean ? 'runningMean' : 'runningVar'}` });
  }
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar]] as const) {
    if (t && t.size !== channels) throw new ShapeError({ op, expected: `${name} with ${channels} elements (one per channel)`, given: `shape ${formatShape(t.shape)}` });
  }
  if (useInputStats && spatial <= 1) {
    // The variance of one value is undefined (and its unbiased estimate divides by 0): PyTorch refuses too.
    throw new ValueError({
      op,
      expected: 'more than 1 spatial element per channel when using instance statistics (training, or trackRunningStats false)',
      given: `input of shape ${formatShape(x.shape)}`,
    });
  }
  let statistics: { mean: Float64Array; variance: Float64Array } | undefined;
  if (!useInputStats) {
    if (!runningMean || !runningVar) {
      throw new ValueError({ op, expected: 'runningMean and runningVar when useInputStats is false', given: 'none' });
    }
    // One statistic per (sample, channel) slot: the running value of the channel.
    statistics = { mean: new Float64Array(batch * channels), variance: new Float64Array(batch * channels) };
    for (let n = 0; n < batch; n++) {
      for (let c = 0; c < channels; c++) {
        statistics.mean[n * channels + c] = runningMean.data[c]!;
        statistics.variance[n * channels + c] = runningVar.data[c]!;
      }
    }
  }
  const result = normalize(x, {
    op,
    layout: { outer: batch, groups: channels, inner: spatial },
    acrossOuter: false,
    center: true,
    eps,
    weight: options.weight ?? null,
    bias: options.bias ?? null,
    affineBlock: spatial,
    ...(statistics ? { statistics } : {}),
  });
  if (useInputStats && runningMean && runningVar && batch > 0) {
    // Only after the forward succeeded: a throwing call leaves the running statistics untouched.
    const { mean, variance } = result.statistics;
    const unbiased = spatial / (spatial - 1);
    for (let c = 0; c < channels; c++) {
      let meanOfMeans = 0;
      let meanOfVariances = 0;
      for (let n = 0; n < batch; n++) {
        meanOfMeans += mean[n * channels + c]!;
        meanOfVariances += variance[n * channels + c]! * unbiased;
      }
      runningMean.data[c] = (1 - momentum) * runningMean.data[c]! + (momentum * meanOfMeans) / batch;
      runningVar.data[c] = (1 - momentum) * runningVar.data[c]! + (momentum * meanOfVariances) / batch;
    }
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
export class InstanceNorm extends Module implements Normalizer {
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
    const op = 'InstanceNorm';
    this.numFeatures = checkNumberOption(op, 'numFeatures', options.numFeatures, { min: 1, integer: true });
    this.eps = checkEps(op, options.eps ?? 1e-5);
    this.momentum = checkNumberOption(op, 'momentum', options.momentum ?? 0.1, { min: 0, max: 1 });
    this.affine = options.affine ?? false;
    this.trackRunningStats = options.trackRunningStats ?? false;
    this.dtype = checkDTypeOption(op, options.dtype);
    const dtype = this.dtype;
    this.weight = this.affine ? this.registerParameter('weight', new Parameter(ones([this.numFeatures], { dtype }))) : null;
    this.bias = this.affine ? this.registerParameter('bias', new Parameter(zeros([this.numFeatures], { dtype }))) : null;
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', zeros([this.numFeatures], { dtype }));
      this.registerBuffer('running_var', ones([this.numFeatures], { dtype }));
      // float64 like every normkit counter: exact to 2^53 (float32 stops counting at 2^24); PyTorch keeps it in int64.
      this.registerBuffer('num_batches_tracked', scalar(0, 'float64'));
    }
  }

  /** `[C]` running mean, or null without `trackRunningStats`. */
  get runningMean(): Tensor | null {
    return this.getBuffer('running_mean') ?? null;
  }

  /** `[C]` running unbiased variance, or null without `trackRunningStats`. */
  get runningVar(): Tensor | null {
    return this.getBuffer('running_var') ?? null;
  }

  /** Running mean 0, running variance 1 (`reset_running_stats`). */
  resetRunningStats(): void {
    this.runningMean?.data.fill(0);
    this.runningVar?.data.fill(1);
    this.getBuffer('num_batches_tracked')?.data.fill(0);
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
    channelsFirst(op, x, 3);
    checkChannels(op, x, this.numFeatures, 'numFeatures');
    if (this.affine || this.trackRunningStats) checkModuleDType(op, x, this.dtype);
    return instanceNorm(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      useInputStats: this.training || !this.trackRunningStats,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}
