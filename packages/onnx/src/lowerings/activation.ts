import { GELU, ReLU, SiLU, Sigmoid, Softmax, Tanh } from '@normkit/tensor';
import type { LoweringContext, OnnxValue } from '../graph';
import { defineLowering } from '../registry';

export const reluLowering = defineLowering({ loweringVersion: 'v1', module: ReLU, lower: (_m, [x], ctx) => ctx.unary('Relu', x!) });

export const tanhLowering = defineLowering({ loweringVersion: 'v1', module: Tanh, lower: (_m, [x], ctx) => ctx.unary('Tanh', x!) });

/** SiLU: x * Sigmoid(x) (ONNX has no Swish op before opset 24). */
export const siluLowering = defineLowering({
  loweringVersion: 'v1',
  module: SiLU,
  lower: (_m, [x], ctx) => ctx.binary('Mul', x!, ctx.unary('Sigmoid', x!)),
});

/**
 * Exact GELU: `Gelu(approximate='none')` from opset 20, below it the decomposition
 * x * 0.5 * (1 + Erf(x / sqrt(2))).
 */
export function lowerGelu(x: OnnxValue, ctx: LoweringContext): OnnxValue {
  if (ctx.opset >= 20) return ctx.unary('Gelu', x, { approximate: { type: 'string', value: 'none' } });
  const erf = ctx.unary('Erf', ctx.binary('Div', x, ctx.scalar(Math.SQRT2, 'sqrt2')));
  const phi = ctx.binary('Mul', ctx.binary('Add', erf, ctx.scalar(1, 'one')), ctx.scalar(0.5, 'half'));
  return ctx.binary('Mul', x, phi);
}

export const geluLowering = defineLowering({ loweringVersion: 'v1', module: GELU, lower: (_m, [x], ctx) => lowerGelu(x!, ctx) });

export const sigmoidLowering = defineLowering({ loweringVersion: 'v1', module: Sigmoid, lower: (_m, [x], ctx) => ctx.unary('Sigmoid', x!) });

/** Softmax({ dim }): `Softmax(axis=dim)` (from opset 13 ONNX's Softmax normalizes over that one axis, as normkit does). */
export const softmaxLowering = defineLowering({
  loweringVersion: 'v1',
  module: Softmax,
  lower: (module, [x], ctx) => ctx.unary('Softmax', x!, { axis: { type: 'int', value: module.dim } }),
});
