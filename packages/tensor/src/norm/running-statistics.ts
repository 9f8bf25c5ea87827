import type { TypedArray } from '../dtype';
import type { NormStatistics } from './statistics';

export interface RunningStatisticsBuffers {
  runningMean: TypedArray;
  runningVar: TypedArray;
  numBatchesTracked: TypedArray;
}

/**
 * PyTorch's running-average update, applied once per chunk of `runningMean.length` statistics in
 * order (GhostBatchNorm has one chunk per virtual batch):
 *
 *   num_batches_tracked += 1
 *   f = momentum, or 1 / num_batches_tracked when momentum is null (a cumulative average)
 *   running_mean = (1 - f) * running_mean + f * mean
 *   running_var  = (1 - f) * running_var  + f * var * n / (n - 1)      (unbiased)
 *
 * `statistics` holds biased variances and the count n per slot, as `normalize` returns them.
 * Call it only after the forward succeeded, so a throwing call changes no state.
 */
export function updateRunningStatistics(buffers: RunningStatisticsBuffers, statistics: NormStatistics, momentum: number | null): void {
  const { runningMean, runningVar, numBatchesTracked } = buffers;
  const channels = runningMean.length;
  const chunks = statistics.mean.length / channels;
  for (let k = 0; k < chunks; k++) {
    numBatchesTracked[0] = numBatchesTracked[0]! + 1;
    const factor = momentum === null ? 1 / numBatchesTracked[0] : momentum;
    for (let c = 0; c < channels; c++) {
      const slot = k * channels + c;
      const n = statistics.count[slot]!;
      const unbiased = (statistics.variance[slot]! * n) / (n - 1);
      runningMean[c] = (1 - factor) * runningMean[c]! + factor * statistics.mean[slot]!;
      runningVar[c] = (1 - factor) * runningVar[c]! + factor * unbiased;
    }
  }
}
