import {
  OptionError, checkNumberOption, computeStatistics, dtypeOptionSpec, mul, add, noGrad, normalize, resolveOptions, tensor,
  type DType, type NormStatistics, type NormalizerContext, type OptionsSchema, type OptionValues, type Tensor,
} from '@normkit/tensor';
import { BatchNorm, emptyNormOutput } from './batch-norm';

/** BatchRenorm's options besides numFeatures: the one schema the constructor, the plugin and the docs read. */
export const batchRenormOptionsSchema = {
  eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'Added to the variances: sigma = sqrt(var + eps).' },
  momentum: {
    type: 'number',
    default: 0.01,
    min: 0,
    max: 1,
    nullable: true,
    description: "The paper's update rate alpha of the moving mean and sigma (tf.keras: 1 - renorm_momentum = 0.01); null: cumulative average.",
  },
  affine: { type: 'boolean', default: true, description: 'Learn a per-channel scale and shift.' },
  rmax: { type: 'number', default: 3, min: 1, description: 'Upper clip of r = sigma_B / sigma (the paper relaxes it to 3).' },
  rmin: { type: 'number', default: null, min: 0, minExclusive: true, max: 1, nullable: true, description: 'Lower clip of r; null: 1 / rmax.' },
  dmax: { type: 'number', default: 5, min: 0, description: 'Clip of |d| = |mu_B - mu| / sigma (the paper relaxes it to 5).' },
  warmupSteps: {
    type: 'number',
    default: 0,
    min: 0,
    integer: true,
    description: 'Training batches with r = 1 and d = 0 (plain BatchNorm) before the clips relax (paper: 5000).',
  },
  rmaxRelaxedAt: {
    type: 'number',
    default: 0,
    min: 0,
    integer: true,
    description: 'Batch at which rmax (and rmin) reach their values, linearly from 1 after warmupSteps (paper: 40000).',
  },
  dmaxRelaxedAt: {
    type: 'number',
    default: 0,
    min: 0,
    integer: true,
    description: 'Batch at which dmax reaches its value, linearly from 0 after warmupSteps (paper: 25000).',
  },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;

export type BatchRenormSettings = OptionValues<typeof batchRenormOptionsSchema>;

export interface BatchRenormOptions extends Partial<BatchRenormSettings> {
  /** C, the size of the channel axis (axis 1). */
  numFeatures: number;
  dtype?: DType;
}

/** The paper's schedule (section 4): r = 1, d = 0 for 5k steps, then rmax reaches 3 at 40k and dmax 5 at 25k. */
export const paperRenormSchedule = { rmax: 3, dmax: 5, warmupSteps: 5000, rmaxRelaxedAt: 40000, dmaxRelaxedAt: 25000 } as const;

/** The clips in force at a training step (the number of batches seen before it). */
export interface RenormClips {
  rmin: number;
  rmax: number;
  dmax: number;
}

/**
 * The clips at `step` under a settings' warm-up: before `warmupSteps` r is held at 1 and d at 0;
 * then each clip moves linearly to its final value, reached at its `...RelaxedAt` step (at once if
 * that step is not after the warm-up).
 */
export function renormClipsAt(settings: Pick<BatchRenormSettings, 'rmax' | 'rmin' | 'dmax' | 'warmupSteps' | 'rmaxRelaxedAt' | 'dmaxRelaxedAt'>, step: number): RenormClips {
  const progress = (end: number): number => {
    if (step < settings.warmupSteps) return 0;
    if (end <= settings.warmupSteps) return 1;
    return Math.min(1, (step - settings.warmupSteps) / (end - settings.warmupSteps));
  };
  const pr = progress(settings.rmaxRelaxedAt);
  const rmax = 1 + pr * (settings.rmax - 1);
  const rmin = settings.rmin === null ? 1 / rmax : 1 + pr * (settings.rmin - 1);
  return { rmin, rmax, dmax: progress(settings.dmaxRelaxedAt) * settings.dmax };
}

/** r and d per channel (constants for autograd), from batch statistics and the moving ones. */
export function renormCorrections(
  batch: Pick<NormStatistics, 'mean' | 'variance'>, runningMean: ArrayLike<number>, runningVar: ArrayLike<number>, eps: number, clips: RenormClips,
): { r: Float64Array; d: Float64Array } {
  const c = runningMean.length;
  const r = new Float64Array(c);
  const d = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    const sigma = Math.sqrt(runningVar[k]! + eps);
    const sigmaBatch = Math.sqrt(batch.variance[k]! + eps);
    r[k] = Math.min(clips.rmax, Math.max(clips.rmin, sigmaBatch / sigma));
    d[k] = Math.min(clips.dmax, Math.max(-clips.dmax, (batch.mean[k]! - runningMean[k]!) / sigma));
  }
  return { r, d };
}

/**
 * Batch Renormalization (Ioffe, "Batch Renormalization: Towards Reducing Minibatch Dependence in
 * Batch-Normalized Models", NeurIPS 2017), the paper's Algorithm 1 for any [N, C, *] input:
 *
 *   sigma_B = sqrt(var_B + eps),  sigma = sqrt(running_var + eps)
 *   r = stop_gradient(clip(sigma_B / sigma, rmin, rmax))
 *   d = stop_gradient(clip((mu_B - mu) / sigma, -dmax, dmax))
 *   y = gamma * ((x - mu_B) / sigma_B * r + d) + beta
 *   mu += alpha * (mu_B - mu),  sigma += alpha * (sigma_B - sigma)
 *
 * and in eval y = gamma * (x - mu) / sigma + beta, which is BatchNorm's eval formula. r and d make
 * a training output equal the eval one whenever the clips allow it, so the model trains on what it
 * will be evaluated with even at small or non-i.i.d. batches; gradients still flow through mu_B and
 * sigma_B, r and d are constants. With r = 1 and d = 0 (rmax = 1, dmax = 0, or during the warm-up)
 * it is BatchNorm. The moving sigma is stored as `running_var = sigma^2 - eps`, under BatchNorm's
 * keys, so eval, `freezeBatchNorm` and state dicts work as for BatchNorm; note that it is the moving
 * average of sigma_B (the paper's rule, with the biased batch variance), not PyTorch's average of
 * the unbiased variance. tf.keras 2.x (`BatchNormalization(renorm=True)`) keeps a second set of
 * moving statistics for r and d; the paper and this module use one.
 *
 * Warm-up (the paper's section 4: r = 1, d = 0 for 5000 steps, then rmax relaxed to 3 by 40k and
 * dmax to 5 by 25k): `warmupSteps`, `rmaxRelaxedAt`, `dmaxRelaxedAt`, counted in training batches
 * (`num_batches_tracked`); `paperRenormSchedule` holds the paper's values.
 *
 * One fused node: the shared `normalize` kernel with gamma * r as its scale and gamma * d + beta as
 * its shift (statistics in float64, BatchNorm's analytic backward). Padding masks as in BatchNorm.
 *
 * @example
 * const bn = new BatchRenorm({ numFeatures: 16, ...paperRenormSchedule });
 * const y = bn.forward(randn([4, 16, 8, 8])); // training: batch statistics, corrected by r and d
 */
export class BatchRenorm extends BatchNorm {
  readonly rmax: number;
  readonly rmin: number | null;
  readonly dmax: number;
  readonly warmupSteps: number;
  readonly rmaxRelaxedAt: number;
  readonly dmaxRelaxedAt: number;

  constructor(options: BatchRenormOptions) {
    const op = 'BatchRenorm';
    if (typeof options !== 'object' || options === null) throw new OptionError({ op, expected: 'an options object with numFeatures', given: String(options) });
    const { numFeatures, ...rest } = options;
    const numFeaturesChecked = checkNumberOption(op, 'numFeatures', numFeatures, { min: 1, integer: true });
    const resolved = resolveOptions(op, batchRenormOptionsSchema, rest);
    super({ numFeatures: numFeaturesChecked, eps: resolved.eps, momentum: resolved.momentum, affine: resolved.affine, trackRunningStats: true, dtype: resolved.dtype });
    this.rmax = resolved.rmax;
    this.rmin = resolved.rmin;
    this.dmax = resolved.dmax;
    this.warmupSteps = resolved.warmupSteps;
    this.rmaxRelaxedAt = resolved.rmaxRelaxedAt;
    this.dmaxRelaxedAt = resolved.dmaxRelaxedAt;
  }

  protected override className(): string {
    return 'BatchRenorm';
  }

  protected override kernelName(): string {
    return 'batchRenorm';
  }

  /** The clips the next training batch will use (they follow `num_batches_tracked`). */
  currentClips(): RenormClips {
    return renormClipsAt(this, this.numBatchesTracked!.data[0]!);
  }

  override forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    if (!this.training) return super.forward(x, context);
    const op = `${this.className()}.forward`;
    const input = this.checkInput(op, x, context.mask ?? null);
    const plan = this.planBatchStatistics(op, input);
    if (plan.empty) {
      noGrad(() => this.trackEmptyBatch());
      return emptyNormOutput(this.kernelName(), x, this.weight, this.bias);
    }
    const mask = input.mask ? { mask: input.mask, maskSpatial: input.layout.inner } : {};
    const layout = { layout: input.layout, acrossOuter: true, center: true, ...mask };
    // r and d need the batch statistics before the fused node; they enter it as constants.
    const batch = computeStatistics(x.data, layout);
    const { r, d } = renormCorrections(batch, this.runningMean!.data, this.runningVar!.data, this.eps, this.currentClips());
    const constant = (values: Float64Array): Tensor => tensor(values, { dtype: this.dtype });
    const weight = this.weight ? mul(this.weight, constant(r)) : constant(r);
    const bias = this.weight && this.bias ? add(mul(this.weight, constant(d)), this.bias) : constant(d);
    const { output, statistics } = normalize(x, { op: this.kernelName(), ...layout, eps: this.eps, weight, bias, affineBlock: input.layout.inner });
    noGrad(() => this.updateRunningStats(statistics));
    return output;
  }

  /** The paper's moving averages: mu += alpha (mu_B - mu), sigma += alpha (sigma_B - sigma), sigma stored as running_var + eps. */
  protected override updateRunningStats(statistics: NormStatistics): void {
    const runningMean = this.runningMean!.data;
    const runningVar = this.runningVar!.data;
    const alpha = this.countTrackedBatch(this.momentum);
    for (let c = 0; c < runningMean.length; c++) {
      const sigma = Math.sqrt(runningVar[c]! + this.eps);
      const sigmaBatch = Math.sqrt(statistics.variance[c]! + this.eps);
      const next = sigma + alpha * (sigmaBatch - sigma);
      runningMean[c] = runningMean[c]! + alpha * (statistics.mean[c]! - runningMean[c]!);
      runningVar[c] = Math.max(0, next * next - this.eps);
    }
  }
}
