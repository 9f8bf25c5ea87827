// @normkit/onnx/batch: lowerings of @normkit/batch (register them explicitly, like its plugins).
import { BatchNorm, BatchRenorm, FrozenBatchNorm, GhostBatchNorm, SyncBatchNorm } from '@normkit/batch';
import type { LoweringContext, OnnxValue } from './graph';
import type { Dim } from './proto';
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

/**
 * Per-ghost-batch statistics for GhostBatchNorm with `trackRunningStats: false` (its eval, like its
 * training, normalizes each consecutive chunk of `virtualBatchSize` samples with that chunk's mean
 * and biased variance). Any batch size, static or symbolic, through the same graph: sample i's chunk
 * is floor(i / v) (Range, integer Div), A[i, j] = [chunk i = chunk j] / |chunk i| averages over a
 * chunk (the last one may be smaller), and
 *
 *   m_i = ReduceMean(x_i over positions) [C],  mean = A m,  var = A ReduceMean((x - mean)^2 over positions)
 *
 * which are the chunk's statistics because every sample has the same number of positions.
 */
function lowerGhostBatchStatistics(module: GhostBatchNorm, x: OnnxValue, ctx: LoweringContext): OnnxValue {
  if (x.shape.length < 2) throw ctx.unsupported('an input [N, C, *] of rank 2 or more', `rank ${x.shape.length}`);
  const [n, c] = x.shape as [Dim, Dim];
  const axis0 = { axis: { type: 'int' as const, value: 0 } };
  const batch = ctx.node('Gather', [ctx.node('Shape', [x], [x.shape.length]), ctx.constant([0], [], { dtype: 'int64', name: 'batch_axis' })], [], axis0);
  const index = ctx.node('Range', [ctx.constant([0], [], { dtype: 'int64', name: 'zero' }), batch, ctx.constant([1], [], { dtype: 'int64', name: 'one' })], [n]);
  const chunk = ctx.node('Div', [index, ctx.constant([module.virtualBatchSize], [], { dtype: 'int64', name: 'virtual_batch_size' })], [n]);
  const rows = ctx.node('Unsqueeze', [chunk, ctx.int64s([1], 'row_axes')], [n, 1]);
  const cols = ctx.node('Unsqueeze', [chunk, ctx.int64s([0], 'col_axes')], [1, n]);
  const same = ctx.node('Cast', [ctx.node('Equal', [rows, cols], [n, n])], [n, n], { to: { type: 'int', value: 1 } });
  const average = ctx.binary('Div', same, ctx.reduce('ReduceSum', same, [1]));
  // [N, C, P] with P every position; [N, C] stays [N, C, 1].
  const flat = ctx.node('Reshape', [x, ctx.int64s([0, 0, -1], 'flat_shape')], [n, c, '']);
  const chunkMean = (perSample: OnnxValue) => {
    const squeezed = ctx.node('Squeeze', [perSample, ctx.int64s([2], 'position_axis')], [n, c]);
    return ctx.node('Unsqueeze', [ctx.node('MatMul', [average, squeezed], [n, c]), ctx.int64s([2], 'position_axis')], [n, c, 1]);
  };
  const centered = ctx.binary('Sub', flat, chunkMean(ctx.reduceMean(flat, [2])));
  const variance = chunkMean(ctx.reduceMean(ctx.binary('Mul', centered, centered), [2]));
  const normalized = ctx.binary('Div', centered, ctx.unary('Sqrt', ctx.binary('Add', variance, ctx.scalar(module.eps, 'eps'))));
  const y = ctx.node('Reshape', [normalized, ctx.node('Shape', [x], [x.shape.length])], x.shape);
  return channelAffine(ctx, y, module.weight, module.bias);
}

/**
 * GhostBatchNorm: with running statistics it is BatchNorm in eval (`BatchNormalization`); with
 * `trackRunningStats: false` each ghost batch is normalized with its own statistics, as primitive
 * ops that work for any batch size (a last, smaller chunk included).
 */
export const ghostBatchNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: GhostBatchNorm,
  lower(module, [x], ctx) {
    if (!module.trackRunningStats) return lowerGhostBatchStatistics(module, x!, ctx);
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
