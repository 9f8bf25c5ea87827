import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { randn, tensor } from '../creation';
import { ContextError, ShapeError } from '../errors';
import { mse } from '../ops/loss';
import { SGD } from '../optim/sgd';
import { Generator } from '../random';
import { expectClose } from '../test-utils';
import { buildModel, type TrainingData } from './__fixtures__/replicas.worker';
import { CollectiveAbortedError, WorkerProcessGroup, runWorkers } from './worker-process-group';

const fixture = new URL('./__fixtures__/replicas.worker.ts', import.meta.url);

describe('WorkerProcessGroup: worker threads over a SharedArrayBuffer', () => {
  it('gives each replica max(1, floor(cores / size)) kernel threads, threadsPerReplica when set, or the NORMKIT_THREADS it inherits', async () => {
    const cores = availableParallelism();
    const saved = process.env.NORMKIT_THREADS;
    try {
      delete process.env.NORMKIT_THREADS;
      const shared = await runWorkers<{ rank: number; threads: number }>({ size: 2, module: fixture, exportName: 'threadCount' });
      expect(shared.map((r) => r.threads)).toEqual([Math.max(1, Math.floor(cores / 2)), Math.max(1, Math.floor(cores / 2))]);
      const three = await runWorkers<{ rank: number; threads: number }>({ size: 3, module: fixture, exportName: 'threadCount', threadsPerReplica: 3 });
      expect(three.map((r) => r.threads)).toEqual([3, 3, 3]);
      process.env.NORMKIT_THREADS = '5';
      const inherited = await runWorkers<{ rank: number; threads: number }>({ size: 2, module: fixture, exportName: 'threadCount' });
      expect(inherited.map((r) => r.threads)).toEqual([5, 5]);
    } finally {
      if (saved === undefined) delete process.env.NORMKIT_THREADS;
      else process.env.NORMKIT_THREADS = saved;
    }
    await expect(runWorkers({ size: 2, module: fixture, exportName: 'threadCount', threadsPerReplica: 0 })).rejects.toThrow(/threadsPerReplica to be a whole number of threads from 1 to 1024, got threadsPerReplica = 0/);
  });

  it('allReduce (in several rounds when longer than the capacity), broadcast and barrier across 3 workers', async () => {
    const length = 10;
    const results = await runWorkers<{ sum: number[]; fromRoot: number[] }>({
      size: 3, module: fixture, exportName: 'collectives', data: { length }, capacity: 4,
    });
    const expected = Array.from({ length }, (_, i) => 0 + (i * 1 + 0.25) + (i * 2 + 0.25) + (i * 3 + 0.25));
    for (const result of results) {
      expect(result.sum).toEqual(expected);
      expect(result.fromRoot).toEqual([1, 10]);
    }
  });

  it('a failing replica wakes the others and the run rejects with its error, class and message kept', async () => {
    const run = runWorkers({ size: 2, module: fixture, exportName: 'failing' });
    await expect(run).rejects.toThrow(ShapeError);
    await expect(runWorkers({ size: 2, module: fixture, exportName: 'failing' })).rejects.toThrow(/replica: expected a good shape, got a bad one/);
  });

  it('ranks that disagree on the buffer length get a ShapeError', async () => {
    await expect(runWorkers({ size: 2, module: fixture, exportName: 'mismatch' })).rejects.toThrow(/buffers of one length on every rank, got rank 0: 3, rank 1: 4/);
  });

  it('refuses a missing export and a relative module path', async () => {
    await expect(runWorkers({ size: 1, module: fixture, exportName: 'nothing' })).rejects.toThrow(/no function export "nothing"/);
    await expect(runWorkers({ size: 1, module: './relative.ts' })).rejects.toThrow(ContextError);
  });

  it('an aborted group makes a waiting rank throw instead of hanging', () => {
    const handle = WorkerProcessGroup.createShared(2);
    const group = new WorkerProcessGroup(handle, 0);
    WorkerProcessGroup.abort(handle, 1);
    expect(() => group.barrier()).toThrow(/rank 1 failed/);
  });

  it('a timeout turns a missing peer into an error', () => {
    const group = new WorkerProcessGroup(WorkerProcessGroup.createShared(2, { timeoutMs: 50 }), 0);
    expect(() => group.allReduce(new Float64Array(2))).toThrow(/within 50 ms/);
  });

  it('data-parallel training on 2 worker threads reaches the parameters of single-process training on the same batches', async () => {
    const generator = new Generator(3);
    const data: TrainingData = {
      seed: 11,
      lr: 0.05,
      batches: Array.from({ length: 4 }, () => ({
        x: randn([8, 3], { dtype: 'float64', generator }).toArray() as number[][],
        y: randn([8, 2], { dtype: 'float64', generator }).toArray() as number[][],
      })),
    };
    const replicas = await runWorkers<number[][]>({ size: 2, module: fixture, exportName: 'train', data });

    const model = buildModel(data.seed);
    const optimizer = new SGD(model, { lr: data.lr, momentum: 0.9 });
    for (const batch of data.batches) {
      optimizer.zeroGrad();
      mse(model.forward(tensor(batch.x, { dtype: 'float64' })), tensor(batch.y, { dtype: 'float64' })).backward();
      optimizer.step();
    }
    const initial = buildModel(data.seed).parameters();
    model.parameters().forEach((p, i) => {
      // Training moved the parameters, and both workers followed the same path.
      expect(Array.from(p.data)).not.toEqual(Array.from(initial[i]!.data));
      expectClose(replicas[0]![i]!, p, 1e-12, 1e-10);
      expect(replicas[1]![i]).toEqual(replicas[0]![i]);
    });
  });
});

describe('runWorkers: a failure or early exit ends the whole group, nothing hangs', () => {
  // Short grace periods and timeouts keep these to seconds; the vitest timeout catches a hang.
  const quick = { module: fixture, size: 2, gracePeriodMs: 300 } as const;

  it('a rank that returns while another waits in a collective aborts it with a CollectiveAbortedError', async () => {
    const run = runWorkers({ ...quick, exportName: 'returnsEarly' });
    await expect(run).rejects.toThrow(CollectiveAbortedError);
    await expect(runWorkers({ ...quick, exportName: 'returnsEarly' })).rejects.toThrow(
      /WorkerProcessGroup\.barrier: .*rank 0 returned from its replica function/,
    );
  }, 20_000);

  it('ranks that finish at different times after their last collective still resolve', async () => {
    await expect(runWorkers({ ...quick, exportName: 'finishesUnevenly' })).resolves.toEqual([0, 1]);
  }, 20_000);

  it('a rank spinning forever is terminated after the grace period once another rank timed out', async () => {
    const started = Date.now();
    await expect(runWorkers({ ...quick, exportName: 'spinsWhileOtherTimesOut', timeoutMs: 200 })).rejects.toThrow(/within 200 ms/);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 20_000);

  it('a rank spinning forever is terminated after the grace period once another rank threw', async () => {
    await expect(runWorkers({ ...quick, exportName: 'spinsWhileOtherFails' })).rejects.toThrow(ShapeError);
  }, 20_000);

  it('a worker that exits aborts the group at once, and exit code 13 is explained', async () => {
    await expect(runWorkers({ ...quick, exportName: 'exits' })).rejects.toThrow(/rank 1 exited with code 3 before returning/);
    const run = runWorkers({ ...quick, exportName: 'neverSettles' });
    await expect(run).rejects.toThrow(ContextError);
    await expect(runWorkers({ ...quick, exportName: 'neverSettles' })).rejects.toThrow(
      /rank 1 exited with code 13 .*awaiting a promise that never settles/,
    );
  }, 30_000);

  it('the default collective timeout is PyTorch\'s 30 minutes, and can be changed', () => {
    expect(WorkerProcessGroup.createShared(2).timeoutMs).toBe(30 * 60 * 1000);
    expect(WorkerProcessGroup.createShared(2, { timeoutMs: Infinity }).timeoutMs).toBe(Infinity);
    expect(() => WorkerProcessGroup.createShared(2, { timeoutMs: -1 })).toThrow(/timeoutMs/);
  });

  it('abort names who aborted and why, and a rank entering a collective after it throws at once', () => {
    const handle = WorkerProcessGroup.createShared(3);
    const group = new WorkerProcessGroup(handle, 2);
    expect(WorkerProcessGroup.abortState(handle)).toBeNull();
    WorkerProcessGroup.abort(handle, 0, 'returned');
    WorkerProcessGroup.abort(handle, 1, 'failed'); // the first abort wins
    expect(WorkerProcessGroup.abortState(handle)).toEqual({ rank: 0, reason: 'returned' });
    let error: unknown;
    try {
      group.allReduce(new Float64Array(2));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CollectiveAbortedError);
    expect(error).toBeInstanceOf(ContextError);
    expect(error).toMatchObject({ abortedBy: 0, reason: 'returned', op: 'WorkerProcessGroup.allReduce' });
  });
});
