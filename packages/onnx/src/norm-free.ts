// @normkit/onnx/norm-free: lowerings of @normkit/norm-free's layers and residual blocks (register them explicitly).
import { NFResidualBlock, ScaledStdConv2d, ScaledStdLinear, SkipInit, type AnyResidualFunction } from '@normkit/norm-free';
import { noGrad } from '@normkit/tensor';
import { lowerConv2d } from './lowerings/conv2d';
import { lowerLinear } from './lowerings/linear';
import { defineLowering } from './registry';

/** ScaledStdConv2d: a Conv with the scaled standardized weight (gain * gamma * (w - mean) / (std sqrt(fanIn))), computed at export as the forward computes it. */
export const scaledStdConv2dLowering = defineLowering({
  loweringVersion: 'v1',
  module: ScaledStdConv2d,
  lower: (module, [x], ctx) => lowerConv2d(module, x!, ctx, noGrad(() => module.standardizedWeight())),
});

/** ScaledStdLinear: Gemm / MatMul with the scaled standardized weight. */
export const scaledStdLinearLowering = defineLowering({
  loweringVersion: 'v1',
  module: ScaledStdLinear,
  lower: (module, [x], ctx) => lowerLinear(module, x!, ctx, noGrad(() => module.standardizedWeight())),
});

/** SkipInit: x + alpha * branch(x), the branch lowered as the child `branch` (a `forward(x)` branch: extra arguments are not exported). */
// Explicit type arguments: the classes are generic in their branch, which defeats inference from `module`.
export const skipInitLowering = defineLowering<SkipInit<AnyResidualFunction>>({
  loweringVersion: 'v1',
  module: SkipInit,
  lower: (module, [x], ctx) => ctx.binary('Add', x!, ctx.binary('Mul', ctx.parameter(module.alpha, 'alpha'), ctx.lower(module.branch, [x!], 'branch'))),
});

/**
 * NFResidualBlock: skip + alpha * (skipGain) * branch(x / beta), skip being x or, in a transition
 * block, shortcut(x / beta). alpha and beta are fixed numbers; skipGain (a learned scalar) is read
 * at export and folded into one constant with alpha.
 */
export const nfResidualBlockLowering = defineLowering<NFResidualBlock<AnyResidualFunction>>({
  loweringVersion: 'v1',
  module: NFResidualBlock,
  lower(module, [x], ctx) {
    const normalized = module.beta === 1 ? x! : ctx.binary('Mul', x!, ctx.scalar(1 / module.beta, 'inv_beta'));
    const y = ctx.lower(module.branch, [normalized], 'branch');
    const skip = module.shortcut ? ctx.lower(module.shortcut, [normalized], 'shortcut') : x!;
    const gain = module.skipGain ? module.alpha * noGrad(() => module.skipGain!.data[0]!) : module.alpha;
    return ctx.binary('Add', skip, ctx.binary('Mul', y, ctx.scalar(gain, 'branch_gain')));
  },
});

export const normFreeLowerings = [scaledStdConv2dLowering, scaledStdLinearLowering, skipInitLowering, nfResidualBlockLowering] as const;
