import type { PluginChoice } from '../models/norm-slot';
import { RUN_COLUMNS, evalSeries, finalTestAccuracy, runRow, show } from './analysis';
import { SEED_SOURCE, mnistData } from './common';
import { definePreset, type PresetMode, type PresetRun } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

/** A learning rate well above where a plain 4-layer MLP stops training in batch-norm-learning-rate (0.08-0.16 there), and deeper. */
const LR = 0.5;
const DEPTH = 8;
/** The claim's range of "aggressive" clip values, both ends. */
const CLIPS = [0.01, 0.1] as const;

type Kind = 'plain' | 'bn' | `clip-${(typeof CLIPS)[number]}`;

function run(kind: Kind, mode: PresetMode, seed: number): PresetRun {
  const steps = mode === 'full' ? 400 : 4;
  const clip: PluginChoice | null = kind.startsWith('clip-') ? { name: 'clip-grad-norm', options: { maxNorm: Number(kind.slice(5)) } } : null;
  return {
    id: kind,
    label: kind === 'plain' ? 'no normalization' : kind === 'bn' ? 'BatchNorm' : `no normalization, gradient norm clipped at ${kind.slice(5)}`,
    role: kind === 'bn' ? 'control' : kind === 'plain' ? 'reference' : 'subject',
    config: {
      task: 'classification',
      dataset: mnistData(mode),
      model: { name: 'mlp', options: { width: 64, depth: mode === 'full' ? DEPTH : 2 } },
      norms: { hidden: { name: kind === 'bn' ? 'batch-norm' : 'none' } },
      ...(clip ? { gradientTransforms: [clip] } : {}),
      optimizer: { name: 'sgd', options: { momentum: 0.9 } },
      lr: LR,
      batchSize: 32,
      steps,
      evalEvery: Math.max(1, Math.floor(steps / 8)),
      evalSamples: mode === 'full' ? 1000 : 50,
      seed,
    },
  };
}

/** A deep plain MLP at a learning rate where it fails, with and without aggressive gradient clipping, against BatchNorm. */
export const gradientClippingSubstitute = definePreset({
  name: 'gradient-clipping-substitute',
  title: 'Aggressive gradient clipping partially substitutes for normalization',
  claim: {
    quote: "Gradient Clipping: aggressive gradient clipping (clip at small values like 0.01-0.1) can partially substitute for normalization's gradient stabilization effect",
    section: 'Normalization-Free Networks',
    source: SEED_SOURCE,
  },
  method:
    `An MLP of ${DEPTH} hidden layers of 64 (ReLU) on 14x14 MNIST (2,000 train, 1,000 test), 400 steps at batch 32 with SGD (momentum 0.9) at ` +
    `lr ${LR}: without normalization (expected to fail at this rate: a control that the regime is reached), with BatchNorm after every hidden ` +
    `Linear (positive control), and without normalization but with the global gradient norm clipped at ${CLIPS.join(' and ')} (torch's ` +
    'clip_grad_norm_), the ends of the claimed range. "Partially substitutes": the better clipped run trains (at least 20 points above the ' +
    'unclipped one) but stays at least 2 points below BatchNorm. Five seeds; each criterion must hold on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['batch-norm', 'clip-grad-norm'], resources: ['mnist'] },
  criteria: [
    { id: 'bn-control', kind: 'control', statement: `BatchNorm trains at lr ${LR} (positive control)`, metric: 'test accuracy, BatchNorm', comparison: '>=', threshold: 0.85 },
    { id: 'plain-fails', kind: 'control', statement: `without normalization the MLP does not train at lr ${LR} (the regime is reached)`, metric: 'test accuracy, no normalization (diverged: 0.1)', comparison: '<=', threshold: 0.5 },
    {
      id: 'clip-rescues', kind: 'claim', statement: 'aggressive clipping gains at least 20 points over the unclipped plain network',
      metric: 'max over clip values of accuracy(clipped) - accuracy(plain)', comparison: '>=', threshold: 0.2,
    },
    {
      id: 'clip-partial', kind: 'claim', statement: 'and stays at least 2 points below BatchNorm (a partial substitute)',
      metric: 'accuracy(BN) - max over clip values of accuracy(clipped)', comparison: '>=', threshold: 0.02,
    },
  ],
  plan: (mode, seed = 0) => ({ runs: [run('bn', mode, seed), run('plain', mode, seed), ...CLIPS.map((c) => run(`clip-${c}`, mode, seed))] }),
  analyze: ({ runs }) => {
    const accuracy = (id: string) => finalTestAccuracy(runs[id]!, 0.1);
    const bestClip = Math.max(...CLIPS.map((c) => accuracy(`clip-${c}`)));
    return {
      measured: {
        'bn-control': accuracy('bn'),
        'plain-fails': accuracy('plain'),
        'clip-rescues': bestClip - accuracy('plain'),
        'clip-partial': accuracy('bn') - bestClip,
      },
      details: {
        'clip-rescues': `${show(bestClip)} - ${show(accuracy('plain'))} (clip ${CLIPS.map((c) => `${c}: ${show(accuracy(`clip-${c}`))}`).join(', ')})`,
        'clip-partial': `${show(accuracy('bn'))} - ${show(bestClip)}`,
      },
      table: { columns: RUN_COLUMNS, rows: Object.values(runs).map((r) => runRow(r, accuracy(r.id))) },
      charts: [
        { id: 'accuracy', title: `Test accuracy during training (lr ${LR})`, xLabel: 'step', yLabel: 'test accuracy', series: Object.values(runs).map((r) => evalSeries(r, (e) => e.testAccuracy)), guides: [{ y: 0.1, label: 'chance' }] },
      ],
    };
  },
});
