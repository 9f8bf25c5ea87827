import { ContextError, Generator, OptionError, defaultOptions, type OptionsSchema } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { loadMnist } from '../mnist';
import { BatchSampler, batches, classCounts, type Dataset, type DatasetDefinition, type MnistSource } from './dataset';
import { datasets, sequenceLengths } from './index';

function build(name: string, options: Record<string, unknown> = {}, seed = 0, resources = {}): Dataset {
  const definition = datasets[name] as DatasetDefinition<OptionsSchema>;
  return definition.build({ ...defaultOptions(definition.options), ...options } as never, new Generator(seed), resources);
}

function expectBalanced(counts: number[], total: number): void {
  expect(counts.reduce((a, b) => a + b, 0)).toBe(total);
  expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
}

const planar = ['two-spirals', 'circles', 'xor', 'gaussians'];

describe('2-D synthetic data sets', () => {
  for (const name of planar) {
    it(`${name}: shapes, balance, determinism, finite values`, () => {
      const data = build(name, { trainSize: 301, testSize: 120 });
      expect(data.sampleShape).toEqual([2]);
      expect(data.inputKind).toBe('vector');
      expect(data.train.inputs).toHaveLength(301 * 2);
      expect(data.test.labels).toHaveLength(120);
      expect(data.train.masks).toBeNull();
      expectBalanced(classCounts(data.train, data.numClasses), 301);
      expectBalanced(classCounts(data.test, data.numClasses), 120);
      expect(data.train.inputs.every(Number.isFinite)).toBe(true);
      const again = build(name, { trainSize: 301, testSize: 120 });
      expect(again.train.inputs).toEqual(data.train.inputs);
      expect(again.test.labels).toEqual(data.test.labels);
      expect(build(name, { trainSize: 301, testSize: 120 }, 1).train.inputs).not.toEqual(data.train.inputs);
      // Shuffled: the labels are not sorted by class.
      expect(Array.from(data.train.labels.slice(0, 40))).not.toEqual([...data.train.labels.slice(0, 40)].sort());
    });
  }

  it('two-spirals: radii in [0.1, 1] without noise, arms half a turn apart', () => {
    const data = build('two-spirals', { noise: 0, trainSize: 200 });
    for (let i = 0; i < 20; i++) {
      const r = Math.hypot(data.train.inputs[2 * i]!, data.train.inputs[2 * i + 1]!);
      expect(r).toBeGreaterThanOrEqual(0.1 - 1e-6);
      expect(r).toBeLessThanOrEqual(1 + 1e-6);
      // r = 0.1 + 0.9 t and angle = 2 pi turns t + label pi: the angle is known from the radius.
      const t = (r - 0.1) / 0.9;
      const angle = 2 * Math.PI * 1.5 * t + data.train.labels[i]! * Math.PI;
      expect(data.train.inputs[2 * i]).toBeCloseTo(r * Math.cos(angle), 5);
      expect(data.train.inputs[2 * i + 1]).toBeCloseTo(r * Math.sin(angle), 5);
    }
  });

  it('circles: class 0 inside radius 0.5, class 1 in the ring [0.7, 1] without noise', () => {
    const data = build('circles', { noise: 0 });
    for (let i = 0; i < data.train.count; i++) {
      const r = Math.hypot(data.train.inputs[2 * i]!, data.train.inputs[2 * i + 1]!);
      if (data.train.labels[i] === 0) expect(r).toBeLessThanOrEqual(0.5 + 1e-6);
      else expect(r).toBeGreaterThanOrEqual(0.7 - 1e-6);
    }
  });

  it('xor: label = sign(x) != sign(y) without noise', () => {
    const data = build('xor', { noise: 0 });
    for (let i = 0; i < data.train.count; i++) {
      const differ = Math.sign(data.train.inputs[2 * i]!) !== Math.sign(data.train.inputs[2 * i + 1]!);
      expect(data.train.labels[i]).toBe(differ ? 1 : 0);
    }
  });

  it('gaussians: any number of classes, balanced', () => {
    const data = build('gaussians', { numClasses: 5, trainSize: 500 });
    expect(data.numClasses).toBe(5);
    expect(classCounts(data.train, 5)).toEqual([100, 100, 100, 100, 100]);
  });
});

describe('sequences', () => {
  it('pads to maxLength, marks real tokens in a contiguous prefix, lengths in range', () => {
    const data = build('sequences', { trainSize: 200, testSize: 50, minLength: 3, maxLength: 10, features: 3, numClasses: 3 });
    expect(data.sampleShape).toEqual([10, 3]);
    expect(data.inputKind).toBe('tokens');
    expect(data.train.masks).toHaveLength(200 * 10);
    expectBalanced(classCounts(data.train, 3), 200);
    const lengths = sequenceLengths(data.train);
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(10);
    expect(new Set(lengths).size).toBeGreaterThan(4);
    for (let i = 0; i < data.train.count; i++) {
      for (let t = 0; t < 10; t++) {
        const real = data.train.masks![i * 10 + t] === 1;
        expect(real).toBe(t < lengths[i]!);
        if (!real) for (let f = 0; f < 3; f++) expect(data.train.inputs[(i * 10 + t) * 3 + f]).toBe(0);
      }
    }
  });

  it('padding matters: real tokens sit around the offset, far from the padding value', () => {
    const data = build('sequences', { trainSize: 400 });
    let real = 0;
    let realCount = 0;
    for (let i = 0; i < data.train.masks!.length; i++) {
      if (data.train.masks![i] !== 1) continue;
      for (let f = 0; f < 4; f++) real += data.train.inputs[i * 4 + f]!;
      realCount += 4;
    }
    expect(real / realCount).toBeGreaterThan(2.5);
  });

  it('refuses minLength > maxLength and more classes than features', () => {
    expect(() => build('sequences', { minLength: 9, maxLength: 4 })).toThrow(OptionError);
    expect(() => build('sequences', { minLength: 9, maxLength: 4 })).toThrow(/minLength <= maxLength/);
    expect(() => build('sequences', { numClasses: 5, features: 4 })).toThrow(/numClasses <= features/);
  });
});

describe('conditional-mixture', () => {
  it('puts every point near a mode of its own class', () => {
    const data = build('conditional-mixture', { trainSize: 400, numClasses: 4, modesPerClass: 2, std: 0.05 });
    const modes = data.modes!;
    expect(modes.classOf).toHaveLength(8);
    expect(data.task).toBe('conditional-generation');
    expectBalanced(classCounts(data.train, 4), 400);
    for (let i = 0; i < data.train.count; i++) {
      let nearest = Infinity;
      for (let j = 0; j < 8; j++) {
        if (modes.classOf[j] !== data.train.labels[i]) continue;
        nearest = Math.min(nearest, Math.hypot(data.train.inputs[2 * i]! - modes.centers[2 * j]!, data.train.inputs[2 * i + 1]! - modes.centers[2 * j + 1]!));
      }
      expect(nearest).toBeLessThan(0.05 * 6);
    }
  });
});

describe('mnist', () => {
  /** Ten "digits" of 30 images each, image k of digit d filled with d + k / 100. */
  function tinySource(perDigit = 30): MnistSource {
    return {
      digits: Array.from({ length: 10 }, (_, d) => {
        const raw = new Float32Array(perDigit * 784);
        for (let k = 0; k < perDigit; k++) raw.fill(d / 10 + k / 1000, k * 784, (k + 1) * 784);
        return raw;
      }),
    };
  }

  it('splits each digit into disjoint, balanced train and test images, pooled and standardized', () => {
    const data = build('mnist', { trainSize: 100, testSize: 50, pool: 2, standardize: false }, 0, { mnist: tinySource() });
    expect(data.sampleShape).toEqual([1, 14, 14]);
    expect(classCounts(data.train, 10)).toEqual(new Array(10).fill(10));
    expect(classCounts(data.test, 10)).toEqual(new Array(10).fill(5));
    const firstPixels = (split: Dataset['train']): Set<number> =>
      new Set(Array.from({ length: split.count }, (_, i) => Math.round(split.inputs[i * 196]! * 1e4)));
    const trainImages = firstPixels(data.train);
    for (const image of firstPixels(data.test)) expect(trainImages.has(image)).toBe(false);
    for (let i = 0; i < data.train.count; i++) expect(Math.floor(data.train.inputs[i * 196]! * 10 + 1e-6)).toBe(data.train.labels[i]);
    const standardized = build('mnist', { trainSize: 100, testSize: 50, pool: 2 }, 0, { mnist: tinySource() });
    expect(standardized.train.inputs[0]).toBeCloseTo((data.train.inputs[0]! - 0.1307) / 0.3081, 5);
  });

  it('keeps one half of the digits when asked (labels stay the digits), and all ten by default exactly as before', () => {
    const upper = build('mnist', { trainSize: 100, testSize: 50, pool: 2, standardize: false, digits: '5-9' }, 0, { mnist: tinySource() });
    expect(upper.numClasses).toBe(10);
    expect(classCounts(upper.train, 10)).toEqual([0, 0, 0, 0, 0, 20, 20, 20, 20, 20]);
    expect(classCounts(upper.test, 10)).toEqual([0, 0, 0, 0, 0, 10, 10, 10, 10, 10]);
    for (let i = 0; i < upper.train.count; i++) expect(Math.floor(upper.train.inputs[i * 196]! * 10 + 1e-6)).toBe(upper.train.labels[i]);
    const lower = build('mnist', { trainSize: 100, testSize: 50, digits: '0-4' }, 0, { mnist: tinySource() });
    expect(classCounts(lower.test, 10)).toEqual([10, 10, 10, 10, 10, 0, 0, 0, 0, 0]);
    const implicit = build('mnist', { trainSize: 100, testSize: 50 }, 3, { mnist: tinySource() });
    const explicit = build('mnist', { trainSize: 100, testSize: 50, digits: '0-9' }, 3, { mnist: tinySource() });
    expect(explicit.train.inputs).toEqual(implicit.train.inputs);
    expect(explicit.test.labels).toEqual(implicit.test.labels);
    // Five digits share the sizes: 20 + 10 of each of 30 images fit, 21 + 10 do not.
    expect(() => build('mnist', { trainSize: 105, testSize: 50, digits: '5-9' }, 0, { mnist: tinySource() })).toThrow(/trainSize \/ 5 \+ testSize \/ 5/);
  });

  it('asks for the images when none are given, and refuses sizes it cannot fill', () => {
    expect(() => build('mnist')).toThrow(ContextError);
    expect(() => build('mnist')).toThrow(/loadMnist/);
    expect(() => build('mnist', { trainSize: 300, testSize: 100 }, 0, { mnist: tinySource() })).toThrow(/rarest digit/);
  });

  it('loads the real digits of the mnist package: 10 digits, about 1,000 images each, pixels in [0, 1]', async () => {
    const source = await loadMnist();
    expect(source.digits).toHaveLength(10);
    const counts = source.digits.map((raw) => raw.length / 784);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(source.digits[3]!.length % 784).toBe(0);
    const data = build('mnist', { trainSize: 1000, testSize: 200, pool: 1 }, 0, { mnist: source });
    expect(data.sampleShape).toEqual([1, 28, 28]);
    expect(classCounts(data.train, 10)).toEqual(new Array(10).fill(100));
    let mean = 0;
    for (const v of data.train.inputs) mean += v;
    // Standardized with MNIST's own mean and std: close to 0 on average.
    expect(Math.abs(mean / data.train.inputs.length)).toBeLessThan(0.2);
    expect(await loadMnist()).toBe(source);
  });
});

describe('batches', () => {
  const data = build('gaussians', { trainSize: 103, testSize: 10 });

  it('BatchSampler: full batches only, each epoch a permutation, reshuffled per epoch, seeded', () => {
    const sampler = new BatchSampler(data, data.train, 10, new Generator(3));
    const firstEpoch: number[] = [];
    for (let i = 0; i < 10; i++) {
      const batch = sampler.next();
      expect(batch.size).toBe(10);
      expect(batch.shape).toEqual([10, 2]);
      firstEpoch.push(...batch.indices);
    }
    expect(new Set(firstEpoch).size).toBe(100);
    expect(sampler.epoch).toBe(0);
    const next = sampler.next();
    expect(sampler.epoch).toBe(1);
    expect(Array.from(next.indices)).not.toEqual(firstEpoch.slice(0, 10));
    const replay = new BatchSampler(data, data.train, 10, new Generator(3));
    expect(Array.from(replay.next().indices)).toEqual(firstEpoch.slice(0, 10));
    // The batch carries the samples it names.
    expect(next.inputs[0]).toBe(data.train.inputs[next.indices[0]! * 2]);
    expect(next.labels[3]).toBe(data.train.labels[next.indices[3]!]);
  });

  it('batches(): one epoch in order by default, the last batch partial unless dropped', () => {
    const sizes = [...batches(data, data.train, { batchSize: 25 })].map((b) => b.size);
    expect(sizes).toEqual([25, 25, 25, 25, 3]);
    expect([...batches(data, data.train, { batchSize: 25, dropLast: true })].map((b) => b.size)).toEqual([25, 25, 25, 25]);
    expect(Array.from([...batches(data, data.train, { batchSize: 25 })][0]!.indices.slice(0, 3))).toEqual([0, 1, 2]);
  });

  it('refuses a batch larger than the split', () => {
    expect(() => new BatchSampler(data, data.test, 11, new Generator(0))).toThrow(/batchSize <= the split's 10 samples/);
  });
});
