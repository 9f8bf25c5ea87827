// @normkit/onnx/group: lowerings of @normkit/group (register them explicitly, like its plugins).
import {
  EvoNormB0, EvoNormS0, FilterResponseNorm, FilterResponseNormTLU, GroupNorm, InstanceNorm, LocalResponseNorm, TLU, type FilterResponseNormBase,
} from '@normkit/group';
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

/** Moves axis 1 of [N, C, *] to the end (and back with `inverse`): the permutation for a channel MatMul. */
function channelsLastPerm(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
}

/**
 * LocalResponseNorm (PyTorch's window [c - floor(n/2), c + floor((n-1)/2)], zeros outside):
 * x * (k + alpha / n * S)^-beta with S the windowed sum of x^2 over channels, computed as x^2 with the
 * channels last times a constant 0/1 band matrix [C, C]. ONNX's LRN op is not used: for an even size
 * its window is [c - (n/2 - 1), c + n/2], the mirror image of PyTorch's, and it needs a static C anyway.
 */
export const localResponseNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: LocalResponseNorm,
  lower(module, [x], ctx) {
    const rank = x!.shape.length;
    const c = x!.shape[1];
    if (typeof c !== 'number') throw ctx.unsupported('a static channel axis (the window is a constant matrix)', `a dynamic axis 1 "${String(c)}"`);
    const band = new Float32Array(c * c);
    // band[c', c] = 1 when c' lies in c's window, so (x^2 [.., C]) @ band sums each window.
    for (let out = 0; out < c; out++) {
      for (let i = out - Math.floor(module.size / 2); i <= out + Math.floor((module.size - 1) / 2); i++) if (i >= 0 && i < c) band[i * c + out] = 1;
    }
    const squared = ctx.binary('Mul', x!, x!);
    let windowSum: OnnxValue;
    if (rank === 2) {
      windowSum = ctx.node('MatMul', [squared, ctx.constant(band, [c, c], { name: 'window' })], x!.shape);
    } else {
      const perm = channelsLastPerm(rank);
      const inverse = perm.map((_, i) => perm.indexOf(i));
      const last = ctx.node('Transpose', [squared], perm.map((a) => x!.shape[a]!), { perm: { type: 'ints', value: perm } });
      const summed = ctx.node('MatMul', [last, ctx.constant(band, [c, c], { name: 'window' })], last.shape);
      windowSum = ctx.node('Transpose', [summed], x!.shape, { perm: { type: 'ints', value: inverse } });
    }
    const d = ctx.binary('Add', ctx.binary('Mul', windowSum, ctx.scalar(module.alpha / module.size, 'alpha_over_n')), ctx.scalar(module.k, 'k'));
    return ctx.binary('Mul', x!, ctx.binary('Pow', d, ctx.scalar(-module.beta, 'minus_beta')));
  },
});

/**
 * EvoNorm-S0: x * Sigmoid(v * x) / Sqrt(groupVar(x) + eps) * weight + bias, the group variance
 * (biased, over C / groups channels and every position) as GroupNorm's, on [N, groups, -1].
 */
export const evoNormS0Lowering = defineLowering({
  loweringVersion: 'v1',
  module: EvoNormS0,
  lower(module, [x], ctx) {
    const rank = x!.shape.length;
    const n = x!.shape[0]!;
    const activated = ctx.binary('Mul', x!, ctx.unary('Sigmoid', ctx.binary('Mul', x!, channelVector(ctx, module.v, rank, 'v'))));
    const grouped = (v: OnnxValue, name: string) => ctx.node('Reshape', [v, ctx.int64s([0, module.groups, -1], name)], [n, module.groups, '']);
    const xg = grouped(x!, 'group_shape');
    const centered = ctx.binary('Sub', xg, ctx.reduceMean(xg, [2]));
    const std = ctx.unary('Sqrt', ctx.binary('Add', ctx.reduceMean(ctx.binary('Mul', centered, centered), [2]), ctx.scalar(module.eps, 'eps')));
    const divided = ctx.binary('Div', grouped(activated, 'activated_shape'), std);
    const y = ctx.node('Reshape', [divided, ctx.node('Shape', [x!], [rank])], x!.shape);
    return channelAffine(ctx, y, module.weight, module.bias);
  },
});

/**
 * EvoNorm-B0 in eval: x / Max(Sqrt(running_var + eps), v * x + Sqrt(instanceVar(x) + eps)) * weight
 * + bias, the instance variance biased over the spatial axes (0 for an [N, C] input).
 */
export const evoNormB0Lowering = defineLowering({
  loweringVersion: 'v1',
  module: EvoNormB0,
  lower(module, [x], ctx) {
    const rank = x!.shape.length;
    const spatial = Array.from({ length: rank - 2 }, (_, i) => i + 2);
    const batchStd = channelVector(ctx, Float32Array.from(module.runningVar.data, (v) => Math.sqrt(v + module.eps)), rank, 'running_std');
    let instanceStd: OnnxValue;
    if (spatial.length > 0) {
      const centered = ctx.binary('Sub', x!, ctx.reduceMean(x!, spatial));
      instanceStd = ctx.unary('Sqrt', ctx.binary('Add', ctx.reduceMean(ctx.binary('Mul', centered, centered), spatial), ctx.scalar(module.eps, 'eps')));
    } else {
      instanceStd = ctx.scalar(Math.sqrt(module.eps), 'sqrt_eps');
    }
    const instanceSide = ctx.binary('Add', ctx.binary('Mul', x!, channelVector(ctx, module.v, rank, 'v')), instanceStd);
    const y = ctx.binary('Div', x!, ctx.binary('Max', batchStd, instanceSide));
    return channelAffine(ctx, y, module.weight, module.bias);
  },
});

export const groupLowerings = [
  groupNormLowering, instanceNormLowering, filterResponseNormLowering, filterResponseNormTLULowering, tluLowering,
  localResponseNormLowering, evoNormS0Lowering, evoNormB0Lowering,
] as const;
