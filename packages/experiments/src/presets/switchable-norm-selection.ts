import type { EvalEvent } from '../train';
import { RUN_COLUMNS, evalSeries, finalTestAccuracy, mean, runRow, show } from './analysis';
import { SEED_SOURCE, linearScaledSgd, mnistData, stepsFor } from './common';
import { definePreset, type PresetMode, type PresetRun } from './preset';

const SAMPLES: Record<PresetMode, number> = { full: 24_000, reduced: 64 };
const BASE_LR = 0.1;
const STATISTICS = ['instance', 'layer', 'batch'] as const;

function run(norm: 'switchable-norm' | 'batch-norm', batchSize: number, mode: PresetMode, seed: number): PresetRun {
  const steps = stepsFor(SAMPLES[mode], batchSize);
  const sn = norm === 'switchable-norm';
  return {
    id: `${sn ? 'sn' : 'bn'}-b${batchSize}`,
    label: `${sn ? 'Switchable Norm' : 'BatchNorm'}, batch ${batchSize}`,
    role: !sn && batchSize === 32 ? 'control' : sn ? 'subject' : 'reference',
    config: {
      task: 'classification',
      dataset: mnistData(mode),
      model: { name: 'cnn', options: { channels: 8, stages: 2 } },
      norms: { conv: { name: norm } },
      ...linearScaledSgd(BASE_LR, batchSize),
      batchSize,
      steps,
      evalEvery: Math.max(1, Math.floor(steps / 6)),
      evalSamples: mode === 'full' ? 500 : 20,
      seed,
    },
  };
}

type Importance = Record<'mean' | 'variance', Record<(typeof STATISTICS)[number], number>>;

/** The importance of each statistic per Switchable Norm layer at an evaluation (the engine's `importance` probe). */
function importanceOf(event: EvalEvent | undefined): Record<string, Importance> {
  return (event?.probes.importance ?? {}) as unknown as Record<string, Importance>;
}

/** Mean weight of the batch statistics over layers, for means and variances together. */
function batchShare(event: EvalEvent | undefined): number {
  const layers = Object.values(importanceOf(event));
  return mean(layers.flatMap((layer) => [layer.mean.batch, layer.variance.batch]));
}

/** Switchable Norm's learned choice between instance, layer and batch statistics, at batch 2 and 32. */
export const switchableNormSelection = definePreset({
  name: 'switchable-norm-selection',
  title: 'Switchable Norm learns to rely less on batch statistics at small batches',
  claim: {
    quote: 'Switchable Normalization: learns to combine BatchNorm, LayerNorm, and InstanceNorm using learned weights; adaptively selects the best normalization for each layer; adds minimal parameters but increases complexity',
    section: 'Group and Instance Normalization',
    source: SEED_SOURCE,
  },
  method:
    'The MNIST CNN of frn-batch-one (conv 8 and 16 channels, 14x14 digits) with Switchable Norm or BatchNorm after each convolution, trained on ' +
    '24,000 samples at batch 2 and 32 with SGD (momentum 0.9) at lr 0.1 x batch / 32. Read at the end: the softmax importance Switchable Norm gives ' +
    'to instance, layer and batch statistics in each layer (for the means and the variances), and eval-mode test accuracy on 500 digits. Small ' +
    'batches make batch statistics noisy (batch-norm-small-batch), so an adaptive choice should move weight away from them.',
  seed: 0,
  requires: { plugins: ['switchable-norm', 'batch-norm'], resources: ['mnist'] },
  criteria: [
    { id: 'control', kind: 'control', statement: 'BatchNorm at batch 32 trains (positive control)', metric: 'test accuracy, BN batch 32', comparison: '>=', threshold: 0.8 },
    {
      id: 'adapts', kind: 'claim', statement: 'at batch 2 the batch statistics get at least 0.1 less importance than at batch 32',
      metric: 'batch importance (mean over layers, means and variances): batch 32 - batch 2', comparison: '>=', threshold: 0.1,
    },
    {
      id: 'not-worse', kind: 'claim', statement: 'at batch 2 Switchable Norm is at least as accurate as BatchNorm (within 1 point)',
      metric: 'accuracy(SN, 2) - accuracy(BN, 2)', comparison: '>=', threshold: -0.01,
    },
  ],
  plan: (mode, seed = 0) => ({ runs: [run('batch-norm', 32, mode, seed), run('switchable-norm', 32, mode, seed), run('switchable-norm', 2, mode, seed), run('batch-norm', 2, mode, seed)] }),
  analyze: ({ runs, evals }) => {
    const accuracy = (id: string) => finalTestAccuracy(runs[id]!, 0.1);
    const share = (id: string) => batchShare(evals[id]!.at(-1));
    const rows = ['sn-b2', 'sn-b32'].flatMap((id) =>
      Object.entries(importanceOf(evals[id]!.at(-1))).map(([layer, importance]) => [
        `batch ${runs[id]!.config.batchSize}`, layer, ...STATISTICS.map((s) => Number(importance.mean[s].toFixed(3))), ...STATISTICS.map((s) => Number(importance.variance[s].toFixed(3))),
      ]),
    );
    const shareCurve = (id: string) => ({
      label: runs[id]!.label,
      points: evals[id]!.map((e) => [e.step * runs[id]!.config.batchSize, batchShare(e)] as [number, number]),
      style: 'line+points' as const,
    });
    return {
      measured: { control: accuracy('bn-b32'), adapts: share('sn-b32') - share('sn-b2'), 'not-worse': accuracy('sn-b2') - accuracy('bn-b2') },
      details: {
        adapts: `${show(share('sn-b32'))} - ${show(share('sn-b2'))}`,
        'not-worse': `${show(accuracy('sn-b2'))} - ${show(accuracy('bn-b2'))}`,
      },
      table: { columns: RUN_COLUMNS, rows: Object.values(runs).map((r) => runRow(r, accuracy(r.id))) },
      charts: [
        { id: 'batch-share', title: 'Importance of batch statistics during training', xLabel: 'samples seen', yLabel: 'batch importance (mean over layers)', yRange: [0, 1], series: ['sn-b2', 'sn-b32'].map(shareCurve), guides: [{ y: 1 / 3, label: 'start (1/3)' }] },
        { id: 'accuracy', title: 'Test accuracy (eval mode) vs samples seen', xLabel: 'samples seen', yLabel: 'test accuracy', series: Object.values(runs).map((r) => evalSeries(r, (e) => e.testAccuracy, r.label, r.config.batchSize)) },
      ],
      tables: [
        {
          title: 'Learned importance per layer at the end (softmax weights; each triple sums to 1)',
          table: { columns: ['run', 'layer', 'mean: instance', 'mean: layer', 'mean: batch', 'variance: instance', 'variance: layer', 'variance: batch'], rows },
        },
      ],
    };
  },
});
