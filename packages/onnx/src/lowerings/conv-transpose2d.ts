import { ConvTranspose2d, noGrad } from '@normkit/tensor';
import type { Dim } from '../proto';
import { defineLowering } from '../registry';

function outputSize(size: Dim, kernel: number, stride: number, padding: number, dilation: number, outputPadding: number): Dim {
  if (typeof size !== 'number') return '';
  return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1;
}

/**
 * ConvTranspose2d: `ConvTranspose` with the same weight layout ([in, out / groups, kH, kW]),
 * strides, pads, dilations, group and output_padding (the module's; `forward(x, outputSize)` is
 * not what the export calls). Unbatched [C, H, W] inputs go through Unsqueeze/Squeeze.
 */
export const convTranspose2dLowering = defineLowering({
  loweringVersion: 'v1',
  module: ConvTranspose2d,
  lower(module, [input], ctx) {
    const unbatched = input!.shape.length === 3;
    const x = unbatched ? ctx.node('Unsqueeze', [input!, ctx.int64s([0], 'axes')], [1, ...input!.shape]) : input!;
    const [n, , h, w] = x.shape as [Dim, Dim, Dim, Dim];
    const [kH, kW] = module.kernelSize;
    const { stride, padding, dilation, outputPadding } = module;
    const shape = [
      n,
      module.outChannels,
      outputSize(h, kH, stride[0], padding[0], dilation[0], outputPadding[0]),
      outputSize(w, kW, stride[1], padding[1], dilation[1], outputPadding[1]),
    ];
    const weight = ctx.parameter(noGrad(() => module.weight), 'weight');
    const inputs = module.bias ? [x, weight, ctx.parameter(module.bias, 'bias')] : [x, weight];
    const y = ctx.node('ConvTranspose', inputs, shape, {
      kernel_shape: { type: 'ints', value: [kH, kW] },
      strides: { type: 'ints', value: stride },
      pads: { type: 'ints', value: [padding[0], padding[1], padding[0], padding[1]] },
      dilations: { type: 'ints', value: dilation },
      output_padding: { type: 'ints', value: outputPadding },
      group: { type: 'int', value: module.groups },
    });
    return unbatched ? ctx.node('Squeeze', [y, ctx.int64s([0], 'axes')], shape.slice(1)) : y;
  },
});
