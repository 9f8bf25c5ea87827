// normkit quick start: the same tiny MLP on two spirals, once per normalizer, printing the loss as it trains.
//   npm run demo            (from the repository root: builds what is needed, then runs this file)
import { registerAll } from '@normkit/tensor';
import { batchPlugins } from '@normkit/batch';
import { groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import { createTrainer } from '@normkit/experiments';

registerAll([...batchPlugins, ...layerPlugins, ...groupPlugins]);

const normalizers = [
  { label: 'none', norm: { name: 'none' } },
  { label: 'batch-norm', norm: { name: 'batch-norm' } },
  { label: 'layer-norm', norm: { name: 'layer-norm' } },
  { label: 'group-norm (4 groups)', norm: { name: 'group-norm', options: { numGroups: 4 } } },
];
const steps = 600;
const depth = 8;

console.log(`Two spirals, MLP with ${depth} hidden layers of 32 (a normalizer after each), SGD lr 0.05 momentum 0.9, batch 32, ${steps} steps, seed 0`);
console.log('Deep plain MLPs collapse every sample onto the same hidden vector; batch statistics pull them apart again.\n');
const results = [];
for (const { label, norm } of normalizers) {
  const trainer = createTrainer({
    task: 'classification',
    dataset: { name: 'two-spirals' },
    model: { name: 'mlp', options: { width: 32, depth } },
    norms: { hidden: norm },
    optimizer: { name: 'sgd', options: { momentum: 0.9 } },
    lr: 0.05,
    batchSize: 32,
    steps,
    evalEvery: 100,
    seed: 0,
  });
  const started = performance.now();
  const line = [];
  trainer.subscribe((event) => {
    if (event.type === 'eval') {
      line.push(event.train.loss.toFixed(3));
      // Redraw the line in a terminal; print only the finished line when piped.
      if (process.stdout.isTTY) process.stdout.write(`\r${label.padEnd(22)} loss ${line.join(' -> ')}`);
    }
  });
  trainer.runToEnd();
  const last = trainer.history.evals.at(-1);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (!process.stdout.isTTY) process.stdout.write(`${label.padEnd(22)} loss ${line.join(' -> ')}`);
  console.log(`   (${trainer.status}, ${seconds} s)`);
  results.push({ normalizer: label, 'train loss': last.train.loss.toFixed(4), 'train acc': `${(100 * last.train.accuracy).toFixed(1)}%`, 'test acc': `${(100 * last.test.accuracy).toFixed(1)}%` });
}
console.log('');
console.table(results);
