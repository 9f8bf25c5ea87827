// @normkit/onnx/layer: lowerings of @normkit/layer (register them explicitly, like its plugins).
import {
  AdaLN, AdaLNZero, L2Norm, LayerNorm, LayerScale, QKNorm, RMSNorm, ScaleNorm, TransformerBlock, isGatedNormalizer, machineEpsilon,
} from '@normkit/layer';
import type { Module, Tensor } from '@normkit/tensor';
import type { LoweringContext, OnnxValue } from './graph';
import { lowerGelu } from './lowerings/activation';
import { normalizeOver, predictedChunk } from './lowerings/statistics';
import { defineLowering } from './registry';

function trailingAxes(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i - count);
}

function onesLike(ctx: LoweringContext, shape: readonly number[]): OnnxValue {
  return ctx.constant(new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(1), shape, { name: 'ones' });
}

/** `LayerNormalization` (opset 17+) over the trailing `shape` dims; ones as scale without a weight. */
function lowerLayerNorm(ctx: LoweringContext, x: OnnxValue, shape: readonly number[], weight: Tensor | null, bias: Tensor | null, eps: number): OnnxValue {
  const scale = weight ? ctx.parameter(weight, 'weight') : onesLike(ctx, shape);
  const inputs = bias ? [x, scale, ctx.parameter(bias, 'bias')] : [x, scale];
  return ctx.node('LayerNormalization', inputs, x.shape, { axis: { type: 'int', value: -shape.length }, epsilon: { type: 'float', value: eps } });
}

/** `RMSNormalization` at opset 23; below it x / Sqrt(ReduceMean(x * x) + eps) * weight. */
function lowerRmsNorm(ctx: LoweringContext, x: OnnxValue, shape: readonly number[], weight: Tensor | null, eps: number): OnnxValue {
  if (ctx.opset >= 23) {
    const scale = weight ? ctx.parameter(weight, 'weight') : onesLike(ctx, shape);
    return ctx.node('RMSNormalization', [x, scale], x.shape, { axis: { type: 'int', value: -shape.length }, epsilon: { type: 'float', value: eps } });
  }
  const y = normalizeOver(ctx, x, trailingAxes(shape.length), eps, false);
  return weight ? ctx.binary('Mul', y, ctx.parameter(weight, 'weight')) : y;
}

/** LayerNorm: `LayerNormalization` over the trailing normalizedShape dims. */
export const layerNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: LayerNorm,
  lower: (module, [x], ctx) => lowerLayerNorm(ctx, x!, module.normalizedShape, module.weight, module.bias, module.eps),
});

/** RMSNorm: `RMSNormalization` at opset 23, primitive ops below; eps null is the machine epsilon of the module's dtype. */
export const rmsNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: RMSNorm,
  lower: (module, [x], ctx) => lowerRmsNorm(ctx, x!, module.normalizedShape, module.weight, module.eps ?? machineEpsilon(module.dtype)),
});

/**
 * QKNorm over the head dim: kind 'layer' and 'rms' as LayerNorm and RMSNorm; 'l2' as
 * x / Sqrt(ReduceMean(x * x) + eps / D) * scale (the RMS form of the L2 normalisation, one scalar scale).
 */
export const qkNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: QKNorm,
  lower(module, [x], ctx) {
    if (module.kind === 'layer') return lowerLayerNorm(ctx, x!, [module.headDim], module.weight, module.bias, module.eps);
    if (module.kind === 'rms') return lowerRmsNorm(ctx, x!, [module.headDim], module.weight, module.eps);
    const y = normalizeOver(ctx, x!, [-1], module.eps / module.headDim, false);
    return module.scale ? ctx.binary('Mul', y, ctx.parameter(module.scale, 'scale')) : y;
  },
});

interface Modulation {
  shift: OnnxValue;
  scale: OnnxValue;
  gate: OnnxValue | null;
}

/** (shift, scale[, gate]) from the adaLN_modulation Sequential on the condition, each [N, 1, ..., ...normalizedShape]. */
function adaptiveModulation(module: AdaLN | AdaLNZero, rank: number, ctx: LoweringContext): Modulation {
  const condition = ctx.context.condition;
  if (!condition) throw ctx.unsupported('a condition graph input: exportOnnx(model, { context: { condition: { shape: [N, conditionDim] } } })', 'no context.condition');
  const shape = module.normalizedShape;
  const features = shape.reduce((p, d) => p * d, 1);
  const predicted = ctx.lower(module.adaLNModulation, [condition], 'adaLN_modulation');
  const broadcast = [0, ...Array<number>(rank - 1 - shape.length).fill(1), ...shape];
  return {
    shift: predictedChunk(ctx, predicted, 0, features, broadcast, 'shift'),
    scale: predictedChunk(ctx, predicted, 1, features, broadcast, 'scale'),
    gate: module instanceof AdaLNZero ? predictedChunk(ctx, predicted, 2, features, broadcast, 'gate') : null,
  };
}

/** LayerNormalization without affine, then y * (1 + scale) + shift. */
function normalizeWithModulation(module: AdaLN | AdaLNZero, x: OnnxValue, modulation: Modulation, ctx: LoweringContext): OnnxValue {
  const normalized = lowerLayerNorm(ctx, x, module.normalizedShape, null, null, module.eps);
  return ctx.binary('Add', ctx.binary('Mul', normalized, ctx.binary('Add', modulation.scale, ctx.scalar(1, 'one'))), modulation.shift);
}

/**
 * AdaLN / adaLN-Zero as `forward(x, { condition })` (export with `context: { condition }`): the
 * modulation Slice'd into chunks, LayerNormalization without affine, y * (1 + scale) + shift.
 * adaLN-Zero's forward does not apply its gate (the residual block does).
 */
function lowerAdaptiveLayerNorm(module: AdaLN | AdaLNZero, x: OnnxValue, ctx: LoweringContext): OnnxValue {
  return normalizeWithModulation(module, x, adaptiveModulation(module, x.shape.length, ctx), ctx);
}

export const adaLNLowering = defineLowering({ loweringVersion: 'v1', module: AdaLN, lower: (m, [x], ctx) => lowerAdaptiveLayerNorm(m, x!, ctx) });
export const adaLNZeroLowering = defineLowering({ loweringVersion: 'v1', module: AdaLNZero, lower: (m, [x], ctx) => lowerAdaptiveLayerNorm(m, x!, ctx) });

/**
 * TransformerBlock (`forward(x)` or `forward(x, { condition })`; no mask or causal option): the
 * attention and feed-forward residuals, pre-LN `x + f(norm(x))` or post-LN `norm(x + f(x))`, with
 * its normalizers lowered as modules (a channels-first one through Transpose [N, D, L]); with
 * adaLN-Zero, `x + gate * f(modulated(x))` (pre) or `modulated(x + gate * f(x))` (post).
 */
export const transformerBlockLowering = defineLowering({
  loweringVersion: 'v1',
  module: TransformerBlock,
  lower(module, [x], ctx) {
    const channelsFirst = module.normTraits.layout === 'channels-first';
    const applyNorm = (norm: Module, v: OnnxValue, name: string): OnnxValue => {
      if (!channelsFirst) return ctx.lower(norm, [v], name);
      const perm = { perm: { type: 'ints' as const, value: [0, 2, 1] } };
      const [n, l, d] = v.shape;
      const normalized = ctx.lower(norm, [ctx.node('Transpose', [v], [n!, d!, l!], perm)], name);
      return ctx.node('Transpose', [normalized], v.shape, perm);
    };
    const attention = (v: OnnxValue) => ctx.lower(module.selfAttn, [v], 'self_attn');
    const feedforward = (v: OnnxValue) => {
      const hidden = ctx.lower(module.linear1, [v], 'linear1');
      return ctx.lower(module.linear2, [module.activation === 'gelu' ? lowerGelu(hidden, ctx) : ctx.unary('Relu', hidden)], 'linear2');
    };
    const residual = (v: OnnxValue, norm: Module, name: string, sublayer: (v: OnnxValue) => OnnxValue): OnnxValue => {
      if (!isGatedNormalizer(norm as never)) {
        if (module.placement === 'pre') return ctx.binary('Add', v, sublayer(applyNorm(norm, v, name)));
        return applyNorm(norm, ctx.binary('Add', v, sublayer(v)), name);
      }
      if (!(norm instanceof AdaLNZero)) throw ctx.unsupported('AdaLNZero as the gated normalizer', `a gated ${norm.constructor.name}`);
      const gated = norm;
      const modulation = adaptiveModulation(gated, v.shape.length, ctx);
      if (module.placement === 'pre') return ctx.binary('Add', v, ctx.binary('Mul', modulation.gate!, sublayer(normalizeWithModulation(gated, v, modulation, ctx))));
      return normalizeWithModulation(gated, ctx.binary('Add', v, ctx.binary('Mul', modulation.gate!, sublayer(v))), modulation, ctx);
    };
    const afterAttention = residual(x!, module.norm1, 'norm1', attention);
    return residual(afterAttention, module.norm2, 'norm2', feedforward);
  },
});

/**
 * x / Max(||x||_p, eps) over `axes` (F.normalize): ||x|| by ReduceL2 (p = 2), ReduceL1 (p = 1),
 * ReduceMax(Abs(x)) (p = Infinity), else Pow(ReduceSum(Pow(Abs(x), p)), 1 / p).
 */
function lowerLpNormalize(ctx: LoweringContext, x: OnnxValue, axes: readonly number[], p: number, eps: number): OnnxValue {
  let norm: OnnxValue;
  if (p === 2) norm = ctx.reduce('ReduceL2', x, axes);
  else if (p === 1) norm = ctx.reduce('ReduceL1', x, axes);
  else if (p === Infinity) norm = ctx.reduce('ReduceMax', ctx.unary('Abs', x), axes);
  else norm = ctx.binary('Pow', ctx.reduce('ReduceSum', ctx.binary('Pow', ctx.unary('Abs', x), ctx.scalar(p, 'p')), axes), ctx.scalar(1 / p, 'inv_p'));
  return ctx.binary('Div', x, ctx.binary('Max', norm, ctx.scalar(eps, 'eps')));
}

/** L2Norm (unit Lp normalization over `axes`, default the last): x / Max(||x||_p, eps). */
export const l2NormLowering = defineLowering({
  loweringVersion: 'v1',
  module: L2Norm,
  lower(module, [x], ctx) {
    const rank = x!.shape.length;
    const axes = (typeof module.axes === 'number' ? [module.axes] : [...module.axes]).map((a) => (a < 0 ? a + rank : a));
    return lowerLpNormalize(ctx, x!, axes, module.p, module.eps);
  },
});

/** ScaleNorm: g * x / Max(ReduceL2(x over the normalizedShape dims), eps), g one scalar. */
export const scaleNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: ScaleNorm,
  lower: (module, [x], ctx) => ctx.binary('Mul', lowerLpNormalize(ctx, x!, trailingAxes(module.normalizedShape.length), 2, module.eps), ctx.parameter(module.scale, 'scale')),
});

/** LayerScale: gamma * x, gamma [...dim] broadcasting over the leading dims. */
export const layerScaleLowering = defineLowering({
  loweringVersion: 'v1',
  module: LayerScale,
  lower: (module, [x], ctx) => ctx.binary('Mul', x!, ctx.parameter(module.gamma, 'gamma')),
});

export const layerLowerings = [
  layerNormLowering, rmsNormLowering, qkNormLowering, adaLNLowering, adaLNZeroLowering, transformerBlockLowering, l2NormLowering, scaleNormLowering, layerScaleLowering,
] as const;
