import type { LoweringContext, OnnxValue } from '@normkit/onnx';
import type { NormalizerOnnxLowering } from '@normkit/tensor';
import { DynamicTanh } from './dynamic-tanh.js';

/**
 * DyT's ONNX lowering, the plugin's optional `onnx` hook (plugin specification v1):
 * y = weight * Tanh(alpha * x) + bias, alpha a scalar, weight and bias [C] broadcasting over the
 * last dim. Written against `@normkit/onnx`'s types only, so the plugin needs the exporter at run
 * time only when a user exports.
 *
 * @example
 * register(dynamicTanhPlugin);             // its `onnx` field is this lowering
 * const bytes = exportOnnx(model, { inputs: [{ shape: [1, 16, 64] }] });
 */
export const dynamicTanhLowering = {
  loweringVersion: 'v1',
  module: DynamicTanh,
  lower(module: DynamicTanh, [x]: readonly OnnxValue[], ctx: LoweringContext): OnnxValue {
    let y = ctx.unary('Tanh', ctx.binary('Mul', x!, ctx.parameter(module.alpha, 'alpha')));
    if (module.weight) y = ctx.binary('Mul', y, ctx.parameter(module.weight, 'weight'));
    if (module.bias) y = ctx.binary('Add', y, ctx.parameter(module.bias, 'bias'));
    return y;
  },
} as const satisfies NormalizerOnnxLowering;
