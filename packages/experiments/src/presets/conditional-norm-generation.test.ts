import { Generator, noGrad, randn } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ConditionalGan } from '../models/gan';
import { registerFamilies } from '../test-support';
import { createTrainer } from '../train';
import { classFollowing } from './conditional-norm-generation';

beforeAll(() => registerFamilies());

// Two classes, one mode each: class 0 at (1, 0), class 1 at (-1, 0).
const modes = { centers: Float64Array.of(1, 0, -1, 0), classOf: Int32Array.of(0, 1), std: 0.05 };

describe('classFollowing', () => {
  it('counts points whose nearest mode (of any class) belongs to the requested class, however far', () => {
    expect(classFollowing([0.9, 0, -3, 1, 0.2, 0, -0.1, 0], [0, 1, 1, 0], modes)).toBe(0.5);
    expect(classFollowing([], [], modes)).toBeNaN();
  });
});

const ganTrainer = (norm: string, classInput: boolean) =>
  createTrainer({
    task: 'conditional-generation',
    dataset: { name: 'conditional-mixture', options: { trainSize: 64, testSize: 32 } },
    model: { name: 'conditional-gan', options: { width: 8, depth: 2, discriminatorWidth: 8, generatorClassInput: classInput } },
    norms: { generator: { name: norm } },
    batchSize: 16,
    steps: 2,
    seed: 3,
  });

/** The eval-mode generator output for the same noise under two label vectors. */
function twoLabelings(gan: ConditionalGan): [Float32Array, Float32Array] {
  gan.eval();
  const z = randn([8, gan.latentDim], { generator: new Generator(1) });
  return noGrad(() => [gan.generate(z, [0, 0, 0, 0, 0, 0, 0, 0]).data as Float32Array, gan.generate(z, [1, 2, 3, 1, 2, 3, 1, 2]).data as Float32Array]);
}

describe('conditional-gan generatorClassInput', () => {
  it('false with a plain normalizer: the generator ignores the class (unconditional); with AdaLN the class reaches it', () => {
    const plain = ganTrainer('batch-norm', false);
    plain.run(2);
    const [a, b] = twoLabelings(plain.model as ConditionalGan);
    expect(Array.from(b)).toEqual(Array.from(a));
    const gan = plain.model as ConditionalGan;
    // Its first layer takes the noise alone; the discriminator still takes point and class.
    expect(gan.generatorNet.layers.at(0).linear.weight.shape).toEqual([8, 4]);
    expect(gan.discriminatorNet.layers.at(0).linear.weight.shape).toEqual([8, 2 + 4]);
    const ada = ganTrainer('ada-ln', false);
    ada.run(2);
    const [c, d] = twoLabelings(ada.model as ConditionalGan);
    expect(Array.from(d)).not.toEqual(Array.from(c));
  });

  it('true (the default) concatenates the one-hot class to the noise', () => {
    const trainer = ganTrainer('batch-norm', true);
    const [a, b] = twoLabelings(trainer.model as ConditionalGan);
    expect(Array.from(b)).not.toEqual(Array.from(a));
    expect((trainer.model as ConditionalGan).generatorNet.layers.at(0).linear.weight.shape).toEqual([8, 4 + 4]);
  });
});
