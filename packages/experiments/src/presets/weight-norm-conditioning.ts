import { RUN_COLUMNS, evalSeries, finalTestAccuracy, lossSeries, mean, runRow, show } from './analysis';
import { SEED_SOURCE, mnistData } from './common';
import { definePreset, type PresetMode, type PresetRun, type RunRecord } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

const LR = 0.05;
/** "Early": the first third of the run. */
const EARLY = 100;

function run(kind: 'plain' | 'weight-norm', mode: PresetMode, seed: number): PresetRun {
  const steps = mode === 'full' ? 300 : 6;
  return {
    id: kind,
    label: kind === 'plain' ? 'plain weights' : 'Weight Normalization on every Linear',
    role: kind === 'plain' ? 'control' : 'subject',
    config: {
      task: 'classification',
      dataset: mnistData(mode),
      model: { name: 'mlp', options: { width: 64, depth: 3 } },
      norms: { hidden: { name: 'none' } },
      ...(kind === 'weight-norm' ? { weights: { layers: { name: 'weight-norm' } } } : {}),
      optimizer: { name: 'sgd', options: { momentum: 0.9 } },
      lr: LR,
      batchSize: 32,
      steps,
      evalEvery: Math.max(1, Math.floor(steps / 6)),
      evalSamples: mode === 'full' ? 1000 : 50,
      seed,
    },
  };
}

/** Mean minibatch training loss over the first `steps` steps (window means of the record; a diverged run: NaN). */
function earlyLoss(record: RunRecord, steps: number): number {
  if (record.status === 'diverged') return Number.NaN;
  return mean(record.loss.filter(([step]) => step <= steps).map(([, loss]) => loss));
}

/** The same MLP with and without weight normalization at one learning rate (Salimans and Kingma, 2016). */
export const weightNormConditioning = definePreset({
  name: 'weight-norm-conditioning',
  title: 'Weight Normalization speeds up early optimisation (better conditioning)',
  claim: {
    quote: 'Weight Normalization: reparameterizes weight vectors as w = g · v/||v|| where g is a learnable scalar and v is a learnable vector; decouples magnitude and direction of weight vectors; improves conditioning but doesn\'t normalize activations',
    section: 'Weight Normalization Techniques',
    source: SEED_SOURCE,
  },
  method:
    `An MLP (3 hidden layers of 64, ReLU, no activation normalization) on 14x14 MNIST (2,000 train, 1,000 test), 300 steps at batch 32 with SGD ` +
    `(momentum 0.9) at lr ${LR}, with plain weights or with weight normalization (w = g v / ||v|| per output unit, g initialised to ||v||, so both ` +
    `start as the same function) on every Linear. Better conditioning is tested by its consequence in Salimans and Kingma (2016): faster early ` +
    `optimisation at the same learning rate, as the mean minibatch training loss over the first ${EARLY} steps, at least 10% lower. No direct ` +
    'measurement of the loss\'s condition number is made (a Hessian spectrum is beyond this lab). Five seeds; each criterion on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['weight-norm'], resources: ['mnist'] },
  criteria: [
    { id: 'plain-control', kind: 'control', statement: 'the plain MLP trains (positive control)', metric: 'final test accuracy, plain', comparison: '>=', threshold: 0.85 },
    { id: 'wn-control', kind: 'control', statement: 'the weight-normalized MLP trains', metric: 'final test accuracy, weight norm', comparison: '>=', threshold: 0.85 },
    {
      id: 'faster-early', kind: 'claim', statement: `weight normalization lowers the mean training loss over the first ${EARLY} steps by at least 10%`,
      metric: `mean loss over steps 1-${EARLY}: weight norm / plain`, comparison: '<=', threshold: 0.9, unit: 'x',
    },
  ],
  plan: (mode, seed = 0) => ({ runs: [run('plain', mode, seed), run('weight-norm', mode, seed)] }),
  analyze: ({ runs, mode }) => {
    const early = mode === 'full' ? EARLY : 3;
    const plain = earlyLoss(runs.plain!, early);
    const wn = earlyLoss(runs['weight-norm']!, early);
    return {
      measured: {
        'plain-control': finalTestAccuracy(runs.plain!, 0.1),
        'wn-control': finalTestAccuracy(runs['weight-norm']!, 0.1),
        'faster-early': wn / plain,
      },
      details: { 'faster-early': `${show(wn)} / ${show(plain)}` },
      table: { columns: [...RUN_COLUMNS, `mean loss, steps 1-${early}`], rows: Object.values(runs).map((r) => [...runRow(r, finalTestAccuracy(r, 0.1)), Number(earlyLoss(r, early).toFixed(4))]) },
      charts: [
        { id: 'loss', title: `Training loss (window means), lr ${LR}`, xLabel: 'step', yLabel: 'cross entropy', series: Object.values(runs).map((r) => lossSeries(r)) },
        { id: 'accuracy', title: 'Test accuracy during training', xLabel: 'step', yLabel: 'test accuracy', series: Object.values(runs).map((r) => evalSeries(r, (e) => e.testAccuracy)) },
      ],
    };
  },
});
