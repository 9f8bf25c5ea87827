// One worker thread of the lab's pool (tinypool): runs one experiment at the seeds it is given with the
// same `runPreset` as the sequential lab, posting every progress event to the main thread; the result
// returns through tinypool by structured clone (NaN, infinities and typed arrays survive it, unlike JSON).
import type { MessagePort } from 'node:worker_threads';
import Tinypool from 'tinypool';
import { presetByName, runPreset, type ExperimentResources, type MnistSource, type PresetMode, type PresetResult } from '@normkit/experiments';
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

/**
 * One experiment at some seeds; `port` receives its `PresetProgress` events and then `LAB_JOB_DRAINED`
 * (the worker's tinypool result travels on another channel and may overtake the last events; closing the
 * port does not reach the main thread while tinypool's idle worker blocks in Atomics.wait).
 */
export interface LabJob {
  preset: string;
  mode: PresetMode;
  seeds: number[];
  port: MessagePort;
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

/** Runs `job` (tinypool calls it; never throws for a failing experiment, like `runPreset`). */
export default function runLabJob(job: LabJob): PresetResult {
  try {
    const preset = presetByName(job.preset);
    if (!preset) throw new ValueError({ op: 'lab worker', expected: 'a registered preset name', given: JSON.stringify(job.preset) });
    return runPreset(preset, { mode: job.mode, seeds: job.seeds, resources: setUp(), onProgress: (event) => job.port.postMessage(event) });
  } finally {
    job.port.postMessage(LAB_JOB_DRAINED);
    job.port.close();
  }
}
