import { definePreset } from './preset';
import { MOST_SEEDS } from './seed-rule';
import { syncBatchNormTracking } from './sync-batch-norm-tracking';

/**
 * "The batch-4 reference learns XOR": 30 points above chance (0.5), 5.6 points below the lowest of the ten
 * control values the two earlier versions measured (1,000 steps: 0.896, 0.914, 0.861, 0.935, 0.922;
 * 2,000 steps: 0.934, 0.856, 0.936, 0.891, 0.929; median 0.918, standard deviation 0.029). Their 0.9 sat
 * at the 30th percentile of those values: a ceiling the batch-4 run reaches on most seeds, not a test that
 * it trains. Chosen from those control numbers only; the claim criteria are the tracking version's, unchanged.
 */
const LEARNS = 0.8;
/** Seeds no earlier version ran, so that no run of this version was seen before its thresholds were committed. */
const SEEDS: readonly number[] = [5, 6, 7, 8, 9];
const OLD_CONTROL = 'single-control';
const CONTROL = 'single-learns';

/**
 * Third version of the SyncBatchNorm claim: sync-batch-norm-tracking's runs, analysis and claim criteria
 * (SyncBatchNorm on 2 workers x batch 2 tracks one process at batch 4; unsynchronised BatchNorm does not;
 * synchronising costs step time), with a positive control that asks whether the batch-4 reference trains
 * rather than whether it reaches the ceiling, at five fresh seeds. Both earlier versions are kept unchanged.
 */
export const syncBatchNormControl = definePreset({
  name: 'sync-batch-norm-control',
  title: 'SyncBatchNorm on 2 workers x batch 2 tracks one process at batch 4; unsynchronised BatchNorm does not (third version: the control asks that the reference trains; seeds 5-9)',
  claim: syncBatchNormTracking.claim,
  method:
    `${syncBatchNormTracking.method} Third version: the same runs, analysis and claim criteria as sync-batch-norm-tracking; the positive control ` +
    `asks that the one-process batch-4 reference learns XOR (test accuracy >= ${LEARNS}, chance 0.5) instead of reaching 0.9, which it did on 3 of 5 ` +
    `seeds in both earlier versions (0.856-0.936 over their ten runs). Seeds ${SEEDS.join(', ')}, which no earlier version ran; each criterion on 4 of 5.`,
  seed: SEEDS[0]!,
  seeds: SEEDS,
  seedRule: MOST_SEEDS,
  requires: syncBatchNormTracking.requires,
  criteria: [
    { id: CONTROL, kind: 'control', statement: `one process at batch 4 learns XOR: at least ${LEARNS} test accuracy, chance 0.5 (positive control)`, metric: 'test accuracy, one process at batch 4', comparison: '>=', threshold: LEARNS },
    ...syncBatchNormTracking.criteria.filter((c) => c.kind === 'claim'),
  ],
  plan: (mode, seed = SEEDS[0]) => syncBatchNormTracking.plan(mode, seed),
  analyze: (context) => {
    const analysis = syncBatchNormTracking.analyze(context);
    const { [OLD_CONTROL]: reference, ...claims } = analysis.measured;
    return {
      ...analysis,
      measured: { [CONTROL]: reference ?? Number.NaN, ...claims },
      notes: [
        'History: sync-batch-norm-small-batch (1,000 steps) and sync-batch-norm-tracking (2,000 steps, the runs of this version) were both inconclusive over seeds 0-4 because their control, one process at batch 4 reaching 0.9 test accuracy, held on 3 of 5 seeds (0.896, 0.914, 0.861, 0.935, 0.922 and 0.934, 0.856, 0.936, 0.891, 0.929). This version asks >= 0.8 (chosen from those ten control values only, before any run of it) at seeds 5-9; its claim criteria are the tracking version\'s, unchanged. Both earlier versions are kept unchanged.',
        ...(analysis.notes ?? []),
      ],
    };
  },
});
