// @normkit/onnx/layer: lowerings of @normkit/layer (register them explicitly, like its plugins).
import {
  AdaLN, AdaLNZero, DynamicTanh, L2Norm, LayerNorm, LayerScale, QKNorm, RMSNorm, Residual, ScaleNorm, TransformerBlock, isGatedNormalizer, machineEpsilon,
  type Placement,
} from '@normkit/layer';
import { Module, type NormalizerTraits, type Tensor } from '@normkit/tensor';
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

/** A residual connection as `Residual` computes it (the block's two residuals are two of these). */
interface ResidualSpec {
  placement: Placement;
  norm: Module;
  outputNorm: Module | null;
  layerScale: Module | null;
  /** The skip scale ('deepnorm'; 1 otherwise). */
  alpha: number;
  gate: boolean;
  layout: 'channels-first' | 'channels-last';
  /** Whether the norm would receive the padding mask (its statistics span tokens). */
  maskToNorm: boolean;
}

/** A normalizer on tokens [N, L, D]; a channels-first one sees [N, D, L] through Transpose, as `applyNorm`. */
function applyNormLowered(ctx: LoweringContext, spec: ResidualSpec, norm: Module, v: OnnxValue, name: string): OnnxValue {
  if (spec.maskToNorm && ctx.context.mask) {
    throw ctx.unsupported('a mask only for normalizers whose statistics stay within a token', `a padding mask handed to ${norm.constructor.name}, whose statistics span tokens`);
  }
  if (spec.layout === 'channels-last' || v.shape.length < 3) return ctx.lower(norm, [v], name);
  if (v.shape.length !== 3) throw ctx.unsupported('tokens [N, L, D] for a channels-first normalizer', `rank ${v.shape.length}`);
  const perm = { perm: { type: 'ints' as const, value: [0, 2, 1] } };
  const [n, l, d] = v.shape;
  const normalized = ctx.lower(norm, [ctx.node('Transpose', [v], [n!, d!, l!], perm)], name);
  return ctx.node('Transpose', [normalized], v.shape, perm);
}

/**
 * One residual connection, placement by placement as `Residual.forward`: pre x + ls(f(norm(x)));
 * post norm(x + ls(f(x))); peri x + ls(outputNorm(f(norm(x)))); output x + ls(norm(f(x)));
 * deepnorm norm(alpha x + ls(f(x))); gated (adaLN-Zero) pre x + gate ls(f(mod(x))), post
 * mod(x + gate ls(f(x))). `names` are the norms' child names.
 */
function lowerResidual(
  ctx: LoweringContext, spec: ResidualSpec, x: OnnxValue, sublayer: (v: OnnxValue) => OnnxValue, names: { norm: string; outputNorm?: string; layerScale?: string },
): OnnxValue {
  const norm = (v: OnnxValue) => applyNormLowered(ctx, spec, spec.norm, v, names.norm);
  const scaled = (branch: OnnxValue) => (spec.layerScale ? ctx.lower(spec.layerScale, [branch], names.layerScale) : branch);
  const add = (a: OnnxValue, b: OnnxValue) => ctx.binary('Add', a, b);
  if (spec.gate) {
    if (!(spec.norm instanceof AdaLNZero)) throw ctx.unsupported('AdaLNZero as the gated normalizer', `a gated ${spec.norm.constructor.name}`);
    const gated = spec.norm;
    const modulation = adaptiveModulation(gated, x.shape.length, ctx);
    const gatedBranch = (v: OnnxValue) => ctx.binary('Mul', modulation.gate!, scaled(sublayer(v)));
    if (spec.placement === 'pre') return add(x, gatedBranch(normalizeWithModulation(gated, x, modulation, ctx)));
    return normalizeWithModulation(gated, add(x, gatedBranch(x)), modulation, ctx);
  }
  switch (spec.placement) {
    case 'pre':
      return add(x, scaled(sublayer(norm(x))));
    case 'post':
      return norm(add(x, scaled(sublayer(x))));
    case 'peri':
      return add(x, scaled(applyNormLowered(ctx, spec, spec.outputNorm!, sublayer(norm(x)), names.outputNorm!)));
    case 'output':
      return add(x, scaled(norm(sublayer(x))));
    case 'deepnorm':
      return norm(add(ctx.binary('Mul', x, ctx.scalar(spec.alpha, 'deepnorm_alpha')), scaled(sublayer(x))));
  }
}

function spansTokens(traits: NormalizerTraits): boolean {
  return traits.batchDependent || traits.layout === 'channels-first';
}

/**
 * TransformerBlock (`forward(x)`, or with `{ condition }`, `{ mask }`, `{ causal }` as export
 * context): the optional embedding norm, then the attention and feed-forward residuals with every
 * placement (pre, post, peri, output, deepnorm), LayerScale (ls1, ls2) and adaLN-Zero gating, the
 * normalizers lowered as modules (channels-first ones through Transpose [N, D, L]). A padding mask
 * reaches attention; a normalizer whose statistics span tokens would receive it too, which is not
 * exported (refused).
 */
export const transformerBlockLowering = defineLowering({
  loweringVersion: 'v1',
  module: TransformerBlock,
  lower(module, [x], ctx) {
    const traits = module.normTraits;
    const base = {
      placement: module.placement,
      alpha: module.deepNorm?.alpha ?? 1,
      gate: isGatedNormalizer(module.norm1),
      layout: traits.layout,
      maskToNorm: traits.acceptsMask && spansTokens(traits),
    };
    const attention = (v: OnnxValue) => ctx.lower(module.selfAttn, [v], 'self_attn');
    const feedforward = (v: OnnxValue) => {
      const hidden = ctx.lower(module.linear1, [v], 'linear1');
      return ctx.lower(module.linear2, [module.activation === 'gelu' ? lowerGelu(hidden, ctx) : ctx.unary('Relu', hidden)], 'linear2');
    };
    const embedSpec: ResidualSpec = { ...base, norm: module.norm1, outputNorm: null, layerScale: null };
    const input = module.normEmbed ? applyNormLowered(ctx, embedSpec, module.normEmbed, x!, 'norm_embed') : x!;
    const afterAttention = lowerResidual(ctx, { ...base, norm: module.norm1, outputNorm: module.norm1Post, layerScale: module.ls1 ?? null }, input, attention, {
      norm: 'norm1', outputNorm: 'norm1_post', layerScale: 'ls1',
    });
    return lowerResidual(ctx, { ...base, norm: module.norm2, outputNorm: module.norm2Post, layerScale: module.ls2 ?? null }, afterAttention, feedforward, {
      norm: 'norm2', outputNorm: 'norm2_post', layerScale: 'ls2',
    });
  },
});

/**
 * Residual with a module sublayer (`residual(module, { norm, placement })`), every placement as in
 * TransformerBlock; its children lowered under their names (`norm`, `output_norm`, `sublayer`,
 * `layer_scale`). A function sublayer has no module to lower: wrap it in a Module with a lowering.
 */
export const residualLowering = defineLowering({
  loweringVersion: 'v1',
  module: Residual,
  lower(module, [x], ctx) {
    const sublayer = module.sublayer;
    if (!(sublayer instanceof Module)) throw ctx.unsupported('a Module sublayer (it is lowered as a child)', 'a function sublayer');
    const spec: ResidualSpec = {
      placement: module.placement, norm: module.norm, outputNorm: module.outputNorm, layerScale: module.layerScale, alpha: module.alpha, gate: module.gate,
      layout: module.layout, maskToNorm: module.acceptsMask,
    };
    return lowerResidual(ctx, spec, x!, (v) => ctx.lower(sublayer, [v], 'sublayer'), { norm: 'norm', outputNorm: 'output_norm', layerScale: 'layer_scale' });
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

/** DynamicTanh (DyT): weight * Tanh(alpha * x) + bias, weight and bias over the trailing normalizedShape dims. */
export const dynamicTanhLowering = defineLowering({
  loweringVersion: 'v1',
  module: DynamicTanh,
  lower(module, [x], ctx) {
    let y = ctx.unary('Tanh', ctx.binary('Mul', x!, ctx.parameter(module.alpha, 'alpha')));
    if (module.weight) y = ctx.binary('Mul', y, ctx.parameter(module.weight, 'weight'));
    if (module.bias) y = ctx.binary('Add', y, ctx.parameter(module.bias, 'bias'));
    return y;
  },
});

export const layerLowerings = [
  layerNormLowering, rmsNormLowering, qkNormLowering, adaLNLowering, adaLNZeroLowering, transformerBlockLowering, residualLowering,
  l2NormLowering, scaleNormLowering, layerScaleLowering, dynamicTanhLowering,
] as const;
