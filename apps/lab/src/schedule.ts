// The parallel lab's schedule: one job per (experiment, seed), except that seeds of different
// experiments sharing a run (same resolved configuration, see RunCache) form one job so the run is
// trained once; the jobs are handed out longest first so the last one to finish is short.
import { runKey, shareableRun, type PresetRun } from '@normkit/experiments';

/**
 * Seconds per seed of each preset in the full lab, measured: the full run of 2026-12-06 (apps/lab
 * README, 5 seeds beside one other experiment, --jobs 2, one kernel thread each), divided by 5.
 * Only the order of the jobs depends on these; a preset missing here counts DEFAULT_SEED_SECONDS.
 */
export const SECONDS_PER_SEED: Readonly<Record<string, number>> = {
  'batch-norm-small-batch': 18, 'batch-norm-batch-four': 5.2, 'batch-norm-train-eval-gap': 15, 'batch-norm-masked-padding': 17.2,
  'batch-norm-learning-rate': 6.4, 'batch-norm-learning-rate-fine': 13.8, 'pre-ln-vs-post-ln': 14.4, 'pre-ln-vs-post-ln-deep': 21,
  'rms-norm-speed': 19.6, 'qk-norm-logits': 6.6, 'frn-batch-one': 17.4, 'switchable-norm-selection': 20.8, 'spectral-norm-gan': 8,
  'norm-free-residual': 25.2, 'weight-standardization-group-norm': 12, 'gradient-clipping-substitute': 6, 'ghost-batch-norm-large-batch': 6,
  'weight-norm-conditioning': 1, 'batch-norm-train-eval-gap-cnn': 6.4, 'batch-norm-loss-landscape': 2, 'instance-norm-style-leakage': 4.6,
  'conditional-norm-generation': 21.6, 'film-multi-task': 13.2, 'peri-ln-deep': 26.4, 'output-norm-deep': 24.6, 'deep-norm-deep': 23.8,
  'layer-scale-deep': 22.6, 'peri-ln-deep-v2': 38.6, 'output-norm-deep-v2': 39, 'deep-norm-deep-v2': 38, 'layer-scale-deep-v2': 36.6,
  'ngpt-training-speed': 50, 'frozen-batch-norm-fine-tuning': 3.6, 'weight-standardization-fine-tuning': 5.8, 'sync-batch-norm-small-batch': 3.8,
  'sync-batch-norm-tracking': 6.6, 'sync-batch-norm-control': 6.6, 'batch-norm-train-eval-gap-batch-one': 14.6,
};

/** The estimate for a preset without a measured time. */
export const DEFAULT_SEED_SECONDS = 20;

/** One seed of one experiment: `unit` is its position in report order (experiments in order, each one's seeds in order). */
export interface LabUnit {
  unit: number;
  preset: string;
  seed: number;
  /** The seed's planned runs. */
  runs: readonly PresetRun[];
}

/** Units run one after another in one worker (in report order), with the estimated seconds they take. */
export interface ScheduledJob {
  units: LabUnit[];
  seconds: number;
}

/**
 * Groups the units into jobs and orders the jobs longest first. Units whose seeds share a run
 * (equal `runKey`) go into one job, transitively (every run of a job is trained there once); every
 * other unit is a job of its own. A job's estimate is its units' seconds per seed, each spread
 * evenly over its runs, counting a shared run once. Ties keep report order.
 */
export function scheduleJobs(units: readonly LabUnit[], secondsPerSeed: (preset: string) => number = defaultSeconds): ScheduledJob[] {
  const parent = units.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  const keys = units.map((u) => u.runs.map((run) => (shareableRun(run) ? runKey(run) : null)));
  const owner = new Map<string, number>();
  units.forEach((_, i) => {
    for (const key of keys[i]!) {
      if (key === null) continue;
      const first = owner.get(key);
      if (first === undefined) owner.set(key, i);
      else parent[find(i)] = find(first);
    }
  });
  const groups = new Map<number, number[]>();
  units.forEach((_, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), i]);
  });
  const jobs = [...groups.values()].map((members) => {
    const seen = new Set<string>();
    let seconds = 0;
    for (const i of members) {
      const perRun = secondsPerSeed(units[i]!.preset) / Math.max(1, units[i]!.runs.length);
      for (const key of keys[i]!) {
        if (key !== null && seen.has(key)) continue;
        if (key !== null) seen.add(key);
        seconds += perRun;
      }
      if (units[i]!.runs.length === 0) seconds += secondsPerSeed(units[i]!.preset);
    }
    return { units: members.map((i) => units[i]!), seconds, first: members[0]! };
  });
  jobs.sort((a, b) => b.seconds - a.seconds || a.first - b.first);
  return jobs.map(({ units: u, seconds }) => ({ units: u, seconds }));
}

function defaultSeconds(preset: string): number {
  return SECONDS_PER_SEED[preset] ?? DEFAULT_SEED_SECONDS;
}
