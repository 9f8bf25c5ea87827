import { RUN_COLUMNS, finalEval, finalTestAccuracy, mean, runRow, show } from './analysis';
import { SEED_SOURCE } from './common';
import { definePreset, type PresetMode, type PresetRun, type ResultTable, type RunRecord } from './preset';
import { BN_GN_NORMS, MNIST_MLP, mnistBudgetConfig } from './runs';

const BATCH_SIZES = [2, 4, 8, 16, 32] as const;
const SMALL = [2, 4] as const;
const SAMPLES: Record<PresetMode, number> = { full: 16_000, reduced: 96 };
const BASE_LR = 0.1;

function run(norm: 'batch-norm' | 'group-norm', batchSize: number, mode: PresetMode, seed: number): PresetRun {
  const bn = norm === 'batch-norm';
  return {
    id: `${bn ? 'bn' : 'gn'}-b${batchSize}`,
    label: `${bn ? 'BatchNorm' : 'GroupNorm'}, batch ${batchSize}`,
    role: bn ? (batchSize === 32 ? 'control' : 'subject') : 'reference',
    // The gap is measured at every evaluation: 8 points along training.
    config: mnistBudgetConfig({ mode, seed, model: MNIST_MLP, norms: { hidden: BN_GN_NORMS[bn ? 'bn' : 'gn'].choice }, batchSize, samples: SAMPLES, baseLr: BASE_LR, evals: 8, evalSamples: { full: 1000, reduced: 50 } }),
  };
}

/**
 * The train/eval discrepancy of BatchNorm: the same training samples scored with batch
 * statistics (train mode, batches of the training size) and with the running averages (eval
 * mode). The engine measures both at every evaluation (`EvalEvent.gap`), running averages restored.
 */
export const batchNormTrainEvalGap = definePreset({
  name: 'batch-norm-train-eval-gap',
  title: "BatchNorm's train/eval gap grows at small batches",
  claim: {
    quote:
      'Training vs Inference Discrepancy: during training, normalizes using batch statistics (mean and variance computed from current mini-batch); ' +
      'during inference, uses running statistics accumulated during training; this train-test mismatch can cause performance degradation when ' +
      'test distribution differs from training or batch size is very small',
    section: 'Batch Normalization Deep Dive',
    source: SEED_SOURCE,
  },
  method:
    'The MNIST MLP of batch-norm-small-batch (3 x 64, BatchNorm after every hidden Linear, 16,000 samples, SGD at lr 0.1 x batch / 32) at batch sizes ' +
    '2 to 32. At each of 8 evaluations the same 1,000 training digits are scored twice: in train mode (batch statistics, batches of the training ' +
    'size) and in eval mode (running statistics). The mismatch is |train-mode loss - eval-mode loss|; degradation means eval mode is less accurate ' +
    'than train mode. GroupNorm at batch 4 is the batch-independent reference (its gap is 0 by construction).',
  seed: 0,
  requires: { plugins: ['batch-norm', 'group-norm'], resources: ['mnist'] },
  criteria: [
    { id: 'control', kind: 'control', statement: 'BatchNorm at batch 32 trains (positive control)', metric: 'test accuracy (BN, batch 32)', comparison: '>=', threshold: 0.85 },
    {
      id: 'mismatch-grows', kind: 'claim', statement: 'the train/eval loss mismatch at a batch size below 8 is at least 3x the one at batch 32',
      metric: 'max over batch 2, 4 of |gap loss| / |gap loss at batch 32|', comparison: '>=', threshold: 3, unit: 'x',
    },
    {
      id: 'inference-degrades', kind: 'claim', statement: 'below batch 8, eval mode (running statistics) is at least 1 point less accurate than train mode',
      metric: 'mean over batch 2, 4 of (train-mode accuracy - eval-mode accuracy)', comparison: '>=', threshold: 0.01,
    },
  ],
  plan: (mode, seed = 0) => ({ runs: [...BATCH_SIZES.map((b) => run('batch-norm', b, mode, seed)), run('group-norm', 4, mode, seed)] }),
  analyze: ({ runs }) => {
    const last = (b: number) => finalEval(runs[`bn-b${b}`]!);
    const mismatch = (b: number) => Math.abs(last(b)?.gapLoss ?? Number.NaN);
    const degradation = (b: number) => last(b)?.gapAccuracy ?? Number.NaN;
    const smallest = Math.max(...SMALL.map(mismatch));
    const ratio = smallest / mismatch(32);
    const meanDegradation = mean(SMALL.map(degradation));
    const gapCurve = (b: number) => ({
      label: `batch ${b}`,
      points: runs[`bn-b${b}`]!.evals.map((e) => [e.step * b, Math.abs(e.gapLoss)] as [number, number]),
      style: 'line+points' as const,
    });
    const byBatch = (pick: (b: number) => number, label: string) => ({ label, points: BATCH_SIZES.map((b) => [b, pick(b)] as [number, number]), style: 'line+points' as const });
    return {
      measured: { control: finalTestAccuracy(runs['bn-b32']!, 0.1), 'mismatch-grows': ratio, 'inference-degrades': meanDegradation },
      details: {
        'mismatch-grows': `max(${SMALL.map((b) => show(mismatch(b))).join(', ')}) / ${show(mismatch(32))}`,
        'inference-degrades': `mean(${SMALL.map((b) => show(degradation(b))).join(', ')})`,
      },
      table: trainEvalModeTable(runs),
      charts: [
        { id: 'mismatch-vs-batch', title: 'Train/eval loss mismatch at the end vs batch size', xLabel: 'batch size', yLabel: '|train-mode loss - eval-mode loss|', xScale: 'log', xTicks: [...BATCH_SIZES], series: [byBatch(mismatch, 'BatchNorm')] },
        {
          id: 'modes-vs-batch', title: 'Accuracy on training digits: train mode vs eval mode', xLabel: 'batch size', yLabel: 'accuracy', xScale: 'log', xTicks: [...BATCH_SIZES],
          series: [byBatch((b) => (last(b)?.trainAccuracy ?? Number.NaN) + degradation(b), 'train mode (batch statistics)'), byBatch((b) => last(b)?.trainAccuracy ?? Number.NaN, 'eval mode (running statistics)')],
        },
        { id: 'mismatch-curves', title: 'Train/eval loss mismatch during training', xLabel: 'samples seen', yLabel: '|gap loss|', yScale: 'log', series: BATCH_SIZES.map(gapCurve) },
      ],
    };
  },
});

/** Each run's row with its final accuracy on training digits in train mode and eval mode and the |gap loss| (the train/eval-gap presets' table). */
export function trainEvalModeTable(runs: Readonly<Record<string, RunRecord>>): ResultTable {
  return {
    columns: [...RUN_COLUMNS, 'train-mode acc', 'eval-mode acc', '|gap loss|'],
    rows: Object.values(runs).map((r) => {
      const e = finalEval(r);
      return [...runRow(r), e ? Number((e.trainAccuracy + e.gapAccuracy).toFixed(4)) : null, e ? Number(e.trainAccuracy.toFixed(4)) : null, e ? Number(Math.abs(e.gapLoss).toFixed(4)) : null];
    }),
  };
}
