import { describe, expect, it } from 'vitest';
import {
  ContextError, Generator, InProcessGroup, SGD, ShapeError, ValueError, concat, mse, randn, slice, sum, tensor, type ProcessGroup, type Tensor,
} from '@normkit/tensor';
import { runWorkers } from '@normkit/tensor/node';
import { expectClose } from '@normkit/testkit';
import { BatchNorm } from './batch-norm';
import { SyncBatchNorm } from './sync-batch-norm';
import {
  buildModel, dataParallelReplica, disagreeingReplica, modelState, syncReplica, type ReplicaResult, type Shard, type SyncCase, type TrainingCase,
  type TrainingResult,
} from './__fixtures__/sync.worker';

const f64 = { dtype: 'float64' as const };
const workerModule = new URL('./__fixtures__/sync.worker.ts', import.meta.url);

interface Scenario {
  name: string;
  data: SyncCase;
  /** The concatenated batch of each step, and its masks. */
  full: Array<{ x: Tensor; upstream: Tensor; mask?: Tensor }>;
  sizes: number[];
}

/** Splits random steps of [N, C, L] batches into shards of the given sizes (0 allowed). */
function scenario(name: string, sizes: number[], masked = false): Scenario {
  const generator = new Generator(sizes.length * 10 + sizes[0]! + (masked ? 7 : 0));
  const [c, l] = [3, 4];
  const n = sizes.reduce((a, b) => a + b, 0);
  const full: Scenario['full'] = [];
  const steps: Shard[][] = [];
  for (let step = 0; step < 2; step++) {
    const x = randn([n, c, l], { ...f64, generator, mean: step - 0.5, std: 1.5 + step });
    const upstream = randn([n, c, l], { ...f64, generator });
    const maskRows = Array.from({ length: n }, (_, s) => Array.from({ length: l }, (_, t) => (t <= (s + step) % l ? 1 : 0)));
    const mask = masked ? tensor(maskRows) : undefined;
    full.push({ x, upstream, ...(mask ? { mask } : {}) });
    let start = 0;
    steps.push(sizes.map((size) => {
      const shard: Shard = {
        shape: [size, c, l],
        x: Array.from(slice(x, 0, start, start + size).data),
        upstream: Array.from(slice(upstream, 0, start, start + size).data),
        ...(masked ? { mask: maskRows.slice(start, start + size) } : {}),
      };
      start += size;
      return shard;
    }));
  }
  const data: SyncCase = {
    numFeatures: c,
    momentum: 0.3,
    weight: Array.from(randn([c], { ...f64, generator }).data),
    bias: Array.from(randn([c], { ...f64, generator }).data),
    steps,
  };
  return { name, data, full, sizes };
}

/** BatchNorm on the concatenated batches: what every replica together must reproduce. */
function expectMatchesFullBatch(s: Scenario, replicas: ReplicaResult[]): void {
  const bn = new BatchNorm({ numFeatures: s.data.numFeatures, momentum: s.data.momentum, dtype: 'float64' });
  bn.weight!.data.set(s.data.weight);
  bn.bias!.data.set(s.data.bias);
  s.full.forEach((step, index) => {
    const x = step.x.detach().clone().requireGrad();
    bn.zeroGrad();
    const y = bn.forward(x, step.mask ? { mask: step.mask } : {});
    y.backward(step.upstream);
    const shape = [0, ...x.shape.slice(1)];
    const joined = (pick: (r: ReplicaResult) => number[]): Tensor =>
      concat(replicas.map((r, rank) => tensor(pick(r), { ...f64, shape: [s.sizes[rank]!, ...shape.slice(1)] })), 0);
    expectClose(joined((r) => r.steps[index]!.y), y, 1e-12, 1e-10);
    expectClose(joined((r) => r.steps[index]!.gradX), x.grad!, 1e-11, 1e-9);
    // Parameter gradients stay local; summed over replicas they are the full-batch ones.
    const summed = (pick: (r: ReplicaResult) => number[]): number[] =>
      pick(replicas[0]!).map((_, i) => replicas.reduce((total, r) => total + pick(r)[i]!, 0));
    expectClose(summed((r) => r.steps[index]!.gradWeight), bn.weight!.grad!, 1e-11, 1e-9);
    expectClose(summed((r) => r.steps[index]!.gradBias), bn.bias!.grad!, 1e-11, 1e-9);
  });
  for (const r of replicas) {
    expectClose(r.runningMean, bn.runningMean!, 1e-12, 1e-12);
    expectClose(r.runningVar, bn.runningVar!, 1e-12, 1e-10);
    expect(r.numBatchesTracked).toBe(2);
  }
}

const scenarios = [
  scenario('2 replicas, even split (3 + 3)', [3, 3]),
  scenario('3 replicas, uneven split (1 + 4 + 2)', [1, 4, 2]),
  scenario('3 replicas, one holding no samples (2 + 0 + 3)', [2, 0, 3]),
  scenario('2 replicas, uneven split with padding masks (2 + 3)', [2, 3], true),
];

describe('SyncBatchNorm over an InProcessGroup (K simulated replicas)', () => {
  it.each(scenarios.map((s) => [s.name, s] as const))('%s equals BatchNorm on the concatenated batch', (_, s) => {
    const replicas = InProcessGroup.run(s.sizes.length, (group) => syncReplica(group, s.data));
    expectMatchesFullBatch(s, replicas);
    expect(replicas[0]!.graph).toEqual(['syncBatchNorm']);
  });

  it('refuses replicas that disagree on numFeatures, on every replica', () => {
    expect(() => InProcessGroup.run(2, disagreeingReplica)).toThrow(ShapeError);
    expect(() => InProcessGroup.run(2, disagreeingReplica)).toThrow(/SyncBatchNorm.forward: expected every replica of the group to have numFeatures = 3/);
  });

  it('a single value per channel over all replicas throws before any state changes; one value per replica is fine', () => {
    const states = InProcessGroup.run(2, (group) => {
      const bn = new SyncBatchNorm({ numFeatures: 2, group });
      const x = randn([group.rank === 0 ? 1 : 0, 2]);
      let message = '';
      try {
        bn.forward(x);
      } catch (error) {
        if (!(error instanceof ValueError)) throw error;
        message = error.message;
      }
      return { message, tracked: bn.numBatchesTracked!.item(), runningVar: Array.from(bn.runningVar!.data) };
    });
    for (const state of states) {
      expect(state.message).toMatch(/more than 1 value per channel .* over 2 replicas: 1 value\(s\) per channel/);
      expect(state.tracked).toBe(0);
      expect(state.runningVar).toEqual([1, 1]);
    }
    // One sample per replica: two values per channel in the global batch, as in PyTorch.
    const outputs = InProcessGroup.run(2, (group) => new SyncBatchNorm({ numFeatures: 2, group }).forward(tensor([[group.rank, -group.rank]])).toArray());
    expectClose((outputs[0] as number[][])[0]!, [-1, 1], 1e-4);
    expectClose((outputs[1] as number[][])[0]!, [1, -1], 1e-4);
  });

  it('eval uses the running statistics with no collective; without a group it is BatchNorm', () => {
    const refusing: ProcessGroup = {
      rank: 0,
      size: 2,
      allReduce: () => {
        throw new ContextError({ op: 'test', expected: 'no collective', given: 'allReduce' });
      },
      broadcast: () => undefined,
      barrier: () => undefined,
    };
    const sync = new SyncBatchNorm({ numFeatures: 3, group: refusing });
    const x = randn([4, 3, 2], { generator: new Generator(9) });
    expect(() => sync.forward(x)).toThrow(ContextError);
    sync.eval();
    const bn = new BatchNorm({ numFeatures: 3 }).eval();
    expectClose(sync.forward(x), bn.forward(x), 0, 0);

    const local = new SyncBatchNorm({ numFeatures: 3 });
    const plain = new BatchNorm({ numFeatures: 3 });
    expectClose(local.forward(x), plain.forward(x), 0, 0);
    expectClose(local.runningVar!, plain.runningVar!, 0, 0);
  });
});

describe('SyncBatchNorm state dict', () => {
  it('has BatchNorm keys and round-trips with BatchNorm both ways', () => {
    const generator = new Generator(13);
    const bn = new BatchNorm({ numFeatures: 3, dtype: 'float64' });
    bn.forward(randn([4, 3, 2], { ...f64, generator, mean: 2 }));
    const sync = new SyncBatchNorm({ numFeatures: 3, dtype: 'float64' });
    sync.loadStateDict(bn.stateDict());
    expect(Object.keys(sync.stateDict())).toEqual(Object.keys(bn.stateDict()));
    sync.forward(randn([4, 3, 2], { ...f64, generator }));
    const back = new BatchNorm({ numFeatures: 3, dtype: 'float64' });
    back.loadStateDict(sync.stateDict());
    expect(back.numBatchesTracked!.item()).toBe(2);
    expectClose(back.runningVar!, sync.runningVar!, 0, 0);
  });
});

describe('SyncBatchNorm over worker threads (WorkerProcessGroup)', () => {
  it('even and uneven splits equal BatchNorm on the concatenated batch', async () => {
    for (const s of [scenarios[0]!, scenarios[1]!, scenarios[3]!]) {
      const replicas = await runWorkers<ReplicaResult>({ size: s.sizes.length, module: workerModule, exportName: 'syncReplica', data: s.data });
      expectMatchesFullBatch(s, replicas);
    }
  });

  it('refuses replicas that disagree on numFeatures', async () => {
    await expect(runWorkers({ size: 2, module: workerModule, exportName: 'disagreeingReplica' })).rejects.toThrow(ShapeError);
  });
});

describe('data-parallel training with SyncBatchNorm', () => {
  const generator = new Generator(21);
  const data: TrainingCase = {
    seed: 5,
    lr: 0.05,
    batches: Array.from({ length: 3 }, () => ({
      x: randn([8, 3], { ...f64, generator, mean: 0.5 }).toArray() as number[][],
      y: randn([8, 2], { ...f64, generator }).toArray() as number[][],
    })),
  };

  function singleProcess(): TrainingResult {
    const model = buildModel(data.seed);
    const optimizer = new SGD(model, { lr: data.lr, momentum: 0.9 });
    for (const batch of data.batches) {
      optimizer.zeroGrad();
      mse(model.forward(tensor(batch.x, f64)), tensor(batch.y, f64)).backward();
      optimizer.step();
    }
    return modelState(model);
  }

  function expectSameTraining(replicas: TrainingResult[], expected: TrainingResult): void {
    const initial = modelState(buildModel(data.seed));
    // Training moved every parameter except the bias before the BatchNorm, which BN makes gradient-free.
    const moved = expected.parameters.map((p, i) => p.some((v, j) => Math.abs(v - initial.parameters[i]![j]!) > 1e-6));
    expect(moved).toEqual([true, false, true, true, true, true]);
    for (const replica of replicas) {
      expected.parameters.forEach((p, i) => expectClose(replica.parameters[i]!, p, 1e-12, 1e-10));
      expected.buffers.forEach((b, i) => expectClose(replica.buffers[i]!, b, 1e-12, 1e-10));
    }
  }

  it('on 2 worker threads reaches the parameters (and running statistics) of single-process training', async () => {
    const replicas = await runWorkers<TrainingResult>({ size: 2, module: workerModule, exportName: 'dataParallelReplica', data });
    expectSameTraining(replicas, singleProcess());
  });

  it('on 4 simulated replicas likewise', () => {
    expectSameTraining(InProcessGroup.run(4, (group) => dataParallelReplica(group, data)), singleProcess());
  });
});

describe('SyncBatchNorm: empty batches', () => {
  function emptyOnRanks(shapes: number[][]): Array<{ shape: number[]; out: number[]; weightGrad: number[]; mean: number[]; variance: number[]; tracked: number }> {
    return InProcessGroup.run(shapes.length, (group) => {
      const bn = new SyncBatchNorm({ numFeatures: 3, dtype: 'float64', group });
      const generator = new Generator(40 + group.rank);
      const x = randn(shapes[group.rank]!, { ...f64, generator });
      const y = bn.forward(x);
      sum(y).backward();
      return {
        shape: y.shape.slice(), out: Array.from(y.data), weightGrad: Array.from(bn.weight!.grad?.data ?? []),
        mean: Array.from(bn.runningMean!.data), variance: Array.from(bn.runningVar!.data), tracked: bn.numBatchesTracked!.data[0]!,
      };
    });
  }

  it('every replica empty: empty outputs, running averages unchanged, num_batches_tracked + 1 (as BatchNorm)', () => {
    for (const result of emptyOnRanks([[0, 3, 2], [0, 3, 2]])) {
      expect(result.shape).toEqual([0, 3, 2]);
      expect(result.mean).toEqual([0, 0, 0]);
      expect(result.variance).toEqual([1, 1, 1]);
      expect(result.tracked).toBe(1);
    }
  });

  it('one replica empty: the others normalise over their own values, every replica tracks the same statistics', () => {
    const [empty, full] = emptyOnRanks([[0, 3, 2], [4, 3, 2]]);
    expect(empty!.shape).toEqual([0, 3, 2]);
    const bn = new BatchNorm({ numFeatures: 3, dtype: 'float64' });
    const y = bn.forward(randn([4, 3, 2], { ...f64, generator: new Generator(41) }));
    expectClose(full!.out, y, 1e-12);
    expect(empty!.mean).toEqual(full!.mean);
    expect(empty!.variance).toEqual(full!.variance);
    expectClose(full!.mean, bn.runningMean!, 1e-15);
    expect(empty!.tracked).toBe(1);
  });
});
