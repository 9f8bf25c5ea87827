// @normkit/onnx/batch: lowerings of @normkit/batch (register them explicitly, like its plugins).
import { BatchNorm, BatchRenorm, FrozenBatchNorm, GhostBatchNorm, SyncBatchNorm } from '@normkit/batch';
import type { LoweringContext, OnnxValue } from './graph';
import { batchNormalization, channelAffine, normalizeOver } from './lowerings/statistics';
import { defineLowering } from './registry';

/**
 * BatchNorm in eval: `BatchNormalization` with the running statistics (any [N, C, *]). With
 * `trackRunningStats: false` eval uses the batch's own statistics: mean and biased variance over
 * every axis but the channels, as primitive ops.
 */
function lowerBatchNorm(module: BatchNorm, x: OnnxValue, ctx: LoweringContext): OnnxValue {
  if (module.runningMean && module.runningVar) {
    return batchNormalization(ctx, x, { mean: module.runningMean, variance: module.runningVar, weight: module.weight, bias: module.bias, eps: module.eps });
  }
  const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
  return channelAffine(ctx, normalizeOver(ctx, x, axes, module.eps), module.weight, module.bias);
}

export const batchNormLowering = defineLowering({ loweringVersion: 'v1', module: BatchNorm, lower: (m, [x], ctx) => lowerBatchNorm(m, x!, ctx) });

/** SyncBatchNorm's eval is BatchNorm's: only training synchronises statistics across replicas. */
export const syncBatchNormLowering = defineLowering({ loweringVersion: 'v1', module: SyncBatchNorm, lower: (m, [x], ctx) => lowerBatchNorm(m, x!, ctx) });

/** GhostBatchNorm with running statistics is BatchNorm in eval; without, eval takes per-chunk statistics (not supported). */
export const ghostBatchNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: GhostBatchNorm,
  lower(module, [x], ctx) {
    if (!module.trackRunningStats) {
      throw ctx.unsupported('GhostBatchNorm with trackRunningStats: true (eval then uses the running averages)', 'trackRunningStats: false, whose eval statistics are per ghost batch');
    }
    return lowerBatchNorm(module, x!, ctx);
  },
});

/** FrozenBatchNorm (torchvision's FrozenBatchNorm2d): `BatchNormalization` with its fixed buffers, in training as in eval. */
export const frozenBatchNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: FrozenBatchNorm,
  lower: (module, [x], ctx) => batchNormalization(ctx, x!, { mean: module.runningMean, variance: module.runningVar, weight: module.weight, bias: module.bias, eps: module.eps }),
});

/** BatchRenorm's eval is BatchNorm's (r and d correct training only); its moving sigma is stored as running_var. */
export const batchRenormLowering = defineLowering({ loweringVersion: 'v1', module: BatchRenorm, lower: (m, [x], ctx) => lowerBatchNorm(m, x!, ctx) });

export const batchLowerings = [batchNormLowering, ghostBatchNormLowering, syncBatchNormLowering, frozenBatchNormLowering, batchRenormLowering] as const;
