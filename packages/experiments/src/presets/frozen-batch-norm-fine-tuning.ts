import { RUN_COLUMNS, evalSeries, finalTestAccuracy, runRow, show } from './analysis';
import { definePreset, type PresetMode, type PresetRun } from './preset';
import { MNIST_MLP, mnistBudgetConfig } from './runs';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

/** Pre-training: digits 0-4 at batch 32. Fine-tuning: digits 5-9, a fresh head, every other weight from pre-training. */
const PRETRAIN_SAMPLES: Record<PresetMode, number> = { full: 8_000, reduced: 96 };
const FINETUNE_SAMPLES: Record<PresetMode, number> = { full: 4_000, reduced: 48 };
const BASE_LR = 0.1;
/** Two standard errors of a test accuracy near 0.9 on 1,000 digits: the smallest difference this test can see. */
const MARGIN = 0.02;
/** "Poor" at batch 2: the 5-point loss the small-batch presets use. */
const DROP = 0.05;
const EVAL_SAMPLES = { full: 1000, reduced: 50 };

type RunId = 'pretrain' | 'frozen-b2' | 'live-b2' | 'live-b32';

function run(id: RunId, mode: PresetMode, seed: number): PresetRun {
  if (id === 'pretrain') {
    return {
      id, label: 'pre-training on digits 0-4 (BatchNorm, batch 32)', role: 'control',
      config: mnistBudgetConfig({ mode, seed, model: MNIST_MLP, norms: { hidden: { name: 'batch-norm' } }, batchSize: 32, samples: PRETRAIN_SAMPLES, baseLr: BASE_LR, evals: 4, evalSamples: EVAL_SAMPLES, digits: '0-4' }),
    };
  }
  const frozen = id === 'frozen-b2';
  const batchSize = id === 'live-b32' ? 32 : 2;
  return {
    id,
    label: `fine-tuning on digits 5-9, ${frozen ? 'FrozenBatchNorm' : 'live BatchNorm'}, batch ${batchSize}`,
    role: id === 'live-b32' ? 'control' : 'subject',
    config: mnistBudgetConfig({
      mode, seed, model: MNIST_MLP, norms: { hidden: { name: frozen ? 'frozen-batch-norm' : 'batch-norm' } }, batchSize, samples: FINETUNE_SAMPLES,
      baseLr: BASE_LR, evals: 4, evalSamples: EVAL_SAMPLES, digits: '5-9',
    }),
    // A BatchNorm's weight, bias and running statistics load into a FrozenBatchNorm's buffers of the same names.
    initFrom: { run: 'pretrain', except: ['head'], ...(frozen ? { rename: { 'frozen-batch-norm': 'batch-norm' } } : {}) },
  };
}

/**
 * Fine-tuning a BatchNorm network at batch 2 with its BatchNorms frozen (torchvision's
 * FrozenBatchNorm2d, the detection practice) against the same network with live BatchNorm.
 */
export const frozenBatchNormFineTuning = definePreset({
  name: 'frozen-batch-norm-fine-tuning',
  title: 'Frozen BatchNorm lets a BatchNorm network be fine-tuned at batch 2',
  claim: {
    quote:
      "BN's error increases rapidly when the batch size becomes smaller, caused by inaccurate batch statistics estimation. This limits BN's usage for training larger models and " +
      'transferring features to computer vision tasks including detection, segmentation, and video, which require small batches constrained by memory consumption. ' +
      '[torchvision.ops.FrozenBatchNorm2d:] BatchNorm2d where the batch statistics and the affine parameters are fixed',
    section: 'Abstract (Wu and He); the FrozenBatchNorm2d docstring (torchvision), the fix detection fine-tuning uses',
    source: 'Wu and He, "Group Normalization", ECCV 2018; torchvision.ops.FrozenBatchNorm2d',
  },
  method:
    'An MLP (3 hidden layers of 64, BatchNorm after every hidden Linear, ReLU) is pre-trained on 14x14 MNIST digits 0-4 (2,000 train images) for 8,000 samples at batch 32 ' +
    'with SGD (momentum 0.9) at lr 0.1. It is then fine-tuned on digits 5-9 (2,000 train, 1,000 test images) for 4,000 samples with a fresh head and every other weight ' +
    'and statistic copied from pre-training, at lr 0.1 x batch / 32: with FrozenBatchNorm (pre-trained statistics and affine fixed) at batch 2, with live BatchNorm ' +
    '(batch statistics, running averages updated) at batch 2, and with live BatchNorm at batch 32 (the positive control: what fine-tuning reaches where BatchNorm ' +
    `works). Test accuracy in eval mode on the 1,000 test images of digits 5-9. "Within" is ${MARGIN * 100} points (two standard errors); "poor" ${DROP * 100} points. ` +
    'Five seeds; each criterion must hold on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['batch-norm', 'frozen-batch-norm'], resources: ['mnist'] },
  criteria: [
    { id: 'pretrain', kind: 'control', statement: 'pre-training on digits 0-4 trains (positive control)', metric: 'test accuracy on digits 0-4 after pre-training', comparison: '>=', threshold: 0.85 },
    { id: 'live-b32', kind: 'control', statement: 'fine-tuning with live BatchNorm at batch 32 trains (positive control)', metric: 'test accuracy on digits 5-9 (live BN, batch 32)', comparison: '>=', threshold: 0.85 },
    {
      id: 'frozen-matches', kind: 'claim', statement: `FrozenBatchNorm at batch 2 fine-tunes to within ${MARGIN * 100} points of live BatchNorm at batch 32`,
      metric: 'accuracy(live BN, 32) - accuracy(FrozenBN, 2)', comparison: '<=', threshold: MARGIN,
    },
    {
      id: 'frozen-beats-live', kind: 'claim', statement: `at batch 2, FrozenBatchNorm fine-tunes at least ${DROP * 100} points better than live BatchNorm`,
      metric: 'accuracy(FrozenBN, 2) - accuracy(live BN, 2)', comparison: '>=', threshold: DROP,
    },
  ],
  plan: (mode, seed = 0) => ({ runs: (['pretrain', 'frozen-b2', 'live-b2', 'live-b32'] as const).map((id) => run(id, mode, seed)) }),
  analyze: ({ runs }) => {
    // A diverged run did not train: chance among the five digits it is tested on.
    const accuracy = (id: string): number => finalTestAccuracy(runs[id]!, 0.2);
    return {
      measured: {
        pretrain: accuracy('pretrain'),
        'live-b32': accuracy('live-b32'),
        'frozen-matches': accuracy('live-b32') - accuracy('frozen-b2'),
        'frozen-beats-live': accuracy('frozen-b2') - accuracy('live-b2'),
      },
      details: {
        'frozen-matches': `${show(accuracy('live-b32'))} - ${show(accuracy('frozen-b2'))}`,
        'frozen-beats-live': `${show(accuracy('frozen-b2'))} - ${show(accuracy('live-b2'))}`,
      },
      table: { columns: RUN_COLUMNS, rows: Object.values(runs).map((r) => runRow(r, accuracy(r.id))) },
      charts: [
        {
          id: 'fine-tuning', title: 'Fine-tuning on digits 5-9: test accuracy (same 4,000 samples)', xLabel: 'samples seen', yLabel: 'test accuracy',
          series: Object.values(runs).filter((r) => r.id !== 'pretrain').map((r) => evalSeries(r, (e) => e.testAccuracy, r.label, r.config.batchSize)),
          guides: [{ y: 0.2, label: 'chance (5 digits)' }],
        },
      ],
    };
  },
});
