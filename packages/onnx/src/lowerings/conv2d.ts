import { Conv2d, noGrad, type Tensor } from '@normkit/tensor';
import type { LoweringContext, OnnxValue } from '../graph';
import type { Dim } from '../proto';
import { defineLowering } from '../registry';

function outputSize(size: Dim, kernel: number, stride: number, padding: number, dilation: number): Dim {
  if (typeof size !== 'number') return '';
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Conv with the given effective weight [out, in / groups, kH, kW] (subclasses pass a transformed one). */
export function lowerConv2d(module: Conv2d, input: OnnxValue, ctx: LoweringContext, effectiveWeight: Tensor): OnnxValue {
  const unbatched = input.shape.length === 3;
  const x = unbatched ? ctx.node('Unsqueeze', [input, ctx.int64s([0], 'axes')], [1, ...input.shape]) : input;
  const [n, , h, w] = x.shape as [Dim, Dim, Dim, Dim];
  const [kH, kW] = module.kernelSize;
  const shape = [
    n,
    module.outChannels,
    outputSize(h, kH, module.stride[0], module.padding[0], module.dilation[0]),
    outputSize(w, kW, module.stride[1], module.padding[1], module.dilation[1]),
  ];
  const weight = ctx.parameter(effectiveWeight, 'weight');
  const inputs = module.bias ? [x, weight, ctx.parameter(module.bias, 'bias')] : [x, weight];
  const y = ctx.node('Conv', inputs, shape, {
    kernel_shape: { type: 'ints', value: [kH, kW] },
    strides: { type: 'ints', value: module.stride },
    pads: { type: 'ints', value: [module.padding[0], module.padding[1], module.padding[0], module.padding[1]] },
    dilations: { type: 'ints', value: module.dilation },
    group: { type: 'int', value: module.groups },
  });
  return unbatched ? ctx.node('Squeeze', [y, ctx.int64s([0], 'axes')], shape.slice(1)) : y;
}

/**
 * Conv2d: `Conv` with kernel_shape, strides, pads (symmetric: [pH, pW, pH, pW]), dilations and
 * group. An unbatched [C, H, W] input is unsqueezed to [1, C, H, W] and squeezed back. The weight
 * is read through `module.weight` under noGrad, so a parametrized weight (weight norm, spectral
 * norm, ...) exports as the plain eval weight the forward would use.
 */
export const conv2dLowering = defineLowering({
  loweringVersion: 'v1',
  module: Conv2d,
  lower: (module, [x], ctx) => lowerConv2d(module, x!, ctx, noGrad(() => module.weight)),
});
