// Shared building blocks of the normalizer lowerings (Flax-style: statistics, then normalise, then affine).
import type { Tensor } from '@normkit/tensor';
import type { LoweringContext, OnnxValue } from '../graph';

/**
 * (x - mean) / sqrt(var + eps) over `axes` (biased variance), or x / sqrt(mean(x^2) + eps) with
 * `center: false`; as primitive ops, statistics in the graph's float32.
 */
export function normalizeOver(ctx: LoweringContext, x: OnnxValue, axes: readonly number[], eps: number, center = true): OnnxValue {
  const centered = center ? ctx.binary('Sub', x, ctx.reduceMean(x, axes)) : x;
  const variance = ctx.reduceMean(ctx.binary('Mul', centered, centered), axes);
  const std = ctx.unary('Sqrt', ctx.binary('Add', variance, ctx.scalar(eps, 'eps')));
  return ctx.binary('Div', centered, std);
}

/**
 * A per-channel vector [C] as an initializer shaped [C, 1, ..., 1] so it broadcasts against
 * [N, C, *] of the given rank.
 */
export function channelVector(ctx: LoweringContext, values: Tensor | ArrayLike<number>, rank: number, name: string): OnnxValue {
  const data = 'data' in values ? Float32Array.from(values.data) : Float32Array.from(values);
  return ctx.constant(data, [data.length, ...Array<number>(Math.max(rank - 2, 0)).fill(1)], { name });
}

/** y * gamma + beta per channel of [N, C, *] (either may be null). */
export function channelAffine(ctx: LoweringContext, y: OnnxValue, weight: Tensor | null, bias: Tensor | null): OnnxValue {
  const rank = y.shape.length;
  let out = y;
  if (weight) out = ctx.binary('Mul', out, channelVector(ctx, weight, rank, 'weight'));
  if (bias) out = ctx.binary('Add', out, channelVector(ctx, bias, rank, 'bias'));
  return out;
}

/** gamma or ones, beta or zeros, as [C] initializers (for ops whose scale and bias inputs are required). */
export function scaleAndBias(ctx: LoweringContext, weight: Tensor | null, bias: Tensor | null, channels: number): [OnnxValue, OnnxValue] {
  return [
    weight ? ctx.parameter(weight, 'weight') : ctx.constant(new Float32Array(channels).fill(1), [channels], { name: 'ones' }),
    bias ? ctx.parameter(bias, 'bias') : ctx.constant(new Float32Array(channels), [channels], { name: 'zeros' }),
  ];
}

/** BatchNormalization in inference mode: (x - mean) / sqrt(var + eps) * gamma + beta with fixed statistics. */
export function batchNormalization(
  ctx: LoweringContext, x: OnnxValue, stats: { mean: Tensor; variance: Tensor; weight: Tensor | null; bias: Tensor | null; eps: number },
): OnnxValue {
  const channels = stats.mean.size;
  const [scale, shift] = scaleAndBias(ctx, stats.weight, stats.bias, channels);
  const mean = ctx.parameter(stats.mean, 'running_mean');
  const variance = ctx.parameter(stats.variance, 'running_var');
  return ctx.node('BatchNormalization', [x, scale, shift, mean, variance], x.shape, { epsilon: { type: 'float', value: stats.eps } });
}

/**
 * Chunk `index` of width `width` along axis 1 of a predictor output [N, k * width], reshaped to
 * `shape` (0 copies N): how conditional normalizers split (shift, scale, ...) from one Linear.
 */
export function predictedChunk(ctx: LoweringContext, predicted: OnnxValue, index: number, width: number, shape: readonly number[], name: string): OnnxValue {
  const n = predicted.shape[0]!;
  const sliced = ctx.node('Slice', [predicted, ctx.int64s([index * width], `${name}_start`), ctx.int64s([(index + 1) * width], `${name}_end`), ctx.int64s([1], `${name}_axis`)], [n, width]);
  return ctx.node('Reshape', [sliced, ctx.int64s(shape, `${name}_shape`)], [n, ...shape.slice(1)]);
}
