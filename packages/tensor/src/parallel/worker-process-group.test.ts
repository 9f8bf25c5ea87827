import { describe, expect, it } from 'vitest';
import { randn, tensor } from '../creation';
import { ContextError, ShapeError } from '../errors';
import { mse } from '../ops/loss';
import { SGD } from '../optim/sgd';
import { Generator } from '../random';
import { expectClose } from '../test-utils';
import { buildModel, type TrainingData } from './__fixtures__/replicas.worker';
import { WorkerProcessGroup, runWorkers } from './worker-process-group';

const fixture = new URL('./__fixtures__/replicas.worker.ts', import.meta.url);

describe('WorkerProcessGroup: worker threads over a SharedArrayBuffer', () => {
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
