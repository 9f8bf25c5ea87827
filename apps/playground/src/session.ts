// The worker side of one run: a Trainer driven by the page's messages. Kept free of worker globals
// so tests drive it directly in Node; worker.ts only connects it to `self`.
import { createTrainer, datasets, type ExperimentResources, type MnistSource, type Trainer, type TrainerEvent } from '@normkit/experiments';
import { getBackend } from '@normkit/tensor';
import { decisionBoundary, evalLogits, isPlanar, type BoundaryMap } from './boundary';
import { errorMessage } from './drafts';
import { generatedSamples, isPlanarGeneration, type GeneratedView } from './generated';
import { inspectLayer, normLayers, recordNormLayers, type LayerInspection, type SlotRecording } from './layer-inspect';
import { exportBundle, exportModelOnnx, exportSafetensors } from './model-export';
import type { ExportFormat, ExportReference, FromWorker, RunSummary, ToWorker } from './protocol';
import { applyThreads, type ThreadInfo } from './threads';

export interface SessionHost {
  /** `transfer`: buffers handed over instead of copied (a worker's postMessage). */
  post(message: FromWorker, transfer?: Transferable[]): void;
  /** Calls `callback` soon, after pending messages had a chance to arrive (setTimeout 0 in a worker). */
  schedule(callback: () => void): void;
  loadMnist(): Promise<MnistSource>;
  /** Milliseconds clock (default `performance.now`). */
  now?: () => number;
  /** Sets the worker's intra-op threads and reports what it got (default: ./threads `applyThreads`). */
  applyThreads?: (wanted: number) => ThreadInfo;
}

export interface SessionOptions {
  /** Wall time of one training slice while playing, before the worker looks at its messages again. */
  sliceMs?: number;
  /** Largest share of the worker's time while playing that the views (map, histograms) may take (default 0.1). */
  viewShare?: number;
  /** Least wall time between two views while playing (default 250 ms: four maps a second is live enough). */
  viewIntervalMs?: number;
}

/** Steps per second over about this much recent wall time while playing. */
const SPEED_WINDOW_MS = 2000;

/**
 * One run inside a Web Worker. While playing it trains in slices of about `sliceMs` (the engine's
 * `run(n, { timeBudgetMs })`), posting the slice's events after each, then yields so a pause,
 * step, reset or new config is handled within one slice. A normalizer that throws mid-training
 * ends this run with the engine's `failed` event; the page shows it and the other runs, in their
 * own workers, keep going. A config that cannot be built is reported as an `error` message.
 */
export class RunSession {
  private trainer: Trainer | null = null;
  private playing = false;
  private sliceScheduled = false;
  private pending: TrainerEvent[] = [];
  /** Bumped by every configure, so a slow MNIST load for an old config is dropped. */
  private generation = 0;
  private readonly sliceMs: number;
  private readonly viewShare: number;
  private readonly viewIntervalMs: number;
  private readonly now: () => number;
  private threads: ThreadInfo = { threads: 1, available: false, reason: null };
  /** The layer the histograms show (null: the first). */
  private inspected: string | null = null;
  /** What each normalization slot received and gave in the last training step. */
  private recordings: ReadonlyMap<string, SlotRecording> = new Map();
  /** Worker time while playing: training slices, and the views computed between them. */
  private trainMs = 0;
  private viewMs = 0;
  /** The longest single view while playing. */
  private longestViewMs = 0;
  /** The last view's cost, as the estimate of the next one's. */
  private viewCost = 0;
  private lastViewAt = -Infinity;
  private viewedStep = -1;
  /** (time, completed steps) at recent slice ends while playing, for steps per second. */
  private speedWindow: Array<[number, number]> = [];

  constructor(private readonly host: SessionHost, options: SessionOptions = {}) {
    this.sliceMs = options.sliceMs ?? 40;
    this.viewShare = options.viewShare ?? 0.1;
    this.viewIntervalMs = options.viewIntervalMs ?? 250;
    this.now = host.now ?? (() => globalThis.performance.now());
  }

  async handle(message: ToWorker): Promise<void> {
    switch (message.type) {
      case 'configure':
        if (message.threads !== undefined) this.threads = (this.host.applyThreads ?? applyThreads)(message.threads);
        return this.configure(message.config, message.play);
      case 'threads':
        this.threads = (this.host.applyThreads ?? applyThreads)(message.count);
        this.host.post({ type: 'threads', info: this.threads });
        return;
      case 'inspect':
        this.inspected = message.layer;
        if (!this.playing) this.postViews(true);
        return;
      case 'export':
        this.exportModel(message.format, message.id);
        return;
      case 'play':
        if (this.trainer?.status === 'ready') {
          this.playing = true;
          this.speedWindow = [];
          this.scheduleSlice();
        }
        this.flush();
        return;
      case 'pause':
        this.playing = false;
        this.flush();
        this.postViews(false);
        return;
      case 'step':
        if (this.trainer && !this.playing) {
          this.trainer.run(message.count);
          this.flush();
          this.postViews(false);
        }
        return;
      case 'reset':
        if (!this.trainer) return;
        this.playing = false;
        this.pending = [];
        this.trainer.reset();
        this.resetViews();
        this.recordings = recordNormLayers(this.trainer.model).recordings;
        this.host.post({ type: 'ready', summary: this.summary(this.trainer) });
        this.flush();
        this.postViews(true);
        return;
    }
  }

  private resetViews(): void {
    this.trainMs = 0;
    this.viewMs = 0;
    this.longestViewMs = 0;
    this.viewCost = 0;
    this.lastViewAt = -Infinity;
    this.viewedStep = -1;
    this.speedWindow = [];
  }

  /**
   * Computes the decision boundary (2-D data) and the chosen layer's histograms at the current
   * step and posts them. `force` recomputes at an unchanged step (another layer chosen, a reset).
   * Views never change the run (see decisionBoundary, recordNormLayers); one that fails is reported
   * as the views' problem and training goes on.
   */
  private postViews(force: boolean): number {
    const trainer = this.trainer;
    if (!trainer || (!force && trainer.completedSteps === this.viewedStep)) return 0;
    const start = this.now();
    let boundary: BoundaryMap | null = null;
    let inspection: LayerInspection | null = null;
    let generated: GeneratedView | null = null;
    const problems: string[] = [];
    if (isPlanarGeneration(trainer.dataset)) {
      try {
        generated = generatedSamples(trainer.model, trainer.dataset, trainer.completedSteps, trainer.config.seed);
      } catch (error) {
        problems.push(`Generated samples: ${errorMessage(error)}`);
      }
    }
    if (isPlanar(trainer.dataset)) {
      try {
        boundary = decisionBoundary(trainer.model, trainer.dataset, trainer.completedSteps);
      } catch (error) {
        problems.push(`Decision boundary: ${errorMessage(error)}`);
      }
    }
    if (trainer.task !== 'conditional-generation' && normLayers(trainer.model).length > 0) {
      try {
        inspection = inspectLayer(trainer.model, this.recordings, trainer.completedSteps, this.inspected ?? undefined);
      } catch (error) {
        problems.push(`Histograms: ${errorMessage(error)}`);
      }
    }
    this.viewedStep = trainer.completedSteps;
    const cost = this.now() - start;
    if (!boundary && !generated && !inspection && problems.length === 0) return cost; // nothing this model can show
    const transfer = [
      ...(boundary ? [boundary.classes.buffer, boundary.confidence.buffer, boundary.points.buffer, boundary.labels.buffer, boundary.predicted.buffer] : []),
      ...(generated ? [generated.generated.buffer, generated.generatedLabels.buffer, generated.real.buffer, generated.realLabels.buffer] : []),
    ];
    this.host.post({ type: 'views', boundary, generated, inspection, problem: problems.length > 0 ? problems.join(' ') : null, trainMs: this.trainMs, viewMs: this.viewMs + (this.playing ? cost : 0),
      longestViewMs: this.playing ? Math.max(this.longestViewMs, cost) : this.longestViewMs,
    }, transfer as Transferable[]);
    return cost;
  }

  /**
   * While playing, a view is computed only when it keeps the views' share of the worker's time
   * (training slices plus views) within `viewShare`, using the last view's cost as the estimate.
   */
  private viewsWhilePlaying(): void {
    const at = this.now();
    if (at - this.lastViewAt < this.viewIntervalMs) return;
    const budget = this.viewShare * (this.trainMs + this.viewMs + this.viewCost);
    if (this.viewMs + this.viewCost > budget) return;
    const cost = this.postViews(false);
    this.viewMs += cost;
    this.longestViewMs = Math.max(this.longestViewMs, cost);
    this.viewCost = cost;
    this.lastViewAt = at;
  }

  private exportModel(format: ExportFormat, id: number): void {
    const trainer = this.trainer;
    try {
      if (!trainer) throw new Error('the run has no model yet (it is still being built, or its config could not be)');
      const features = trainer.dataset.sampleShape.reduce((a, b) => a * b, 1);
      const bytes = format === 'safetensors'
        ? exportSafetensors(trainer.model, trainer.config, trainer.completedSteps)
        : format === 'bundle'
          ? exportBundle(trainer)
          : exportModelOnnx(trainer.model, trainer.dataset);
      const rows = Math.min(64, trainer.dataset.train.count);
      const shape = [rows, ...trainer.dataset.sampleShape];
      const inputs = trainer.dataset.train.inputs.slice(0, rows * features);
      const reference: ExportReference = { inputs, shape, logits: evalLogits(trainer.model, inputs, shape) };
      this.host.post({ type: 'exported', id, format, step: trainer.completedSteps, bytes, reference }, [bytes.buffer as ArrayBuffer]);
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      this.host.post({ type: 'export-failed', id, format, error: { name, message: errorMessage(error) } });
    }
  }

  private async configure(config: Parameters<typeof createTrainer>[0], play: boolean): Promise<void> {
    const generation = ++this.generation;
    this.trainer = null;
    this.playing = false;
    this.pending = [];
    this.resetViews();
    const resources: ExperimentResources = {};
    try {
      const definition = datasets[config.dataset.name];
      if (definition?.requires === 'mnist') {
        this.host.post({ type: 'loading', what: 'the MNIST digits (21 MB, once per run)' });
        resources.mnist = await this.host.loadMnist();
        if (generation !== this.generation) return;
      }
      const trainer = createTrainer(config, resources, { keepHistory: false });
      trainer.subscribe((event) => this.pending.push(event));
      this.recordings = recordNormLayers(trainer.model).recordings;
      this.trainer = trainer;
    } catch (error) {
      if (generation !== this.generation) return;
      const name = error instanceof Error ? error.name : 'Error';
      this.host.post({ type: 'error', error: { name, message: errorMessage(error) } });
      return;
    }
    this.host.post({ type: 'ready', summary: this.summary(this.trainer) });
    this.playing = play;
    if (play) this.scheduleSlice();
    this.flush();
    this.postViews(true);
  }

  private scheduleSlice(): void {
    if (this.sliceScheduled) return;
    this.sliceScheduled = true;
    this.host.schedule(() => {
      this.sliceScheduled = false;
      this.slice();
    });
  }

  private slice(): void {
    const trainer = this.trainer;
    if (!trainer || !this.playing) return;
    const start = this.now();
    trainer.run(Number.MAX_SAFE_INTEGER, { timeBudgetMs: this.sliceMs });
    const end = this.now();
    this.trainMs += end - start;
    this.speedWindow.push([end, trainer.completedSteps]);
    while (this.speedWindow.length > 2 && end - this.speedWindow[1]![0] >= SPEED_WINDOW_MS) this.speedWindow.shift();
    if (trainer.status !== 'ready') this.playing = false;
    this.flush();
    // The final map of a run that ended is always sent; while training, within the time share.
    if (this.playing) this.viewsWhilePlaying();
    else this.postViews(false);
    if (this.playing) this.scheduleSlice();
  }

  /** Steps per second over the recent slices while playing (null before two slices). */
  private stepsPerSecond(): number | null {
    const first = this.speedWindow[0];
    const last = this.speedWindow.at(-1);
    if (!first || !last || last[0] <= first[0]) return null;
    return (1000 * (last[1] - first[1])) / (last[0] - first[0]);
  }

  /** Posts the events gathered since the last message, with the run's state. */
  private flush(): void {
    const trainer = this.trainer;
    if (!trainer) return;
    const events = this.pending;
    this.pending = [];
    this.host.post({ type: 'events', events, status: trainer.status, playing: this.playing, completedSteps: trainer.completedSteps, stepsPerSecond: this.stepsPerSecond() });
  }

  private summary(trainer: Trainer): RunSummary {
    let parameters = 0;
    for (const [, parameter] of trainer.model.namedParameters()) parameters += parameter.size;
    return {
      parameters,
      trainSamples: trainer.dataset.train.count,
      testSamples: trainer.dataset.test.count,
      numClasses: trainer.dataset.numClasses,
      sampleShape: [...trainer.dataset.sampleShape],
      backend: getBackend(),
      threads: this.threads,
      planar: isPlanar(trainer.dataset),
      normLayers: trainer.task === 'conditional-generation' ? [] : normLayers(trainer.model).map(([path]) => path),
    };
  }
}
