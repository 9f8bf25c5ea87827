import { SPECIFICATION_VERSION, defineNormalizer, type NormalizerPlugin, type NormalizerTraits } from '@normkit/tensor';
import { BatchNorm, batchNormOptionsSchema } from './batch-norm';
import { BatchRenorm, batchRenormOptionsSchema } from './batch-renorm';
import { FrozenBatchNorm, frozenBatchNormOptionsSchema } from './frozen-batch-norm';
import { GhostBatchNorm, ghostBatchNormOptionsSchema } from './ghost-batch-norm';
import { SyncBatchNorm } from './sync-batch-norm';

function batchTraits(options: { trackRunningStats: boolean }): NormalizerTraits {
  return {
    batchDependent: true,
    needsCondition: false,
    needsLabels: false,
    acceptsMask: true,
    hasRunningStats: options.trackRunningStats,
    layout: 'channels-first',
  };
}

/** `batch-norm`: BatchNorm over [N, C, *], with optional padding mask. */
export const batchNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'batch-norm',
  family: 'batch',
  description: 'Batch Normalization (Ioffe & Szegedy, 2015) with running averages and padding masks, as torch.nn.BatchNorm*d.',
  options: batchNormOptionsSchema,
  traits: batchTraits,
  create: (slot, options) => new BatchNorm({ numFeatures: slot.numFeatures, ...options }),
});

/** `ghost-batch-norm`: statistics per chunk of `virtualBatchSize` samples. */
export const ghostBatchNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'ghost-batch-norm',
  family: 'batch',
  description: 'Ghost Batch Normalization (Hoffer et al., 2017): batch statistics per virtual batch of the real batch.',
  options: ghostBatchNormOptionsSchema,
  traits: batchTraits,
  create: (slot, options) => new GhostBatchNorm({ numFeatures: slot.numFeatures, ...options }),
});

/**
 * `sync-batch-norm`: built without a group (it then behaves as BatchNorm); attach one with
 * `convertSyncBatchNorm(model, group)` or by setting `.group`.
 */
export const syncBatchNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'sync-batch-norm',
  family: 'batch',
  description: 'Synchronized Batch Normalization: batch statistics over every replica of a process group, as torch.nn.SyncBatchNorm.',
  options: batchNormOptionsSchema,
  traits: batchTraits,
  create: (slot, options) => new SyncBatchNorm({ numFeatures: slot.numFeatures, ...options, group: null }),
});

/**
 * `frozen-batch-norm`: fixed statistics and affine as buffers (torchvision's FrozenBatchNorm2d); it
 * reads no other sample and changes no state, in training as in eval.
 */
export const frozenBatchNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'frozen-batch-norm',
  family: 'batch',
  description: 'FrozenBatchNorm (torchvision.ops.FrozenBatchNorm2d): BatchNorm with fixed statistics and affine held as buffers, for fine-tuning at small batch.',
  options: frozenBatchNormOptionsSchema,
  traits: () => ({ batchDependent: false, needsCondition: false, needsLabels: false, acceptsMask: true, hasRunningStats: false, layout: 'channels-first' }),
  create: (slot, options) => new FrozenBatchNorm({ numFeatures: slot.numFeatures, ...options }),
});

/** `batch-renorm`: Batch Renormalization, r and d clipped, with the paper's warm-up as options. */
export const batchRenormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'batch-renorm',
  family: 'batch',
  description: 'Batch Renormalization (Ioffe, 2017): batch statistics corrected towards the moving ones by clipped r and d, for small or non-i.i.d. batches.',
  options: batchRenormOptionsSchema,
  traits: () => batchTraits({ trackRunningStats: true }),
  create: (slot, options) => new BatchRenorm({ numFeatures: slot.numFeatures, ...options }),
});

/** Every plugin of the package, for `registerAll(batchPlugins)`. */
export const batchPlugins: readonly NormalizerPlugin[] = [batchNormPlugin, ghostBatchNormPlugin, syncBatchNormPlugin, frozenBatchNormPlugin, batchRenormPlugin];

// The names above, known to the type system wherever this package is imported, so
// `create('batch-norm', slot, options)` is typed by name (registration is still explicit).
declare module '@normkit/tensor' {
  interface NormalizerRegistry {
    'batch-norm': typeof batchNormPlugin;
    'ghost-batch-norm': typeof ghostBatchNormPlugin;
    'sync-batch-norm': typeof syncBatchNormPlugin;
    'frozen-batch-norm': typeof frozenBatchNormPlugin;
    'batch-renorm': typeof batchRenormPlugin;
  }
}
