// @normkit/onnx/conditional: lowerings of @normkit/conditional (register them explicitly, like its plugins).
import { ConditionalBatchNorm, FiLM, SPADE } from '@normkit/conditional';
import { noGrad } from '@normkit/tensor';
import { batchNormLowering } from './batch';
import { instanceNormLowering } from './group';
import { resizeNearest } from './lowerings/resize';
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

/**
 * ConditionalBatchNorm as `forward(x, { labels })` (export with `context: { labels: { shape: [N] } }`,
 * an int64 graph input of class ids): its BatchNorm without affine (BatchNormalization with the
 * shared running statistics), then Gather(gamma.weight, labels) and Gather(beta.weight, labels),
 * [N, C], unsqueezed to [N, C, 1, ...]: normalized * gamma + beta.
 */
export const conditionalBatchNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: ConditionalBatchNorm,
  lower(module, [x], ctx) {
    const labels = ctx.context.labels;
    if (!labels) throw ctx.unsupported('a labels graph input: exportOnnx(model, { context: { labels: { shape: [N] } } })', 'no context.labels');
    const rank = x!.shape.length;
    const n = x!.shape[0]!;
    const c = module.numFeatures;
    const spatial = Array.from({ length: rank - 2 }, (_, i) => i + 2);
    const row = (table: typeof module.gamma, name: string) => {
      const rows = ctx.node('Gather', [ctx.parameter(noGrad(() => table.weight), `${name}.weight`), labels], [n, c], { axis: { type: 'int', value: 0 } });
      return spatial.length > 0 ? ctx.node('Unsqueeze', [rows, ctx.int64s(spatial, `${name}_axes`)], [n, c, ...spatial.map(() => 1)]) : rows;
    };
    const normalized = ctx.lower(module.bn, [x!], 'bn');
    return ctx.binary('Add', ctx.binary('Mul', normalized, row(module.gamma, 'gamma')), row(module.beta, 'beta'));
  },
});

/**
 * SPADE as `forward(x, { condition })` with the segmentation map [N, labelChannels, H', W'] as the
 * condition graph input (static H', W'): the map resized to x's [H, W] by nearest neighbour with
 * normkit's source indices (two Gathers), mlp_shared, mlp_gamma and mlp_beta lowered as modules,
 * the parameter-free norm as its module (BatchNormalization / InstanceNormalization), then
 * normalized * (1 + gamma) + beta.
 */
export const spadeLowering = defineLowering({
  loweringVersion: 'v1',
  module: SPADE,
  lower(module, [x], ctx) {
    const condition = ctx.context.condition;
    if (!condition) throw ctx.unsupported('a condition graph input (the segmentation map): exportOnnx(model, { context: { condition: { shape: [N, labelChannels, H, W] } } })', 'no context.condition');
    const [, , h, w] = x!.shape;
    if (typeof h !== 'number' || typeof w !== 'number') throw ctx.unsupported('static H and W of x (the map is resized to them)', `[${x!.shape.join(', ')}]`);
    const resized = resizeNearest(ctx, condition, h, w);
    const hidden = ctx.lower(module.mlpShared, [resized], 'mlp_shared');
    const gamma = ctx.lower(module.mlpGamma, [hidden], 'mlp_gamma');
    const beta = ctx.lower(module.mlpBeta, [hidden], 'mlp_beta');
    const normalized = ctx.lower(module.normalizer, [x!], 'param_free_norm');
    return ctx.binary('Add', ctx.binary('Mul', normalized, ctx.binary('Add', gamma, ctx.scalar(1, 'one'))), beta);
  },
});

/**
 * FiLM, ConditionalBatchNorm and SPADE, with the lowerings of the BatchNorm and InstanceNorm they
 * hold as their parameter-free norm.
 */
export const conditionalLowerings = [filmLowering, conditionalBatchNormLowering, spadeLowering, batchNormLowering, instanceNormLowering] as const;
