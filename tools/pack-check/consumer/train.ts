// What a user writes after `npm install @normkit/tensor @normkit/group`: typechecked against the
// installed .d.ts files, compiled, and run by tools/pack-check/run.mjs in a folder outside the
// workspace where no other @normkit package exists.
import { GroupNorm, groupPlugins, type GroupNormOptions } from '@normkit/group';
import { Adam, Generator, Linear, ReLU, Sequential, create, mse, noGrad, randn, registerAll, tensor, type Tensor } from '@normkit/tensor';

const generator = new Generator(0);
registerAll(groupPlugins);

// One GroupNorm built directly, one through the registry, as the plugin system is meant to be used.
const options: GroupNormOptions = { numGroups: 4, numChannels: 16 };
const model = new Sequential(
  new Linear({ inFeatures: 4, outFeatures: 16, generator }),
  new GroupNorm(options),
  new ReLU(),
  new Linear({ inFeatures: 16, outFeatures: 16, generator }),
  create('group-norm', { numFeatures: 16 }, { numGroups: 2 }),
  new ReLU(),
  new Linear({ inFeatures: 16, outFeatures: 1, generator }),
);

/** y = sin(x0) + x1 * x2 - 0.5 * x3: a smooth regression target. */
function batch(size: number): { x: Tensor; y: Tensor } {
  const x = randn([size, 4], { generator });
  const y = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const [a, b, c, d] = [x.data[4 * i]!, x.data[4 * i + 1]!, x.data[4 * i + 2]!, x.data[4 * i + 3]!];
    y[i] = Math.sin(a) + b * c - 0.5 * d;
  }
  return { x, y: tensor(y, { shape: [size, 1] }) };
}

const test = batch(256);
const evaluate = (): number => noGrad(() => mse(model.forward(test.x), test.y).item());
const before = evaluate();
const optimizer = new Adam(model, { lr: 0.01 });
for (let step = 0; step < 300; step++) {
  const { x, y } = batch(32);
  optimizer.zeroGrad();
  // The loss through Tensor's chaining methods (installed by the package entry point), mse(...) for the evaluation.
  model.forward(x).sub(y).square().mean().backward();
  optimizer.step();
}
const after = evaluate();
console.log(`GroupNorm MLP trained from the packed tarballs: test MSE ${before.toFixed(4)} -> ${after.toFixed(4)}`);
if (!(after < 0.5 * before)) throw new Error(`training did not reduce the test loss enough (${before} -> ${after})`);
