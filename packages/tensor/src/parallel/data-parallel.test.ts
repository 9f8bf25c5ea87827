import { describe, expect, it } from 'vitest';
import { randn, tensor } from '../creation';
import { Linear } from '../nn/linear';
import { Sequential } from '../nn/sequential';
import { ReLU } from '../nn/activation';
import { mse } from '../ops/loss';
import { slice } from '../ops/shape';
import { SGD } from '../optim/sgd';
import { Generator } from '../random';
import type { Tensor } from '../tensor';
import { expectClose } from '../test-utils';
import { DataParallel, averageGradients, broadcastModule } from './data-parallel';
import { InProcessGroup } from './in-process-group';

function buildModel(seed: number): Sequential {
  const generator = new Generator(seed);
  return new Sequential(
    new Linear({ inFeatures: 3, outFeatures: 5, dtype: 'float64', generator }),
    new ReLU(),
    new Linear({ inFeatures: 5, outFeatures: 2, dtype: 'float64', generator }),
  );
}

function snapshot(model: Sequential): number[][] {
  return model.parameters().map((p) => Array.from(p.data));
}

describe('data parallelism over a process group', () => {
  it('broadcastModule gives every replica the root parameters, bit for bit', () => {
    const results = InProcessGroup.run(3, (group) => {
      const model = buildModel(100 + group.rank); // different initialisations
      broadcastModule(model, group, { root: 1 });
      return snapshot(model);
    });
    expect(results[0]).toEqual(snapshot(buildModel(101)));
    expect(results[2]).toEqual(results[0]);
  });

  it('averageGradients replaces each gradient by the mean over replicas; grad stays null only if null everywhere', () => {
    const results = InProcessGroup.run(2, (group) => {
      const a = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
      const b = tensor([3], { dtype: 'float64', requiresGrad: true });
      const c = tensor([4], { dtype: 'float64', requiresGrad: true });
      a.grad = tensor([group.rank, 10], { dtype: 'float64' });
      if (group.rank === 1) b.grad = tensor([6], { dtype: 'float64' });
      averageGradients([a, b, c], group);
      return { a: Array.from(a.grad.data), b: b.grad ? Array.from(b.grad.data) : null, c: c.grad };
    });
    for (const r of results) expect(r).toEqual({ a: [0.5, 10], b: [3], c: null });
  });

  it('training on 3 replicas with equal shards equals single-process training on the full batches', () => {
    const steps = 3;
    const generator = new Generator(7);
    const batches = Array.from({ length: steps }, () => ({
      x: randn([6, 3], { dtype: 'float64', generator }),
      y: randn([6, 2], { dtype: 'float64', generator }),
    }));
    const single = buildModel(1);
    const optimizer = new SGD(single, { lr: 0.1, momentum: 0.9 });
    for (const { x, y } of batches) {
      optimizer.zeroGrad();
      mse(single.forward(x), y).backward();
      optimizer.step();
    }
    const replicas = InProcessGroup.run(3, (group) => {
      const model = buildModel(1 + group.rank);
      const parallel = new DataParallel(model, group);
      const localOptimizer = new SGD(model, { lr: 0.1, momentum: 0.9 });
      const shard = (t: Tensor): Tensor => slice(t, 0, 2 * group.rank, 2 * group.rank + 2);
      for (const { x, y } of batches) {
        localOptimizer.zeroGrad();
        mse(parallel.module.forward(shard(x)), shard(y)).backward();
        parallel.synchronizeGradients();
        localOptimizer.step();
      }
      return model.parameters().map((p) => p.clone());
    });
    for (const parameters of replicas) {
      single.parameters().forEach((p, i) => expectClose(parameters[i]!, p, 1e-12, 1e-12));
    }
  });

  it('refuses replicas whose models differ in size', () => {
    expect(() =>
      InProcessGroup.run(2, (group) => new DataParallel(new Linear({ inFeatures: 2 + group.rank, outFeatures: 1 }), group)),
    ).toThrow(/buffers of one length on every rank/);
  });
});
