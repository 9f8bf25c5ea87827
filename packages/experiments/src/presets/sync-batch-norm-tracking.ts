import { show } from './analysis';
import { SEED_SOURCE } from './common';
import { definePreset, type PresetMode } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';
import { compareDataParallel, syncBatchNormConfig } from './sync-batch-norm-small-batch';

/** Twice sync-batch-norm-small-batch's 1,000 steps: its one-process control ended at 0.86-0.94 against 0.9, with no headroom. */
const STEPS: Record<PresetMode, number> = { full: 2000, reduced: 6 };
/**
 * SyncBatchNorm's statistics are the one-process batch's up to float32 rounding (1e-7 of the loss);
 * rounding needs many steps of chaotic growth to reach 1%, local statistics move the loss by more at once.
 */
const TRACKS = 50;
const PARTS = 5;
/** "Recovers" batch-4 accuracy: no more than 2 points below it (twice the standard error on 1,000 test points near 0.9). */
const RECOVERS = -0.02;
/** Small-batch statistics cost at least 5 points (as in the first version). */
const HURTS = 0.05;

/**
 * The redesign of sync-batch-norm-small-batch after its five seeds (inconclusive: the batch-4 control
 * reached 0.9 on 3 of 5; the synchronised run matched the one-process losses to 1e-7 for about a hundred
 * steps, then float32 rounding, amplified by training, parted the trajectories, so "median difference over
 * all steps" measured chaos, not statistics). Kept unchanged; this version declares criteria that do not
 * depend on how chaotic training is.
 */
export const syncBatchNormTracking = definePreset({
  name: 'sync-batch-norm-tracking',
  title: 'SyncBatchNorm on 2 workers x batch 2 tracks one process at batch 4 until rounding parts them; unsynchronised BatchNorm parts at once (redesign, 5 seeds)',
  claim: {
    quote:
      'Batch Size Sensitivity: small batches (<8) produce noisy statistics leading to poor normalization; distributed training across GPUs compounds ' +
      'the issue — synchronizing statistics across devices (SyncBatchNorm) helps but adds communication overhead',
    section: 'Batch Normalization Deep Dive',
    source: SEED_SOURCE,
  },
  method:
    `sync-batch-norm-small-batch's setup (XOR, MLP 3x32 with BatchNorm, batch 4 as one process or as 2 worker threads x 2 rows, SyncBatchNorm or ` +
    `local BatchNorm, same data, weights and batch order) for ${STEPS.full} steps. Measured: how many steps each data-parallel run's batch losses ` +
    `stay within 1% of the one-process run's (identical statistics can only be parted by float32 rounding growing over many steps; different ` +
    'statistics part them at once); final test accuracy against the one-process run (after the trajectories part, the runs are two samples of ' +
    'the same recipe, so "recovers" is "not lower by more than 2 points", and the unsynchronised run must lose 5); the step-time overhead of ' +
    'synchronising (synchronised / unsynchronised, trained in lockstep). Five seeds; each criterion on 4 of them. Needs Node worker threads.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['batch-norm'], resources: ['dataParallel'] },
  criteria: [
    { id: 'single-control', kind: 'control', statement: 'one process at batch 4 learns XOR (positive control)', metric: 'test accuracy, one process at batch 4', comparison: '>=', threshold: 0.9 },
    { id: 'sync-tracks', kind: 'claim', statement: `synchronised, the batch losses stay within 1% of the one-process run's for at least ${TRACKS} steps`, metric: 'first step more than 1% off, SyncBatchNorm', comparison: '>=', threshold: TRACKS, unit: 'steps' },
    { id: 'local-parts', kind: 'claim', statement: `unsynchronised, the batch losses are more than 1% off within ${PARTS} steps`, metric: 'first step more than 1% off, local BatchNorm', comparison: '<=', threshold: PARTS, unit: 'steps' },
    { id: 'sync-recovers', kind: 'claim', statement: `synchronised, the final test accuracy is at most ${-RECOVERS * 100} points below one process at batch 4`, metric: 'accuracy(sync) - accuracy(one process)', comparison: '>=', threshold: RECOVERS },
    { id: 'local-accuracy', kind: 'claim', statement: `unsynchronised, the final test accuracy is at least ${HURTS * 100} points lower (small-batch statistics hurt)`, metric: 'accuracy(one process) - accuracy(local)', comparison: '>=', threshold: HURTS },
    { id: 'overhead', kind: 'claim', statement: 'synchronising the statistics adds step time', metric: 'median step time, synchronised / unsynchronised', comparison: '>=', threshold: 1, unit: 'x' },
  ],
  plan: (mode, seed = 0) => ({
    runs: [{ id: 'single', label: 'one process, batch 4', role: 'control', config: syncBatchNormConfig(mode, seed, STEPS[mode]) }],
  }),
  analyze: (context) => {
    const c = compareDataParallel(context, syncBatchNormConfig(context.mode, context.seed, STEPS[context.mode]));
    return {
      measured: {
        'single-control': c.accuracy.single,
        'sync-tracks': c.partsAt.sync,
        'local-parts': c.partsAt.local,
        'sync-recovers': c.accuracy.sync - c.accuracy.single,
        'local-accuracy': c.accuracy.single - c.accuracy.local,
        overhead: c.overhead,
      },
      details: {
        'sync-tracks': `first step more than 1% off: ${c.partsAt.sync} of ${c.losses.sync.length}; median difference over all steps ${show(c.medianDifference.sync)}`,
        'local-parts': `first step more than 1% off: ${c.partsAt.local}; median difference over all steps ${show(c.medianDifference.local)}`,
        'sync-recovers': `${show(c.accuracy.sync)} - ${show(c.accuracy.single)}`,
        'local-accuracy': `${show(c.accuracy.single)} - ${show(c.accuracy.local)}`,
        overhead: c.overheadDetail,
      },
      ...c.presentation,
      notes: [
        'History: sync-batch-norm-small-batch (1,000 steps) was inconclusive over seeds 0-4: the batch-4 control reached 0.896, 0.914, 0.861, 0.935, 0.922 (>= 0.9 on 3); its loss-matching criterion (median difference over all steps <= 0.1%) measured 0.063-0.088 because the synchronised and one-process runs, equal to 1e-7 at first, part by float32 rounding amplified by training (at seed 0: 1e-5 at step 33, 1e-3 at step 144, 1% at step 158). It is kept unchanged.',
        ...(c.presentation.notes ?? []),
      ],
    };
  },
});
