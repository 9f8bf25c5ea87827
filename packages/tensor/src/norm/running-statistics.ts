// The running statistics of the normalizers that keep them (PyTorch's `_NormBase` part): the
// buffers under PyTorch's keys, their getters, the update rules, eval use and the resets, once.
import { zeros, ones } from '../creation';
import type { DType, TypedArray } from '../dtype';
import { ValueError } from '../errors';
import { Module } from '../nn/module';
import type { Tensor } from '../tensor';
import type { NormStatistics } from './statistics';

/**
 * The arrays an update writes. `runningMean` and `numBatchesTracked` may be null for a module that
 * keeps only a running variance (timm's EvoNorm-B0); the cumulative average (momentum null) needs
 * the counter.
 */
export interface RunningStatisticsBuffers {
  runningMean: TypedArray | null;
  runningVar: TypedArray;
  numBatchesTracked: TypedArray | null;
}

/** running = (1 - f) * running + f * value per channel; variance is already unbiased. */
function blend(buffers: RunningStatisticsBuffers, factor: number, mean: (c: number) => number, unbiasedVariance: (c: number) => number): void {
  const { runningMean, runningVar } = buffers;
  for (let c = 0; c < runningVar.length; c++) {
    if (runningMean !== null) runningMean[c] = (1 - factor) * runningMean[c]! + factor * mean(c);
    runningVar[c] = (1 - factor) * runningVar[c]! + factor * unbiasedVariance(c);
  }
}

/** n / (n - 1): the biased variance of n values times this is the unbiased one (Bessel's correction). */
function besselFactor(n: number): number {
  return n / (n - 1);
}

/**
 * PyTorch's running-average update (`batch_norm` in training), applied once per chunk of
 * `runningVar.length` statistics in order (GhostBatchNorm has one chunk per virtual batch):
 *
 *   num_batches_tracked += 1
 *   f = momentum, or 1 / num_batches_tracked when momentum is null (a cumulative average)
 *   running_mean = (1 - f) * running_mean + f * mean
 *   running_var  = (1 - f) * running_var  + f * var * n / (n - 1)      (unbiased)
 *
 * `statistics` holds biased variances and the count n per slot, as `normalize` returns them.
 * Call it only after the forward succeeded, so a throwing call changes no state.
 *
 * @example
 * updateRunningStatistics({ runningMean, runningVar, numBatchesTracked }, normalize(x, options).statistics, 0.1);
 */
export function updateRunningStatistics(buffers: RunningStatisticsBuffers, statistics: NormStatistics, momentum: number | null): void {
  const { numBatchesTracked } = buffers;
  if (momentum === null && numBatchesTracked === null) {
    throw new ValueError({ op: 'updateRunningStatistics', expected: 'a numBatchesTracked counter for the cumulative average (momentum null)', given: 'none' });
  }
  const channels = buffers.runningVar.length;
  const chunks = statistics.mean.length / channels;
  for (let k = 0; k < chunks; k++) {
    const factor = countBatch(numBatchesTracked, momentum);
    const at = k * channels;
    blend(buffers, factor, (c) => statistics.mean[at + c]!, (c) => statistics.variance[at + c]! * besselFactor(statistics.count[at + c]!));
  }
}

/**
 * Counts one batch (`num_batches_tracked += 1`, when there is a counter) and returns the weight of
 * its statistics in the running average: `momentum`, or `1 / num_batches_tracked` when momentum is
 * null (the cumulative average, which needs the counter).
 */
export function countBatch(numBatchesTracked: TypedArray | null, momentum: number | null): number {
  if (numBatchesTracked === null) {
    if (momentum === null) throw new ValueError({ op: 'countBatch', expected: 'a numBatchesTracked counter for the cumulative average (momentum null)', given: 'none' });
    return momentum;
  }
  numBatchesTracked[0] = numBatchesTracked[0]! + 1;
  return momentum === null ? 1 / numBatchesTracked[0] : momentum;
}

/**
 * PyTorch's update from per-instance statistics (`instance_norm` with running statistics): the
 * [N, C] slots of `statistics` are averaged over the N samples, each variance made unbiased over
 * its own count first, then blended with `momentum`:
 *
 *   running_mean = (1 - momentum) * running_mean + momentum * mean_n(mean[n, c])
 *   running_var  = (1 - momentum) * running_var  + momentum * mean_n(var[n, c] * S / (S - 1))
 *
 * `num_batches_tracked` is not counted (PyTorch's `instance_norm` leaves it at 0). An empty batch
 * (no slots) changes nothing.
 */
export function updateInstanceRunningStatistics(buffers: RunningStatisticsBuffers, statistics: NormStatistics, momentum: number): void {
  const channels = buffers.runningVar.length;
  const samples = statistics.mean.length / channels;
  if (samples === 0) return;
  const means = new Float64Array(channels);
  const variances = new Float64Array(channels);
  for (let n = 0; n < samples; n++) {
    for (let c = 0; c < channels; c++) {
      const slot = n * channels + c;
      means[c]! += statistics.mean[slot]!;
      variances[c]! += statistics.variance[slot]! * besselFactor(statistics.count[slot]!);
    }
  }
  blend(buffers, momentum, (c) => means[c]! / samples, (c) => variances[c]! / samples);
}

/**
 * Base of the normalizers with running statistics (BatchNorm and its subclasses, InstanceNorm with
 * `trackRunningStats`, SwitchableNorm), as PyTorch's `_NormBase`: it owns the buffers
 * `running_mean` (zeros), `running_var` (ones, the unbiased running variance) and
 * `num_batches_tracked` under PyTorch's keys, their getters, `resetRunningStats` and the updates.
 *
 * `num_batches_tracked` is a float64 scalar: exact to 2^53 batches, where float32 would stop
 * counting at 2^24 (about 16.8M, a long training run). PyTorch keeps it in int64; a state dict
 * with an int64, float32 or float64 counter loads into it (`loadStateDict` copies across dtypes).
 *
 * Running averages are state, never trainable parameters: they are buffers, outside `parameters()`.
 *
 * @example
 * class MyNorm extends RunningStatisticsNorm {
 *   constructor(numFeatures: number) { super(); this.registerRunningStatistics(numFeatures, 'float32'); }
 *   forward(x: Tensor): Tensor {
 *     if (!this.training) return normalize(x, { ...options, statistics: this.runningStatistics() }).output;
 *     const { output, statistics } = normalize(x, options);
 *     this.trackBatchStatistics(statistics, 0.1); // after the kernel: a throwing forward changes no state
 *     return output;
 *   }
 * }
 */
export abstract class RunningStatisticsNorm extends Module {
  /** Registers `running_mean`, `running_var` ([numFeatures], `dtype`) and `num_batches_tracked` (float64 0). */
  protected registerRunningStatistics(numFeatures: number, dtype: DType): void {
    this.registerBuffer('running_mean', zeros([numFeatures], { dtype }));
    this.registerBuffer('running_var', ones([numFeatures], { dtype }));
    this.registerBuffer('num_batches_tracked', zeros([], { dtype: 'float64' }));
  }

  /** `running_mean`, [C], or null when this module keeps no running statistics. */
  get runningMean(): Tensor | null {
    return this.getBuffer('running_mean') ?? null;
  }

  /** `running_var` (unbiased), [C], or null when this module keeps no running statistics. */
  get runningVar(): Tensor | null {
    return this.getBuffer('running_var') ?? null;
  }

  /** `num_batches_tracked`, a float64 scalar, or null when this module keeps no running statistics. */
  get numBatchesTracked(): Tensor | null {
    return this.getBuffer('num_batches_tracked') ?? null;
  }

  /** Running mean 0, running variance 1, no batches tracked (`reset_running_stats`); nothing without running statistics. */
  resetRunningStats(): void {
    this.runningMean?.data.fill(0);
    this.runningVar?.data.fill(1);
    this.numBatchesTracked?.data.fill(0);
  }

  /**
   * The running mean and variance as float64 copies, for eval: the statistics a kernel normalises
   * with (copies, so a later update cannot reach a pending backward). Only with running statistics.
   */
  protected runningStatistics(): { mean: Float64Array; variance: Float64Array } {
    return { mean: Float64Array.from(this.runningMean!.data), variance: Float64Array.from(this.runningVar!.data) };
  }

  /** `updateRunningStatistics` on this module's buffers: one count and one blend per chunk of statistics. */
  protected trackBatchStatistics(statistics: NormStatistics, momentum: number | null): void {
    updateRunningStatistics(this.runningBuffers(), statistics, momentum);
  }

  /** An empty training batch: counted (PyTorch 1.13's `num_batches_tracked += 1`), the averages unchanged. */
  protected countEmptyBatch(): void {
    countBatch(this.numBatchesTracked!.data, 0);
  }

  /**
   * Counts a training batch and returns its weight in the running averages (`countBatch`), for a
   * module with its own averaging rule (BatchRenorm averages sigma, not the variance).
   */
  protected countTrackedBatch(momentum: number | null): number {
    return countBatch(this.numBatchesTracked!.data, momentum);
  }

  /** This module's buffers as the update functions take them. Only with running statistics. */
  protected runningBuffers(): RunningStatisticsBuffers {
    return { runningMean: this.runningMean!.data, runningVar: this.runningVar!.data, numBatchesTracked: this.numBatchesTracked!.data };
  }
}
