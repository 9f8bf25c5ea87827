// Helpers the claim presets share to turn runs into numbers, tables and chart data.
import { MultiHeadAttention, type Module } from '@normkit/tensor';
import { formatValue, type ChartSeries, type EvalSummary, type RunRecord } from './preset';

/**
 * At most `maxPoints` points, each the mean of a window of consecutive points (x and y), so a
 * long noisy minibatch-loss curve keeps its shape; non-finite values are left out of the means.
 */
export function downsampleMean(points: ReadonlyArray<readonly [number, number]>, maxPoints: number): Array<[number, number]> {
  if (points.length <= maxPoints) return points.filter(([, y]) => Number.isFinite(y)).map(([x, y]) => [x, y]);
  const out: Array<[number, number]> = [];
  const window = points.length / maxPoints;
  for (let w = 0; w < maxPoints; w++) {
    let sx = 0;
    let sy = 0;
    let n = 0;
    for (let i = Math.floor(w * window); i < Math.floor((w + 1) * window); i++) {
      const [x, y] = points[i]!;
      if (!Number.isFinite(y)) continue;
      sx += x;
      sy += y;
      n++;
    }
    if (n > 0) out.push([sx / n, sy / n]);
  }
  return out;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The median (mean of the middle two for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The quantile q in [0, 1] with linear interpolation (NumPy's default). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.min(sorted.length - 1, low + 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

/** The run's last evaluation when it finished all its steps; null when it diverged or has none. */
export function finalEval(record: RunRecord): EvalSummary | null {
  if (record.status !== 'done') return null;
  return record.evals.at(-1) ?? null;
}

/**
 * Test accuracy at the end of a run. A diverged run counts as `divergedValue` (default chance
 * level is the caller's choice; NaN when not given), so "did it train?" questions treat a
 * blown-up run as not trained rather than as unmeasurable.
 */
export function finalTestAccuracy(record: RunRecord, divergedValue = Number.NaN): number {
  if (record.status === 'diverged') return divergedValue;
  return finalEval(record)?.testAccuracy ?? Number.NaN;
}

/** Mean test accuracy over all evaluations of a run (the area under its accuracy curve, normalised). */
export function meanTestAccuracy(record: RunRecord, divergedValue = Number.NaN): number {
  if (record.status === 'diverged') return divergedValue;
  return mean(record.evals.map((e) => e.testAccuracy));
}

/** A run's evaluations as chart points [step * xPerStep, pick(eval)]. */
export function evalSeries(record: RunRecord, pick: (e: EvalSummary) => number, label = record.label, xPerStep = 1): ChartSeries {
  return { label, points: record.evals.map((e) => [e.step * xPerStep, pick(e)] as [number, number]).filter(([, y]) => Number.isFinite(y)), style: 'line+points' };
}

/** A run's (window-averaged) training loss as chart points [step * xPerStep, loss]. */
export function lossSeries(record: RunRecord, label = record.label, xPerStep = 1): ChartSeries {
  return { label, points: record.loss.map(([x, y]) => [x * xPerStep, y] as [number, number]) };
}

/** The largest |q.k / sqrt(d)| over the model's attention layers at their last forward (NaN before one). */
export function maxAttentionLogit(model: Module): number {
  let largest = Number.NaN;
  for (const [, module] of model.namedModules()) {
    if (module instanceof MultiHeadAttention && Number.isFinite(module.lastMaxLogit)) {
      largest = Number.isNaN(largest) ? module.lastMaxLogit : Math.max(largest, module.lastMaxLogit);
    }
  }
  return largest;
}

/**
 * The largest singular value of a row-major matrix [rows, cols] by power iteration on M^T M in
 * float64, from a fixed start vector, until it moves by less than 1e-10 relative (or 1000 rounds):
 * an independent check of a spectral-norm estimate.
 */
export function largestSingularValue(data: ArrayLike<number>, rows: number, cols: number): number {
  let v = new Float64Array(cols).fill(1 / Math.sqrt(cols));
  const u = new Float64Array(rows);
  let sigma = 0;
  for (let iteration = 0; iteration < 1000; iteration++) {
    for (let r = 0; r < rows; r++) {
      let total = 0;
      for (let c = 0; c < cols; c++) total += data[r * cols + c]! * v[c]!;
      u[r] = total;
    }
    const next = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) next[c]! += data[r * cols + c]! * u[r]!;
    let norm = 0;
    for (let c = 0; c < cols; c++) norm += next[c]! * next[c]!;
    norm = Math.sqrt(norm);
    if (norm === 0) return 0;
    const estimate = Math.sqrt(norm); // ||M^T M v|| -> sigma^2 for the top singular vector v
    for (let c = 0; c < cols; c++) next[c]! /= norm;
    v = next;
    if (Math.abs(estimate - sigma) <= 1e-10 * estimate) return estimate;
    sigma = estimate;
  }
  return sigma;
}

/** Timings of several tasks measured in interleaved rounds (each round runs every task, order alternating). */
export interface InterleavedTiming {
  /** Milliseconds per call, one sample per round, by task. */
  samples: Record<string, number[]>;
  medians: Record<string, number>;
  rounds: number;
  callsPerSample: number;
}

/**
 * Times `tasks` on a noisy machine: after `warmup` calls of each, `rounds` rounds in which every
 * task is called `calls` times in a row and timed, the order reversed every other round so drift
 * in machine load hits all tasks alike. Compare tasks by the ratio of their medians.
 */
export function timeInterleaved(
  tasks: Record<string, () => void>,
  options: { rounds: number; calls: number; warmup: number; now: () => number; onRound?: (round: number) => void },
): InterleavedTiming {
  const names = Object.keys(tasks);
  for (const name of names) for (let i = 0; i < options.warmup; i++) tasks[name]!();
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const task = tasks[name]!;
      const start = options.now();
      for (let i = 0; i < options.calls; i++) task();
      samples[name]!.push((options.now() - start) / options.calls);
    }
    options.onRound?.(round);
  }
  return { samples, medians: Object.fromEntries(names.map((n) => [n, median(samples[n]!)])), rounds: options.rounds, callsPerSample: options.calls };
}

/** "0.919 - 0.252" style detail strings. */
export function show(value: number): string {
  return formatValue(value);
}

/** A row of the usual per-run table: label, role, seed, steps, batch size, lr, status, final test accuracy, runtime. */
export function runRow(record: RunRecord, accuracy = finalTestAccuracy(record)): Array<string | number | null> {
  return [
    record.label,
    record.role,
    record.config.seed,
    record.completedSteps,
    record.config.batchSize,
    record.config.lr,
    record.status === 'diverged' ? `diverged at step ${record.completedSteps + 1}` : record.status,
    Number.isFinite(accuracy) ? Number(accuracy.toFixed(4)) : null,
    Math.round(record.elapsedMs),
  ];
}

export const RUN_COLUMNS = ['configuration', 'role', 'seed', 'steps', 'batch', 'lr', 'status', 'test accuracy', 'ms'];
