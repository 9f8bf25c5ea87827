import { beforeAll, describe, expect, it } from 'vitest';
import { registerTestPlugins } from '../test-support';
import { createTrainer } from '../train';
import { landscapeProbe } from './batch-norm-loss-landscape';

beforeAll(() => registerTestPlugins());

const config = {
  task: 'classification' as const,
  dataset: { name: 'gaussians', options: { trainSize: 64, testSize: 32 } },
  model: { name: 'mlp', options: { width: 8, depth: 2 } },
  norms: { hidden: { name: 'batch-norm' } },
  optimizer: { name: 'sgd' as const, options: { momentum: 0.9 } },
  lr: 0.05,
  batchSize: 16,
  steps: 12,
  evalEvery: 6,
  evalSamples: 32,
  seed: 5,
};

describe('landscapeProbe', () => {
  it('measures finite, non-negative loss variation and gradient change', () => {
    const trainer = createTrainer(config);
    trainer.run(3);
    const probe = landscapeProbe(trainer);
    expect(probe.lossVariation).toBeGreaterThan(0);
    expect(probe.gradientChange).toBeGreaterThan(0);
    expect(probe.beta).toBeGreaterThan(0);
  });

  it('changes nothing in the run: parameters, running statistics and the rest of training are bit-identical', () => {
    const plain = createTrainer(config);
    const probed = createTrainer(config);
    const state = (t: typeof plain) => Object.fromEntries(Object.entries(t.model.stateDict()).map(([k, v]) => [k, Array.from(v.data)]));
    for (let i = 0; i < 12; i++) {
      plain.step();
      probed.step();
      if (i % 3 === 0) {
        landscapeProbe(probed);
        expect(state(probed)).toEqual(state(plain));
      }
    }
    expect(probed.history.steps.map((s) => s.loss)).toEqual(plain.history.steps.map((s) => s.loss));
  });
});
