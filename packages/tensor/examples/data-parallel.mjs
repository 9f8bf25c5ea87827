// Data-parallel training on worker threads, from the built package:
//   npm run build --workspace @normkit/tensor && node packages/tensor/examples/data-parallel.mjs
// Two workers each take half of every batch; the result matches single-process training.
import { Generator, SGD, mse, randn, tensor } from '@normkit/tensor';
import { runWorkers } from '@normkit/tensor/node';
import { buildModel } from './data-parallel.worker.mjs';

const generator = new Generator(1);
const data = {
  seed: 3,
  lr: 0.02,
  batchSize: 32,
  batches: Array.from({ length: 20 }, () => {
    const x = randn([32, 4], { dtype: 'float64', generator });
    const y = x.toArray().map((row) => [Math.sin(row[0]) + row[1] * row[2] - row[3]]);
    return { x: x.toArray(), y };
  }),
};

const started = performance.now();
const [replica0, replica1] = await runWorkers({ size: 2, module: new URL('./data-parallel.worker.mjs', import.meta.url), exportName: 'train', data });
console.log(`2 workers: ${(performance.now() - started).toFixed(0)} ms (worker start-up included)`);

const model = buildModel(data.seed);
const optimizer = new SGD(model, { lr: data.lr, momentum: 0.9 });
for (const batch of data.batches) {
  optimizer.zeroGrad();
  mse(model.forward(tensor(batch.x, { dtype: 'float64' })), tensor(batch.y, { dtype: 'float64' })).backward();
  optimizer.step();
}
let maxDifference = 0;
model.parameters().forEach((p, i) => p.data.forEach((v, j) => {
  maxDifference = Math.max(maxDifference, Math.abs(v - replica0[i][j]), Math.abs(replica1[i][j] - replica0[i][j]));
}));
console.log(`largest difference from single-process training: ${maxDifference.toExponential(2)}`);
if (!(maxDifference < 1e-9)) process.exit(1);
