// Replica functions run by worker-process-group.test.ts in real worker threads (through runWorkers).
import { DataParallel, Generator, Linear, ReLU, SGD, Sequential, ShapeError, getNumThreads, mse, setBackend, tensor } from '@normkit/tensor';
import type { ProcessGroup } from '@normkit/tensor';

export function collectives(group: ProcessGroup, data: { length: number }): { sum: number[]; fromRoot: number[] } {
  const buffer = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) buffer[i] = i * (group.rank + 1) + 0.25;
  group.allReduce(buffer);
  const fromRoot = Float64Array.from([group.rank, group.rank * 10]);
  group.broadcast(fromRoot, 1);
  group.barrier();
  return { sum: Array.from(buffer), fromRoot: Array.from(fromRoot) };
}

export function failing(group: ProcessGroup): number {
  group.barrier();
  if (group.rank === 1) throw new ShapeError({ op: 'replica', expected: 'a good shape', given: 'a bad one' });
  group.allReduce(new Float64Array(4)); // rank 0 waits here until the failure wakes it
  return group.rank;
}

export function mismatch(group: ProcessGroup): number {
  group.allReduce(new Float64Array(3 + group.rank));
  return group.rank;
}

export interface TrainingData {
  seed: number;
  lr: number;
  batches: Array<{ x: number[][]; y: number[][] }>;
}

export function buildModel(seed: number): Sequential {
  const generator = new Generator(seed);
  return new Sequential(
    new Linear({ inFeatures: 3, outFeatures: 6, dtype: 'float64', generator }),
    new ReLU(),
    new Linear({ inFeatures: 6, outFeatures: 2, dtype: 'float64', generator }),
  );
}

/** Data-parallel SGD: each rank trains on its half of every batch; returns the final parameters. */
export function train(group: ProcessGroup, data: TrainingData): number[][] {
  const model = buildModel(data.seed + 1000 * group.rank); // the broadcast must fix the differences
  const parallel = new DataParallel(model, group);
  const optimizer = new SGD(model, { lr: data.lr, momentum: 0.9 });
  for (const batch of data.batches) {
    const half = batch.x.length / group.size;
    const rows = (values: number[][]): number[][] => values.slice(group.rank * half, (group.rank + 1) * half);
    optimizer.zeroGrad();
    const x = tensor(rows(batch.x), { dtype: 'float64' });
    const y = tensor(rows(batch.y), { dtype: 'float64' });
    mse(model.forward(x), y).backward();
    parallel.synchronizeGradients();
    optimizer.step();
  }
  return model.parameters().map((p) => Array.from(p.data));
}

/** Rank 0 returns at once; rank 1 then waits in a barrier rank 0 will never reach. */
export function returnsEarly(group: ProcessGroup): number {
  if (group.rank === 1) group.barrier();
  return group.rank;
}

/** Rank 0 waits in a barrier (until its timeout); rank 1 spins forever and never gets there. */
export function spinsWhileOtherTimesOut(group: ProcessGroup): number {
  if (group.rank === 1) for (;;);
  group.barrier();
  return group.rank;
}

/** Rank 1 throws; rank 0 spins forever, outside any collective. */
export function spinsWhileOtherFails(group: ProcessGroup): number {
  if (group.rank === 1) throw new ShapeError({ op: 'replica', expected: 'a good shape', given: 'a bad one' });
  for (;;);
}

/** Rank 1 awaits a promise nothing will ever settle (its worker exits with code 13); rank 0 waits in a barrier. */
export async function neverSettles(group: ProcessGroup): Promise<number> {
  if (group.rank === 1) await new Promise<never>(() => undefined);
  group.barrier();
  return group.rank;
}

/** Rank 1 calls process.exit(3); rank 0 waits in a barrier. */
export function exits(group: ProcessGroup): number {
  if (group.rank === 1) process.exit(3);
  group.barrier();
  return group.rank;
}

/** Every rank does its last collective, then the ranks finish at different times without another one. */
export function finishesUnevenly(group: ProcessGroup): number {
  group.barrier();
  if (group.rank === 1) {
    const until = Date.now() + 100;
    while (Date.now() < until);
  }
  return group.rank;
}

/** The replica's intra-op thread count (what runWorkers gave it), read on the wasm backend (js runs one thread whatever the count). */
export function threadCount(group: ProcessGroup): { rank: number; threads: number } {
  setBackend('wasm');
  return { rank: group.rank, threads: getNumThreads() };
}
