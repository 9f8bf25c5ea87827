// @normkit/onnx/layer: lowerings of @normkit/layer (register them explicitly, like its plugins).
import { LayerNorm, RMSNorm, machineEpsilon } from '@normkit/layer';
import { normalizeOver } from './lowerings/statistics';
import { defineLowering } from './registry';

function trailingAxes(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i - count);
}

function onesLike(shape: readonly number[]): Float32Array {
  return new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(1);
}

/** LayerNorm: `LayerNormalization` (opset 17+) over the trailing normalizedShape dims; ones as scale without affine. */
export const layerNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: LayerNorm,
  lower(module, [x], ctx) {
    const shape = module.normalizedShape;
    const scale = module.weight ? ctx.parameter(module.weight, 'weight') : ctx.constant(onesLike(shape), shape, { name: 'ones' });
    const inputs = module.bias ? [x!, scale, ctx.parameter(module.bias, 'bias')] : [x!, scale];
    return ctx.node('LayerNormalization', inputs, x!.shape, {
      axis: { type: 'int', value: -shape.length },
      epsilon: { type: 'float', value: module.eps },
    });
  },
});

/**
 * RMSNorm: `RMSNormalization` at opset 23; below it x / Sqrt(ReduceMean(x * x) + eps) * weight.
 * eps null is the machine epsilon of the module's dtype, as the forward uses.
 */
export const rmsNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: RMSNorm,
  lower(module, [x], ctx) {
    const shape = module.normalizedShape;
    const eps = module.eps ?? machineEpsilon(module.dtype);
    if (ctx.opset >= 23) {
      const scale = module.weight ? ctx.parameter(module.weight, 'weight') : ctx.constant(onesLike(shape), shape, { name: 'ones' });
      return ctx.node('RMSNormalization', [x!, scale], x!.shape, {
        axis: { type: 'int', value: -shape.length },
        epsilon: { type: 'float', value: eps },
      });
    }
    const y = normalizeOver(ctx, x!, trailingAxes(shape.length), eps, false);
    return module.weight ? ctx.binary('Mul', y, ctx.parameter(module.weight, 'weight')) : y;
  },
});

export const layerLowerings = [layerNormLowering, rmsNormLowering] as const;
