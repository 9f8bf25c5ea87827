import { Linear, Module, ModuleList, Tensor, concat, type Generator } from '@normkit/tensor';
import { activationOption, defineModel, normFor, type ActivationName } from './model';
import { DenseLayer } from './mlp';
import type { NormChoice, SlotContext } from './norm-slot';

/** One-hot rows [N, numClasses] for class ids. */
export function oneHot(labels: ArrayLike<number>, numClasses: number): Tensor {
  const data = new Float32Array(labels.length * numClasses);
  for (let i = 0; i < labels.length; i++) data[i * numClasses + labels[i]!] = 1;
  return new Tensor(data, [labels.length, numClasses]);
}

/**
 * A stack of DenseLayers on concat(input, onehot(label)), then a Linear to `outFeatures`. With
 * `classInput` false the layers see the input alone: the class reaches them only through
 * conditional normalizers (CBN, AdaLN), and with plain ones not at all (an unconditional net).
 */
export class ConditionalMlp extends Module {
  readonly layers: ModuleList<DenseLayer>;
  readonly head: Linear;

  constructor(
    inFeatures: number,
    outFeatures: number,
    width: number,
    depth: number,
    role: string,
    norm: NormChoice,
    activation: ActivationName,
    readonly numClasses: number,
    generator: Generator,
    readonly classInput = true,
  ) {
    super();
    const layers: DenseLayer[] = [];
    let features = classInput ? inFeatures + numClasses : inFeatures;
    for (let i = 0; i < depth; i++) {
      // Conditional normalizers get the one-hot class as condition, label-conditional ones the ids.
      layers.push(new DenseLayer(features, width, role, norm, activation, false, generator, { conditionDim: numClasses, numClasses }));
      features = width;
    }
    this.layers = this.registerModule('layers', new ModuleList(layers));
    this.head = this.registerModule('head', new Linear({ inFeatures: features, outFeatures, generator }));
  }

  override forward(x: Tensor, labels: ArrayLike<number>): Tensor {
    const condition = oneHot(labels, this.numClasses);
    const context: SlotContext = { condition, labels: Array.from(labels) };
    let h = this.classInput ? concat([x, condition], 1) : x;
    for (const layer of this.layers) h = layer.forward(h, context);
    return this.head.forward(h);
  }
}

export interface ConditionalGanOptions {
  dataDim: number;
  numClasses: number;
  latentDim: number;
  width: number;
  depth: number;
  discriminatorWidth: number;
  discriminatorDepth: number;
  activation: ActivationName;
  generatorNorm: NormChoice;
  discriminatorNorm: NormChoice;
  generator: Generator;
  /** Concatenate the one-hot class to the generator's noise (default true); see ConditionalMlp. */
  generatorClassInput?: boolean;
}

/**
 * A conditional GAN (Goodfellow et al., 2014; Mirza and Osindero, 2014) for the toy generation
 * task: the generator maps noise z ~ N(0, I) and a class to a point, the discriminator scores
 * (point, class) pairs. Both are MLPs on the input concatenated with the one-hot class; their
 * normalization slots ('generator', 'discriminator') hand conditional normalizers the one-hot
 * class as `condition` and the class ids as `labels` (conditional BatchNorm, AdaLN). Spectral
 * norm on the discriminator is a weight parametrization of the 'discriminator' weight role.
 */
export class ConditionalGan extends Module {
  readonly generatorNet: ConditionalMlp;
  readonly discriminatorNet: ConditionalMlp;
  readonly latentDim: number;
  readonly numClasses: number;

  constructor(options: ConditionalGanOptions) {
    super();
    this.latentDim = options.latentDim;
    this.numClasses = options.numClasses;
    this.generatorNet = this.registerModule(
      'generator',
      new ConditionalMlp(
        options.latentDim, options.dataDim, options.width, options.depth, 'generator', options.generatorNorm, options.activation, options.numClasses, options.generator,
        options.generatorClassInput ?? true,
      ),
    );
    this.discriminatorNet = this.registerModule(
      'discriminator',
      new ConditionalMlp(options.dataDim, 1, options.discriminatorWidth, options.discriminatorDepth, 'discriminator', options.discriminatorNorm, options.activation, options.numClasses, options.generator),
    );
  }

  /** Points [N, dataDim] from noise [N, latentDim] and class ids. */
  generate(z: Tensor, labels: ArrayLike<number>): Tensor {
    return this.generatorNet.forward(z, labels);
  }

  /** Real-vs-fake logits [N, 1]. */
  discriminate(x: Tensor, labels: ArrayLike<number>): Tensor {
    return this.discriminatorNet.forward(x, labels);
  }

  override forward(z: Tensor, labels: ArrayLike<number>): Tensor {
    return this.generate(z, labels);
  }
}

export const conditionalGanModel = defineModel({
  name: 'conditional-gan',
  description: 'Conditional GAN of two MLPs for the class-conditional generation task',
  options: {
    latentDim: { type: 'number', default: 4, integer: true, min: 1, max: 256, description: 'Noise dimensions of the generator' },
    width: { type: 'number', default: 64, integer: true, min: 1, max: 1024, description: 'Generator hidden units' },
    depth: { type: 'number', default: 2, integer: true, min: 1, max: 16, description: 'Generator hidden layers' },
    discriminatorWidth: { type: 'number', default: 64, integer: true, min: 1, max: 1024, description: 'Discriminator hidden units' },
    discriminatorDepth: { type: 'number', default: 2, integer: true, min: 1, max: 16, description: 'Discriminator hidden layers' },
    activation: { ...activationOption, default: 'relu' },
    generatorClassInput: {
      type: 'boolean', default: true,
      description: "Concatenate the one-hot class to the generator's noise; false: only conditional normalizers (CBN, AdaLN) give it the class, plain ones make it unconditional",
    },
  },
  tasks: ['conditional-generation'],
  inputKinds: ['vector'],
  normRoles: [
    { name: 'generator', description: 'Every hidden layer of the generator (conditional normalizers get the class)', givesClass: true },
    { name: 'discriminator', description: 'Every hidden layer of the discriminator (conditional normalizers get the class)', givesClass: true },
  ],
  weightRoles: ['generator', 'discriminator'],
  build: ({ options, data, norms, generator }) =>
    new ConditionalGan({
      dataDim: data.sampleShape[0]!,
      numClasses: data.numClasses,
      latentDim: options.latentDim,
      width: options.width,
      depth: options.depth,
      discriminatorWidth: options.discriminatorWidth,
      discriminatorDepth: options.discriminatorDepth,
      activation: options.activation,
      generatorNorm: normFor(norms, 'generator'),
      discriminatorNorm: normFor(norms, 'discriminator'),
      generator,
      generatorClassInput: options.generatorClassInput,
    }),
});
