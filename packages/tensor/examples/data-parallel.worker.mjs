// One replica of examples/data-parallel.mjs: trains on its half of every batch, gradients averaged.
import { DataParallel, Generator, Linear, ReLU, SGD, Sequential, mse, tensor } from '@normkit/tensor';

export function buildModel(seed) {
  const generator = new Generator(seed);
  return new Sequential(
    new Linear({ inFeatures: 4, outFeatures: 16, dtype: 'float64', generator }),
    new ReLU(),
    new Linear({ inFeatures: 16, outFeatures: 1, dtype: 'float64', generator }),
  );
}

export function train(group, data) {
  const model = buildModel(data.seed + group.rank); // different starts: DataParallel broadcasts rank 0's
  const parallel = new DataParallel(model, group);
  const optimizer = new SGD(model, { lr: data.lr, momentum: 0.9 });
  const share = data.batchSize / group.size;
  for (const batch of data.batches) {
    const mine = (rows) => tensor(rows.slice(group.rank * share, (group.rank + 1) * share), { dtype: 'float64' });
    optimizer.zeroGrad();
    mse(model.forward(mine(batch.x)), mine(batch.y)).backward();
    parallel.synchronizeGradients();
    optimizer.step();
  }
  return model.parameters().map((p) => Array.from(p.data));
}
