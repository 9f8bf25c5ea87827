import { Linear, Module, ModuleList, OptionError, slice, type Generator, type Tensor } from '@normkit/tensor';
import type { InputKind } from '../datasets/dataset';
import {
  activate, activationOption, defineModel, flattenImage, inputWidth, maskedMeanPool, normFor,
  type ActivationName, type Classifier, type ModelInput,
} from './model';
import { NormSlot, type NormChoice, type SlotContext, type SlotExtras } from './norm-slot';
import { ActivationTap } from './tap';

/** linear -> norm -> activation, with a tap on the output. */
export class DenseLayer extends Module {
  readonly linear: Linear;
  readonly norm: NormSlot;
  readonly tap: ActivationTap;

  constructor(
    inFeatures: number,
    outFeatures: number,
    role: string,
    choice: NormChoice,
    readonly activation: ActivationName,
    tokens: boolean,
    generator: Generator,
    extras: SlotExtras = {},
  ) {
    super();
    this.linear = this.registerModule('linear', new Linear({ inFeatures, outFeatures, generator }));
    this.norm = this.registerModule('norm', new NormSlot(role, choice, outFeatures, tokens ? 'tokens' : 'features', extras));
    this.tap = this.registerModule('tap', new ActivationTap());
  }

  override forward(x: Tensor, context: SlotContext = {}): Tensor {
    return this.tap.forward(activate(this.activation, this.norm.forward(this.linear.forward(x), context)), context.mask);
  }
}

export interface MlpOptions {
  inFeatures: number;
  outFeatures: number;
  width: number;
  depth: number;
  activation: ActivationName;
  /** The normalizer of every hidden layer (slot role 'hidden'). */
  norm: NormChoice;
  inputKind: InputKind;
  generator: Generator;
  /** Condition width and class count offered to conditional normalizers. */
  extras?: SlotExtras;
  /** Slot role name in errors (default 'hidden'). */
  role?: string;
  /**
   * The last `conditionFeatures` input features are a condition (a task's one-hot, say), not data:
   * they are split off and handed to the normalization slots as `condition` (FiLM, AdaLN), and the
   * layers see only the features before them. 0 (default): every feature is data. Vectors only.
   */
  conditionFeatures?: number;
}

/**
 * A multilayer perceptron: `depth` hidden layers of `width` units, each Linear -> normalizer ->
 * activation (the normalizer between the affine map and the nonlinearity, as Ioffe and Szegedy
 * place BatchNorm), then a Linear head. Images are flattened; token sequences go through the
 * layers token by token ([N, L, F] -> [N, L, width], normalizers seeing tokens with their mask)
 * and are then averaged over the real tokens (a Deep Sets model).
 */
export class Mlp extends Module implements Classifier {
  readonly layers: ModuleList<DenseLayer>;
  readonly head: Linear;
  readonly inputKind: InputKind;
  readonly conditionFeatures: number;

  constructor(options: MlpOptions) {
    super();
    this.inputKind = options.inputKind;
    this.conditionFeatures = options.conditionFeatures ?? 0;
    if (this.conditionFeatures > 0 && (options.inputKind !== 'vector' || this.conditionFeatures >= options.inFeatures)) {
      throw new OptionError({
        op: 'mlp',
        expected: `conditionFeatures only on vector inputs and fewer than their ${options.inFeatures} features`,
        given: `conditionFeatures = ${this.conditionFeatures} on ${options.inputKind} inputs`,
      });
    }
    const tokens = options.inputKind === 'tokens';
    const layers: DenseLayer[] = [];
    let inFeatures = options.inFeatures - this.conditionFeatures;
    const extras = this.conditionFeatures > 0 ? { ...options.extras, conditionDim: this.conditionFeatures } : options.extras;
    for (let i = 0; i < options.depth; i++) {
      layers.push(new DenseLayer(inFeatures, options.width, options.role ?? 'hidden', options.norm, options.activation, tokens, options.generator, extras));
      inFeatures = options.width;
    }
    this.layers = this.registerModule('layers', new ModuleList(layers));
    this.head = this.registerModule('head', new Linear({ inFeatures, outFeatures: options.outFeatures, generator: options.generator }));
  }

  /** The hidden representation before the head ([N, width]; tokens already pooled). */
  features(input: ModelInput, context: SlotContext = { mask: input.mask }): Tensor {
    let h = flattenImage(input.x, this.inputKind);
    if (this.conditionFeatures > 0) {
      const data = h.shape[1]! - this.conditionFeatures;
      context = { ...context, condition: slice(h, 1, data) };
      h = slice(h, 1, 0, data);
    }
    for (const layer of this.layers) h = layer.forward(h, context);
    return this.inputKind === 'tokens' ? maskedMeanPool(h, input.mask) : h;
  }

  override forward(input: ModelInput, context?: SlotContext): Tensor {
    return this.head.forward(this.features(input, context));
  }
}

export const mlpModel = defineModel({
  name: 'mlp',
  description: 'Multilayer perceptron: Linear -> norm -> activation per hidden layer (token-wise then pooled for sequences)',
  options: {
    width: { type: 'number', default: 32, integer: true, min: 1, max: 1024, description: 'Units per hidden layer' },
    depth: { type: 'number', default: 3, integer: true, min: 1, max: 64, description: 'Hidden layers' },
    activation: activationOption,
    conditionFeatures: {
      type: 'number', default: 0, integer: true, min: 0, max: 64,
      description: 'The last k input features are a condition (e.g. a task one-hot) handed to conditional normalizers (FiLM, AdaLN), not to the layers',
    },
  },
  tasks: ['classification', 'sequence-classification'],
  inputKinds: ['vector', 'image', 'tokens'],
  normRoles: [
    {
      name: 'hidden',
      description: 'After the Linear of every hidden layer, before the activation (conditional normalizers get the conditionFeatures)',
      givesCondition: (options) => Number(options.conditionFeatures ?? 0) > 0,
    },
  ],
  weightRoles: ['layers'],
  build: ({ options, data, norms, generator }) =>
    new Mlp({
      inFeatures: inputWidth(data),
      outFeatures: data.numClasses,
      width: options.width,
      depth: options.depth,
      activation: options.activation,
      norm: normFor(norms, 'hidden'),
      inputKind: data.inputKind,
      generator,
      conditionFeatures: options.conditionFeatures,
    }),
});
