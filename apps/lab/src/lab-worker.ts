// One worker thread of the lab's pool (tinypool): runs a job's seeds of one or more experiments with the
// same steps as the sequential lab's `runPreset` (`runPresetSeed` per seed; the main thread combines the
// seeds), training a run that several of them share once (RunCache), and posting every progress event to
// the main thread; the seeds' parts return through tinypool by structured clone (NaN, infinities and typed
// arrays survive it, unlike JSON).
import type { MessagePort } from 'node:worker_threads';
import Tinypool from 'tinypool';
import {
  RunCache, preparePreset, presetByName, runPresetSeed,
  type ExperimentResources, type MnistSource, type PresetMode, type PresetProgress, type PreparedPreset, type SeedPart,
} from '@normkit/experiments';
import { dataParallelRunner } from '@normkit/experiments/node';
import { ValueError, setNumThreads } from '@normkit/tensor';
import { registerLabPlugins } from './plugins';

/** What every worker of the pool starts with (tinypool's `workerData`). */
export interface LabWorkerData {
  /** Kernel threads of this worker (`setNumThreads`): jobs x threads stays within the cores. */
  threads: number;
  /** The MNIST digits in SharedArrayBuffers: every worker reads the main thread's one copy. */
  mnist: MnistSource | null;
  /** Ranks of the data-parallel resource, when a selected preset needs it. */
  dataParallelSize: number | null;
}

/** One seed of one experiment in a job: `unit` tags its events and its part (its place in report order). */
export interface LabJobUnit {
  unit: number;
  preset: string;
  /** Every seed the experiment runs (its progress counts them all), and which of them this unit is. */
  seeds: number[];
  seedIndex: number;
}

/**
 * Seeds of experiments run one after another in one worker, sharing runs of the same configuration;
 * `port` receives each unit's `PresetProgress` events (`LabJobEvent`) and then `LAB_JOB_DRAINED` (the
 * worker's tinypool result travels on another channel and may overtake the last events; closing the
 * port does not reach the main thread while tinypool's idle worker blocks in Atomics.wait).
 */
export interface LabJob {
  units: LabJobUnit[];
  mode: PresetMode;
  port: MessagePort;
}

/** A progress event of one unit of a job. */
export interface LabJobEvent {
  unit: number;
  event: PresetProgress;
}

/** What a job returns: each unit's part, in the job's unit order, and how many runs were trained and shared. */
export interface LabJobResult {
  parts: SeedPart[];
  trained: number;
  shared: number;
}

/** The last message on a job's port. */
export const LAB_JOB_DRAINED = 'lab-job-drained';

let resources: ExperimentResources | null = null;

function setUp(): ExperimentResources {
  if (resources) return resources;
  const data = Tinypool.workerData as LabWorkerData;
  registerLabPlugins();
  setNumThreads(data.threads);
  resources = {};
  if (data.mnist) resources.mnist = data.mnist;
  if (data.dataParallelSize) resources.dataParallel = dataParallelRunner(data.dataParallelSize);
  return resources;
}

/**
 * Runs `job` (tinypool calls it): every unit's seed with `runPresetSeed`, its runs from one RunCache
 * built for the whole job (freed as the job goes). Throws only when a unit names no registered
 * experiment or cannot be planned here (the main thread prepared it: that is a bug); a failing run or
 * analysis is that unit's part's failure, as in `runPreset`.
 */
export default function runLabJob(job: LabJob): LabJobResult {
  try {
    const res = setUp();
    const prepared = job.units.map((u): { preset: NonNullable<ReturnType<typeof presetByName>>; prepared: PreparedPreset } => {
      const preset = presetByName(u.preset);
      if (!preset) throw new ValueError({ op: 'lab worker', expected: 'a registered preset name', given: JSON.stringify(u.preset) });
      const ready = preparePreset(preset, job.mode, u.seeds, res);
      if (!('plans' in ready)) throw new ValueError({ op: 'lab worker', expected: `experiment "${u.preset}" ready to run here as in the main thread`, given: ready.reason });
      return { preset, prepared: ready };
    });
    const cache = RunCache.forRuns(prepared.flatMap((p, i) => p.prepared.plans[job.units[i]!.seedIndex]!.runs));
    const parts = job.units.map((u, i) => runPresetSeed(prepared[i]!.preset, prepared[i]!.prepared, u.seedIndex, {
      mode: job.mode, resources: res, runSource: cache,
      onProgress: (event) => job.port.postMessage({ unit: u.unit, event } satisfies LabJobEvent),
    }));
    return { parts, ...cache.stats };
  } finally {
    job.port.postMessage(LAB_JOB_DRAINED);
    job.port.close();
  }
}
