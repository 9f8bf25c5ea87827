import { RUN_COLUMNS, finalTestAccuracy, runRow, show } from './analysis';
import { SEED_SOURCE } from './common';
import { definePreset, type PresetMode } from './preset';
import { learningRateRun } from './runs';

/** Learning rates 0.01 x 2^k: a factor-2 grid, so a 2x wider stable range shows as one more grid point. */
const LEARNING_RATES: Record<PresetMode, number[]> = {
  full: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56],
  reduced: [0.01, 0.16, 2.56],
};
/** "Trains" means at least this test accuracy after the step budget. */
const TRAINED = 0.85;

const run = learningRateRun;

/**
 * The largest learning rate at which a 4-layer MLP still trains, with and without BatchNorm.
 */
export const batchNormLearningRate = definePreset({
  name: 'batch-norm-learning-rate',
  title: 'BatchNorm tolerates a 2-10x larger learning rate',
  claim: {
    quote: 'Benefits Beyond Normalization: BatchNorm acts as regularization (noise from batch statistics), enables higher learning rates (2-10× larger), and smooths the loss landscape',
    section: 'Batch Normalization Deep Dive',
    source: SEED_SOURCE,
  },
  method:
    `An MLP (4 hidden layers of 64, ReLU) on 14x14 MNIST (2,000 train, 1,000 test), with no normalization or with BatchNorm after every hidden ` +
    `Linear, trained for 300 steps at batch 32 with SGD (momentum 0.9) at each learning rate 0.01 x 2^k up to 2.56. A run "trains" when its ` +
    `test accuracy reaches ${TRAINED} (a diverged run does not). The claim is measured as the ratio of the largest learning rate that trains with ` +
    'BatchNorm to the largest without.',
  seed: 0,
  requires: { plugins: ['batch-norm'], resources: ['mnist'] },
  criteria: [
    { id: 'plain-control', kind: 'control', statement: `without normalization the MLP trains at some learning rate of the grid (test accuracy >= ${TRAINED})`, metric: 'best test accuracy, no normalization', comparison: '>=', threshold: TRAINED },
    { id: 'bn-control', kind: 'control', statement: `with BatchNorm the MLP trains at some learning rate of the grid (test accuracy >= ${TRAINED})`, metric: 'best test accuracy, BatchNorm', comparison: '>=', threshold: TRAINED },
    {
      id: 'lr-ratio', kind: 'claim', statement: 'the largest learning rate that trains is at least 2x larger with BatchNorm',
      metric: 'max trainable lr (BatchNorm) / max trainable lr (none)', comparison: '>=', threshold: 2, unit: 'x',
    },
  ],
  plan: (mode, seed = 0) => ({ runs: (['none', 'batch-norm'] as const).flatMap((norm) => LEARNING_RATES[mode].map((lr) => run(norm, lr, mode, seed))) }),
  analyze: ({ runs, mode }) => {
    const rates = LEARNING_RATES[mode];
    // A diverged run did not train: chance level of 10 classes.
    const accuracy = (prefix: string, lr: number) => finalTestAccuracy(runs[`${prefix}-lr${lr}`]!, 0.1);
    const best = (prefix: string) => Math.max(...rates.map((lr) => accuracy(prefix, lr)));
    const largestTrained = (prefix: string) => {
      const trained = rates.filter((lr) => accuracy(prefix, lr) >= TRAINED);
      return trained.length ? Math.max(...trained) : Number.NaN;
    };
    const plain = largestTrained('plain');
    const bn = largestTrained('bn');
    const series = (prefix: string, label: string) => ({ label, points: rates.map((lr) => [lr, accuracy(prefix, lr)] as [number, number]), style: 'line+points' as const });
    const divergedAt = (prefix: string) => rates.filter((lr) => runs[`${prefix}-lr${lr}`]!.status === 'diverged');
    return {
      measured: { 'plain-control': best('plain'), 'bn-control': best('bn'), 'lr-ratio': bn / plain },
      details: { 'lr-ratio': `${show(bn)} / ${show(plain)}` },
      table: { columns: RUN_COLUMNS, rows: Object.values(runs).map((r) => runRow(r, accuracy(r.id.startsWith('bn') ? 'bn' : 'plain', r.config.lr))) },
      charts: [
        {
          id: 'accuracy-vs-lr', title: 'Test accuracy after 300 steps vs learning rate', xLabel: 'learning rate (SGD, momentum 0.9)', yLabel: 'test accuracy', xScale: 'log', xTicks: rates,
          series: [series('plain', 'no normalization'), series('bn', 'BatchNorm')], guides: [{ y: TRAINED, label: 'trains' }, { y: 0.1, label: 'chance' }],
        },
      ],
      notes: [
        `Diverged (non-finite loss): no normalization at lr ${divergedAt('plain').join(', ') || 'none'}; BatchNorm at lr ${divergedAt('bn').join(', ') || 'none'}.`,
        'The grid has factor-2 steps, so the measured ratio is a power of 2 and resolves the claimed range only to that factor.',
      ],
    };
  },
});
