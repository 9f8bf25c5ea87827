// @normkit/onnx/weight: lowerings of @normkit/weight's layers (register them explicitly, like its plugins).
// Weight norm, spectral norm and weight standardization registered as parametrizations need nothing
// here: Linear's and Conv2d's lowerings read `module.weight` in eval under noGrad, which is the
// parametrized weight the forward uses, and export it as a plain initializer.
import { WSConv2d, WSLinear } from '@normkit/weight';
import { noGrad } from '@normkit/tensor';
import { lowerConv2d } from './lowerings/conv2d';
import { lowerLinear } from './lowerings/linear';
import { defineLowering } from './registry';

/** WSConv2d: a Conv whose weight is the standardized one, computed at export as the forward computes it. */
export const wsConv2dLowering = defineLowering({
  loweringVersion: 'v1',
  module: WSConv2d,
  lower: (module, [x], ctx) => lowerConv2d(module, x!, ctx, noGrad(() => module.standardizedWeight())),
});

/** WSLinear: Gemm / MatMul with the standardized weight. */
export const wsLinearLowering = defineLowering({
  loweringVersion: 'v1',
  module: WSLinear,
  lower: (module, [x], ctx) => lowerLinear(module, x!, ctx, noGrad(() => module.standardizedWeight())),
});

export const weightLowerings = [wsConv2dLowering, wsLinearLowering] as const;
