// @normkit/onnx/group: lowerings of @normkit/group (register them explicitly, like its plugins).
import { GroupNorm, InstanceNorm } from '@normkit/group';
import { batchNormalization, channelAffine, normalizeOver, scaleAndBias } from './lowerings/statistics';
import { defineLowering } from './registry';

/**
 * GroupNorm: at opset 21+ `GroupNormalization` (per-channel scale and bias, as normkit); below it
 * primitive ops (opset 18's GroupNormalization scales per group, which is not GroupNorm's affine):
 * Reshape to [N, G, -1], normalise over the last axis, Reshape back to Shape(x), per-channel affine.
 */
export const groupNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: GroupNorm,
  lower(module, [x], ctx) {
    if (ctx.opset >= 21) {
      const [scale, bias] = scaleAndBias(ctx, module.weight, module.bias, module.numChannels);
      return ctx.node('GroupNormalization', [x!, scale, bias], x!.shape, {
        epsilon: { type: 'float', value: module.eps },
        num_groups: { type: 'int', value: module.numGroups },
      });
    }
    const grouped = ctx.node('Reshape', [x!, ctx.int64s([0, module.numGroups, -1])], [x!.shape[0]!, module.numGroups, '']);
    const normalized = normalizeOver(ctx, grouped, [2], module.eps);
    const shape = ctx.node('Shape', [x!], [x!.shape.length]);
    const y = ctx.node('Reshape', [normalized, shape], x!.shape);
    return channelAffine(ctx, y, module.weight, module.bias);
  },
});

/**
 * InstanceNorm: `InstanceNormalization` when eval uses the instance's own statistics (the default,
 * trackRunningStats: false); with running statistics, eval is `BatchNormalization` with them.
 */
export const instanceNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: InstanceNorm,
  lower(module, [x], ctx) {
    if (module.trackRunningStats && module.runningMean && module.runningVar) {
      return batchNormalization(ctx, x!, { mean: module.runningMean, variance: module.runningVar, weight: module.weight, bias: module.bias, eps: module.eps });
    }
    const [scale, bias] = scaleAndBias(ctx, module.weight, module.bias, module.numFeatures);
    return ctx.node('InstanceNormalization', [x!, scale, bias], x!.shape, { epsilon: { type: 'float', value: module.eps } });
  },
});

export const groupLowerings = [groupNormLowering, instanceNormLowering] as const;
