import { ShapeError, type ProcessGroup } from '@normkit/tensor';
import {
  BatchNorm, batchNormOptionsSchema, numFeaturesOption, type BatchNormInput, type BatchNormOptions, type BatchNormOptionsSpec, type BatchStatisticsPlan,
} from './batch-norm';

export interface SyncBatchNormOptions extends BatchNormOptions {
  /**
   * The replicas to synchronise with (`InProcessGroup`, or `WorkerProcessGroup` from
   * `@normkit/tensor/node`). null (default): local statistics, exactly BatchNorm, until a group is
   * attached with `convertSyncBatchNorm(model, group)` or by setting `.group`.
   */
  group?: ProcessGroup | null;
}

/**
 * Synchronized Batch Normalization (Zhang et al., "Context Encoding for Semantic Segmentation",
 * CVPR 2018; `torch.nn.SyncBatchNorm`): BatchNorm whose training statistics are taken over the
 * batches of every replica of a process group, as if the replicas' batches were concatenated.
 * Data-parallel training with small per-replica batches then normalises with the full batch.
 *
 * The forward all-reduces, per channel, the count and the sum (then the squared deviations from
 * the global mean: two-pass, so a large mean cannot cancel the variance); the backward all-reduces
 * only the two per-channel reductions sum(dy * gamma) and sum(dy * gamma * xhat), as PyTorch does.
 * gamma and beta gradients stay local: the data-parallel helper averages them with the other
 * gradients. Replicas may hold different batch sizes (even zero samples): every statistic is a
 * count-weighted global one, so uneven splits are exact. Masks work as in BatchNorm.
 *
 * Before the statistics, one small allReduce checks that all replicas agree on numFeatures and
 * that the global batch has more than one value per channel; a mismatch throws on every replica,
 * before any state changes. Eval mode uses the running averages and no collective (PyTorch's
 * behaviour); running averages use the global statistics, so they stay identical on all replicas.
 *
 * Every replica must call forward and backward in the same order (collectives are synchronous).
 *
 * @example
 * // in each replica (a worker of runWorkers, or a replica of InProcessGroup.run)
 * const bn = new SyncBatchNorm({ numFeatures: 64, group });
 * const y = bn.forward(myShard); // statistics over every replica's shard
 */
export class SyncBatchNorm extends BatchNorm {
  group: ProcessGroup | null;

  constructor(options: SyncBatchNormOptions) {
    super(options);
    this.group = options.group ?? null;
  }

  protected override optionsSpec(): BatchNormOptionsSpec {
    return { schema: batchNormOptionsSchema, required: numFeaturesOption, other: ['group'] };
  }

  /** A SyncBatchNorm with `source`'s options, sharing its parameter and buffer tensors. */
  static fromBatchNorm(source: BatchNorm, group: ProcessGroup | null): SyncBatchNorm {
    const sync = new SyncBatchNorm({
      numFeatures: source.numFeatures,
      eps: source.eps,
      momentum: source.momentum,
      affine: source.affine,
      trackRunningStats: source.trackRunningStats,
      dtype: source.dtype,
      group,
    });
    sync.adoptState(source);
    return sync;
  }

  protected override className(): string {
    return 'SyncBatchNorm';
  }

  protected override kernelName(): string {
    return 'syncBatchNorm';
  }

  protected override planBatchStatistics(op: string, input: BatchNormInput): BatchStatisticsPlan {
    const group = this.group;
    // Like PyTorch, only training synchronises (trackRunningStats: false in eval stays local).
    if (!group || group.size === 1 || !input.training) return super.planBatchStatistics(op, input);
    let local = 0;
    for (const v of input.valuesPerSample) local += v;
    const c = this.numFeatures;
    // [sum C, sum C^2, sum count, sum size]: all C equal iff sum C = K C and sum C^2 = K C^2 (zero spread).
    const agreement = Float64Array.of(c, c * c, local, input.x.size);
    group.allReduce(agreement);
    const replicas = group.size;
    if (agreement[0] !== replicas * c || agreement[1] !== replicas * c * c) {
      throw new ShapeError(
        {
          op,
          expected: `every replica of the group to have numFeatures = ${c}`,
          given: `replicas that disagree (mean numFeatures over ${replicas} replicas: ${agreement[0]! / replicas})`,
        },
        'Every replica must build the same model.',
      );
    }
    // Empty on every replica: the same decision everywhere, so no replica waits in a later collective.
    if (agreement[3] === 0) return { empty: true };
    this.checkValuesPerChannel(op, input, agreement[2]!, ` over ${replicas} replicas`);
    return { allReduce: (buffer) => group.allReduce(buffer) };
  }
}
