// @normkit/batch: BatchNorm (with padding masks), GhostBatchNorm, SyncBatchNorm, FrozenBatchNorm and BatchRenorm, and their plugins.
export { BatchNorm, batchNormOptionsSchema, checkBatchNormOptions, numFeaturesOption, valuesPerChunk } from './batch-norm';
export type { BatchNormOptions, BatchNormOptionsSpec, BatchNormInput, BatchStatisticsPlan } from './batch-norm';
export { GhostBatchNorm, ghostBatchNormOptionsSchema } from './ghost-batch-norm';
export type { GhostBatchNormOptions } from './ghost-batch-norm';
export { SyncBatchNorm } from './sync-batch-norm';
export type { SyncBatchNormOptions } from './sync-batch-norm';
export { convertSyncBatchNorm } from './convert-sync-batch-norm';
export { FrozenBatchNorm, freezeBatchNorm, unfreezeBatchNorm, dropFrozenNumBatchesTracked, frozenBatchNormOptionsSchema } from './frozen-batch-norm';
export type { FrozenBatchNormOptions } from './frozen-batch-norm';
export { BatchRenorm, batchRenormOptionsSchema, paperRenormSchedule, renormClipsAt, renormCorrections } from './batch-renorm';
export type { BatchRenormOptions, BatchRenormSettings, RenormClips } from './batch-renorm';
export {
  batchNormPlugin, batchRenormPlugin, ghostBatchNormPlugin, syncBatchNormPlugin, frozenBatchNormPlugin, batchPlugins,
} from './plugins';
