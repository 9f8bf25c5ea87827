import { RUN_COLUMNS, evalSeries, finalTestAccuracy, runRow, show } from './analysis';
import { SEED_SOURCE, linearScaledSgd, mnistData, stepsFor } from './common';
import { definePreset, type PresetMode, type PresetRun } from './preset';

const SAMPLES: Record<PresetMode, number> = { full: 16_000, reduced: 64 };
const BASE_LR = 0.1;

function run(norm: 'filter-response-norm' | 'batch-norm', batchSize: number, mode: PresetMode, seed: number): PresetRun {
  const steps = stepsFor(SAMPLES[mode], batchSize);
  const frn = norm === 'filter-response-norm';
  return {
    id: `${frn ? 'frn' : 'bn'}-b${batchSize}`,
    label: `${frn ? 'FRN + TLU' : 'BatchNorm'}, batch ${batchSize}`,
    role: !frn && batchSize === 32 ? 'control' : batchSize === 1 ? 'subject' : 'reference',
    config: {
      task: 'classification',
      dataset: mnistData(mode),
      model: { name: 'cnn', options: { channels: 8, stages: 2 } },
      norms: { conv: { name: norm } },
      ...linearScaledSgd(BASE_LR, batchSize),
      batchSize,
      steps,
      evalEvery: Math.max(1, Math.floor(steps / 4)),
      // Evaluation runs in batches of the training size: 500 digits one by one are enough.
      evalSamples: mode === 'full' ? 500 : 20,
      seed,
    },
  };
}

/** A small CNN trained one image at a time with FRN + TLU, against BatchNorm at batch 1 and 32. */
export const frnBatchOne = definePreset({
  name: 'frn-batch-one',
  title: 'FRN trains a CNN at batch size 1',
  claim: {
    quote: 'Filter Response Normalization (FRN): eliminates batch dependence by normalizing using only spatial statistics within each channel; combined with Thresholded Linear Unit (TLU) activation; enables batch size 1 training for CNNs',
    section: 'Group and Instance Normalization',
    source: SEED_SOURCE,
  },
  method:
    'A CNN (conv 3x3 with 8 then 16 channels, each followed by the normalizer, ReLU and 2x2 max pool; global average pool; Linear) on 14x14 MNIST ' +
    '(2,000 train, 1,000 test), trained on 16,000 samples with SGD (momentum 0.9) at lr 0.1 x batch / 32. FRN + TLU and BatchNorm at batch 1 and 32; ' +
    'test accuracy in eval mode on 500 test digits. BatchNorm at batch 32 is the positive control.',
  seed: 0,
  requires: { plugins: ['filter-response-norm', 'batch-norm'], resources: ['mnist'] },
  criteria: [
    { id: 'control', kind: 'control', statement: 'BatchNorm at batch 32 trains (positive control)', metric: 'test accuracy, BN batch 32', comparison: '>=', threshold: 0.8 },
    { id: 'frn-trains', kind: 'claim', statement: 'FRN at batch 1 comes within 5 points of the BatchNorm batch-32 control', metric: 'accuracy(BN, 32) - accuracy(FRN, 1)', comparison: '<=', threshold: 0.05 },
    { id: 'frn-beats-bn', kind: 'claim', statement: 'FRN at batch 1 beats BatchNorm at batch 1 by at least 5 points', metric: 'accuracy(FRN, 1) - accuracy(BN, 1)', comparison: '>=', threshold: 0.05 },
  ],
  plan: (mode, seed = 0) => ({ runs: [run('batch-norm', 32, mode, seed), run('filter-response-norm', 1, mode, seed), run('batch-norm', 1, mode, seed), run('filter-response-norm', 32, mode, seed)] }),
  analyze: ({ runs }) => {
    const accuracy = (id: string) => finalTestAccuracy(runs[id]!, 0.1);
    const records = Object.values(runs);
    return {
      measured: {
        control: accuracy('bn-b32'),
        'frn-trains': accuracy('bn-b32') - accuracy('frn-b1'),
        'frn-beats-bn': accuracy('frn-b1') - accuracy('bn-b1'),
      },
      details: {
        'frn-trains': `${show(accuracy('bn-b32'))} - ${show(accuracy('frn-b1'))}`,
        'frn-beats-bn': `${show(accuracy('frn-b1'))} - ${show(accuracy('bn-b1'))}`,
      },
      table: {
        columns: [...RUN_COLUMNS, 'train-mode - eval-mode acc'],
        rows: records.map((r) => [...runRow(r), r.evals.length ? Number(r.evals.at(-1)!.gapAccuracy.toFixed(4)) : null]),
      },
      charts: [
        {
          id: 'accuracy', title: 'Test accuracy (eval mode) vs samples seen', xLabel: 'samples seen', yLabel: 'test accuracy',
          series: records.map((r) => evalSeries(r, (e) => e.testAccuracy, r.label, r.config.batchSize)), guides: [{ y: 0.1, label: 'chance' }],
        },
      ],
      notes: [
        'At batch 1, BatchNorm in a CNN still has H x W values per channel, so it trains (like InstanceNorm); its eval mode then uses running averages of those per-image statistics, which is where it differs from training. The last column shows that train-mode minus eval-mode accuracy on training digits.',
      ],
    };
  },
});
