// @normkit/onnx/conditional: lowerings of @normkit/conditional (register them explicitly, like its plugins).
import { FiLM } from '@normkit/conditional';
import { batchNormLowering } from './batch';
import { instanceNormLowering } from './group';
import { normalizeOver, predictedChunk } from './lowerings/statistics';
import { defineLowering } from './registry';

/**
 * FiLM as `forward(x, { condition })` (export with `context: { condition }`): (scale, shift) = the
 * film_generator Sequential on the condition, Slice'd and reshaped to [N, C, 1, ...]; x normalised
 * without affine by its kind (its BatchNorm or InstanceNorm module, lowered as a child; 'layer':
 * primitive ops over every dim but the batch; 'none': x); then normalized * scale + shift.
 */
export const filmLowering = defineLowering({
  loweringVersion: 'v1',
  module: FiLM,
  lower(module, [x], ctx) {
    const condition = ctx.context.condition;
    if (!condition) throw ctx.unsupported('a condition graph input: exportOnnx(model, { context: { condition: { shape: [N, conditionDim] } } })', 'no context.condition');
    const c = module.numFeatures;
    const predicted = ctx.lower(module.filmGenerator, [condition], 'film_generator');
    const broadcast = [0, c, ...Array<number>(x!.shape.length - 2).fill(1)];
    const scale = predictedChunk(ctx, predicted, 0, c, broadcast, 'scale');
    const shift = predictedChunk(ctx, predicted, 1, c, broadcast, 'shift');
    const normalized = module.normalizer
      ? ctx.lower(module.normalizer, [x!], 'param_free_norm')
      : module.norm === 'layer'
        ? normalizeOver(ctx, x!, x!.shape.map((_, i) => i).slice(1), module.eps)
        : x!;
    return ctx.binary('Add', ctx.binary('Mul', normalized, scale), shift);
  },
});

/** FiLM, with the lowerings of the BatchNorm and InstanceNorm it may hold as its parameter-free norm. */
export const conditionalLowerings = [filmLowering, batchNormLowering, instanceNormLowering] as const;
