// The timing harness: one way to time a closure, one summary (median and interquartile range),
// one table, one results file. Every implementation of a case (normkit, the scalar floor, tfjs,
// PyTorch) is timed by the same rules so the ratios compare like with like.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type * as TfjsCore from '@tensorflow/tfjs-core';

/**
 * One timed iteration. It must finish all its work before returning (read results back, run backward).
 * In tfjs, return nothing from `tf.tidy`: tidy walks a returned container element by element looking
 * for tensors, which on a typed array of millions of floats costs seconds.
 */
export type Run = () => unknown;

/** The `@tensorflow/tfjs-core` namespace handed to a case's `tfjs` factory, already on the backend being timed. */
export type Tfjs = typeof TfjsCore;

/**
 * What the PyTorch side needs to rebuild a case (see python/torch_bench.py). Python snippets are
 * evaluated with `torch`, `F` (torch.nn.functional) and `nn` in scope.
 */
export interface TorchSpec {
  /** Standard-normal float32 inputs by name; `requiresGrad` makes them leaves that receive gradients. */
  inputs: Record<string, { shape: readonly number[]; requiresGrad?: boolean }>;
  /** Statements run once before timing (build modules, parameters); names they bind stay in scope. */
  setup?: string;
  /** A Python expression computing the output from the names in scope. */
  forward: string;
  /** Also run `output.backward(g)` with a fixed standard-normal upstream gradient `g` shaped like the output. */
  backward?: boolean;
}

/** Bounds on how long one implementation of one case is timed. */
export interface TimingOptions {
  /** Untimed iterations first (JIT, caches, lazy allocation): at least this many ... */
  warmupRuns: number;
  /** ... and until this much time has passed. */
  warmupMs: number;
  /** Timed iterations: at least this many ... */
  minRuns: number;
  /** ... at most this many ... */
  maxRuns: number;
  /** ... stopping once this much time has been spent (after `minRuns`). */
  targetMs: number;
}

export const defaultTiming: TimingOptions = { warmupRuns: 1, warmupMs: 150, minRuns: 5, maxRuns: 30, targetMs: 1200 };

/**
 * One benchmark case. `normkit` is required; each comparator is optional and shows as "n/a" when absent.
 * Factories build their inputs once (untimed) and return the closure that is timed.
 *
 * @example
 * const addCase: BenchCase = {
 *   name: 'add 3M',
 *   elements: 3_000_000,
 *   normkit: () => { const a = randn([3_000_000]); const b = randn([3_000_000]); return () => add(a, b); },
 *   tfjs: (tf) => { const a = tf.randomNormal([3_000_000]); const b = tf.randomNormal([3_000_000]);
 *     return () => tf.tidy(() => { tf.add(a, b).dataSync(); }); },
 *   torch: { inputs: { a: { shape: [3_000_000] }, b: { shape: [3_000_000] } }, forward: 'a + b' },
 * };
 */
export interface BenchCase {
  /** Unique, short, shown in the table; `--only` matches a substring of it. */
  name: string;
  /** Element count of the case's main tensor; the scalar floor makes one pass over this many floats. */
  elements: number;
  normkit: () => Run;
  tfjs?: (tf: Tfjs) => Run;
  torch?: TorchSpec;
  /** Per-case timing bounds, e.g. fewer runs for a slow case. */
  timing?: Partial<TimingOptions>;
  /**
   * The name of another case of the same family this one adds work to (a parametrized layer
   * against the plain layer): the run also reports this case's normkit median over the
   * baseline's, an overhead ratio. Selecting this case with `--only` selects its baseline too.
   */
  baseline?: string;
  /**
   * Also time this case on the wasm backend at 2 threads and at the machine's available parallelism
   * (the main columns are 1 thread, like PyTorch's), for the thread-scaling table; and, when it has a
   * torch spec, time PyTorch once more with the OPENBLAS_* variables of this machine unset.
   */
  threadScaling?: boolean;
}

/** Order statistics of the timed iterations, in milliseconds. */
export interface Timing {
  median: number;
  q1: number;
  q3: number;
  iqr: number;
  runs: number;
}

/** How one implementation fared on one case: timed, or why not. */
export type Outcome =
  | { status: 'ok'; timing: Timing }
  | { status: 'skipped' | 'failed'; reason: string };

export const comparatorNames = ['floor', 'tfjs-cpu', 'tfjs-wasm', 'torch'] as const;
export type ComparatorName = (typeof comparatorNames)[number];

export interface CaseResult {
  family: string;
  name: string;
  elements: number;
  normkit: Outcome;
  comparators: Record<ComparatorName, Outcome>;
  /**
   * The same normkit case on the `js` backend (`normkit` is the default backend, `wasm`), for the
   * backend column: js median over wasm median is the wasm backend's speedup.
   */
  normkitJs?: Outcome;
  /** The case's `baseline`, when it has one. */
  baseline?: string;
  /**
   * The scalar floor writing into a preallocated output (`comparators.floor` allocates its output per
   * run, like normkit): a pure memory-speed pass, kept in the results file only, not in the table.
   */
  floorPreallocated?: Outcome;
  /**
   * The copy floor, `new Float32Array(elements).set(x)` per run (see `copyFloor`): the floor the
   * compute-backend issue states its elementwise target against; results file only.
   */
  floorCopy?: Outcome;
  /** normkit on the wasm backend by thread count (1 is `normkit`), for cases with `threadScaling`. */
  threads?: Record<number, Outcome>;
  /** PyTorch with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, for cases with `threadScaling`. */
  torchWithoutOpenblasVariables?: Outcome;
}

/** Keeps the last result reachable so no engine can prove a run's work unused. */
let sink: unknown;
export function lastSink(): unknown {
  return sink;
}

/** Quantile of sorted values with linear interpolation between ranks (NumPy's default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const fraction = position - lower;
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * fraction;
}

/** Median and quartiles of samples in milliseconds. */
export function summarize(samples: readonly number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  const q1 = quantile(sorted, 0.25);
  const q3 = quantile(sorted, 0.75);
  return { median: quantile(sorted, 0.5), q1, q3, iqr: q3 - q1, runs: sorted.length };
}

/**
 * Warms `run` up, then times single iterations with `performance.now()` within the bounds of `options`.
 * An iteration that alone outlasts `targetMs` needs no warm-up (compilation and first-touch costs are
 * lost in it), so when the first warm-up iteration is that slow it counts as the first sample.
 */
export function measure(run: Run, options: TimingOptions = defaultTiming): Timing {
  const samples: number[] = [];
  const warmupStart = performance.now();
  for (let i = 0; i < options.warmupRuns || performance.now() - warmupStart < options.warmupMs; i++) {
    const t0 = performance.now();
    sink = run();
    const elapsed = performance.now() - t0;
    if (i === 0 && elapsed > options.targetMs) {
      samples.push(elapsed);
      break;
    }
  }
  const start = performance.now();
  while (samples.length < options.maxRuns && (samples.length < options.minRuns || performance.now() - start < options.targetMs)) {
    const t0 = performance.now();
    sink = run();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

/** Times a factory's closure, turning a throw in setup or in a run into a `failed` outcome. */
export function measureOutcome(factory: () => Run, options: TimingOptions): Outcome {
  try {
    return { status: 'ok', timing: measure(factory(), options) };
  } catch (error) {
    return { status: 'failed', reason: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  }
}

/**
 * Whether a scalar floor run allocates its output: `fresh` allocates a new `Float32Array` every run, as
 * every normkit op does for its output (so the run pays zeroing and, for large arrays, first-touch page
 * faults); `preallocated` writes into one array made at setup, a pure pass at memory speed.
 */
export type FloorAllocation = 'fresh' | 'preallocated';

let floorsCompiled = 0;

/**
 * Compiles a new closure literal for one floor: `() => y[i] = x[i] * a + b for i < n`, capturing its
 * own arrays, with the output allocated in each run (`fresh`) or passed in (`preallocated`). Why a new
 * literal per floor: V8 compiles the first closure of a literal with its captured arrays as constants
 * (known length and data pointer: no loads, no bounds checks in the loop) and gives up that
 * specialisation for every closure of the literal once there are two. With one shared literal the
 * floor ran at that speed only in the first case of a run and 2.5-3.5x slower in every later one
 * (27 µs then 94 µs for 49,152 elements; 1.15 ms then 4.2 ms for 2M). With a literal per floor each
 * case gets the first case's code. The serial number in the source keeps V8's eval cache from handing
 * back an earlier copy, whose feedback and code would be shared again.
 */
export function compileFloorRun(
  allocation: FloorAllocation, x: Float32Array, n: number, coefficients: Float32Array, output?: Float32Array,
): Run {
  floorsCompiled++;
  const body = `'use strict';
return () => { // scalar floor #${floorsCompiled} (${allocation})
  const a = coefficients[0];
  const b = coefficients[1];
  const y = ${allocation === 'fresh' ? 'new Float32Array(n)' : 'output'};
  for (let i = 0; i < n; i++) y[i] = x[i] * a + b;
  return y;
};`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- a new closure literal per floor is the point (see above)
  const factory = new Function('x', 'n', 'coefficients', 'output', body) as (...args: unknown[]) => Run;
  return factory(x, n, coefficients, output);
}

/**
 * The scalar floor: one plain loop `y[i] = x[i] * a + b` over `elements` float32 values, the least a
 * library can do to touch every element once. A ratio to it says how far an op is from that. Each call
 * compiles its own closure (see `compileFloorRun`), so a case's floor runs the same machine code
 * whatever floors were timed before it. `allocation` decides whether each run allocates its output
 * (`fresh`, the default and the table's floor: the same policy as a normkit op) or reuses one array
 * made here (`preallocated`: a pure memory pass).
 *
 * @example
 * const timing = measure(scalarFloor(2_097_152)); // one fresh 8 MB output per run, like one normkit op
 */
export function scalarFloor(elements: number, allocation: FloorAllocation = 'fresh'): Run {
  // x and the preallocated output share one buffer, the output 64 bytes after x's end, so their
  // relative placement is the same for every floor (separately allocated, the same loop ran at full
  // speed or about 3x slower from one floor to the next in a standalone script). Under machine load the
  // floor still drops to about 3x slower for a while (27 µs or 81 µs for 49,152 elements, IQR near 0
  // either way), which is why `measureFloor` keeps the fastest of a few instances.
  const buffer = new Float32Array(allocation === 'preallocated' ? 2 * elements + floorOutputGap : elements);
  const x = buffer.subarray(0, elements);
  for (let i = 0; i < elements; i++) x[i] = Math.sin(i);
  // Read from an array so the loop cannot be specialised on constants.
  const coefficients = new Float32Array([1.0001, 0.5]);
  const output = allocation === 'preallocated' ? buffer.subarray(elements + floorOutputGap) : undefined;
  return compileFloorRun(allocation, x, elements, coefficients, output);
}

/**
 * The outcome with the lowest median among those that timed ok (the first outcome when none did).
 * The floor is timed on several independent instances and keeps the fastest: one instance of the
 * same loop sometimes runs steadily about 3x slower than another (see `scalarFloor`), and a floor is
 * meant to be the least a plain loop needs.
 */
export function fastestOutcome(outcomes: readonly Outcome[]): Outcome {
  let best: Outcome | undefined;
  for (const outcome of outcomes) {
    if (outcome.status !== 'ok') continue;
    if (best === undefined || best.status !== 'ok' || outcome.timing.median < best.timing.median) best = outcome;
  }
  const first = outcomes[0];
  if (first === undefined) throw new RangeError('fastestOutcome needs at least one outcome');
  return best ?? first;
}

/**
 * The copy floor: an allocating copy of `elements` float32 values, `new Float32Array(n).set(x)` (a
 * memcpy into fresh memory), the least any op that returns a fresh output of that size can cost. The
 * compute-backend issue's elementwise target ("add within 1.5x of it") is read against this one.
 *
 * @example
 * const timing = measure(copyFloor(3_145_728));
 */
export function copyFloor(elements: number): Run {
  const x = new Float32Array(elements);
  for (let i = 0; i < elements; i++) x[i] = Math.sin(i);
  return () => {
    const y = new Float32Array(elements);
    y.set(x);
    return y;
  };
}

/** How many independent floor instances a case times (each for its share of `targetMs`). */
export const floorInstances = 3;

/**
 * Times `floorInstances` independent scalar floors (each its own arrays and compiled closure) for
 * `targetMs / floorInstances` each, and keeps the fastest.
 */
export function measureFloor(elements: number, allocation: FloorAllocation, options: TimingOptions): Outcome {
  const share = { ...options, targetMs: options.targetMs / floorInstances, warmupMs: options.warmupMs / floorInstances };
  const outcomes: Outcome[] = [];
  for (let i = 0; i < floorInstances; i++) outcomes.push(measureOutcome(() => scalarFloor(elements, allocation), share));
  return fastestOutcome(outcomes);
}

/** Floats between x and a preallocated floor output in their shared buffer (64 bytes). */
const floorOutputGap = 16;

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}

/** normkit time over comparator time; > 1 means normkit is slower. */
export function ratio(normkit: Outcome, comparator: Outcome): number | null {
  if (normkit.status !== 'ok' || comparator.status !== 'ok') return null;
  return normkit.timing.median / comparator.timing.median;
}

/** 123.4x, 2.35x, 0.12x, 0.0035x: at least two significant digits. */
export function formatRatio(value: number): string {
  if (value >= 10) return `${value.toFixed(1)}x`;
  if (value >= 0.1) return `${value.toFixed(2)}x`;
  return `${value.toPrecision(2)}x`;
}

export function formatTiming(outcome: Outcome): string {
  if (outcome.status !== 'ok') return `${outcome.status}: ${outcome.reason}`;
  const { median, iqr, runs } = outcome.timing;
  return `${formatMs(median)} (IQR ${formatMs(iqr)}, ${runs} runs)`;
}

/** Plain-text table with right-aligned numeric columns; the first column is left-aligned. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (column === 0 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * The summary table: normkit's median and its ratio to each comparator. Cells a comparator could
 * not fill read "n/a" and get a numbered note underneath with the reason (cells with the same reason
 * share a number).
 */
export function resultsTable(results: readonly CaseResult[]): string {
  const notes: string[] = [];
  const noteFor = (label: string, outcome: Outcome): string => {
    if (outcome.status === 'ok') return '';
    const text = `${label}: ${outcome.status} (${outcome.reason})`;
    let index = notes.indexOf(text);
    if (index < 0) index = notes.push(text) - 1;
    return ` [${index + 1}]`;
  };
  const rows = results.map((result) => {
    const js = result.normkitJs;
    const speedup = js === undefined ? null : ratio(js, result.normkit);
    const cells = [
      `${result.family}/${result.name}`,
      result.normkit.status === 'ok' ? formatMs(result.normkit.timing.median) : `n/a${noteFor('normkit', result.normkit)}`,
      js === undefined ? 'n/a' : js.status === 'ok' ? formatMs(js.timing.median) : `n/a${noteFor('normkit js', js)}`,
      speedup === null ? 'n/a' : formatRatio(speedup),
    ];
    for (const comparator of comparatorNames) {
      const outcome = result.comparators[comparator];
      const value = ratio(result.normkit, outcome);
      cells.push(value === null ? `n/a${noteFor(comparator, outcome)}` : formatRatio(value));
    }
    return cells;
  });
  const table = renderTable(
    ['case', 'normkit wasm', 'normkit js', 'js/wasm', 'floor ratio', 'tfjs-cpu ratio', 'tfjs-wasm ratio', 'torch ratio'], rows,
  );
  const footer = notes.map((note, index) => `[${index + 1}] ${note}`);
  return [
    table,
    'normkit wasm / js = median on each compute backend; js/wasm = how many times faster the wasm backend is.',
    'ratio = normkit (wasm) median / comparator median; > 1 means normkit is slower.',
    ...footer,
  ].join('\n');
}

/**
 * Overhead ratios: each case that names a baseline, its normkit median over the baseline's normkit
 * median (and the same for torch when both ran), e.g. `1.08x` for a parametrization adding 8% to a
 * layer's step. Empty when no case has a baseline.
 */
export function overheadTable(results: readonly CaseResult[]): string {
  const withBaseline = results.filter((result) => result.baseline !== undefined);
  if (withBaseline.length === 0) return '';
  const format = (value: number | null) => (value === null ? 'n/a' : formatRatio(value));
  const over = (a: Outcome, b: Outcome | undefined) => (b === undefined ? null : ratio(a, b));
  const rows = withBaseline.map((result) => {
    const baseline = results.find((other) => other.family === result.family && other.name === result.baseline);
    return [
      `${result.family}/${result.name}`,
      `${result.family}/${result.baseline!}`,
      result.normkit.status === 'ok' ? formatMs(result.normkit.timing.median) : 'n/a',
      baseline?.normkit.status === 'ok' ? formatMs(baseline.normkit.timing.median) : 'n/a',
      format(over(result.normkit, baseline?.normkit)),
      format(over(result.comparators.torch, baseline?.comparators.torch)),
    ];
  });
  const table = renderTable(['case', 'baseline', 'normkit median', 'baseline median', 'normkit overhead', 'torch overhead'], rows);
  return [table, 'overhead = case median / baseline median, within one implementation; 1.25x means the case takes 25% longer.'].join('\n');
}

/** Writes the run's results (and its environment) as pretty JSON, creating the folder. */
export function writeResults(path: string, payload: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(payload, null, 2)}\n`);
}

/**
 * Thread scaling on the wasm backend: each `threadScaling` case's median at 1, 2 and the machine's
 * available parallelism, and the speedup over 1 thread; plus PyTorch 1-thread with and without this
 * machine's OPENBLAS_* variables (no target against PyTorch here, just what it measures). Empty
 * when no case asked for it.
 */
export function threadScalingTable(results: readonly CaseResult[]): string {
  const scaled = results.filter((result) => result.threads !== undefined);
  if (scaled.length === 0) return '';
  const counts = [...new Set(scaled.flatMap((result) => Object.keys(result.threads!).map(Number)))].sort((a, b) => a - b);
  const median = (outcome: Outcome | undefined) => (outcome?.status === 'ok' ? formatMs(outcome.timing.median) : 'n/a');
  const speedup = (one: Outcome | undefined, many: Outcome | undefined) => {
    const value = one === undefined || many === undefined ? null : ratio(one, many);
    return value === null ? 'n/a' : formatRatio(value);
  };
  const rows = scaled.map((result) => [
    `${result.family}/${result.name}`,
    ...counts.map((count) => median(result.threads![count])),
    ...counts.filter((count) => count > 1).map((count) => speedup(result.threads![1], result.threads![count])),
    median(result.comparators.torch),
    median(result.torchWithoutOpenblasVariables),
  ]);
  const header = [
    'case', ...counts.map((count) => `${count} thread${count === 1 ? '' : 's'}`), ...counts.filter((count) => count > 1).map((count) => `${count} vs 1`),
    'torch 1-thread', 'torch, OPENBLAS_* unset',
  ];
  return [
    renderTable(header, rows),
    'normkit wasm median per thread count (same bits at every count); "n vs 1" = 1-thread median / n-thread median, > 1 means faster.',
    'torch, OPENBLAS_* unset = PyTorch 1-thread again with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment.',
  ].join('\n');
}
