import { NGPTBlock, l2Norm, markUnitNormWeight, ngptWeightNormalization } from '@normkit/layer';
import {
  Linear, Module, ModuleList, Parameter, add, full, init, mul, noGrad, zeros,
  type Generator, type PostStepHook, type Tensor,
} from '@normkit/tensor';
import { defineModel, maskedMeanPool, type Classifier, type ModelInput } from './model';
import { ActivationTap } from './tap';
import { sequenceModelSizes, type SequenceModelSizes } from './transformer';

/** `feedforwardDim` is the hidden width of each block's gated MLP. */
export interface NGPTClassifierOptions extends SequenceModelSizes {
  /** alpha_A and alpha_M's initial value (the paper's alpha_init 0.05; its scale stays 1 / sqrt(dim)). */
  alphaInit: number;
  generator: Generator;
}

const unit = (x: Tensor): Tensor => l2Norm(x, { axes: -1, eps: 1e-12, op: 'NGPTClassifier' });

/**
 * nGPT (Loshchilov, Hsieh, Sun & Ginsburg, "nGPT: Normalized Transformer with Representation
 * Learning on the Hypersphere", 2024) as a sequence classifier for token features [N, L, F]:
 *
 *   h_0 = Norm(E x + p)                          (E: [dim, F], each column on the unit sphere)
 *   h_l = NGPTBlock_l(h_{l-1})                   (@normkit/layer: eigen learning rates alpha_A, alpha_M, s_qk, s_u, s_v)
 *   z   = s_z * (W_head Norm(mean over real tokens of h_L))   (W_head: [classes, dim], rows on the sphere)
 *
 * Every matrix is kept at unit norm along the embedding dimension: the blocks mark their own, the
 * model marks the embedding, the positions (learned, one unit vector per position: the task has no
 * token ids, so the paper's RoPE is replaced by the TinyTransformer's learned positions) and the
 * head. The projection after every optimizer step is this model's post-step hook,
 * `ngptWeightNormalization()`, which the engine's `buildOptimizer` adds to any model that lists
 * hooks in `postStepHooks()`. s_z is stored at 1 / sqrt(dim) and used times sqrt(dim) (init 1), the
 * paper's reparametrisation. No normalizer slots, no biases; train without weight decay or warmup.
 *
 * @example
 * const trainer = createTrainer({ task: 'sequence-classification', dataset: { name: 'sequences' }, model: { name: 'ngpt', options: { depth: 4, dim: 32 } } });
 */
export class NGPTClassifier extends Module implements Classifier {
  readonly embed: Linear;
  readonly position: Parameter;
  readonly blocks: ModuleList<NGPTBlock>;
  readonly taps: ModuleList<ActivationTap>;
  readonly head: Linear;
  /** s_z, [numClasses], stored at 1 / sqrt(dim) (used times sqrt(dim)). */
  readonly sz: Parameter;
  private readonly szRatio: number;

  constructor(options: NGPTClassifierOptions) {
    super();
    const { generator, dim } = options;
    this.embed = this.registerModule('embed', new Linear({ inFeatures: options.inFeatures, outFeatures: dim, bias: false, generator }));
    this.position = this.registerParameter('position', new Parameter(init.normal(zeros([options.maxLength, dim]), 0, 1, { generator })));
    const blocks = Array.from(
      { length: options.depth },
      () => new NGPTBlock({ dim, numHeads: options.numHeads, feedforwardDim: options.feedforwardDim, alpha: { init: options.alphaInit }, generator }),
    );
    this.blocks = this.registerModule('blocks', new ModuleList(blocks));
    this.taps = this.registerModule('taps', new ModuleList(blocks.map(() => new ActivationTap())));
    this.head = this.registerModule('head', new Linear({ inFeatures: dim, outFeatures: options.numClasses, bias: false, generator }));
    const szScale = 1 / Math.sqrt(dim);
    this.szRatio = 1 / szScale;
    this.sz = this.registerParameter('sz', new Parameter(full([options.numClasses], szScale)));
    noGrad(() => {
      markUnitNormWeight(this.embed.weight, 0);
      markUnitNormWeight(this.position, 1);
      markUnitNormWeight(this.head.weight, 1);
    });
  }

  /** The hooks the optimizer must run after every step: nGPT's projection of the weights back onto the sphere. */
  postStepHooks(): PostStepHook[] {
    return [ngptWeightNormalization()];
  }

  override forward(input: ModelInput): Tensor {
    let h = unit(add(this.embed.forward(input.x), this.position));
    let index = 0;
    for (const block of this.blocks) h = this.taps.at(index++).forward(block.forward(h, { mask: input.mask }), input.mask);
    const pooled = unit(maskedMeanPool(h, input.mask));
    return mul(this.head.forward(pooled), mul(this.sz, this.szRatio));
  }
}

export const ngptModel = defineModel({
  name: 'ngpt',
  description: 'Normalized Transformer (nGPT, Loshchilov et al. 2024): hidden states and weights on the unit sphere, eigen learning rates, weights renormalised after every optimizer step',
  options: {
    dim: { type: 'number', default: 16, integer: true, min: 1, max: 512, description: 'Model width d_model' },
    numHeads: { type: 'number', default: 2, integer: true, min: 1, max: 16, description: 'Attention heads (must divide dim)' },
    depth: { type: 'number', default: 2, integer: true, min: 1, max: 48, description: 'nGPT blocks' },
    feedforwardMultiplier: { type: 'number', default: 2, integer: true, min: 1, max: 8, description: 'Gated MLP hidden width = multiplier x dim' },
    alphaInit: { type: 'number', default: 0.05, min: 0, minExclusive: true, max: 1, description: "Initial eigen learning rates alpha_A, alpha_M (the paper's alpha_init)" },
  },
  tasks: ['sequence-classification'],
  inputKinds: ['tokens'],
  normRoles: [],
  weightRoles: [],
  build: ({ options, data, generator }) => new NGPTClassifier({ ...sequenceModelSizes('ngpt', options, data), alphaInit: options.alphaInit, generator }),
});
