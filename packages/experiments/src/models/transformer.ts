import { PLACEMENTS, TransformerBlock, type Placement, type TransformerBlockOptions, type qkNormPlugin } from '@normkit/layer';
import {
  Linear, Module, ModuleList, OptionError, Parameter, add, init, normalizerChoice, resolvePlugin, zeros,
  type Generator, type OptionValues, type Tensor,
} from '@normkit/tensor';
import { defineModel, maskedMeanPool, normFor, type Classifier, type ModelInput } from './model';
import { NO_NORM, NormSlot, type NormChoice } from './norm-slot';
import { ActivationTap } from './tap';

/** The sizes every token-sequence classifier takes (see `sequenceModelSizes`). */
export interface SequenceModelSizes {
  inFeatures: number;
  maxLength: number;
  numClasses: number;
  dim: number;
  numHeads: number;
  depth: number;
  /** Hidden width of each block's MLP. */
  feedforwardDim: number;
}

export interface TinyTransformerOptions extends SequenceModelSizes {
  placement: Placement;
  /** timm's LayerScale on both branches of every block with this initial value; null: none. */
  layerScale?: number | null;
  activation: 'gelu' | 'relu';
  /** norm1 and norm2 of every block (role 'block'); a registered normalizer, not 'none'. */
  blockNorm: NormChoice;
  /** 'none' or 'qk-norm' with its options (role 'qk'). */
  qkNorm: NormChoice;
  /** After the last block (role 'final'), usual with Pre-LN. */
  finalNorm: NormChoice;
  generator: Generator;
}

/** Maps the 'qk' slot choice to TransformerBlock's `qkNorm` option, through the qk-norm plugin's schema. */
function qkNormOption(choice: NormChoice): TransformerBlockOptions['qkNorm'] {
  if (choice.name === NO_NORM) return undefined;
  if (choice.name !== 'qk-norm') {
    throw new OptionError({ op: 'norms.qk', expected: `'${NO_NORM}' or 'qk-norm' (QK-norm runs inside attention, per head)`, given: `"${choice.name}"` });
  }
  const options = resolvePlugin('normalizer', 'qk-norm', choice.options, { op: 'norms.qk' }).options as OptionValues<typeof qkNormPlugin.options>;
  return options.eps === null ? { kind: options.kind } : { kind: options.kind, eps: options.eps };
}

/**
 * A tiny Transformer encoder classifier for token sequences [N, L, F] with a padding mask:
 * a Linear embedding plus learned positions, `depth` blocks of @normkit/layer's TransformerBlock
 * (Pre-LN, Post-LN, Peri-LN, output-only or DeepNorm; any registered normalizer, optional QK-norm), an optional final norm, the
 * mean over real tokens and a Linear head. The mask goes to attention (padded keys) and, through
 * the block, to normalizers that accept one.
 */
export class TinyTransformer extends Module implements Classifier {
  readonly embed: Linear;
  readonly position: Parameter;
  readonly blocks: ModuleList<TransformerBlock>;
  readonly taps: ModuleList<ActivationTap>;
  readonly finalNorm: NormSlot;
  readonly head: Linear;

  constructor(options: TinyTransformerOptions) {
    super();
    if (options.blockNorm.name === NO_NORM) {
      throw new OptionError({ op: 'norms.block', expected: 'a registered normalizer (the Transformer block always has one)', given: `'${NO_NORM}'` });
    }
    if (options.blockNorm.mask === false) {
      throw new OptionError({ op: 'norms.block', expected: 'mask left on (the Transformer block hands the mask to every normalizer that accepts one)', given: 'mask: false' });
    }
    const { generator } = options;
    this.embed = this.registerModule('embed', new Linear({ inFeatures: options.inFeatures, outFeatures: options.dim, generator }));
    this.position = this.registerParameter('position', new Parameter(init.normal(zeros([options.maxLength, options.dim]), 0, 0.1, { generator })));
    const qkNorm = qkNormOption(options.qkNorm);
    const blocks = Array.from(
      { length: options.depth },
      () =>
        new TransformerBlock({
          dim: options.dim,
          numHeads: options.numHeads,
          norm: normalizerChoice(options.blockNorm.name, options.blockNorm.options, { op: 'norms.block' }),
          placement: options.placement,
          // DeepNorm's alpha and beta for an encoder of `depth` blocks (the paper's encoder-only formulas).
          ...(options.placement === 'deepnorm' ? { deepNorm: { architecture: 'encoder-only' as const, layers: options.depth } } : {}),
          ...(options.layerScale ? { layerScale: options.layerScale } : {}),
          feedforwardDim: options.feedforwardDim,
          activation: options.activation,
          generator,
          ...(qkNorm ? { qkNorm } : {}),
        }),
    );
    this.blocks = this.registerModule('blocks', new ModuleList(blocks));
    this.taps = this.registerModule('taps', new ModuleList(blocks.map(() => new ActivationTap())));
    this.finalNorm = this.registerModule('final_norm', new NormSlot('final', options.finalNorm, options.dim, 'tokens'));
    this.head = this.registerModule('head', new Linear({ inFeatures: options.dim, outFeatures: options.numClasses, generator }));
  }

  override forward(input: ModelInput): Tensor {
    let h = add(this.embed.forward(input.x), this.position);
    let index = 0;
    for (const block of this.blocks) h = this.taps.at(index++).forward(block.forward(h, { mask: input.mask }), input.mask);
    h = this.finalNorm.forward(h, { mask: input.mask });
    return this.head.forward(maskedMeanPool(h, input.mask));
  }
}

export const transformerModel = defineModel({
  name: 'transformer',
  description: 'Tiny Transformer encoder (TransformerBlock from @normkit/layer: Pre-LN, Post-LN, Peri-LN, output-only or DeepNorm), mean-pooled over real tokens',
  options: {
    dim: { type: 'number', default: 16, integer: true, min: 1, max: 512, description: 'Model width D' },
    numHeads: { type: 'number', default: 2, integer: true, min: 1, max: 16, description: 'Attention heads (must divide dim)' },
    depth: { type: 'number', default: 2, integer: true, min: 1, max: 48, description: 'Transformer blocks' },
    placement: {
      type: 'enum',
      values: PLACEMENTS,
      default: 'pre',
      description:
        "'pre': x + f(norm(x)) (Pre-LN); 'post': norm(x + f(x)) (Post-LN); 'peri': x + norm(f(norm(x))) (Peri-LN / sandwich); 'output': x + norm(f(x)) (OLMo 2); 'deepnorm': norm(alpha x + f(x)) with DeepNet's init",
    },
    layerScale: {
      type: 'number', default: null, nullable: true, min: 0, minExclusive: true, max: 1,
      description: "LayerScale (Touvron et al., 2021) on both branches of every block, initialised to this value (CaiT: 1e-5 at depth 24); null: none",
    },
    feedforwardMultiplier: { type: 'number', default: 2, integer: true, min: 1, max: 8, description: 'MLP hidden width = multiplier x dim' },
    activation: { type: 'enum', values: ['gelu', 'relu'], default: 'gelu', description: 'MLP nonlinearity' },
  },
  tasks: ['sequence-classification'],
  inputKinds: ['tokens'],
  normRoles: [
    { name: 'block', description: 'norm1 and norm2 of every block (a registered normalizer; required)', required: true, default: 'layer-norm' },
    { name: 'qk', description: "'none' or 'qk-norm': per-head normalization of queries and keys", only: [NO_NORM, 'qk-norm'] },
    { name: 'final', description: 'After the last block (usual with Pre-LN)' },
  ],
  weightRoles: ['layers'],
  build: ({ options, data, norms, generator }) => {
    return new TinyTransformer({
      ...sequenceModelSizes('transformer', options, data),
      placement: options.placement,
      layerScale: options.layerScale,
      activation: options.activation as 'gelu' | 'relu',
      blockNorm: norms.block ?? { name: 'layer-norm' },
      qkNorm: normFor(norms, 'qk'),
      finalNorm: normFor(norms, 'final'),
      generator,
    });
  },
});

/**
 * The sizes every token-sequence classifier takes from its options and data (tokens [length, features]):
 * checks that the heads divide the width, naming the model.
 */
export function sequenceModelSizes(
  model: string,
  options: { dim: number; numHeads: number; depth: number; feedforwardMultiplier: number },
  data: { sampleShape: readonly number[]; numClasses: number },
): SequenceModelSizes {
  if (options.dim % options.numHeads !== 0) {
    throw new OptionError({ op: `model ${model}`, expected: 'dim divisible by numHeads', given: `dim = ${options.dim}, numHeads = ${options.numHeads}` });
  }
  return {
    inFeatures: data.sampleShape[1]!,
    maxLength: data.sampleShape[0]!,
    numClasses: data.numClasses,
    dim: options.dim,
    numHeads: options.numHeads,
    depth: options.depth,
    feedforwardDim: options.feedforwardMultiplier * options.dim,
  };
}
