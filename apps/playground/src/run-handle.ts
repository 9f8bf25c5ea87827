// The page's side of one run: owns its Web Worker, keeps the run's event history and status.
import type { ExperimentConfig } from '@normkit/experiments';
import type { FromWorker, RunSummary, ToWorker } from './protocol';
import type { RunHistory } from './series';

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
  private worker: Worker | null = null;

  constructor(private readonly onUpdate: (handle: RunHandle) => void) {}

  /** Starts this config from step 0 in a new worker; plays at once when `play`. */
  configure(config: ExperimentConfig, play: boolean): void {
    this.worker?.terminate();
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
    this.send({ type: 'configure', config, play });
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

  dispose(): void {
    this.worker?.terminate();
    this.worker = null;
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
        this.summary = message.summary;
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
        break;
      case 'error':
        this.status = 'error';
        this.message = `${message.error.name}: ${message.error.message}`;
        break;
    }
    this.onUpdate(this);
  }
}
