import { RUN_COLUMNS, evalSeries, finalTestAccuracy, lossSeries, runRow, show } from './analysis';
import { SEED_SOURCE, mnistData } from './common';
import { definePreset, type PresetMode, type PresetRun } from './preset';
import type { ExperimentConfigInput } from '../config';

const DEPTH = 64;
const LR = 0.1;

function run(kind: 'batch-norm' | 'plain' | 'norm-free', mode: PresetMode, seed: number): PresetRun {
  const steps = mode === 'full' ? 300 : 4;
  const depth = mode === 'full' ? DEPTH : 4;
  const base: ExperimentConfigInput = {
    task: 'classification',
    dataset: mnistData(mode),
    model: { name: 'residual', options: { width: 32, depth } },
    optimizer: { name: 'sgd', options: { momentum: 0.9 } },
    lr: LR,
    batchSize: 32,
    steps,
    evalEvery: Math.max(1, Math.floor(steps / 4)),
    evalSamples: mode === 'full' ? 1000 : 50,
    seed,
  };
  switch (kind) {
    case 'batch-norm':
      return { id: kind, label: 'BatchNorm in every block', role: 'control', config: { ...base, norms: { block: { name: 'batch-norm' }, final: { name: 'batch-norm' } } } };
    case 'plain':
      return { id: kind, label: 'no normalization, plain blocks x + f(x)', role: 'reference', config: base };
    case 'norm-free':
      return {
        id: kind,
        label: 'norm-free: NF blocks + SkipInit, scaled WS, AGC',
        role: 'subject',
        config: {
          ...base,
          // x + alpha * g * f(x / beta): NF-ResNet variance bookkeeping (alpha 0.2) with a SkipInit gain g starting at 0.
          model: { name: 'residual', options: { width: 32, depth }, blockWrapper: { name: 'nf-block', options: { alpha: 0.2, skipInit: true } } },
          // Every Linear standardized and scaled by gamma(ReLU) / sqrt(fanIn), with a learned gain.
          weights: { layers: { name: 'scaled-weight-standardization', options: { nonlinearity: 'relu' } } },
          // NFNets' AGC at 0.01, the classifier head left unclipped as in the paper.
          gradientTransforms: [{ name: 'adaptive-gradient-clip', options: { clipping: 0.01, excludeFinalLayer: true } }],
        },
      };
  }
}

/** A 64-block residual MLP without any normalization layer, made trainable by the NFNets recipe. */
export const normFreeResidual = definePreset({
  name: 'norm-free-residual',
  title: 'A deep norm-free residual net trains with AGC, scaled WS and SkipInit',
  claim: {
    quote:
      'NFNets (Normalizer-Free Networks): achieves state-of-the-art ImageNet accuracy without any normalization layers; uses adaptive gradient clipping, ' +
      'scaled weight standardization, and careful initialization; demonstrates that normalization is not strictly necessary but requires meticulous engineering ' +
      '[...] SkipInit: initializes residual branches to output zero (via zero-initialized final layer); allows training deep networks without normalization',
    section: 'Normalization-Free Networks',
    source: SEED_SOURCE,
  },
  method:
    `A residual MLP (Linear stem to width 32, ${DEPTH} pre-activation blocks relu -> Linear -> relu -> Linear, Linear head) on 14x14 MNIST ` +
    `(2,000 train, 1,000 test), SGD (momentum 0.9) at lr ${LR}, batch 32, 300 steps. Three versions: BatchNorm in every block (positive control); ` +
    'no normalization with plain blocks x + f(x); and norm-free: NF-ResNet blocks x + 0.2 g f(x / beta) with a SkipInit gain g = 0 at start, ' +
    'scaled weight standardization on every Linear, and adaptive gradient clipping (0.01) on all but the head.',
  seed: 0,
  requires: { plugins: ['batch-norm', 'scaled-weight-standardization', 'adaptive-gradient-clip'], blockWrappers: ['nf-block'], resources: ['mnist'] },
  criteria: [
    { id: 'control', kind: 'control', statement: `the ${DEPTH}-block net with BatchNorm trains (positive control)`, metric: 'test accuracy, BatchNorm', comparison: '>=', threshold: 0.85 },
    { id: 'norm-free-trains', kind: 'claim', statement: 'the norm-free net comes within 3 points of BatchNorm', metric: 'accuracy(BatchNorm) - accuracy(norm-free)', comparison: '<=', threshold: 0.03 },
    {
      id: 'needs-the-recipe', kind: 'claim', statement: 'without the recipe the same normalization-free net is at least 5 points worse',
      metric: 'accuracy(norm-free) - accuracy(plain, no normalization)', comparison: '>=', threshold: 0.05,
    },
  ],
  plan: (mode, seed = 0) => ({ runs: [run('batch-norm', mode, seed), run('norm-free', mode, seed), run('plain', mode, seed)] }),
  analyze: ({ runs }) => {
    // A diverged run did not train: chance level of 10 classes.
    const accuracy = (id: string) => finalTestAccuracy(runs[id]!, 0.1);
    const records = Object.values(runs);
    return {
      measured: {
        control: accuracy('batch-norm'),
        'norm-free-trains': accuracy('batch-norm') - accuracy('norm-free'),
        'needs-the-recipe': accuracy('norm-free') - accuracy('plain'),
      },
      details: {
        'norm-free-trains': `${show(accuracy('batch-norm'))} - ${show(accuracy('norm-free'))}`,
        'needs-the-recipe': `${show(accuracy('norm-free'))} - ${show(accuracy('plain'))}`,
      },
      table: { columns: RUN_COLUMNS, rows: records.map((r) => runRow(r, accuracy(r.id))) },
      charts: [
        { id: 'accuracy', title: `Test accuracy, ${DEPTH}-block residual MLP`, xLabel: 'step', yLabel: 'test accuracy', series: records.map((r) => evalSeries(r, (e) => e.testAccuracy)), guides: [{ y: 0.1, label: 'chance' }] },
        { id: 'loss', title: 'Training loss (window means)', xLabel: 'step', yLabel: 'cross entropy', yScale: 'log', series: records.map((r) => lossSeries(r)) },
      ],
    };
  },
});
