// Configuration pieces several claim presets share.
import type { ExperimentConfigInput } from '../config';
import type { PresetMode } from './preset';

/** The source every claim is quoted from. */
export const SEED_SOURCE = 'Advanced Normalization Techniques (the document normkit was created from)';

/** MNIST from the `mnist` package: 2,000 training and 1,000 test digits at 14 x 14 (4 x fewer for the reduced form). */
export function mnistData(mode: PresetMode): ExperimentConfigInput['dataset'] {
  return { name: 'mnist', options: mode === 'full' ? { trainSize: 2000, testSize: 1000, pool: 2 } : { trainSize: 100, testSize: 50, pool: 2 } };
}

/**
 * SGD with momentum 0.9 at `base * batchSize / 32`: the linear scaling rule (Goyal et al., 2017)
 * Wu and He (2018) use to compare batch sizes at a fixed number of samples seen.
 */
export function linearScaledSgd(base: number, batchSize: number): Pick<ExperimentConfigInput, 'optimizer' | 'lr'> {
  return { optimizer: { name: 'sgd', options: { momentum: 0.9 } }, lr: (base * batchSize) / 32 };
}

/** Steps that show `samples` training samples at `batchSize` (at least 1). */
export function stepsFor(samples: number, batchSize: number): number {
  return Math.max(1, Math.round(samples / batchSize));
}

/** Evaluate `count` times over a run of `steps` steps. */
export function evalEveryFor(steps: number, count: number): number {
  return Math.max(1, Math.floor(steps / count));
}
