// The run configurations several claim presets share: a redesigned preset and the preset it
// redesigns build their runs here, so they differ only in the values they declare.
import type { Placement } from '@normkit/layer';
import type { ExperimentConfigInput } from '../config';
import type { NormChoice } from '../models/norm-slot';
import { evalEveryFor, linearScaledSgd, mnistData, stepsFor } from './common';
import type { PresetMode, PresetRun } from './preset';

/** The MLP of the batch-size presets: 3 hidden layers of 64, ReLU, the normalizer after every hidden Linear. */
export const MNIST_MLP: ExperimentConfigInput['model'] = { name: 'mlp', options: { width: 64, depth: 3 } };
/** The CNN of the convolutional presets: conv 3x3 with 8 then 16 channels, normalizer, ReLU, max pool; global average pool; Linear head. */
export const MNIST_CNN: ExperimentConfigInput['model'] = { name: 'cnn', options: { channels: 8, stages: 2 } };

/** BatchNorm against GroupNorm with 8 groups (64 features in groups of 8: per-sample statistics). */
export const BN_GN_NORMS: Record<'bn' | 'gn', { label: string; choice: NormChoice }> = {
  bn: { label: 'BatchNorm', choice: { name: 'batch-norm' } },
  gn: { label: 'GroupNorm (8 groups)', choice: { name: 'group-norm', options: { numGroups: 8 } } },
};

export interface MnistBudgetRun {
  mode: PresetMode;
  seed: number;
  model: ExperimentConfigInput['model'];
  norms: ExperimentConfigInput['norms'];
  weights?: ExperimentConfigInput['weights'];
  batchSize: number;
  /** Training samples seen, per mode (the same data budget at every batch size). */
  samples: Record<PresetMode, number>;
  /** The learning rate at batch 32 (linear scaling rule). */
  baseLr: number;
  /** Evaluations over the run. */
  evals: number;
  evalSamples: Record<PresetMode, number>;
  /** Which digits (default all ten; see the mnist data set's `digits` option). */
  digits?: '0-4' | '5-9';
}

/**
 * An MNIST classifier run on a fixed budget of samples (Wu and He's comparison of batch sizes):
 * SGD with momentum 0.9 at `baseLr * batchSize / 32`, `samples / batchSize` steps, `evals`
 * evaluations spread over the run.
 */
export function mnistBudgetConfig(run: MnistBudgetRun): ExperimentConfigInput {
  const steps = stepsFor(run.samples[run.mode], run.batchSize);
  const dataset = mnistData(run.mode);
  return {
    task: 'classification',
    dataset: run.digits ? { ...dataset, options: { ...dataset.options, digits: run.digits } } : dataset,
    model: run.model,
    norms: run.norms,
    ...(run.weights ? { weights: run.weights } : {}),
    ...linearScaledSgd(run.baseLr, run.batchSize),
    batchSize: run.batchSize,
    steps,
    evalEvery: evalEveryFor(steps, run.evals),
    evalSamples: run.evalSamples[run.mode],
    seed: run.seed,
  };
}

/**
 * One run of the learning-rate presets: a 4-layer MLP (64 wide) on MNIST with no normalization or
 * BatchNorm after every hidden Linear, 300 steps at batch 32, SGD (momentum 0.9) at `lr`.
 */
export function learningRateRun(norm: 'none' | 'batch-norm', lr: number, mode: PresetMode, seed: number): PresetRun {
  const steps = mode === 'full' ? 300 : 4;
  return {
    id: `${norm === 'none' ? 'plain' : 'bn'}-lr${lr}`,
    label: `${norm === 'none' ? 'no normalization' : 'BatchNorm'}, lr ${lr}`,
    role: 'subject',
    config: {
      task: 'classification',
      dataset: mnistData(mode),
      model: { name: 'mlp', options: { width: 64, depth: 4 } },
      norms: { hidden: { name: norm } },
      optimizer: { name: 'sgd', options: { momentum: 0.9 } },
      lr,
      batchSize: 32,
      steps,
      evalEvery: steps,
      evalSamples: mode === 'full' ? 1000 : 50,
      seed,
    },
  };
}

export interface TransformerStabilityRun {
  mode: PresetMode;
  seed: number;
  placement: Placement;
  /** Linear warmup over the first half of the run (else a constant rate from the first step). */
  warmup: boolean;
  depth: number;
  /** Model width (default 16) and heads (default 2). */
  dim?: number;
  numHeads?: number;
  /** Adam's learning rate. */
  lr: number;
  /** The sequences data set's class signal. */
  signal: number;
  steps: number;
  /** Evaluations over the run (default 8). */
  evals?: number;
  /** Samples per split in an evaluation (default 500). */
  evalSamples?: number;
  /** timm's LayerScale on both branches of every block, with this initial value (default none). */
  layerScale?: number;
}

/** The block placements whose residual stream ends unnormalised and so needs a final LayerNorm. */
function needsFinalNorm(placement: Placement): boolean {
  return placement !== 'post' && placement !== 'deepnorm';
}

/**
 * A run of the Transformer stability presets: a Transformer encoder (LayerNorm in every block, at
 * `placement`) classifying padded token sequences of length 2-8, Adam at batch 16. Placements whose
 * stream is never normalised at the end (pre, peri, output) get a final LayerNorm; post and
 * deepnorm end normalised. The reduced form is 2 blocks for 4 steps on 64 sequences.
 */
export function transformerStabilityConfig(run: TransformerStabilityRun): ExperimentConfigInput {
  const full = run.mode === 'full';
  const steps = full ? run.steps : 4;
  const sizes = full ? { trainSize: 2000, testSize: 1000 } : { trainSize: 64, testSize: 32 };
  return {
    task: 'sequence-classification',
    dataset: { name: 'sequences', options: { ...sizes, minLength: 2, maxLength: 8, signal: run.signal } },
    model: {
      name: 'transformer',
      options: {
        depth: full ? run.depth : 2, dim: run.dim ?? 16, numHeads: run.numHeads ?? 2, placement: run.placement,
        ...(run.layerScale !== undefined ? { layerScale: run.layerScale } : {}),
      },
    },
    norms: { block: { name: 'layer-norm' }, final: { name: needsFinalNorm(run.placement) ? 'layer-norm' : 'none' } },
    optimizer: { name: 'adam' },
    lr: run.lr,
    schedule: run.warmup ? { name: 'warmup', options: { warmupSteps: Math.max(1, Math.floor(steps / 2)) } } : { name: 'constant' },
    batchSize: 16,
    steps,
    evalEvery: evalEveryFor(steps, run.evals ?? 8),
    evalSamples: full ? (run.evalSamples ?? 500) : 32,
    seed: run.seed,
  };
}

/** The CNN's normalizers in the Weight Standardization presets: BatchNorm, or GroupNorm with 4 groups (8 and 16 channels). */
export const WS_GN_NORMS: Record<'bn' | 'gn', NormChoice> = { bn: { name: 'batch-norm' }, gn: { name: 'group-norm', options: { numGroups: 4 } } };
/** WS on the convolutions only (the head stays a plain Linear), as Qiao et al. do. */
export const WS_WEIGHTS: NonNullable<ExperimentConfigInput['weights']> = { stages: { name: 'weight-standardization' } };
