// The worker side of one run: a Trainer driven by the page's messages. Kept free of worker globals
// so tests drive it directly in Node; worker.ts only connects it to `self`.
import { createTrainer, datasets, type ExperimentResources, type MnistSource, type Trainer, type TrainerEvent } from '@normkit/experiments';
import { getBackend } from '@normkit/tensor';
import { errorMessage } from './drafts';
import type { FromWorker, RunSummary, ToWorker } from './protocol';

export interface SessionHost {
  post(message: FromWorker): void;
  /** Calls `callback` soon, after pending messages had a chance to arrive (setTimeout 0 in a worker). */
  schedule(callback: () => void): void;
  loadMnist(): Promise<MnistSource>;
}

export interface SessionOptions {
  /** Wall time of one training slice while playing, before the worker looks at its messages again. */
  sliceMs?: number;
}

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

  constructor(private readonly host: SessionHost, options: SessionOptions = {}) {
    this.sliceMs = options.sliceMs ?? 40;
  }

  async handle(message: ToWorker): Promise<void> {
    switch (message.type) {
      case 'configure':
        return this.configure(message.config, message.play);
      case 'play':
        if (this.trainer?.status === 'ready') {
          this.playing = true;
          this.scheduleSlice();
        }
        this.flush();
        return;
      case 'pause':
        this.playing = false;
        this.flush();
        return;
      case 'step':
        if (this.trainer && !this.playing) {
          this.trainer.run(message.count);
          this.flush();
        }
        return;
      case 'reset':
        if (!this.trainer) return;
        this.playing = false;
        this.pending = [];
        this.trainer.reset();
        this.host.post({ type: 'ready', summary: this.summary(this.trainer) });
        this.flush();
        return;
    }
  }

  private async configure(config: Parameters<typeof createTrainer>[0], play: boolean): Promise<void> {
    const generation = ++this.generation;
    this.trainer = null;
    this.playing = false;
    this.pending = [];
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
    trainer.run(Number.MAX_SAFE_INTEGER, { timeBudgetMs: this.sliceMs });
    if (trainer.status !== 'ready') this.playing = false;
    this.flush();
    if (this.playing) this.scheduleSlice();
  }

  /** Posts the events gathered since the last message, with the run's state. */
  private flush(): void {
    const trainer = this.trainer;
    if (!trainer) return;
    const events = this.pending;
    this.pending = [];
    this.host.post({ type: 'events', events, status: trainer.status, playing: this.playing, completedSteps: trainer.completedSteps });
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
    };
  }
}
