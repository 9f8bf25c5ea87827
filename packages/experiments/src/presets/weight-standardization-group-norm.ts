import { RUN_COLUMNS, evalSeries, finalTestAccuracy, runRow, show } from './analysis';
import { SEED_SOURCE } from './common';
import { definePreset, type PresetMode, type PresetRun } from './preset';
import { MNIST_CNN, WS_GN_NORMS, WS_WEIGHTS, mnistBudgetConfig } from './runs';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

const SAMPLES: Record<PresetMode, number> = { full: 8_000, reduced: 48 };
const BASE_LR = 0.1;
/** Two standard errors of a test accuracy near 0.9 on 1,000 digits: the smallest difference this test can see. */
const MARGIN = 0.02;

type Kind = 'bn' | 'gn' | 'ws-gn';
const LABELS: Record<Kind, string> = { bn: 'BatchNorm', gn: 'GroupNorm (4 groups)', 'ws-gn': 'Weight Standardization + GroupNorm (4 groups)' };

function run(kind: Kind, batchSize: number, mode: PresetMode, seed: number): PresetRun {
  return {
    id: `${kind}-b${batchSize}`,
    label: `${LABELS[kind]}, batch ${batchSize}`,
    role: kind === 'bn' && batchSize === 32 ? 'control' : kind === 'gn' ? 'reference' : 'subject',
    config: mnistBudgetConfig({
      mode, seed, model: MNIST_CNN, norms: { conv: WS_GN_NORMS[kind === 'bn' ? 'bn' : 'gn'] }, ...(kind === 'ws-gn' ? { weights: WS_WEIGHTS } : {}),
      batchSize, samples: SAMPLES, baseLr: BASE_LR, evals: 4, evalSamples: { full: 1000, reduced: 20 },
    }),
  };
}

/**
 * Weight Standardization + GroupNorm at batch 2 against BatchNorm at batch 32 (Qiao et al., 2019):
 * the claim that the pair trains a CNN to BatchNorm's accuracy without BatchNorm where BatchNorm fails.
 */
export const weightStandardizationGroupNorm = definePreset({
  name: 'weight-standardization-group-norm',
  title: 'Weight Standardization + GroupNorm trains a CNN without BatchNorm at batch 2',
  claim: {
    quote: 'Weight Standardization: normalizes weight tensors to have zero mean and unit variance before convolution; combined with GroupNorm, enables training without BatchNorm; particularly effective for transfer learning and fine-tuning',
    section: 'Weight Normalization Techniques',
    source: SEED_SOURCE,
  },
  method:
    'A small CNN (conv 3x3 with 8 then 16 channels, normalizer, ReLU, max pool; global average pool; Linear head) on 14x14 MNIST digits ' +
    '(2,000 train, 1,000 test), trained on 8,000 samples with SGD (momentum 0.9) at lr 0.1 x batch / 32: BatchNorm at batch 32 (positive control) ' +
    'and at batch 2 (where BatchNorm should fail: a second control that the regime is reached), GroupNorm alone and Weight Standardization ' +
    `(on the convolutions) + GroupNorm at batch 2. "BatchNorm's accuracy" is within ${MARGIN * 100} points (two standard errors). The fine-tuning ` +
    'half of the claim (pre-train on some classes, fine-tune on the rest at batch 2) is not tested here: the engine has no class-split ' +
    'data set or weight transfer between runs yet. Five seeds; each criterion must hold on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['batch-norm', 'group-norm', 'weight-standardization'], resources: ['mnist'] },
  criteria: [
    { id: 'bn-control', kind: 'control', statement: 'BatchNorm at batch 32 trains (positive control)', metric: 'test accuracy (BN, batch 32)', comparison: '>=', threshold: 0.8 },
    {
      id: 'bn-fails', kind: 'control', statement: 'BatchNorm at batch 2 loses at least 5 points against batch 32 (the regime the claim is about is reached)',
      metric: 'accuracy(BN, 32) - accuracy(BN, 2)', comparison: '>=', threshold: 0.05,
    },
    {
      id: 'ws-gn-matches-bn', kind: 'claim', statement: `WS + GroupNorm at batch 2 is within ${MARGIN * 100} points of BatchNorm at batch 32`,
      metric: 'accuracy(BN, 32) - accuracy(WS+GN, 2)', comparison: '<=', threshold: MARGIN,
    },
    {
      id: 'ws-helps-gn', kind: 'claim', statement: `Weight Standardization adds at least ${MARGIN * 100} points to GroupNorm at batch 2 (the combination matters)`,
      metric: 'accuracy(WS+GN, 2) - accuracy(GN, 2)', comparison: '>=', threshold: MARGIN,
    },
  ],
  plan: (mode, seed = 0) => ({ runs: [run('bn', 32, mode, seed), run('bn', 2, mode, seed), run('gn', 2, mode, seed), run('ws-gn', 2, mode, seed)] }),
  analyze: ({ runs }) => {
    const accuracy = (id: string) => finalTestAccuracy(runs[id]!, 0.1);
    return {
      measured: {
        'bn-control': accuracy('bn-b32'),
        'bn-fails': accuracy('bn-b32') - accuracy('bn-b2'),
        'ws-gn-matches-bn': accuracy('bn-b32') - accuracy('ws-gn-b2'),
        'ws-helps-gn': accuracy('ws-gn-b2') - accuracy('gn-b2'),
      },
      details: {
        'bn-fails': `${show(accuracy('bn-b32'))} - ${show(accuracy('bn-b2'))}`,
        'ws-gn-matches-bn': `${show(accuracy('bn-b32'))} - ${show(accuracy('ws-gn-b2'))}`,
        'ws-helps-gn': `${show(accuracy('ws-gn-b2'))} - ${show(accuracy('gn-b2'))}`,
      },
      table: { columns: RUN_COLUMNS, rows: Object.values(runs).map((r) => runRow(r, accuracy(r.id))) },
      charts: [
        {
          id: 'accuracy', title: 'Test accuracy during training (same 8,000 samples)', xLabel: 'samples seen', yLabel: 'test accuracy',
          series: Object.values(runs).map((r) => evalSeries(r, (e) => e.testAccuracy, r.label, r.config.batchSize)), guides: [{ y: 0.1, label: 'chance' }],
        },
      ],
    };
  },
});
