import { beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../models/model';
import { registerTestPlugins } from '../test-support';
import { createTrainer } from '../train';
import { styleLeakage } from './instance-norm-style-leakage';

beforeAll(() => registerTestPlugins());

const trainerWith = (norm: string) =>
  createTrainer({
    task: 'classification',
    dataset: { name: 'gaussians', options: { trainSize: 64, testSize: 64 } },
    model: { name: 'mlp', options: { width: 8, depth: 2 } },
    norms: { hidden: { name: norm } },
    batchSize: 16,
    steps: 2,
    seed: 1,
  });

describe('styleLeakage', () => {
  it('is positive under batch statistics, zero under per-sample statistics, and leaves the running statistics as they were', () => {
    const bn = trainerWith('batch-norm');
    bn.run(2);
    const before = Object.fromEntries(Object.entries(bn.model.stateDict()).map(([k, v]) => [k, Array.from(v.data)]));
    expect(styleLeakage(bn.model as Classifier, bn.dataset, 2)).toBeGreaterThan(0.01);
    expect(Object.fromEntries(Object.entries(bn.model.stateDict()).map(([k, v]) => [k, Array.from(v.data)]))).toEqual(before);
    const ln = trainerWith('layer-norm');
    expect(styleLeakage(ln.model as Classifier, ln.dataset, 2)).toBeLessThan(1e-6);
  });
});
