import type { ExperimentConfigInput } from '../config';
import type { ReplicaRun } from '../data-parallel';
import { RUN_COLUMNS, finalTestAccuracy, median, runRow, show } from './analysis';
import { SEED_SOURCE, linearScaledSgd } from './common';
import { definePreset, type Analysis, type AnalysisContext, type ChartSeries, type PresetMode } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

/** Worker threads, each holding BATCH / WORKERS rows of every batch. */
const WORKERS = 2;
const BATCH = 4;
const STEPS: Record<PresetMode, number> = { full: 1000, reduced: 6 };
/** "Match closely": per-step losses within 0.1% (float32 rounding, summed in another order, may grow over training; a different statistic moves them by percents). */
const MATCH = 1e-3;
/** "Do not match": the unsynchronised run's per-step losses differ by 5% or more (median over steps). */
const DIFFER = 0.05;
/** Same final test accuracy within 1 point (the single and synced runs take the same steps up to rounding). */
const SAME_ACCURACY = 0.01;
/** Small-batch statistics cost at least 5 points: what "helps" needs to be there. */
const HURTS = 0.05;

/** The one-process and data-parallel runs' config (XOR, MLP 3x32 with BatchNorm, batch 4). */
export function syncBatchNormConfig(mode: PresetMode, seed: number, steps = STEPS[mode]): ExperimentConfigInput {
  return {
    task: 'classification',
    dataset: { name: 'xor', options: mode === 'full' ? { trainSize: 1000, testSize: 1000 } : { trainSize: 64, testSize: 32 } },
    model: { name: 'mlp', options: { width: 32, depth: 3 } },
    norms: { hidden: { name: 'batch-norm' } },
    ...linearScaledSgd(0.1, BATCH),
    batchSize: BATCH,
    steps,
    // One evaluation, at the end: the data-parallel ranks evaluate too, and the timing should be the training's.
    evalEvery: steps,
    evalSamples: mode === 'full' ? 1000 : 32,
    seed,
  };
}

/** The batch's loss at every step: the mean of the ranks' shard losses (equal shards). */
function batchLosses(ranks: ReplicaRun[]): number[] {
  return ranks[0]!.losses.map((_, step) => ranks.reduce((total, r) => total + r.losses[step]!, 0) / ranks.length);
}

/** Median over steps of |a - b| / |b|. */
function medianRelativeDifference(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length === 0) return Number.NaN;
  return median(a.map((v, i) => Math.abs(v - b[i]!) / Math.max(Math.abs(b[i]!), 1e-12)));
}

/** The largest |a - b| / max|b| over the running statistics both have (rank 0's buffers). */
function statisticsDifference(a: Record<string, number[]>, b: Record<string, number[]>): number {
  let largest = 0;
  for (const key of Object.keys(b).filter((k) => k.endsWith('running_mean') || k.endsWith('running_var'))) {
    const scale = Math.max(...b[key]!.map(Math.abs), 1e-12);
    b[key]!.forEach((v, i) => (largest = Math.max(largest, Math.abs(a[key]![i]! - v) / scale)));
  }
  return largest;
}

/** SyncBatchNorm on 2 worker threads x batch 2 against unsynchronised BatchNorm and one process at batch 4. */
export const syncBatchNormSmallBatch = definePreset({
  name: 'sync-batch-norm-small-batch',
  title: 'SyncBatchNorm on 2 workers x batch 2 recovers batch-4 BatchNorm; it costs step time',
  claim: {
    quote:
      'Batch Size Sensitivity: small batches (<8) produce noisy statistics leading to poor normalization; distributed training across GPUs compounds ' +
      'the issue — synchronizing statistics across devices (SyncBatchNorm) helps but adds communication overhead',
    section: 'Batch Normalization Deep Dive',
    source: SEED_SOURCE,
  },
  method:
    `An MLP (3 hidden layers of 32, BatchNorm after every hidden Linear, ReLU) learns XOR (1,000 training points) for ${STEPS.full} steps at batch ` +
    `${BATCH} (SGD, momentum 0.9, lr 0.1 x 4 / 32). Three ways: one process at batch ${BATCH}; ${WORKERS} worker threads (data-parallel, ` +
    `gradients averaged, shared-memory process group) holding ${BATCH / WORKERS} rows of every batch each, with BatchNorm synchronised (SyncBatchNorm: ` +
    'statistics over both workers\' rows) or not (each worker normalises its own 2 rows, as plain DDP does). Same data, initial weights and batch ' +
    'order in all three. Measured: per-step batch losses against the one-process run (median relative difference over steps), final test ' +
    'accuracy (eval mode, running statistics), and the communication overhead: the median step time synchronised / unsynchronised, both ' +
    'trained in lockstep on the same workers. Five seeds; each criterion on 4 of them. Needs Node worker threads (not in the browser).',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['batch-norm'], resources: ['dataParallel'] },
  criteria: [
    { id: 'single-control', kind: 'control', statement: `one process at batch ${BATCH} learns XOR (positive control)`, metric: 'test accuracy, one process at batch 4', comparison: '>=', threshold: 0.9 },
    { id: 'sync-losses', kind: 'claim', statement: `synchronised, the per-step losses match the one-process batch-${BATCH} run within ${MATCH * 100}%`, metric: 'median over steps of |loss(sync) - loss(one process)| / loss(one process)', comparison: '<=', threshold: MATCH },
    { id: 'local-losses', kind: 'claim', statement: `unsynchronised, the per-step losses differ from the one-process run by at least ${DIFFER * 100}%`, metric: 'median over steps of |loss(local) - loss(one process)| / loss(one process)', comparison: '>=', threshold: DIFFER },
    { id: 'sync-accuracy', kind: 'claim', statement: `synchronised, the final test accuracy is the one-process run's within ${SAME_ACCURACY * 100} point`, metric: '|accuracy(sync) - accuracy(one process)|', comparison: '<=', threshold: SAME_ACCURACY },
    { id: 'local-accuracy', kind: 'claim', statement: `unsynchronised, the final test accuracy is at least ${HURTS * 100} points lower (small-batch statistics hurt)`, metric: 'accuracy(one process) - accuracy(local)', comparison: '>=', threshold: HURTS },
    { id: 'overhead', kind: 'claim', statement: 'synchronising the statistics adds step time', metric: 'median step time, synchronised / unsynchronised', comparison: '>=', threshold: 1, unit: 'x' },
  ],
  plan: (mode, seed = 0) => ({
    runs: [{ id: 'single', label: `one process, batch ${BATCH}`, role: 'control', config: syncBatchNormConfig(mode, seed) }],
  }),
  analyze: (context) => {
    const c = compareDataParallel(context, syncBatchNormConfig(context.mode, context.seed));
    return {
      measured: {
        'single-control': c.accuracy.single,
        'sync-losses': c.medianDifference.sync,
        'local-losses': c.medianDifference.local,
        'sync-accuracy': Math.abs(c.accuracy.sync - c.accuracy.single),
        'local-accuracy': c.accuracy.single - c.accuracy.local,
        overhead: c.overhead,
      },
      details: {
        'sync-losses': `median ${show(c.medianDifference.sync)}, largest ${show(c.largestDifference.sync)} over ${c.losses.sync.length} steps`,
        'local-losses': `median ${show(c.medianDifference.local)} over ${c.losses.local.length} steps`,
        'sync-accuracy': `${show(c.accuracy.sync)} vs ${show(c.accuracy.single)}`,
        'local-accuracy': `${show(c.accuracy.single)} - ${show(c.accuracy.local)}`,
        overhead: c.overheadDetail,
      },
      ...c.presentation,
    };
  },
});

/** What the SyncBatchNorm presets measure at one seed: the one-process run against the two data-parallel ones. */
export interface DataParallelComparison {
  losses: { single: number[]; sync: number[]; local: number[] };
  /** Median and largest relative difference of the batch losses against the one-process run, over steps. */
  medianDifference: { sync: number; local: number };
  largestDifference: { sync: number; local: number };
  /** First step (0-based) whose batch loss differs from the one-process run's by more than 1% (the run's length when none does). */
  partsAt: { sync: number; local: number };
  /** Final test accuracy (eval mode); a diverged run counts as chance, 0.5. */
  accuracy: { single: number; sync: number; local: number };
  /** Median step time synchronised / unsynchronised (both data-parallel, trained in lockstep). */
  overhead: number;
  overheadDetail: string;
  /** Table, charts and notes for the report. */
  presentation: Pick<Analysis, 'table' | 'tables' | 'charts' | 'notes' | 'extra'>;
}

/**
 * Trains `runConfig` data-parallel on the `dataParallel` resource (synchronised and not, in
 * lockstep) and compares both with the preset's one-process run 'single' of the same config.
 */
export function compareDataParallel(context: AnalysisContext, runConfig: ExperimentConfigInput): DataParallelComparison {
  const { runs, trainers, resources, progress } = context;
  progress(`data-parallel training on ${WORKERS} worker threads`, 0);
  const ranks = resources.dataParallel!.train({ config: runConfig, variants: [{ id: 'sync', syncBatchNorm: true }, { id: 'local', syncBatchNorm: false }] });
  progress(`data-parallel training on ${WORKERS} worker threads`, 1);
  const single = runs.single!;
  // The record keeps window means; the trainer has every step's loss and the running statistics.
  const singleLosses = trainers.single!.history.steps.map((s) => s.loss);
  const singleBuffers = Object.fromEntries([...trainers.single!.model.namedBuffers()].map(([name, b]) => [name, Array.from(b.data, Number)]));
  const variant = (id: string): ReplicaRun[] => ranks.map((runsOfRank) => runsOfRank.find((r) => r.id === id)!);
  const sync = variant('sync');
  const local = variant('local');
  const losses = { single: singleLosses, sync: batchLosses(sync), local: batchLosses(local) };
  const relative = (a: readonly number[]) => a.map((v, i) => Math.abs(v - singleLosses[i]!) / Math.max(Math.abs(singleLosses[i]!), 1e-12));
  const partsAt = (a: readonly number[]) => {
    const index = relative(a).findIndex((d) => !(d <= 0.01));
    return index < 0 ? a.length : index;
  };
  const accuracyOf = (r: ReplicaRun[]) => (r[0]!.status === 'done' ? r[0]!.final?.testAccuracy ?? Number.NaN : 0.5);
  const accuracy = { single: finalTestAccuracy(single, 0.5), sync: accuracyOf(sync), local: accuracyOf(local) };
  // The last step also evaluates: leave it out of the step times.
  const stepTime = (r: ReplicaRun[]) => median(r.flatMap((rank) => rank.stepMs.slice(0, -1)));
  const stepMs = { sync: stepTime(sync), local: stepTime(local) };
  const medianDifference = { sync: medianRelativeDifference(losses.sync, singleLosses), local: medianRelativeDifference(losses.local, singleLosses) };
  const statistics = { sync: statisticsDifference(sync[0]!.buffers, singleBuffers), local: statisticsDifference(local[0]!.buffers, singleBuffers) };
  const parts = { sync: partsAt(losses.sync), local: partsAt(losses.local) };
  const window = Math.max(1, Math.floor(singleLosses.length / 100));
  const curve = (label: string, values: number[], dashed = false): ChartSeries => ({
    label, dashed,
    points: Array.from({ length: Math.floor(values.length / window) }, (_, w) => {
      const part = values.slice(w * window, (w + 1) * window);
      return [(w + 1) * window, part.reduce((a, b) => a + b, 0) / part.length] as [number, number];
    }),
  });
  const early = Math.min(singleLosses.length, 400);
  return {
    losses,
    medianDifference,
    largestDifference: { sync: Math.max(...relative(losses.sync)), local: Math.max(...relative(losses.local)) },
    partsAt: parts,
    accuracy,
    overhead: stepMs.sync / stepMs.local,
    overheadDetail: `${show(stepMs.sync)} ms / ${show(stepMs.local)} ms per step (median over both workers' steps)`,
    presentation: {
      table: {
        columns: ['configuration', 'role', 'status', 'test accuracy', 'median step ms', 'loss vs one process (median rel. diff.)', 'first step > 1% off', 'running stats vs one process (max rel. diff.)'],
        rows: [
          [single.label, 'control', single.status, accuracy.single, Number((single.elapsedMs / Math.max(1, single.completedSteps)).toFixed(3)), 0, null, 0],
          [`${WORKERS} workers x batch ${BATCH / WORKERS}, SyncBatchNorm`, 'subject', sync[0]!.status, accuracy.sync, Number(stepMs.sync.toFixed(3)), medianDifference.sync, parts.sync, statistics.sync],
          [`${WORKERS} workers x batch ${BATCH / WORKERS}, local BatchNorm`, 'reference', local[0]!.status, accuracy.local, Number(stepMs.local.toFixed(3)), medianDifference.local, parts.local, statistics.local],
        ],
      },
      tables: [{ title: 'The one-process run', table: { columns: RUN_COLUMNS, rows: [runRow(single)] } }],
      charts: [
        {
          id: 'losses', title: `Training loss of the batch of ${BATCH} (${window}-step means)`, xLabel: 'step', yLabel: 'loss', yScale: 'log',
          series: [curve(`one process, batch ${BATCH}`, losses.single), curve('SyncBatchNorm, 2 x 2', losses.sync, true), curve('local BatchNorm, 2 x 2', losses.local)],
        },
        {
          id: 'difference', title: 'Relative difference of the batch loss from the one-process run, step by step', xLabel: 'step', yLabel: '|loss - loss(one process)| / loss(one process)', yScale: 'log',
          series: [
            { label: 'SyncBatchNorm, 2 x 2', points: relative(losses.sync).slice(0, early).map((d, i) => [i + 1, Math.max(d, 1e-9)] as [number, number]) },
            { label: 'local BatchNorm, 2 x 2', points: relative(losses.local).slice(0, early).map((d, i) => [i + 1, Math.max(d, 1e-9)] as [number, number]) },
          ],
          guides: [{ y: 0.01, label: '1%' }],
        },
      ],
      notes: [
        'The one-process step time (table) includes no collective; the overhead compares the two data-parallel runs, which both average gradients every step, so it isolates the statistics synchronisation (4 collectives per BatchNorm layer and step: agreement check, mean, variance, backward).',
        'The running statistics compared are worker 0\'s; with SyncBatchNorm both workers hold the same.',
        'SyncBatchNorm sums the statistics in another order than one process does, so the two runs differ by float32 rounding (about 1e-7 of the loss at the first steps); training amplifies such differences step by step, and after some hundred steps the two trajectories are as different as two runs of the same recipe.',
      ],
      extra: { stepMs, partsAt: parts, losses },
    },
  };
}
