// The engine's models as ONNX, through @normkit/onnx: a lowering per model class (they all have a
// custom forward), and exportClassifierOnnx / exportGeneratorOnnx for a built or trained model.
// Its own entry ('@normkit/experiments/onnx'), so the engine's bundle does not carry the exporter.
import {
  OnnxExportError, attr, defineLowering, exportOnnx, lowerAdaptiveAvgPool2d, lowerGelu, lowerMaxPool2d,
  type AnyLowering, type LoweringContext, type OnnxValue,
} from '@normkit/onnx';
import { batchLowerings } from '@normkit/onnx/batch';
import { groupLowerings } from '@normkit/onnx/group';
import { layerLowerings } from '@normkit/onnx/layer';
import { Module, type NormalizerOnnxLowering, type Tensor } from '@normkit/tensor';
import type { InputKind } from '../datasets/dataset';
import { Cnn, ConvStage } from './cnn';
import { ConditionalGan, ConditionalMlp } from './gan';
import type { ActivationName, Classifier, DataSpec } from './model';
import { DenseLayer, Mlp } from './mlp';
import { NormSlot } from './norm-slot';
import { PlainResidualBlock, ResidualBranch, ResidualNet } from './residual';
import { ActivationTap } from './tap';
import { TinyTransformer } from './transformer';

/** activate(name, x) of model.ts as ONNX (exact GELU: Gelu from opset 20, its Erf form below). */
function lowerActivation(ctx: LoweringContext, name: ActivationName, x: OnnxValue): OnnxValue {
  if (name === 'relu') return ctx.unary('Relu', x);
  if (name === 'tanh') return ctx.unary('Tanh', x);
  return lowerGelu(x, ctx);
}

/** flattenImage: [N, C, H, W] -> [N, C * H * W] for images, other inputs unchanged. */
function lowerFlattenImage(ctx: LoweringContext, x: OnnxValue, kind: InputKind): OnnxValue {
  if (kind !== 'image') return x;
  const rest = x.shape.slice(1);
  const width = rest.every((d) => typeof d === 'number') ? rest.reduce((p, d) => p * d, 1) : '';
  return ctx.node('Flatten', [x], [x.shape[0]!, width], { axis: attr.int(1) });
}

/**
 * maskedMeanPool: [N, L, D] -> [N, D], the mean over real tokens with the export's `mask` input
 * (sum_t mask x / max(1, sum_t mask)), the plain mean over L without one.
 */
function lowerMaskedMeanPool(ctx: LoweringContext, h: OnnxValue): OnnxValue {
  const [n, l, d] = h.shape as [OnnxValue['shape'][number], OnnxValue['shape'][number], OnnxValue['shape'][number]];
  const mask = ctx.context.mask;
  let pooled: OnnxValue;
  if (mask) {
    const weights = ctx.node('Unsqueeze', [mask, ctx.int64s([2], 'mask_axes')], [n, l, 1]);
    const total = ctx.reduce('ReduceSum', ctx.binary('Mul', h, weights), [1]);
    const counts = ctx.binary('Max', ctx.reduce('ReduceSum', weights, [1]), ctx.scalar(1, 'one'));
    pooled = ctx.binary('Div', total, counts);
  } else {
    pooled = ctx.reduceMean(h, [1]);
  }
  return ctx.node('Squeeze', [pooled, ctx.int64s([1], 'token_axis')], [n, d]);
}

const perm = (value: number[]) => ({ perm: attr.ints(value) });

/**
 * NormSlot: the normalizer lowered as its module (child named after its plugin), with the slot's
 * layout rules: on tokens a channels-first normalizer sees [N, D, L], on images a channels-last one
 * [N, H, W, C], through Transpose and back. A conditional normalizer reads the export's (or the
 * model's) `condition` / `labels`; a padding mask handed to a normalizer whose statistics span
 * tokens is not exported (refused, as TransformerBlock's lowering does).
 */
export const normSlotLowering = defineLowering({
  loweringVersion: 'v1',
  module: NormSlot,
  lower(m, [x], ctx) {
    if (!m.normalizer || !m.traits) return x!;
    const traits = m.traits;
    const spansTokens = traits.batchDependent || traits.layout === 'channels-first';
    if (ctx.context.mask && traits.acceptsMask && m.choice.mask !== false && spansTokens && m.layout === 'tokens') {
      throw ctx.unsupported('a mask only for normalizers whose statistics stay within a token', `a padding mask handed to "${m.choice.name}", whose statistics span tokens`);
    }
    const v = x!;
    if (m.layout === 'tokens' && traits.layout === 'channels-first') {
      const [n, l, d] = v.shape;
      const normalized = ctx.lower(m.normalizer, [ctx.node('Transpose', [v], [n!, d!, l!], perm([0, 2, 1]))], m.choice.name);
      return ctx.node('Transpose', [normalized], v.shape, perm([0, 2, 1]));
    }
    if (m.layout === 'image' && traits.layout === 'channels-last') {
      const [n, c, h, w] = v.shape;
      const normalized = ctx.lower(m.normalizer, [ctx.node('Transpose', [v], [n!, h!, w!, c!], perm([0, 2, 3, 1]))], m.choice.name);
      return ctx.node('Transpose', [normalized], v.shape, perm([0, 3, 1, 2]));
    }
    return ctx.lower(m.normalizer, [v], m.choice.name);
  },
});

/** ActivationTap records statistics while training; in the exported graph it is the identity. */
export const activationTapLowering = defineLowering({ loweringVersion: 'v1', module: ActivationTap, lower: (_m, [x]) => x! });

/** DenseLayer: linear -> norm -> activation. */
export const denseLayerLowering = defineLowering({
  loweringVersion: 'v1',
  module: DenseLayer,
  lower: (m, [x], ctx) => lowerActivation(ctx, m.activation, ctx.lower(m.norm, [ctx.lower(m.linear, [x!], 'linear')], 'norm')),
});

/**
 * Mlp: images flattened, the condition features (if any) sliced off as the layers' `condition`,
 * the layers, tokens mean-pooled over the real ones, the head.
 */
export const mlpLowering = defineLowering({
  loweringVersion: 'v1',
  module: Mlp,
  lower(m, [x], ctx) {
    let h = lowerFlattenImage(ctx, x!, m.inputKind);
    const body = () => {
      for (const [name, layer] of m.layers.namedChildren()) h = ctx.lower(layer, [h], `layers.${name}`);
      return ctx.lower(m.head, [m.inputKind === 'tokens' ? lowerMaskedMeanPool(ctx, h) : h], 'head');
    };
    if (m.conditionFeatures === 0) return body();
    const [n, features] = h.shape;
    if (typeof features !== 'number') throw ctx.unsupported('a static feature count to split the condition features from', `[${h.shape.join(', ')}]`);
    const data = features - m.conditionFeatures;
    const slice = (start: number, end: number, name: string) =>
      ctx.node('Slice', [h, ctx.int64s([start], `${name}_start`), ctx.int64s([end], `${name}_end`), ctx.int64s([1], `${name}_axis`)], [n!, end - start]);
    const condition = slice(data, features, 'condition');
    h = slice(0, data, 'data');
    return ctx.withContext({ condition }, body);
  },
});

/** ConvStage: conv -> norm -> activation, then a 2x2 max pool when the stage pools. */
export const convStageLowering = defineLowering({
  loweringVersion: 'v1',
  module: ConvStage,
  lower(m, [x], ctx) {
    const y = lowerActivation(ctx, m.activation, ctx.lower(m.norm, [ctx.lower(m.conv, [x!], 'conv')], 'norm'));
    return m.pool ? lowerMaxPool2d(ctx, y, 2) : y;
  },
});

/** Cnn: the stages, global average pooling (GlobalAveragePool), Flatten, the head. */
export const cnnLowering = defineLowering({
  loweringVersion: 'v1',
  module: Cnn,
  lower(m, [x], ctx) {
    let h = x!;
    for (const [name, stage] of m.stages.namedChildren()) h = ctx.lower(stage, [h], `stages.${name}`);
    const pooled = lowerAdaptiveAvgPool2d(ctx, h, 1);
    const flat = ctx.node('Flatten', [pooled], [pooled.shape[0]!, pooled.shape[1]!], { axis: attr.int(1) });
    return ctx.lower(m.head, [flat], 'head');
  },
});

/** ResidualBranch: norm1 -> activation -> linear1 -> norm2 -> activation -> linear2. */
export const residualBranchLowering = defineLowering({
  loweringVersion: 'v1',
  module: ResidualBranch,
  lower(m, [x], ctx) {
    const h = ctx.lower(m.linear1, [lowerActivation(ctx, m.activation, ctx.lower(m.norm1, [x!], 'norm1'))], 'linear1');
    return ctx.lower(m.linear2, [lowerActivation(ctx, m.activation, ctx.lower(m.norm2, [h], 'norm2'))], 'linear2');
  },
});

/** PlainResidualBlock: x + f(x). (NF blocks and SkipInit lower with @normkit/onnx/norm-free's lowerings.) */
export const plainResidualBlockLowering = defineLowering({
  loweringVersion: 'v1',
  module: PlainResidualBlock,
  lower: (m, [x], ctx) => ctx.binary('Add', x!, ctx.lower(m.branch, [x!], 'branch')),
});

/** ResidualNet: stem (images flattened), blocks, final norm -> activation, tokens mean-pooled, head. */
export const residualNetLowering = defineLowering({
  loweringVersion: 'v1',
  module: ResidualNet,
  lower(m, [x], ctx) {
    let h = ctx.lower(m.stem, [lowerFlattenImage(ctx, x!, m.inputKind)], 'stem');
    for (const [name, block] of m.blocks.namedChildren()) h = ctx.lower(block, [h], `blocks.${name}`);
    h = lowerActivation(ctx, m.activation, ctx.lower(m.finalNorm, [h], 'final_norm'));
    return ctx.lower(m.head, [m.inputKind === 'tokens' ? lowerMaskedMeanPool(ctx, h) : h], 'head');
  },
});

/**
 * TinyTransformer: embed + learned positions (the token count must be maxLength, as in the
 * forward), the TransformerBlocks (@normkit/onnx/layer's lowering, with the export's `mask` for
 * attention), the final norm, the mean over real tokens, the head.
 */
export const tinyTransformerLowering = defineLowering({
  loweringVersion: 'v1',
  module: TinyTransformer,
  lower(m, [x], ctx) {
    let h = ctx.binary('Add', ctx.lower(m.embed, [x!], 'embed'), ctx.parameter(m.position, 'position'));
    for (const [name, block] of m.blocks.namedChildren()) h = ctx.lower(block, [h], `blocks.${name}`);
    return ctx.lower(m.head, [lowerMaskedMeanPool(ctx, ctx.lower(m.finalNorm, [h], 'final_norm'))], 'head');
  },
});

/**
 * ConditionalMlp(x, labels): labels an int64 [N] input; the one-hot class (Gather of identity rows)
 * concatenated to x (unless classInput is false) and handed with the labels to the layers'
 * normalizers as `condition` and `labels`; the head.
 */
export const conditionalMlpLowering = defineLowering({
  loweringVersion: 'v1',
  module: ConditionalMlp,
  lower(m, [x, labels], ctx) {
    if (!labels) throw ctx.unsupported('the class ids as a second (int64) input', 'one input');
    const k = m.numClasses;
    const identity = new Float32Array(k * k);
    for (let i = 0; i < k; i++) identity[i * k + i] = 1;
    const n = x!.shape[0]!;
    const condition = ctx.node('Gather', [ctx.constant(identity, [k, k], { name: 'one_hot_rows' }), labels], [n, k], { axis: attr.int(0) });
    const width = x!.shape[1]!;
    let h = m.classInput
      ? ctx.node('Concat', [x!, condition], [n, typeof width === 'number' ? width + k : ''], { axis: attr.int(1) })
      : x!;
    return ctx.withContext({ condition, labels }, () => {
      for (const [name, layer] of m.layers.namedChildren()) h = ctx.lower(layer, [h], `layers.${name}`);
      return ctx.lower(m.head, [h], 'head');
    });
  },
});

/** ConditionalGan(z, labels) is its generator. */
export const conditionalGanLowering = defineLowering({
  loweringVersion: 'v1',
  module: ConditionalGan,
  lower: (m, [z, labels], ctx) => ctx.lower(m.generatorNet, labels ? [z!, labels] : [z!], 'generator'),
});

/**
 * A classifier (`forward({ x, mask })`) with a tensor forward, `forward(x, { mask })`, so exportOnnx
 * can call it: its graph input `input` is x, the optional `mask` input the padding mask.
 */
export class ClassifierForExport extends Module {
  constructor(readonly model: Classifier) {
    super();
    this.registerModule('model', model);
  }

  override forward(x: Tensor, context: { mask?: Tensor } = {}): Tensor {
    return this.model.forward(context.mask ? { x, mask: context.mask } : { x });
  }
}

/** The conditional GAN's generator with tensor inputs (z, class ids), so exportOnnx can call it. */
export class GeneratorForExport extends Module {
  constructor(readonly model: ConditionalGan) {
    super();
    this.registerModule('model', model);
  }

  override forward(z: Tensor, labels: Tensor): Tensor {
    return this.model.generate(z, Array.from(labels.data));
  }
}

const exportWrapperLowerings = [
  defineLowering({ loweringVersion: 'v1', module: ClassifierForExport, lower: (m, [x], ctx) => ctx.lower(m.model, [x!], 'model') }),
  defineLowering({ loweringVersion: 'v1', module: GeneratorForExport, lower: (m, [z, labels], ctx) => ctx.lower(m.model, [z!, labels!], 'model') }),
];

/** The lowerings of every engine model class and its parts. */
export const modelLowerings: readonly AnyLowering[] = [
  normSlotLowering, activationTapLowering, denseLayerLowering, mlpLowering, convStageLowering, cnnLowering,
  residualBranchLowering, plainResidualBlockLowering, residualNetLowering, tinyTransformerLowering,
  conditionalMlpLowering, conditionalGanLowering, ...exportWrapperLowerings,
];

export interface ExportModelOnnxOptions {
  /** ai.onnx opset, 17 (default) to 23. */
  opset?: number;
  /**
   * Lowerings of the normalizer families the model uses beyond batch, group and layer (which are
   * always included): `switchableLowerings`, `conditionalLowerings`, `normFreeLowerings` (NF blocks,
   * SkipInit), `weightLowerings` from '@normkit/onnx/<family>', or a plugin's own. Consulted first.
   */
  lowerings?: Iterable<AnyLowering | NormalizerOnnxLowering>;
  /** Token models: a `mask` graph input [batch, L] (1 real, 0 padding) for attention and pooling (default false: every token real). */
  mask?: boolean;
  /** Graph output name (default 'logits' for classifiers, 'output' for the generator). */
  outputName?: string;
}

function lowerings(extra: ExportModelOnnxOptions['lowerings']): Array<AnyLowering | NormalizerOnnxLowering> {
  // Later entries win in exportOnnx's table: the caller's lowerings override the defaults.
  return [...batchLowerings, ...groupLowerings, ...layerLowerings, ...modelLowerings, ...(extra ?? [])];
}

/**
 * A classifier the engine built (mlp, cnn, residual, transformer; trained or not) as ONNX in eval
 * mode: input `input` [batch, ...data.sampleShape] (batch dynamic), for token models optionally a
 * `mask` input [batch, L], output `logits` [batch, numClasses]. Training flags are restored and no
 * parameter or buffer changes.
 *
 * @example
 * const bytes = exportClassifierOnnx(trainer.model, trainer.dataset, { lowerings: normFreeLowerings });
 */
export function exportClassifierOnnx(model: Module, data: Pick<DataSpec, 'inputKind' | 'sampleShape'>, options: ExportModelOnnxOptions = {}): Uint8Array {
  if (model instanceof ConditionalGan) {
    throw new OnnxExportError({ op: 'exportClassifierOnnx', expected: 'a classifier (mlp, cnn, residual, transformer)', given: 'a ConditionalGan: export its generator with exportGeneratorOnnx(model)' });
  }
  const mask = options.mask === true && data.inputKind === 'tokens';
  return exportOnnx(new ClassifierForExport(model as Classifier), {
    inputs: [{ shape: [1, ...data.sampleShape] }],
    ...(options.opset !== undefined ? { opset: options.opset } : {}),
    outputNames: [options.outputName ?? 'logits'],
    dynamicAxes: { input: { 0: 'batch' }, ...(mask ? { mask: { 0: 'batch' } } : {}) },
    ...(mask ? { context: { mask: { shape: [1, data.sampleShape[0]!] } } } : {}),
    lowerings: lowerings(options.lowerings),
  });
}

/**
 * The conditional GAN's generator as ONNX in eval mode: inputs `z` [batch, latentDim] (float) and
 * `labels` [batch] (int64 class ids), output [batch, dataDim].
 */
export function exportGeneratorOnnx(model: ConditionalGan, options: ExportModelOnnxOptions = {}): Uint8Array {
  return exportOnnx(new GeneratorForExport(model), {
    inputs: [{ shape: [1, model.latentDim] }, { shape: [1], dtype: 'int64' }],
    inputNames: ['z', 'labels'],
    ...(options.opset !== undefined ? { opset: options.opset } : {}),
    outputNames: [options.outputName ?? 'output'],
    dynamicAxes: { z: { 0: 'batch' }, labels: { 0: 'batch' } },
    lowerings: lowerings(options.lowerings),
  });
}
