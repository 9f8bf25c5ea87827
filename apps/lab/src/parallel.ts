// Runs the lab's experiments on a pool of worker threads (tinypool), one experiment per job, and hands
// their progress and results on in report order, so the output and the report read as a sequential run's.
import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import Tinypool from 'tinypool';
import { presetErrorResult, presetSeeds, type MnistSource, type PresetProgress, type PresetResult } from '@normkit/experiments';
import { assembleReport, type LabReport, type RunLabOptions } from './lab';
import { LAB_JOB_DRAINED, type LabJob, type LabWorkerData } from './lab-worker';

/**
 * Experiments at a time by default: one per core (each worker then computes on one kernel thread;
 * two one-thread processes run a GEMM side by side at full speed each, two threads in one process
 * about 1.15x for a Linear step: see the lab README), never more than there are experiments.
 */
export function defaultJobs(experiments: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(cores, experiments));
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
  /** Experiments run at a time (worker threads). */
  jobs: number;
  /** Kernel threads of each worker (default `threadsPerJob(jobs)`). */
  threads?: number;
  /** The worker module (default `lab-worker.js` beside this file). */
  workerUrl?: URL;
  /** Node flags of the workers (tests running from sources pass tsx's loader). */
  execArgv?: string[];
}

/**
 * `runLab` on `jobs` worker threads: each experiment runs whole (every seed) in one worker, with
 * `threads` kernel threads, through the same `runPreset`; `onProgress` and `onResult` see the
 * events and results in the order and with the content a sequential `runLab` gives (the numbers
 * are the same to the last bit: every run is seeded and kernels are deterministic for any thread
 * count; only timings differ). A worker that dies gives that experiment an 'error' result and the
 * others go on.
 */
export async function runLabParallel(options: ParallelLabOptions): Promise<LabReport> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const seedPass = options.seedPass ?? (options.mode === 'reduced' ? 'reduced' : 'all');
  const count = options.presets.length;
  const claims: PresetResult[] = new Array<PresetResult>(count);
  const relay = new OrderedRelay<PresetProgress, PresetResult>(
    count,
    (index, event) => options.onProgress?.(event, { index, count }),
    (index, result) => {
      claims[index] = result;
      options.onResult?.(result, { index, count });
    },
  );
  const resources = options.resources ?? {};
  const workerData: LabWorkerData = {
    threads: options.threads ?? threadsPerJob(options.jobs),
    mnist: resources.mnist ? shareMnist(resources.mnist) : null,
    dataParallelSize: resources.dataParallel?.size ?? null,
  };
  const pool = new Tinypool({
    filename: (options.workerUrl ?? new URL('./lab-worker.js', import.meta.url)).href,
    minThreads: Math.min(options.jobs, count),
    maxThreads: Math.min(options.jobs, count),
    workerData,
    ...(options.execArgv ? { execArgv: options.execArgv } : {}),
  });
  try {
    await Promise.all(options.presets.map(async (preset, index) => {
      const seeds = presetSeeds(preset, seedPass);
      const { port1, port2 } = new MessageChannel();
      const drained = new Promise<void>((resolve) => {
        port1.on('message', (event: PresetProgress | typeof LAB_JOB_DRAINED) => {
          if (event === LAB_JOB_DRAINED) resolve();
          else relay.event(index, event);
        });
      });
      const job: LabJob = { preset: preset.name, mode: options.mode, seeds, port: port2 };
      let result: PresetResult;
      try {
        result = (await pool.run(job, { transferList: [port2] })) as PresetResult;
        await drained;
      } catch (error) {
        result = presetErrorResult(preset, options.mode, seeds, error, 'its lab worker');
      } finally {
        port1.close();
      }
      relay.result(index, result);
    }));
  } finally {
    await pool.destroy();
  }
  return assembleReport(options, seedPass, claims, now() - started);
}
