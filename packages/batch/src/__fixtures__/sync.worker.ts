// Replica functions for the SyncBatchNorm tests: run by InProcessGroup.run in the test's thread and
// by runWorkers in real worker threads, so both groups are checked with the same code.
import {
  DataParallel, Generator, Linear, ReLU, SGD, Sequential, graphOps, mse, tensor, type ProcessGroup, type TypedArray,
} from '@normkit/tensor';
import { BatchNorm } from '../batch-norm';
import { convertSyncBatchNorm } from '../convert-sync-batch-norm';
import { SyncBatchNorm } from '../sync-batch-norm';

export interface Shard {
  shape: number[];
  x: number[];
  upstream: number[];
  mask?: number[][];
}

export interface SyncCase {
  numFeatures: number;
  momentum: number;
  weight: number[];
  bias: number[];
  /** steps[s][rank]: what each replica holds at training step s. */
  steps: Shard[][];
}

export interface ReplicaResult {
  steps: Array<{ y: number[]; gradX: number[]; gradWeight: number[]; gradBias: number[] }>;
  runningMean: number[];
  runningVar: number[];
  numBatchesTracked: number;
  graph: string[];
}

const list = (a: TypedArray): number[] => Array.from(a);

/** One replica of SyncBatchNorm training: forward and backward on its shard of every step. */
export function syncReplica(group: ProcessGroup, data: SyncCase): ReplicaResult {
  const bn = new SyncBatchNorm({ numFeatures: data.numFeatures, momentum: data.momentum, dtype: 'float64', group });
  bn.weight!.data.set(data.weight);
  bn.bias!.data.set(data.bias);
  const steps: ReplicaResult['steps'] = [];
  let graph: string[] = [];
  for (const shards of data.steps) {
    const shard = shards[group.rank]!;
    const x = tensor(shard.x, { dtype: 'float64', shape: shard.shape, requiresGrad: true });
    bn.zeroGrad();
    const y = bn.forward(x, shard.mask ? { mask: tensor(shard.mask, { shape: [shard.shape[0]!, shard.shape[2]!] }) } : {});
    graph = graphOps(y);
    y.backward(tensor(shard.upstream, { dtype: 'float64', shape: shard.shape }));
    steps.push({ y: list(y.data), gradX: list(x.grad!.data), gradWeight: list(bn.weight!.grad!.data), gradBias: list(bn.bias!.grad!.data) });
  }
  return { steps, runningMean: list(bn.runningMean!.data), runningVar: list(bn.runningVar!.data), numBatchesTracked: bn.numBatchesTracked!.item(), graph };
}

/** Replicas that disagree on numFeatures. */
export function disagreeingReplica(group: ProcessGroup): number {
  const c = 3 + group.rank;
  const bn = new SyncBatchNorm({ numFeatures: c, group });
  bn.forward(tensor(new Float32Array(4 * c), { shape: [4, c] }));
  return c;
}

export interface TrainingCase {
  seed: number;
  lr: number;
  batches: Array<{ x: number[][]; y: number[][] }>;
}

/** Linear -> BatchNorm -> ReLU -> Linear: single-process training uses it as is. */
export function buildModel(seed: number): Sequential {
  const generator = new Generator(seed);
  return new Sequential(
    new Linear({ inFeatures: 3, outFeatures: 4, dtype: 'float64', generator }),
    new BatchNorm({ numFeatures: 4, dtype: 'float64' }),
    new ReLU(),
    new Linear({ inFeatures: 4, outFeatures: 2, dtype: 'float64', generator }),
  );
}

export interface TrainingResult {
  parameters: number[][];
  buffers: number[][];
}

/** The model's parameters and buffers, as plain arrays. */
export function modelState(model: Sequential): TrainingResult {
  return { parameters: model.parameters().map((p) => list(p.data)), buffers: model.buffers().map((b) => list(b.data)) };
}

/**
 * One replica of data-parallel training: the model converted to SyncBatchNorm, parameters broadcast
 * from rank 0 (each replica starts from a different initialisation), gradients averaged, SGD.
 */
export function dataParallelReplica(group: ProcessGroup, data: TrainingCase): TrainingResult {
  const model = convertSyncBatchNorm(buildModel(data.seed + 100 * group.rank), group);
  const parallel = new DataParallel(model, group);
  const optimizer = new SGD(model, { lr: data.lr, momentum: 0.9 });
  for (const batch of data.batches) {
    const share = batch.x.length / group.size;
    const rows = (values: number[][]): number[][] => values.slice(group.rank * share, (group.rank + 1) * share);
    optimizer.zeroGrad();
    mse(model.forward(tensor(rows(batch.x), { dtype: 'float64' })), tensor(rows(batch.y), { dtype: 'float64' })).backward();
    parallel.synchronizeGradients();
    optimizer.step();
  }
  return modelState(model);
}
