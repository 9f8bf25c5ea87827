// @normkit/onnx/layer: lowerings of @normkit/layer (register them explicitly, like its plugins).
import { AdaLN, AdaLNZero, LayerNorm, RMSNorm, machineEpsilon } from '@normkit/layer';
import type { LoweringContext, OnnxValue } from './graph';
import { normalizeOver, predictedChunk } from './lowerings/statistics';
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

/**
 * AdaLN / adaLN-Zero as `forward(x, { condition })` (export with `context: { condition }`):
 * (shift, scale[, gate]) = the adaLN_modulation Sequential (SiLU, Linear) on the condition, Slice'd
 * into chunks and reshaped to [N, 1, ..., ...normalizedShape]; LayerNormalization without affine;
 * y * (1 + scale) + shift. adaLN-Zero's forward does not apply its gate (the residual block does).
 */
function lowerAdaptiveLayerNorm(module: AdaLN | AdaLNZero, x: OnnxValue, ctx: LoweringContext): OnnxValue {
  const condition = ctx.context.condition;
  if (!condition) throw ctx.unsupported('a condition graph input: exportOnnx(model, { context: { condition: { shape: [N, conditionDim] } } })', 'no context.condition');
  const shape = module.normalizedShape;
  const features = shape.reduce((p, d) => p * d, 1);
  const predicted = ctx.lower(module.adaLNModulation, [condition], 'adaLN_modulation');
  const broadcast = [0, ...Array<number>(x.shape.length - 1 - shape.length).fill(1), ...shape];
  const shift = predictedChunk(ctx, predicted, 0, features, broadcast, 'shift');
  const scale = predictedChunk(ctx, predicted, 1, features, broadcast, 'scale');
  const normalized = ctx.node('LayerNormalization', [x, ctx.constant(onesLike(shape), shape, { name: 'ones' })], x.shape, {
    axis: { type: 'int', value: -shape.length },
    epsilon: { type: 'float', value: module.eps },
  });
  return ctx.binary('Add', ctx.binary('Mul', normalized, ctx.binary('Add', scale, ctx.scalar(1, 'one'))), shift);
}

export const adaLNLowering = defineLowering({ loweringVersion: 'v1', module: AdaLN, lower: (m, [x], ctx) => lowerAdaptiveLayerNorm(m, x!, ctx) });
export const adaLNZeroLowering = defineLowering({ loweringVersion: 'v1', module: AdaLNZero, lower: (m, [x], ctx) => lowerAdaptiveLayerNorm(m, x!, ctx) });


export const layerLowerings = [layerNormLowering, rmsNormLowering, adaLNLowering, adaLNZeroLowering] as const;
