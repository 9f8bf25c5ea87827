import { Linear, noGrad, transpose, type Tensor } from '@normkit/tensor';
import type { LoweringContext, OnnxValue } from '../graph';
import { defineLowering } from '../registry';

/** Gemm or MatMul + Add with the given effective weight [out, in] (subclasses pass a transformed one). */
export function lowerLinear(module: Linear, x: OnnxValue, ctx: LoweringContext, weight: Tensor): OnnxValue {
  const leading = x.shape.slice(0, -1);
  if (x.shape.length === 2) {
    const inputs = [x, ctx.parameter(weight, 'weight'), module.bias ? ctx.parameter(module.bias, 'bias') : null];
    return ctx.node('Gemm', module.bias ? inputs : inputs.slice(0, 2), [...leading, module.outFeatures], { transB: { type: 'int', value: 1 } });
  }
  const weightT = noGrad(() => transpose(weight));
  const y = ctx.node('MatMul', [x, ctx.parameter(weightT, 'weight_t')], [...leading, module.outFeatures]);
  return module.bias ? ctx.binary('Add', y, ctx.parameter(module.bias, 'bias')) : y;
}

/**
 * Linear: `Gemm(x, W, b, transB=1)` for a rank-2 input, `MatMul(x, W^T) + b` otherwise (Gemm is
 * rank-2 only). The weight is read through `module.weight` under noGrad, so a parametrized weight
 * (weight norm, spectral norm, ...) is exported as the plain eval weight the forward would use.
 */
export const linearLowering = defineLowering({
  loweringVersion: 'v1',
  module: Linear,
  lower: (module, [x], ctx) => lowerLinear(module, x!, ctx, noGrad(() => module.weight)),
});
