import { Conv2d, Linear, Module, ModuleList, adaptiveAvgPool2d, flatten, maxPool2d, type Generator, type Tensor } from '@normkit/tensor';
import {
  activate, activationOption, defineModel, normFor, type ActivationName, type Classifier, type ModelInput,
} from './model';
import { NormSlot, type NormChoice } from './norm-slot';
import { ActivationTap } from './tap';

/** conv 3x3 ('same') -> norm -> activation -> 2x2 max pool, with a tap after the activation. */
export class ConvStage extends Module {
  readonly conv: Conv2d;
  readonly norm: NormSlot;
  readonly tap: ActivationTap;

  constructor(inChannels: number, outChannels: number, choice: NormChoice, readonly activation: ActivationName, readonly pool: boolean, generator: Generator) {
    super();
    this.conv = this.registerModule('conv', new Conv2d({ inChannels, outChannels, kernelSize: 3, padding: 'same', generator }));
    this.norm = this.registerModule('norm', new NormSlot('conv', choice, outChannels, 'image'));
    this.tap = this.registerModule('tap', new ActivationTap());
  }

  override forward(x: Tensor): Tensor {
    const y = this.tap.forward(activate(this.activation, this.norm.forward(this.conv.forward(x))));
    return this.pool ? maxPool2d(y, 2) : y;
  }
}

export interface CnnOptions {
  inChannels: number;
  numClasses: number;
  /** Channels of the first stage; each stage doubles them. */
  channels: number;
  stages: number;
  activation: ActivationName;
  norm: NormChoice;
  generator: Generator;
}

/**
 * A small convolutional classifier for images [N, C, H, W]: `stages` of conv 3x3 -> normalizer ->
 * activation -> max pool 2x2 (the pool skipped once the map is smaller than 2x2), channels
 * doubling per stage, then global average pooling and a Linear head.
 */
export class Cnn extends Module implements Classifier {
  readonly stages: ModuleList<ConvStage>;
  readonly head: Linear;

  constructor(options: CnnOptions, imageSide: number) {
    super();
    const stages: ConvStage[] = [];
    let inChannels = options.inChannels;
    let side = imageSide;
    for (let i = 0; i < options.stages; i++) {
      const outChannels = options.channels * 2 ** i;
      const pool = side >= 2;
      stages.push(new ConvStage(inChannels, outChannels, options.norm, options.activation, pool, options.generator));
      inChannels = outChannels;
      if (pool) side = Math.floor(side / 2);
    }
    this.stages = this.registerModule('stages', new ModuleList(stages));
    this.head = this.registerModule('head', new Linear({ inFeatures: inChannels, outFeatures: options.numClasses, generator: options.generator }));
  }

  override forward(input: ModelInput): Tensor {
    let h = input.x;
    for (const stage of this.stages) h = stage.forward(h);
    return this.head.forward(flatten(adaptiveAvgPool2d(h, 1), 1));
  }
}

export const cnnModel = defineModel({
  name: 'cnn',
  description: 'Small CNN: conv 3x3 -> norm -> activation -> max pool per stage, global average pool, Linear head',
  options: {
    channels: { type: 'number', default: 8, integer: true, min: 1, max: 256, description: 'Channels of the first stage (doubled per stage)' },
    stages: { type: 'number', default: 2, integer: true, min: 1, max: 6, description: 'Conv stages' },
    activation: activationOption,
  },
  tasks: ['classification'],
  inputKinds: ['image'],
  normRoles: [{ name: 'conv', description: 'After every convolution, before the activation' }],
  // 'layers': every conv and the head; 'stages': the convolutions only (Weight Standardization as Qiao et al. apply it).
  weightRoles: ['layers', 'stages'],
  build: ({ options, data, norms, generator }) =>
    new Cnn(
      {
        inChannels: data.sampleShape[0]!,
        numClasses: data.numClasses,
        channels: options.channels,
        stages: options.stages,
        activation: options.activation,
        norm: normFor(norms, 'conv'),
        generator,
      },
      Math.min(data.sampleShape[1]!, data.sampleShape[2]!),
    ),
});
