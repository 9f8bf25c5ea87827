import type { OptionsSchema } from '@normkit/tensor';
import {
  BatchNorm, batchNormOptionsSchema, numFeaturesOption, valuesPerChunk, type BatchNormInput, type BatchNormOptions, type BatchNormOptionsSpec, type BatchStatisticsPlan,
} from './batch-norm';

/** GhostBatchNorm's options besides numFeatures: BatchNorm's and the ghost batch size. */
export const ghostBatchNormOptionsSchema = {
  ...batchNormOptionsSchema,
  virtualBatchSize: {
    type: 'number',
    default: 128,
    min: 1,
    integer: true,
    description: 'Samples per ghost batch (the last one may be smaller).',
  },
} as const satisfies OptionsSchema;

export interface GhostBatchNormOptions extends BatchNormOptions {
  /** Samples per ghost batch: statistics are taken per consecutive chunk of this many samples (default 128). */
  virtualBatchSize?: number;
}

/**
 * Ghost Batch Normalization (Hoffer, Hubara & Soudry, "Train longer, generalize better: closing
 * the generalization gap in large batch training of neural networks", NeurIPS 2017): BatchNorm
 * whose training statistics are taken per consecutive chunk ("ghost batch") of `virtualBatchSize`
 * samples, so a large batch keeps the regularising noise of small-batch statistics.
 *
 * Samples `[k * virtualBatchSize, (k + 1) * virtualBatchSize)` form chunk k; the last chunk holds
 * the remainder and may be smaller (N = 10 with virtualBatchSize 4 gives chunks of 4, 4 and 2).
 * Every chunk must have more than one value per channel. The running averages are updated once per
 * chunk, in order, exactly as if BatchNorm had been applied to each chunk in turn (so
 * `num_batches_tracked` counts chunks). Eval uses the running averages; with
 * `trackRunningStats: false`, eval uses per-chunk statistics as in training.
 *
 * The whole batch still runs through ONE fused node (the shared kernel with `outerChunk`), not one
 * node per chunk. Masks work as in BatchNorm, per chunk.
 *
 * @example
 * const gbn = new GhostBatchNorm({ numFeatures: 64, virtualBatchSize: 32 });
 * const y = gbn.forward(randn([256, 64])); // 8 ghost batches of 32
 */
export class GhostBatchNorm extends BatchNorm {
  readonly virtualBatchSize: number;

  constructor(options: GhostBatchNormOptions) {
    super(options);
    this.virtualBatchSize = this.resolvedOptions.virtualBatchSize as number;
  }

  protected override optionsSpec(): BatchNormOptionsSpec {
    return { schema: ghostBatchNormOptionsSchema, required: numFeaturesOption };
  }

  protected override className(): string {
    return 'GhostBatchNorm';
  }

  protected override kernelName(): string {
    return 'ghostBatchNorm';
  }

  protected override planBatchStatistics(op: string, input: BatchNormInput): BatchStatisticsPlan {
    if (input.x.size === 0) return { empty: true };
    const chunk = this.virtualBatchSize;
    const counts = valuesPerChunk(input.valuesPerSample, chunk);
    const n = input.layout.outer;
    counts.forEach((count, k) => {
      const end = Math.min(n, (k + 1) * chunk);
      this.checkValuesPerChannel(op, input, count, ` (ghost batch ${k}: samples ${k * chunk}..${end - 1})`);
    });
    return { outerChunk: chunk };
  }

  /** An empty batch holds no ghost batch, and `num_batches_tracked` counts ghost batches: nothing changes. */
  protected override trackEmptyBatch(): void {}
}
