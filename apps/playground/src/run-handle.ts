// The page's side of one run: owns its Web Worker, keeps the run's event history and status.
import type { ExperimentConfig } from '@normkit/experiments';
import type { BoundaryMap } from './boundary';
import type { GeneratedView } from './generated';
import type { LayerInspection } from './layer-inspect';
import type { ExportFormat, ExportReference, FromWorker, RunSummary, ToWorker } from './protocol';
import type { RunHistory } from './series';
import type { ThreadInfo } from './threads';

/** A model download the worker answered. */
export interface ExportedModel {
  format: ExportFormat;
  step: number;
  bytes: Uint8Array;
  /** The worker's eval outputs on a few training samples at the same step. */
  reference: ExportReference | null;
}

/**
 * starting: the worker is building the trainer; loading: it fetches data (MNIST); paused/running:
 * the run can train; done/diverged/failed: the run ended (the engine's end event says why);
 * error: the config could not be built, or the worker stopped.
 */
export type RunStatus = 'starting' | 'loading' | 'paused' | 'running' | 'done' | 'diverged' | 'failed' | 'error';

/**
 * One run in its own module Web Worker, so training never blocks the page and a run that fails
 * cannot stop the others. Each new config gets a fresh worker (terminating the old one), so no
 * event of an old config can reach the new history.
 */
export class RunHandle {
  status: RunStatus = 'starting';
  config: ExperimentConfig | null = null;
  history: RunHistory = { steps: [], evals: [], end: null };
  completedSteps = 0;
  summary: RunSummary | null = null;
  /** Why the run is in 'error', or what it is loading. */
  message: string | null = null;
  /** Training speed over the last seconds while playing (null before, or while paused). */
  stepsPerSecond: number | null = null;
  threads: ThreadInfo | null = null;
  /** The latest views from the worker. */
  boundary: BoundaryMap | null = null;
  generated: GeneratedView | null = null;
  inspection: LayerInspection | null = null;
  viewProblem: string | null = null;
  /** Worker time spent training and on views while playing (the views' share is throttled to 10%). */
  viewTime = { trainMs: 0, viewMs: 0, longestViewMs: 0 };
  private worker: Worker | null = null;
  private threadCount = 1;
  private nextExportId = 1;
  private readonly exports = new Map<number, { resolve(model: ExportedModel): void; reject(error: Error): void }>();

  constructor(private readonly onUpdate: (handle: RunHandle) => void) {}

  /** Starts this config from step 0 in a new worker; plays at once when `play`. */
  configure(config: ExperimentConfig, play: boolean): void {
    this.worker?.terminate();
    this.failExports('the run was started over');
    this.boundary = null;
    this.generated = null;
    this.inspection = null;
    this.viewProblem = null;
    this.stepsPerSecond = null;
    this.threads = null;
    this.config = config;
    this.history = { steps: [], evals: [], end: null };
    this.completedSteps = 0;
    this.summary = null;
    this.message = null;
    this.status = 'starting';
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'normkit-run' });
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      if (worker === this.worker) this.receive(event.data);
    };
    worker.onerror = (event: ErrorEvent) => {
      if (worker !== this.worker) return;
      event.preventDefault();
      this.status = 'error';
      this.message = `The run's worker stopped: ${event.message || 'it could not be started (see the browser console)'}`;
      this.onUpdate(this);
    };
    this.worker = worker;
    this.send({ type: 'configure', config, play, threads: this.threadCount });
    this.onUpdate(this);
  }

  /** Plays now, or as soon as the trainer is built (the worker handles messages in order). */
  play(): void {
    if (this.status === 'paused' || this.status === 'starting' || this.status === 'loading') this.send({ type: 'play' });
  }

  pause(): void {
    if (this.status === 'running' || this.status === 'starting' || this.status === 'loading') this.send({ type: 'pause' });
  }

  step(count: number): void {
    if (this.status === 'paused') this.send({ type: 'step', count });
  }

  /** The same config from step 0, paused (a fresh worker if this one cannot reset: an error or no trainer). */
  reset(): void {
    if (!this.config) return;
    if (this.status === 'error' || this.status === 'starting' || this.status === 'loading') this.configure(this.config, false);
    else this.send({ type: 'reset' });
  }

  /** Intra-op threads for this run's worker (the page shares the cores between active runs). */
  setThreads(count: number): void {
    if (count === this.threadCount) return;
    this.threadCount = count;
    this.send({ type: 'threads', count });
  }

  /** Shows this normalization layer in the histograms. */
  inspect(layer: string): void {
    this.send({ type: 'inspect', layer });
  }

  /** The trained model in `format`, as the worker has it now. */
  exportModel(format: ExportFormat): Promise<ExportedModel> {
    if (!this.worker || !this.summary) return Promise.reject(new Error('The run has no model yet: wait until it is built.'));
    const id = this.nextExportId++;
    return new Promise((resolve, reject) => {
      this.exports.set(id, { resolve, reject });
      this.send({ type: 'export', format, id });
    });
  }

  dispose(): void {
    this.worker?.terminate();
    this.worker = null;
    this.failExports('the run was removed');
  }

  private failExports(why: string): void {
    for (const pending of this.exports.values()) pending.reject(new Error(`No download: ${why}.`));
    this.exports.clear();
  }

  private send(message: ToWorker): void {
    this.worker?.postMessage(message);
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case 'loading':
        this.status = 'loading';
        this.message = `Loading ${message.what}...`;
        break;
      case 'ready':
        this.history = { steps: [], evals: [], end: null };
        this.completedSteps = 0;
        this.stepsPerSecond = null;
        this.summary = message.summary;
        this.threads = message.summary.threads;
        this.message = null;
        this.status = 'paused';
        break;
      case 'events':
        for (const event of message.events) {
          if (event.type === 'step') this.history.steps.push(event);
          else if (event.type === 'eval') this.history.evals.push(event);
          else this.history.end = event;
        }
        this.completedSteps = message.completedSteps;
        this.status = message.status === 'ready' ? (message.playing ? 'running' : 'paused') : message.status;
        if (message.playing && message.stepsPerSecond !== null) this.stepsPerSecond = message.stepsPerSecond;
        break;
      case 'views':
        this.boundary = message.boundary;
        this.generated = message.generated;
        this.inspection = message.inspection;
        this.viewProblem = message.problem;
        this.viewTime = { trainMs: message.trainMs, viewMs: message.viewMs, longestViewMs: message.longestViewMs };
        break;
      case 'threads':
        this.threads = message.info;
        break;
      case 'exported':
      case 'export-failed': {
        const pending = this.exports.get(message.id);
        this.exports.delete(message.id);
        if (message.type === 'exported') pending?.resolve({ format: message.format, step: message.step, bytes: message.bytes, reference: message.reference });
        else pending?.reject(new Error(`${message.error.name}: ${message.error.message}`));
        return;
      }
      case 'error':
        this.status = 'error';
        this.message = `${message.error.name}: ${message.error.message}`;
        break;
    }
    this.onUpdate(this);
  }
}
