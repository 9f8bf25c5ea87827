// Messages between the page and a run's Web Worker. Everything is plain data (structured-clone
// safe): configs are resolved `ExperimentConfig`s, events are the engine's `TrainerEvent`s.
import type { ExperimentConfig, TrainerEvent, TrainerStatus } from '@normkit/experiments';
import type { BackendName } from '@normkit/tensor';
import type { BoundaryMap } from './boundary';
import type { GeneratedView } from './generated';
import type { LayerInspection } from './layer-inspect';
import type { ThreadInfo } from './threads';

/** What a run can be downloaded as. */
export type ExportFormat = 'safetensors' | 'bundle' | 'onnx';

/** The worker's own eval-mode outputs for a few training samples, to check an exported model against. */
export interface ExportReference {
  /** [rows, ...sampleShape] row-major. */
  inputs: Float32Array;
  shape: number[];
  /** [rows, classes] row-major. */
  logits: Float32Array;
}

/** The page asks a worker to... */
export type ToWorker =
  /** ...build a trainer for this config (dropping any previous one), then play if asked. */
  | { type: 'configure'; config: ExperimentConfig; play: boolean; threads?: number }
  /** ...use this many intra-op threads (the page shares the cores between the active runs). */
  | { type: 'threads'; count: number }
  /** ...show this normalization layer in the histograms. */
  | { type: 'inspect'; layer: string }
  /** ...send the trained model in this format (answered by `exported` or `export-failed` with the same id). */
  | { type: 'export'; format: ExportFormat; id: number }
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
  threads: ThreadInfo;
  /** The data are points of the plane: the worker sends decision-boundary maps. */
  planar: boolean;
  /** The model's normalization layers (module paths) the histograms can show. */
  normLayers: string[];
}

/** A worker tells the page... */
export type FromWorker =
  /** ...that it is fetching data before it can build (MNIST). */
  | { type: 'loading'; what: string }
  /** ...that the trainer is built (or rebuilt by a reset) and waits at step 0. */
  | { type: 'ready'; summary: RunSummary }
  /** ...the events since its last message, and where the run stands. */
  | { type: 'events'; events: TrainerEvent[]; status: TrainerStatus; playing: boolean; completedSteps: number; stepsPerSecond: number | null }
  /**
   * ...the model's views at a step: the decision boundary (2-D data), the generated samples per
   * class (2-D generation), and the chosen layer's
   * histograms. `trainMs`/`viewMs`: worker time spent training and computing views while playing;
   * `longestViewMs`: the longest single view among those (the views' share can exceed its budget by at
   * most one view that took longer than the last one, the scheduler's estimate).
   */
  | {
    type: 'views'; boundary: BoundaryMap | null; generated: GeneratedView | null; inspection: LayerInspection | null; problem: string | null;
    trainMs: number; viewMs: number; longestViewMs: number;
  }
  /** ...how many threads it uses now. */
  | { type: 'threads'; info: ThreadInfo }
  /** ...the trained model in the format asked for. */
  | { type: 'exported'; id: number; format: ExportFormat; step: number; bytes: Uint8Array; reference: ExportReference | null }
  | { type: 'export-failed'; id: number; format: ExportFormat; error: { name: string; message: string } }
  /** ...that the config could not be built into a trainer (the run never started). */
  | { type: 'error'; error: { name: string; message: string } };
