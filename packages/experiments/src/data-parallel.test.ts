import { ContextError } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentConfigInput } from './config';
import { runDataParallel } from './node';
import { registerFamilies } from './test-support';
import { createTrainer } from './train';
import type { ReplicaRun } from './data-parallel';

beforeAll(() => registerFamilies());

const config: ExperimentConfigInput = {
  task: 'classification',
  dataset: { name: 'gaussians', options: { trainSize: 64, testSize: 32 } },
  model: { name: 'mlp', options: { width: 8, depth: 2 } },
  norms: { hidden: { name: 'batch-norm' } },
  optimizer: { name: 'sgd', options: { momentum: 0.9 } },
  lr: 0.05,
  batchSize: 4,
  steps: 12,
  evalEvery: 12,
  seed: 5,
};

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);

describe('data-parallel training on worker threads', () => {
  let ranks: ReplicaRun[][];
  let single: ReturnType<typeof createTrainer>;
  beforeAll(async () => {
    ranks = await runDataParallel({ config, variants: [{ id: 'sync', syncBatchNorm: true }, { id: 'local', syncBatchNorm: false }] }, 2);
    single = createTrainer(config);
    single.runToEnd();
  }, 120_000);

  it('with SyncBatchNorm, 2 ranks x 2 rows take the single-process batch-4 steps: same losses and running statistics', () => {
    const [rank0, rank1] = ranks.map((runs) => runs.find((r) => r.id === 'sync')!);
    const singleLosses = single.history.steps.map((s) => s.loss);
    expect(rank0!.losses).toHaveLength(12);
    rank0!.losses.forEach((loss, i) => expect(relative((loss + rank1!.losses[i]!) / 2, singleLosses[i]!)).toBeLessThan(1e-5));
    const buffers = Object.fromEntries([...single.model.namedBuffers()].map(([name, b]) => [name, Array.from(b.data, Number)]));
    const means = Object.keys(buffers).filter((k) => k.endsWith('running_mean') || k.endsWith('running_var'));
    expect(means.length).toBe(4);
    for (const key of means) {
      expect(rank1!.buffers[key]).toEqual(rank0!.buffers[key]);
      rank0!.buffers[key]!.forEach((v, i) => expect(Math.abs(v - buffers[key]![i]!)).toBeLessThan(1e-5));
    }
    expect(rank0!.final!.testAccuracy).toBe(single.history.evals.at(-1)!.test.accuracy);
    expect(rank0!.stepMs).toHaveLength(12);
  });

  it('without it each rank normalises its own 2 rows: the losses part from the batch-4 run at once', () => {
    const [rank0, rank1] = ranks.map((runs) => runs.find((r) => r.id === 'local')!);
    const first = (rank0!.losses[0]! + rank1!.losses[0]!) / 2;
    expect(relative(first, single.history.steps[0]!.loss)).toBeGreaterThan(1e-3);
    expect(rank1!.buffers['layers.0.norm.batch-norm.running_mean']).not.toEqual(rank0!.buffers['layers.0.norm.batch-norm.running_mean']);
  });
});

describe('replica options', () => {
  it('refuse a batch the ranks cannot share equally, and generation tasks', () => {
    const group = { size: 3, rank: 0, allReduce: () => undefined, broadcast: () => undefined, barrier: () => undefined };
    expect(() => createTrainer(config, {}, { replica: { group } })).toThrow(ContextError);
    expect(() => createTrainer(config, {}, { replica: { group } })).toThrow(/batchSize a multiple of the 3 ranks/);
    const gan: ExperimentConfigInput = { task: 'conditional-generation', dataset: { name: 'conditional-mixture', options: { trainSize: 32, testSize: 16 } }, model: { name: 'conditional-gan' }, batchSize: 6 };
    expect(() => createTrainer(gan, {}, { replica: { group } })).toThrow(/a classification task/);
  });
});
