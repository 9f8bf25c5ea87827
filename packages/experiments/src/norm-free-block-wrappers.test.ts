// @normkit/norm-free's NF blocks, SkipInit, scaled WS and AGC plugged into the experiment engine by
// name: its residual net's block-wrapper hook, its weight-parametrization roles and its gradient
// transforms, driven by a plain JSON config. (Here rather than in norm-free, so norm-free needs no
// dependency on the engine: the engine depends on norm-free through @normkit/onnx.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator, graphOps, has, isParametrized, randn, register, relu, unregister } from '@normkit/tensor';
import { NFResidualBlock, SkipInit, nfBlockWrapper, normFreeBlockWrappers, normFreePlugins, skipInitWrapper } from '@normkit/norm-free';
import { createTrainer, listBlockWrappers, models, registerBlockWrapper, unregisterBlockWrapper } from './index';
import type { ExperimentConfigInput, ModelDefinition, ResidualNet } from './index';

const registeredHere: string[] = [];

beforeAll(() => {
  for (const wrapper of normFreeBlockWrappers) registerBlockWrapper(wrapper);
  for (const plugin of normFreePlugins) {
    if (!has(plugin.name)) {
      register(plugin);
      registeredHere.push(plugin.name);
    }
  }
});

afterAll(() => {
  for (const wrapper of normFreeBlockWrappers) unregisterBlockWrapper(wrapper.name);
  for (const name of registeredHere) unregister(name);
});

const vectors = { inputKind: 'vector' as const, sampleShape: [2], numClasses: 2 };

function buildResidual(blockWrapper: { name: string; options?: Record<string, unknown> }, depth = 4): ResidualNet {
  const definition = models.residual as ModelDefinition;
  return definition.build({
    options: { width: 8, depth, activation: 'relu' } as never,
    data: vectors,
    norms: {},
    generator: new Generator(0),
    blockWrapper,
  }) as ResidualNet;
}

describe('block wrappers in the experiment engine', () => {
  it('register by name beside the plain wrapper', () => {
    expect(listBlockWrappers().map((w) => w.name)).toEqual(['plain', 'nf-block', 'skip-init']);
  });

  it('nf-block wraps every branch with NF-ResNet bookkeeping: beta_i = sqrt(1 + i alpha^2)', () => {
    const model = buildResidual({ name: 'nf-block', options: { alpha: 0.3, skipInit: true } }, 5);
    const blocks = [...model.blocks];
    expect(blocks.every((b) => b instanceof NFResidualBlock)).toBe(true);
    blocks.forEach((block, i) => {
      const nf = block as NFResidualBlock;
      expect(nf.alpha).toBe(0.3);
      expect(nf.beta).toBeCloseTo(Math.sqrt(1 + i * 0.09), 15);
      expect(nf.skipGain!.item()).toBe(0);
    });
    expect(Object.keys(model.stateDict())).toContain('blocks.2.skipGain');
  });

  it('skip-init blocks start as the identity: the net computes head(relu(stem(x)))', () => {
    const model = buildResidual({ name: 'skip-init' });
    expect([...model.blocks].every((b) => b instanceof SkipInit)).toBe(true);
    const x = randn([5, 2], { generator: new Generator(2) });
    const shallow = model.head.forward(relu(model.stem.forward(x)));
    expect(Array.from(model.forward({ x }).data)).toEqual(Array.from(shallow.data));
  });

  it('a whole norm-free config trains: nf-block + scaled WS on every layer + AGC (head excluded), from JSON', () => {
    const config: ExperimentConfigInput = {
      task: 'classification',
      dataset: { name: 'two-spirals', options: { trainSize: 256, testSize: 64 } },
      model: { name: 'residual', options: { width: 16, depth: 8, activation: 'relu' }, blockWrapper: { name: 'nf-block', options: { skipInit: true } } },
      norms: {},
      weights: { layers: { name: 'scaled-weight-standardization', options: { nonlinearity: 'relu' } } },
      gradientTransforms: [{ name: 'adaptive-gradient-clip', options: { clipping: 0.02, excludeFinalLayer: true } }],
      optimizer: { name: 'sgd', options: { momentum: 0.9 } },
      lr: 0.2,
      batchSize: 32,
      steps: 60,
      evalEvery: 60,
      evalSamples: 64,
      seed: 3,
    };
    const trainer = createTrainer(config);
    const model = trainer.model as ResidualNet;
    expect(isParametrized(model.stem, 'weight') && isParametrized(model.head, 'weight')).toBe(true);
    expect(graphOps(model.stem.weight)).toEqual(['weightStandardization']);
    trainer.runToEnd();
    expect(trainer.status).toBe('done');
    const steps = trainer.history.steps;
    expect(steps).toHaveLength(60);
    // head.bias, head.parametrizations.weight.original and its gain are left unclipped.
    expect(steps.every((s) => s.metrics['adaptive-gradient-clip.excludedParameters'] === 3)).toBe(true);
    expect(steps.some((s) => (s.metrics['adaptive-gradient-clip.clippedUnits'] ?? 0) > 0)).toBe(true);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(steps.slice(-10).map((s) => s.loss))).toBeLessThan(mean(steps.slice(0, 10).map((s) => s.loss)));
    const gains = [...model.blocks].map((b) => (b as NFResidualBlock).skipGain!.item());
    expect(gains.some((g) => g !== 0)).toBe(true);
  });

  it('the exported wrappers are the ones registered', () => {
    expect(normFreeBlockWrappers).toEqual([nfBlockWrapper, skipInitWrapper]);
  });
});
