import { RUN_COLUMNS, evalSeries, finalTestAccuracy, runRow, show } from './analysis';
import { SEED_SOURCE } from './common';
import { definePreset, type PresetMode, type PresetRun, type RunRecord } from './preset';
import { BN_GN_NORMS, MNIST_MLP, mnistBudgetConfig } from './runs';

const BATCH_SIZES = [2, 4, 8, 16, 32] as const;
/** Training samples seen by every run: the same data budget at every batch size (Wu and He, 2018). */
const SAMPLES: Record<PresetMode, number> = { full: 16_000, reduced: 96 };
const BASE_LR = 0.1;

const NORMS = BN_GN_NORMS;

function run(norm: 'bn' | 'gn', batchSize: number, mode: PresetMode, seed: number): PresetRun {
  return {
    id: `${norm}-b${batchSize}`,
    label: `${NORMS[norm].label}, batch ${batchSize}`,
    role: batchSize === 32 ? 'control' : batchSize === 2 ? 'subject' : 'reference',
    config: mnistBudgetConfig({ mode, seed, model: MNIST_MLP, norms: { hidden: NORMS[norm].choice }, batchSize, samples: SAMPLES, baseLr: BASE_LR, evals: 4, evalSamples: { full: 1000, reduced: 50 } }),
  };
}

/**
 * BatchNorm vs GroupNorm across batch sizes 2-32 on MNIST: the claim that BatchNorm degrades
 * below batch size 8 while a batch-independent normalizer does not.
 */
export const batchNormSmallBatch = definePreset({
  name: 'batch-norm-small-batch',
  title: 'BatchNorm degrades below batch size 8; GroupNorm does not',
  claim: {
    quote:
      'Batch Size Sensitivity: small batches (<8) produce noisy statistics leading to poor normalization [...] ' +
      'Group Normalization: [...] batch-independent, making it suitable for small-batch training',
    section: 'Batch Normalization Deep Dive; Group and Instance Normalization',
    source: SEED_SOURCE,
  },
  method:
    'An MLP (3 hidden layers of 64, ReLU) on 14x14 MNIST digits (2,000 train, 1,000 test) with BatchNorm or GroupNorm ' +
    '(8 groups) after every hidden Linear, trained at batch sizes 2, 4, 8, 16 and 32 on the same budget of 16,000 samples ' +
    '(8 epochs) with SGD (momentum 0.9) at lr 0.1 x batch / 32, the linear scaling rule of Wu and He\'s GroupNorm study. ' +
    'Test accuracy is measured in eval mode (BatchNorm with its running statistics, as deployed).',
  seed: 0,
  requires: { plugins: ['batch-norm', 'group-norm'], resources: ['mnist'] },
  criteria: [
    { id: 'bn-control', kind: 'control', statement: 'BatchNorm at batch 32 trains (positive control)', metric: 'test accuracy (BN, batch 32)', comparison: '>=', threshold: 0.85 },
    { id: 'gn-control', kind: 'control', statement: 'GroupNorm at batch 32 trains (positive control)', metric: 'test accuracy (GN, batch 32)', comparison: '>=', threshold: 0.8 },
    {
      id: 'bn-degrades', kind: 'claim', statement: 'BatchNorm at batch 2 loses at least 5 points of test accuracy against batch 32',
      metric: 'accuracy(BN, 32) - accuracy(BN, 2)', comparison: '>=', threshold: 0.05,
    },
    {
      id: 'gn-holds', kind: 'claim', statement: 'GroupNorm at batch 2 loses at most 2 points against batch 32',
      metric: 'accuracy(GN, 32) - accuracy(GN, 2)', comparison: '<=', threshold: 0.02,
    },
  ],
  plan: (mode, seed = 0) => ({ runs: (['bn', 'gn'] as const).flatMap((norm) => BATCH_SIZES.map((b) => run(norm, b, mode, seed))) }),
  analyze: ({ runs }) => {
    // A run that diverged did not train: chance level (10 classes).
    const accuracy = (id: string): number => finalTestAccuracy(runs[id]!, 0.1);
    const drop = (norm: string): number => accuracy(`${norm}-b32`) - accuracy(`${norm}-b2`);
    const perBatch = (norm: 'bn' | 'gn') => ({
      label: NORMS[norm].label,
      points: BATCH_SIZES.map((b) => [b, accuracy(`${norm}-b${b}`)] as [number, number]),
      style: 'line+points' as const,
    });
    const samplesSeen = (record: RunRecord) => evalSeries(record, (e) => e.testAccuracy, `batch ${record.config.batchSize}`, record.config.batchSize);
    return {
      measured: { 'bn-control': accuracy('bn-b32'), 'gn-control': accuracy('gn-b32'), 'bn-degrades': drop('bn'), 'gn-holds': drop('gn') },
      details: {
        'bn-degrades': `${show(accuracy('bn-b32'))} - ${show(accuracy('bn-b2'))}`,
        'gn-holds': `${show(accuracy('gn-b32'))} - ${show(accuracy('gn-b2'))}`,
      },
      table: { columns: RUN_COLUMNS, rows: Object.values(runs).map((r) => runRow(r, accuracy(r.id))) },
      charts: [
        { id: 'accuracy-vs-batch', title: 'Test accuracy vs batch size (same 16,000 samples)', xLabel: 'batch size', yLabel: 'test accuracy', xScale: 'log', xTicks: [...BATCH_SIZES], series: [perBatch('bn'), perBatch('gn')], guides: [{ y: 0.1, label: 'chance' }] },
        { id: 'bn-curves', title: 'BatchNorm: test accuracy during training', xLabel: 'samples seen', yLabel: 'test accuracy', series: BATCH_SIZES.map((b) => samplesSeen(runs[`bn-b${b}`]!)) },
        { id: 'gn-curves', title: 'GroupNorm: test accuracy during training', xLabel: 'samples seen', yLabel: 'test accuracy', series: BATCH_SIZES.map((b) => samplesSeen(runs[`gn-b${b}`]!)) },
      ],
      notes: [
        'With 2 samples, BatchNorm over features maps every feature to -1 or +1 in training (each is normalised by the mean and spread of two values), which is the extreme of "noisy statistics".',
      ],
    };
  },
});
