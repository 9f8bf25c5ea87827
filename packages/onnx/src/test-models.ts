// Small models for the whole-model tests, with pooling modules of their own (calling the ops) lowered
// through the public registration API, as a third party would; @normkit/tensor's own MaxPool2d and
// AdaptiveAvgPool2d modules have built-in lowerings (layer-modules.test.ts).
import { BatchNorm } from '@normkit/batch';
import { LayerNorm } from '@normkit/layer';
import {
  Conv2d, Dropout, Flatten, GELU, Linear, Module, ReLU, SGD, Sequential, adaptiveAvgPool2d, maxPool2d, mean, mul, randn, type Generator, type Tensor,
} from '@normkit/tensor';
import { attr, defineLowering } from './index';

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: number) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize);
  }
}

/** adaptiveAvgPool2d(x, 1): [N, C, H, W] -> [N, C, 1, 1]. */
export class GlobalAvgPool2d extends Module {
  override forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, 1);
  }
}

export const poolLowerings = [
  defineLowering({
    loweringVersion: 'v1',
    module: MaxPool2d,
    lower(module, [x], ctx) {
      const k = module.kernelSize;
      const pooled = (d: string | number) => (typeof d === 'number' ? Math.floor((d - k) / k) + 1 : '');
      const [n, c, h, w] = x!.shape;
      return ctx.node('MaxPool', [x!], [n!, c!, pooled(h!), pooled(w!)], { kernel_shape: attr.ints([k, k]), strides: attr.ints([k, k]) });
    },
  }),
  defineLowering({
    loweringVersion: 'v1',
    module: GlobalAvgPool2d,
    lower: (_m, [x], ctx) => ctx.node('GlobalAveragePool', [x!], [x!.shape[0]!, x!.shape[1]!, 1, 1]),
  }),
];

/** Conv2d + BatchNorm2d + ReLU + max pool, twice, then global average pool and a Linear head. Input [N, 3, 8, 8]. */
export function smallCnn(generator: Generator): Sequential {
  return new Sequential(
    new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1, generator }),
    new BatchNorm({ numFeatures: 8 }),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d({ inChannels: 8, outChannels: 8, kernelSize: 3, padding: 1, groups: 2, stride: 1, generator }),
    new BatchNorm({ numFeatures: 8 }),
    new ReLU(),
    new GlobalAvgPool2d(),
    new Flatten(),
    new Linear({ inFeatures: 8, outFeatures: 5, generator }),
  );
}

/** Linear + LayerNorm + GELU (+ Dropout) + Linear on tokens [N, L, 6]. */
export function smallMlp(generator: Generator): Sequential {
  return new Sequential(
    new Linear({ inFeatures: 6, outFeatures: 16, generator }),
    new LayerNorm({ normalizedShape: 16 }),
    new GELU(),
    new Dropout({ p: 0.2, generator }),
    new Linear({ inFeatures: 16, outFeatures: 4, generator }),
  );
}

/** A few SGD steps on mean(y^2) in training mode: parameters and running statistics move off their initial values. */
export function train(model: Module, inputShape: readonly number[], generator: Generator, steps = 3): void {
  const optimizer = new SGD(model.parameters(), { lr: 0.05 });
  model.train();
  for (let i = 0; i < steps; i++) {
    const y = model.forward(randn([...inputShape], { mean: 0.5, std: 2, generator }) as never) as Tensor;
    const loss = mean(mul(y, y));
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
  }
}
