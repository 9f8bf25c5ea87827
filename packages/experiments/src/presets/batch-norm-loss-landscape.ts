import { crossEntropy, type Parameter } from '@normkit/tensor';
import { batchInputs, batchMask, gatherBatch, type Batch } from '../datasets/dataset';
import type { Classifier } from '../models/model';
import { restoreBuffers, snapshotBuffers } from '../probes';
import type { Trainer } from '../train';
import { RUN_COLUMNS, finalTestAccuracy, median, runRow, show } from './analysis';
import { SEED_SOURCE, mnistData } from './common';
import { definePreset, type PresetMode, type PresetRun, type RunRecord } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

const LR = 0.05;
/** Step lengths along the gradient, in units of the learning rate (Santurkar et al. move up to a few learning rates). */
const MULTIPLIERS = [0.5, 1, 2, 4] as const;
/** Training digits of the fixed probe batch. */
const PROBE_SAMPLES = 256;

const probeBatches = new WeakMap<Trainer, Batch>();

function probeBatch(trainer: Trainer): Batch {
  let batch = probeBatches.get(trainer);
  if (!batch) {
    const count = Math.min(PROBE_SAMPLES, trainer.dataset.train.count);
    batch = gatherBatch(trainer.dataset, trainer.dataset.train, Int32Array.from({ length: count }, (_, i) => i));
    probeBatches.set(trainer, batch);
  }
  return batch;
}

/** Loss and flattened gradient (float64) of the model on `batch` in train mode (batch statistics, as training sees them). */
function lossAndGradient(trainer: Trainer, params: readonly Parameter[], batch: Batch): { loss: number; gradient: Float64Array } {
  for (const p of params) p.grad = null;
  trainer.model.train();
  const logits = (trainer.model as Classifier).forward({ x: batchInputs(batch), mask: batchMask(batch) });
  const loss = crossEntropy(logits, Array.from(batch.labels));
  loss.backward();
  const size = params.reduce((n, p) => n + p.data.length, 0);
  const gradient = new Float64Array(size);
  let offset = 0;
  for (const p of params) {
    if (p.grad) gradient.set(p.grad.data, offset);
    offset += p.data.length;
  }
  return { loss: loss.item(), gradient };
}

function distance(a: Float64Array, b: Float64Array): number {
  let total = 0;
  for (let i = 0; i < a.length; i++) total += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(total);
}

/**
 * Santurkar et al.'s (2018) landscape probes at the current parameters: on a fixed batch, the loss and
 * gradient at theta - k * lr * g for each multiplier k. Returns the loss variation (max - min of the
 * losses, k = 0 included), the gradient predictiveness (max ||grad(theta - k lr g) - g||) and the
 * effective beta-smoothness (max of that change over the distance moved). Parameters, gradients
 * and running statistics are restored: the run continues as if nothing happened.
 */
export function landscapeProbe(trainer: Trainer): Record<string, number> {
  const params = trainer.model.parameters();
  const batch = probeBatch(trainer);
  const saved = params.map((p) => p.data.slice());
  const buffers = snapshotBuffers(trainer.model);
  try {
    const base = lossAndGradient(trainer, params, batch);
    const gradientNorm = Math.sqrt(base.gradient.reduce((t, v) => t + v * v, 0));
    const losses = [base.loss];
    let gradientChange = 0;
    let beta = 0;
    for (const k of MULTIPLIERS) {
      let offset = 0;
      params.forEach((p, index) => {
        const original = saved[index]!;
        for (let i = 0; i < original.length; i++) p.data[i] = original[i]! - k * LR * base.gradient[offset + i]!;
        offset += original.length;
      });
      restoreBuffers(buffers);
      const moved = lossAndGradient(trainer, params, batch);
      losses.push(moved.loss);
      const change = distance(moved.gradient, base.gradient);
      gradientChange = Math.max(gradientChange, change);
      if (gradientNorm > 0) beta = Math.max(beta, change / (k * LR * gradientNorm));
    }
    const finite = losses.every((l) => Number.isFinite(l));
    return {
      lossVariation: finite ? Math.max(...losses) - Math.min(...losses) : Number.NaN,
      gradientChange,
      beta,
    };
  } finally {
    params.forEach((p, index) => {
      p.data.set(saved[index]!);
      p.grad = null;
    });
    restoreBuffers(buffers);
  }
}

function run(norm: 'none' | 'batch-norm', mode: PresetMode, seed: number): PresetRun {
  const steps = mode === 'full' ? 300 : 4;
  return {
    id: norm === 'none' ? 'plain' : 'bn',
    label: norm === 'none' ? 'no normalization' : 'BatchNorm',
    role: 'subject',
    config: {
      task: 'classification',
      dataset: mnistData(mode),
      model: { name: 'mlp', options: { width: 64, depth: 4 } },
      norms: { hidden: { name: norm } },
      optimizer: { name: 'sgd', options: { momentum: 0.9 } },
      lr: LR,
      batchSize: 32,
      steps,
      evalEvery: Math.max(1, Math.floor(steps / 4)),
      evalSamples: mode === 'full' ? 1000 : 50,
      seed,
    },
    trace: { every: mode === 'full' ? 25 : 2, read: landscapeProbe },
  };
}

const traced = (record: RunRecord, name: string): number[] => (record.trace[name] ?? []).map(([, v]) => v);

/** The same MLP with and without BatchNorm at one learning rate, probed along the gradient during training. */
export const batchNormLossLandscape = definePreset({
  name: 'batch-norm-loss-landscape',
  title: 'BatchNorm smooths the loss landscape',
  claim: {
    quote: 'Benefits Beyond Normalization: BatchNorm acts as regularization (noise from batch statistics), enables higher learning rates (2-10× larger), and smooths the loss landscape',
    section: 'Batch Normalization Deep Dive',
    source: SEED_SOURCE,
  },
  method:
    `The MLP of batch-norm-learning-rate (4 hidden layers of 64, ReLU) on 14x14 MNIST, with no normalization or BatchNorm, 300 steps of SGD ` +
    `(momentum 0.9) at the same lr ${LR}, at which both train. Every 25 steps, on a fixed batch of ${PROBE_SAMPLES} training digits (train mode), ` +
    `the loss and gradient are measured at theta - k * lr * g for k = ${MULTIPLIERS.join(', ')} (g the gradient there): the loss variation ` +
    '(max - min over those points) and the gradient predictiveness (largest change of the gradient), as Santurkar et al. (2018) plot them; ' +
    'parameters and running statistics are restored after each probe. "Smoother": the median over the probes is at most half of the plain ' +
    'network\'s. Five seeds; each criterion on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['batch-norm'], resources: ['mnist'] },
  criteria: [
    { id: 'plain-control', kind: 'control', statement: `the plain MLP trains at lr ${LR} (positive control)`, metric: 'final test accuracy, no normalization', comparison: '>=', threshold: 0.85 },
    { id: 'bn-control', kind: 'control', statement: `the BatchNorm MLP trains at lr ${LR}`, metric: 'final test accuracy, BatchNorm', comparison: '>=', threshold: 0.85 },
    {
      id: 'loss-variation', kind: 'claim', statement: 'the loss varies at most half as much along the gradient with BatchNorm',
      metric: 'median loss variation: BatchNorm / plain', comparison: '<=', threshold: 0.5, unit: 'x',
    },
    {
      id: 'gradient-predictiveness', kind: 'claim', statement: 'the gradient changes at most half as much along the gradient with BatchNorm',
      metric: 'median max ||grad change||: BatchNorm / plain', comparison: '<=', threshold: 0.5, unit: 'x',
    },
  ],
  plan: (mode, seed = 0) => ({ runs: [run('none', mode, seed), run('batch-norm', mode, seed)] }),
  analyze: ({ runs }) => {
    const plain = runs.plain!;
    const bn = runs.bn!;
    const med = (record: RunRecord, name: string) => (record.status === 'diverged' ? Number.NaN : median(traced(record, name)));
    const series = (record: RunRecord, name: string) => ({ label: record.label, points: record.trace[name] ?? [], style: 'line+points' as const });
    return {
      measured: {
        'plain-control': finalTestAccuracy(plain, 0.1),
        'bn-control': finalTestAccuracy(bn, 0.1),
        'loss-variation': med(bn, 'lossVariation') / med(plain, 'lossVariation'),
        'gradient-predictiveness': med(bn, 'gradientChange') / med(plain, 'gradientChange'),
      },
      details: {
        'loss-variation': `${show(med(bn, 'lossVariation'))} / ${show(med(plain, 'lossVariation'))}`,
        'gradient-predictiveness': `${show(med(bn, 'gradientChange'))} / ${show(med(plain, 'gradientChange'))}`,
      },
      table: {
        columns: [...RUN_COLUMNS, 'median loss variation', 'median grad change', 'median beta'],
        rows: Object.values(runs).map((r) => [...runRow(r, finalTestAccuracy(r, 0.1)), med(r, 'lossVariation'), med(r, 'gradientChange'), med(r, 'beta')]),
      },
      charts: [
        { id: 'loss-variation', title: 'Loss variation along the gradient', xLabel: 'step', yLabel: 'max - min loss', yScale: 'log', series: [series(plain, 'lossVariation'), series(bn, 'lossVariation')] },
        { id: 'gradient-change', title: 'Gradient predictiveness (largest gradient change)', xLabel: 'step', yLabel: 'max ||grad change||', yScale: 'log', series: [series(plain, 'gradientChange'), series(bn, 'gradientChange')] },
        { id: 'beta', title: 'Effective beta-smoothness', xLabel: 'step', yLabel: 'max ||grad change|| / distance', yScale: 'log', series: [series(plain, 'beta'), series(bn, 'beta')] },
      ],
      notes: ['The gradient changes are raw L2 norms, as in Santurkar et al.; the effective beta divides by the distance moved and is reported, not judged.'],
    };
  },
});
