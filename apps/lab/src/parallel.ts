// Runs the lab's experiments on a pool of worker threads (tinypool), one job per seed of an experiment
// (seeds of experiments sharing a run in one job), longest first, and hands their progress and the
// experiments' combined results on in report order, so the output and the report read as a sequential run's.
import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import Tinypool from 'tinypool';
import {
  combineSeedParts, preparePreset, presetSeeds,
  type MnistSource, type PresetProgress, type PresetResult, type PreparedPreset, type SeedPart,
} from '@normkit/experiments';
import { assembleReport, type LabReport, type RunLabOptions } from './lab';
import { LAB_JOB_DRAINED, type LabJob, type LabJobEvent, type LabJobResult, type LabWorkerData } from './lab-worker';
import { scheduleJobs, type LabUnit, type ScheduledJob } from './schedule';

/**
 * Jobs at a time by default: one per core (each worker then computes on one kernel thread;
 * two one-thread processes run a GEMM side by side at full speed each, two threads in one process
 * about 1.15x for a Linear step: see the lab README), never more than there are seeds to run
 * (every seed of every experiment is a job, or part of one).
 */
export function defaultJobs(seeds: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(cores, seeds));
}

/** Kernel threads per job so that jobs x threads does not exceed the cores (at least one). */
export function threadsPerJob(jobs: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / jobs));
}

/**
 * Delivers events and results of jobs that finish in any order as a sequential run would have
 * produced them: the first unfinished job's events go through as they come (its progress stays
 * live), a later job's are held until every job before it has delivered its result, then replayed in
 * order before its own result.
 *
 * @example
 * const relay = new OrderedRelay<string, string>(2, (i, e) => log.push(e), (i, r) => log.push(r));
 * relay.event(1, 'b started'); relay.result(1, 'B');   // held: job 0 is not done
 * relay.event(0, 'a started'); relay.result(0, 'A');   // log: a started, A, b started, B
 */
export class OrderedRelay<E, R> {
  private head = 0;
  private readonly held: E[][];
  private readonly results: Array<{ value: R } | undefined>;

  constructor(
    private readonly count: number,
    private readonly deliverEvent: (index: number, event: E) => void,
    private readonly deliverResult: (index: number, result: R) => void,
  ) {
    this.held = Array.from({ length: count }, () => []);
    this.results = new Array<{ value: R } | undefined>(count);
  }

  /** Every result delivered. */
  get done(): boolean {
    return this.head === this.count;
  }

  event(index: number, event: E): void {
    this.check(index);
    if (index === this.head) this.deliverEvent(index, event);
    else this.held[index]!.push(event);
  }

  result(index: number, result: R): void {
    this.check(index);
    if (this.results[index]) throw new RangeError(`OrderedRelay.result: expected one result per job, got a second for job ${index}`);
    this.results[index] = { value: result };
    while (this.head < this.count && this.results[this.head]) {
      this.deliverResult(this.head, this.results[this.head]!.value);
      this.held[this.head] = [];
      this.head++;
      if (this.head < this.count) this.flush(this.head);
    }
  }

  private flush(index: number): void {
    const events = this.held[index]!;
    this.held[index] = [];
    for (const event of events) this.deliverEvent(index, event);
  }

  private check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new RangeError(`OrderedRelay: expected a job index in [0, ${this.count}), got ${index}`);
  }
}

/**
 * The digits copied once into SharedArrayBuffers: workers read them without a copy of their own.
 * Float32 images stay float32; anything else is kept exactly as float64.
 */
function shareMnist(source: MnistSource): MnistSource {
  return {
    digits: source.digits.map((digit) => {
      const single = digit instanceof Float32Array;
      const buffer = new SharedArrayBuffer(digit.length * (single ? 4 : 8));
      const shared = single ? new Float32Array(buffer) : new Float64Array(buffer);
      shared.set(digit);
      return shared;
    }),
  };
}

export interface ParallelLabOptions extends RunLabOptions {
  /** Jobs run at a time (worker threads). */
  jobs: number;
  /** Kernel threads of each worker (default `threadsPerJob(jobs)`). */
  threads?: number;
  /** The worker module (default `lab-worker.js` beside this file). */
  workerUrl?: URL;
  /** Node flags of the workers (tests running from sources pass tsx's loader). */
  execArgv?: string[];
  /** Estimated seconds per seed of a preset (default the measured `SECONDS_PER_SEED`); only the order of the jobs depends on it. */
  secondsPerSeed?: (preset: string) => number;
  /** Receives the jobs in the order they are handed out, before any runs (tests, logs). */
  onSchedule?: (jobs: readonly ScheduledJob[]) => void;
  /** Receives each job when it is done, with how many runs it trained and how many it shared (none for a job whose worker died). */
  onJobEnd?: (job: ScheduledJob, runs: { trained: number; shared: number }) => void;
}

/** Where the parallel lab stands with one experiment: how many of its seeds are done (in any order). */
export interface SeedPosition {
  index: number;
  count: number;
  /** Seeds of this experiment finished so far, of `total` (absent for an experiment that did not run). */
  seeds?: { done: number; total: number };
}

/** What a unit of the relay delivers: one seed's part, or the whole result of an experiment that could not run. */
type UnitOutcome = { part: SeedPart } | { result: PresetResult };

/**
 * `runLab` on `jobs` worker threads. Each experiment's seeds run as separate jobs (`runPresetSeed`),
 * except that seeds of experiments sharing a run (same resolved configuration) run in one job that
 * trains it once (RunCache); the jobs go longest first (`scheduleJobs`), and each experiment's seeds
 * are combined with its declared seed rule exactly as `runPreset` does (`combineSeedParts`).
 * `onProgress` and `onResult` see the events and results in the order and with the content a
 * sequential `runLab` gives (the numbers are the same to the last bit: every run is seeded and
 * kernels are deterministic for any thread count; only timings differ), the position also telling
 * how many of the experiment's seeds are done. A worker that dies gives its seeds' experiments an
 * 'error' (naming 'its lab worker') and the others go on. An experiment's runtime is the sum of its seeds'.
 */
export async function runLabParallel(options: ParallelLabOptions): Promise<LabReport> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const seedPass = options.seedPass ?? (options.mode === 'reduced' ? 'reduced' : 'all');
  const resources = options.resources ?? {};
  const count = options.presets.length;
  const claims: PresetResult[] = new Array<PresetResult>(count);

  // Prepared in this thread (requirements and plans), so an experiment that cannot run is reported without a job.
  const prepared: Array<PreparedPreset | PresetResult> = options.presets.map((preset) => preparePreset(preset, options.mode, presetSeeds(preset, seedPass), resources));
  const units: Array<LabUnit & { presetIndex: number; seedIndex: number }> = [];
  // The relay's units in report order: each experiment's seeds, or one unit for an experiment that cannot run.
  const firstUnit: number[] = [];
  const unitCount: number[] = [];
  const presetOfUnit: number[] = [];
  prepared.forEach((p, presetIndex) => {
    const first = presetOfUnit.length;
    firstUnit.push(first);
    if ('plans' in p) {
      p.plans.forEach((plan, seedIndex) => units.push({ unit: first + seedIndex, preset: options.presets[presetIndex]!.name, seed: plan.seed, runs: plan.runs, presetIndex, seedIndex }));
    }
    unitCount.push('plans' in p ? p.plans.length : 1);
    for (let i = 0; i < unitCount[presetIndex]!; i++) presetOfUnit.push(presetIndex);
  });
  const relayed = presetOfUnit.length;

  const parts: Array<Array<SeedPart | undefined>> = unitCount.map((n) => new Array<SeedPart | undefined>(n));
  const seedsDone = unitCount.map(() => 0);
  const positionOf = (presetIndex: number): SeedPosition => ({
    index: presetIndex, count,
    ...('plans' in prepared[presetIndex]! ? { seeds: { done: seedsDone[presetIndex]!, total: unitCount[presetIndex]! } } : {}),
  });
  const finish = (presetIndex: number, result: PresetResult): void => {
    options.onProgress?.({ type: 'preset-end', preset: result.name, verdict: result.verdict, elapsedMs: result.runtimeMs }, positionOf(presetIndex));
    claims[presetIndex] = result;
    options.onResult?.(result, positionOf(presetIndex));
  };
  const relay = new OrderedRelay<PresetProgress, UnitOutcome>(
    relayed,
    (unit, event) => options.onProgress?.(event, positionOf(presetOfUnit[unit]!)),
    (unit, outcome) => {
      const presetIndex = presetOfUnit[unit]!;
      if ('result' in outcome) {
        finish(presetIndex, outcome.result);
        return;
      }
      const seedParts = parts[presetIndex]!;
      seedParts[unit - firstUnit[presetIndex]!] = outcome.part;
      if (unit !== firstUnit[presetIndex]! + unitCount[presetIndex]! - 1) return;
      const preset = options.presets[presetIndex]!;
      const ready = prepared[presetIndex] as PreparedPreset;
      const result = combineSeedParts(preset, options.mode, ready.seeds, seedParts as SeedPart[]);
      result.runtimeMs = seedParts.reduce((total, part) => total + part!.runtimeMs, 0);
      finish(presetIndex, result);
    },
  );
  const schedule = scheduleJobs(units, options.secondsPerSeed);
  options.onSchedule?.(schedule);
  // An experiment's start is the first event of its first seed; one that could not run is done already.
  prepared.forEach((p, presetIndex) => {
    const preset = options.presets[presetIndex]!;
    if ('plans' in p) relay.event(firstUnit[presetIndex]!, { type: 'preset-start', preset: preset.name, title: preset.title, runs: p.totalRuns, totalSteps: p.totalSteps });
    else relay.result(firstUnit[presetIndex]!, { result: p });
  });

  if (schedule.length === 0) return assembleReport(options, seedPass, claims, now() - started);
  const workerData: LabWorkerData = {
    threads: options.threads ?? threadsPerJob(options.jobs),
    mnist: resources.mnist ? shareMnist(resources.mnist) : null,
    dataParallelSize: resources.dataParallel?.size ?? null,
  };
  const pool = new Tinypool({
    filename: (options.workerUrl ?? new URL('./lab-worker.js', import.meta.url)).href,
    minThreads: Math.min(options.jobs, schedule.length),
    maxThreads: Math.min(options.jobs, schedule.length),
    workerData,
    ...(options.execArgv ? { execArgv: options.execArgv } : {}),
  });
  const unitOf = new Map(units.map((u) => [u.unit, u]));
  try {
    // Handed to the pool longest first: tinypool starts queued tasks in the order they were submitted.
    await Promise.all(schedule.map(async (scheduled) => {
      const { port1, port2 } = new MessageChannel();
      const drained = new Promise<void>((resolve) => {
        port1.on('message', (message: LabJobEvent | typeof LAB_JOB_DRAINED) => {
          if (message === LAB_JOB_DRAINED) resolve();
          else relay.event(message.unit, message.event);
        });
      });
      const job: LabJob = {
        units: scheduled.units.map((u) => {
          const unit = unitOf.get(u.unit)!;
          return { unit: u.unit, preset: u.preset, seeds: (prepared[unit.presetIndex] as PreparedPreset).seeds, seedIndex: unit.seedIndex };
        }),
        mode: options.mode,
        port: port2,
      };
      let jobParts: SeedPart[];
      try {
        const done = (await pool.run(job, { transferList: [port2] })) as LabJobResult;
        jobParts = done.parts;
        await drained;
        options.onJobEnd?.(scheduled, { trained: done.trained, shared: done.shared });
      } catch (error) {
        const err = error instanceof Error ? error : new Error(String(error));
        jobParts = job.units.map((u) => ({
          seed: unitOf.get(u.unit)!.seed, runs: [], outcome: null, shown: null, runtimeMs: 0,
          failure: { error: { name: err.name, message: err.message }, where: 'its lab worker' },
        }));
      } finally {
        port1.close();
      }
      job.units.forEach((u, i) => {
        seedsDone[unitOf.get(u.unit)!.presetIndex]!++;
        relay.result(u.unit, { part: jobParts[i]! });
      });
    }));
  } finally {
    await pool.destroy();
  }
  return assembleReport(options, seedPass, claims, now() - started);
}

