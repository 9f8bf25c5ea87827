// @normkit/batch: BatchNorm (with padding masks), GhostBatchNorm, SyncBatchNorm and FrozenBatchNorm, and their plugins.
export { BatchNorm, checkBatchNormOptions, valuesPerChunk } from './batch-norm';
export type { BatchNormOptions, BatchNormInput, BatchStatisticsPlan } from './batch-norm';
export { GhostBatchNorm } from './ghost-batch-norm';
export type { GhostBatchNormOptions } from './ghost-batch-norm';
export { SyncBatchNorm } from './sync-batch-norm';
export type { SyncBatchNormOptions } from './sync-batch-norm';
export { convertSyncBatchNorm } from './convert-sync-batch-norm';
export { FrozenBatchNorm, freezeBatchNorm, unfreezeBatchNorm, dropFrozenNumBatchesTracked, frozenBatchNormOptionsSchema } from './frozen-batch-norm';
export type { FrozenBatchNormOptions } from './frozen-batch-norm';
export {
  batchNormPlugin, ghostBatchNormPlugin, syncBatchNormPlugin, frozenBatchNormPlugin, batchPlugins, batchNormOptionsSchema, ghostBatchNormOptionsSchema,
} from './plugins';
