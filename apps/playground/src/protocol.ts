// Messages between the page and a run's Web Worker. Everything is plain data (structured-clone
// safe): configs are resolved `ExperimentConfig`s, events are the engine's `TrainerEvent`s.
import type { ExperimentConfig, TrainerEvent, TrainerStatus } from '@normkit/experiments';
import type { BackendName } from '@normkit/tensor';

/** The page asks a worker to... */
export type ToWorker =
  /** ...build a trainer for this config (dropping any previous one), then play if asked. */
  | { type: 'configure'; config: ExperimentConfig; play: boolean }
  | { type: 'play' }
  | { type: 'pause' }
  /** ...take `count` steps now (while paused). */
  | { type: 'step'; count: number }
  /** ...start the same config over, paused. */
  | { type: 'reset' };

/** What the page learns about a freshly built run. */
export interface RunSummary {
  parameters: number;
  trainSamples: number;
  testSamples: number;
  numClasses: number;
  sampleShape: number[];
  /** The compute backend the worker trains on (`getBackend()` of @normkit/tensor there). */
  backend: BackendName;
}

/** A worker tells the page... */
export type FromWorker =
  /** ...that it is fetching data before it can build (MNIST). */
  | { type: 'loading'; what: string }
  /** ...that the trainer is built (or rebuilt by a reset) and waits at step 0. */
  | { type: 'ready'; summary: RunSummary }
  /** ...the events since its last message, and where the run stands. */
  | { type: 'events'; events: TrainerEvent[]; status: TrainerStatus; playing: boolean; completedSteps: number }
  /** ...that the config could not be built into a trainer (the run never started). */
  | { type: 'error'; error: { name: string; message: string } };
