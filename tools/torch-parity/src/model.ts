import { GroupNorm } from '@normkit/group';
import { LayerNorm } from '@normkit/layer';
import { Generator, Linear, ReLU, SGD, Sequential, mse, randn, type DType } from '@normkit/tensor';

/**
 * The model both sides of the safetensors round trip build, with PyTorch's state-dict keys:
 * Linear(4, 8) -> GroupNorm(2, 8) -> ReLU -> Linear(8, 3) -> LayerNorm(3), as `parity_model()`
 * in generate.py (`nn.Sequential` numbers its children the same way).
 */
export function parityModel(dtype: DType, generator: Generator): Sequential {
  return new Sequential(
    new Linear({ inFeatures: 4, outFeatures: 8, dtype, generator }),
    new GroupNorm({ numGroups: 2, numChannels: 8, dtype }),
    new ReLU(),
    new Linear({ inFeatures: 8, outFeatures: 3, dtype, generator }),
    new LayerNorm({ normalizedShape: 3, dtype }),
  );
}

/**
 * A normkit-trained model: seeded initialisation, then 5 SGD steps (lr 0.1) on random regression
 * data, so every parameter (GroupNorm and LayerNorm affines included) moved from its initialisation.
 */
export function trainedParityModel(dtype: DType = 'float32', seed = 2024): Sequential {
  const generator = new Generator(seed);
  const model = parityModel(dtype, generator);
  const optimizer = new SGD(model, { lr: 0.1 });
  for (let step = 0; step < 5; step++) {
    const x = randn([6, 4], { dtype, generator });
    const target = randn([6, 3], { dtype, generator });
    optimizer.zeroGrad();
    mse(model.forward(x), target).backward();
    optimizer.step();
  }
  return model.eval();
}
