// The plugin as its users meet it: through the public registry, checked by @normkit/testkit.
import { TransformerBlock } from '@normkit/layer';
import { create, randn, register, unregister } from '@normkit/tensor';
import { describeNormalizer } from '@normkit/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamicTanh } from './dynamic-tanh.js';
import { dynamicTanhPlugin } from './plugin.js';

// Every conformance check a first-party normalizer passes. DyT has no invariances: it does not
// normalise (tanh(alpha * (x + c)) depends on c), which is the point of the paper.
describeNormalizer(dynamicTanhPlugin, { slot: { numFeatures: 4 }, inputShapes: [[3, 4], [2, 3, 4]] });
describeNormalizer(dynamicTanhPlugin, { slot: { numFeatures: 4 }, options: { elementwiseAffine: false, alphaInit: 1.5 }, inputShapes: [[3, 4]] });

afterEach(() => unregister('dynamic-tanh'));

describe('dynamic-tanh through the registry', () => {
  it('is created by name with validated options', () => {
    register(dynamicTanhPlugin);
    const norm = create('dynamic-tanh', { numFeatures: 8 }, { alphaInit: 0.8 });
    expect(norm).toBeInstanceOf(DynamicTanh);
    expect(norm.alpha.item()).toBeCloseTo(0.8, 6);
    expect(() => create('dynamic-tanh', { numFeatures: 8 }, { alphaInit: -1 })).toThrow(/option "alphaInit" to be a number > 0/);
  });

  it('drops into a Transformer block in place of LayerNorm by name alone', () => {
    register(dynamicTanhPlugin);
    const block = new TransformerBlock({ dim: 8, numHeads: 2, norm: 'dynamic-tanh', placement: 'pre' });
    const x = randn([2, 5, 8]);
    expect(block.forward(x).shape).toEqual([2, 5, 8]);
    expect([...block.namedParameters()].some(([name]) => name.endsWith('.alpha'))).toBe(true);
  });
});
