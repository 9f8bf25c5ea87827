// @normkit/onnx/group: lowerings of @normkit/group (register them explicitly, like its plugins).
import { FilterResponseNorm, FilterResponseNormTLU, GroupNorm, InstanceNorm, TLU, type FilterResponseNormBase } from '@normkit/group';
import type { Tensor } from '@normkit/tensor';
import type { LoweringContext, OnnxValue } from './graph';
import { batchNormalization, channelAffine, channelVector, normalizeOver, scaleAndBias } from './lowerings/statistics';
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

/**
 * FRN: gamma * x / Sqrt(ReduceMean(x * x over the spatial axes) + eps + |eps_learned|) + beta, the
 * learned epsilon folded into one constant ([N, C] has no spatial axis: nu2 = x * x).
 */
function lowerFilterResponseNorm(module: FilterResponseNormBase, x: OnnxValue, ctx: LoweringContext): OnnxValue {
  const eps = module.eps + (module.epsLearned ? Math.abs(module.epsLearned.data[0]!) : 0);
  const spatial = x.shape.map((_, i) => i).slice(2);
  const squared = ctx.binary('Mul', x, x);
  const nu2 = spatial.length > 0 ? ctx.reduceMean(squared, spatial) : squared;
  const y = ctx.binary('Div', x, ctx.unary('Sqrt', ctx.binary('Add', nu2, ctx.scalar(eps, 'eps'))));
  return channelAffine(ctx, y, module.weight, module.bias);
}

/** TLU: Max(x, tau_c), tau broadcast per channel. */
function lowerTlu(tau: Tensor, x: OnnxValue, ctx: LoweringContext): OnnxValue {
  return ctx.binary('Max', x, channelVector(ctx, tau, x.shape.length, 'tau'));
}

export const filterResponseNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: FilterResponseNorm,
  lower: (module, [x], ctx) => lowerFilterResponseNorm(module, x!, ctx),
});

export const filterResponseNormTLULowering = defineLowering({
  loweringVersion: 'v1',
  module: FilterResponseNormTLU,
  lower: (module, [x], ctx) => lowerTlu(module.tau, lowerFilterResponseNorm(module, x!, ctx), ctx),
});

export const tluLowering = defineLowering({ loweringVersion: 'v1', module: TLU, lower: (module, [x], ctx) => lowerTlu(module.tau, x!, ctx) });

export const groupLowerings = [groupNormLowering, instanceNormLowering, filterResponseNormLowering, filterResponseNormTLULowering, tluLowering] as const;
