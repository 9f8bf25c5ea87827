import { convertSyncBatchNorm } from '@normkit/batch';
import {
  Adam, AdamW, ContextError, CosineAnnealingLR, LRScheduler, LinearWarmup, SGD, StepLR, Tensor, ValueError,
  add, averageGradients, binaryCrossEntropyWithLogits, broadcastModule, createGradientTransform, crossEntropy, defaultGenerator, isNormkitError, manualSeed, noGrad, randn,
  type GradientTransform, type JsonValue, type LRSchedule, type Module, type Optimizer,
  type OptimizerHyperparameters, type OptionValues, type OptionsSchema, type ProcessGroup, type StepReport,
} from '@normkit/tensor';
import { resolveConfig, type ExperimentConfig, type ExperimentConfigInput } from './config';
import {
  BatchSampler, batchInputs, batchMask, gatherBatch, type Batch, type Dataset, type ExperimentResources, type Split,
} from './datasets/dataset';
import { datasets } from './datasets/index';
import type { ConditionalGan } from './models/gan';
import { models } from './models/index';
import { applyWeightParametrization, modelPostStepHooks, type Classifier } from './models/model';
import type { ActivationStats } from './models/tap';
import { accuracyOf, classConditionalMmd, scoreMixture } from './metrics';
import {
  collectProbes, gradientNorms, readActivations, restoreBuffers, setRecording, snapshotBuffers, type Probes,
} from './probes';
import { streamGenerator, streamSeed } from './seed';

/** Loss and accuracy of a model on (a prefix of) a split. */
export interface SplitMetrics {
  /** Classification: mean cross entropy. Generation: class-conditional MMD^2 to the split's points. */
  loss: number;
  /** Classification: fraction correct. Generation: `quality`, the fraction of points on a mode of their class. */
  accuracy: number;
  /** Generation: `modeCoverage`. */
  extra: Record<string, number>;
}

/** One optimization step. */
export interface StepEvent {
  type: 'step';
  /** Steps completed, counting this one (1 for the first). */
  step: number;
  /** Completed passes over the training split. */
  epoch: number;
  /** The learning rate this step used. */
  lr: number;
  /** Training loss of the batch (the generator's loss for a GAN). */
  loss: number;
  /** Training accuracy of the batch (null for generation). */
  accuracy: number | null;
  /** GAN: discriminatorLoss, discriminatorAccuracy; gradient transforms' numeric reports as `<transform>.<key>`. */
  metrics: Record<string, number>;
}

/** An evaluation, every `evalEvery` steps and after the last one. */
export interface EvalEvent {
  type: 'eval';
  step: number;
  epoch: number;
  /** In eval mode on up to evalSamples training samples (whole batches of the training batch size when there are enough). */
  train: SplitMetrics;
  /** In eval mode on up to evalSamples test samples (whole batches likewise). */
  test: SplitMetrics;
  /**
   * Train-mode minus eval-mode metrics on the same training samples, in batches of the training
   * batch size (running averages restored afterwards): the train/eval discrepancy of batch
   * statistics (0 for normalizers that behave the same in both modes).
   */
  gap: { loss: number; accuracy: number };
  /** Mean and std of each layer's output during the last training step, by layer. */
  activations: Record<string, ActivationStats>;
  /** L2 norm of each layer's parameter gradients in the last training step (before gradient transforms). */
  gradNorms: Record<string, number>;
  probes: Probes;
  /** Wall time since the trainer was built or reset (not deterministic; everything else is). */
  elapsedMs: number;
}

export interface DivergedEvent {
  type: 'diverged';
  step: number;
  reason: string;
}

export interface FailedEvent {
  type: 'failed';
  step: number;
  error: { name: string; message: string };
}

export interface DoneEvent {
  type: 'done';
  step: number;
  elapsedMs: number;
}

export type TrainerEvent = StepEvent | EvalEvent | DivergedEvent | FailedEvent | DoneEvent;

/** ready: can step; done: all steps taken; diverged: a non-finite loss or gradient; failed: an error was thrown. */
export type TrainerStatus = 'ready' | 'done' | 'diverged' | 'failed';

export interface TrainerOptions {
  /** Extra gradient transforms (objects, not registry names), after the config's. */
  gradientTransforms?: readonly GradientTransform[];
  /** Receives every event, like `subscribe`. */
  onEvent?: (event: TrainerEvent) => void;
  /** Keep every event in `history` (default true). */
  keepHistory?: boolean;
  /** Milliseconds clock (default `performance.now`). */
  now?: () => number;
  /** Makes this trainer one replica of data-parallel training over a process group (see `ReplicaOptions`). */
  replica?: ReplicaOptions;
}

/**
 * Data-parallel training, like PyTorch's DistributedDataParallel: every rank of `group` builds the
 * same trainer from the same config (same data, initial weights and batch order), takes rows
 * [rank * B / size, (rank + 1) * B / size) of each batch of B = batchSize, and averages the
 * gradients over the ranks before every optimizer step, so all replicas take the full batch's step.
 * With `syncBatchNorm` every BatchNorm becomes a SyncBatchNorm (statistics over every rank's rows:
 * exactly the single-process batch); without it each rank normalises its own rows. Classification
 * tasks only; batchSize must be a multiple of the group size. Run the ranks in worker threads with
 * `runDataParallel` of `@normkit/experiments/node`.
 */
export interface ReplicaOptions {
  group: ProcessGroup;
  syncBatchNorm?: boolean;
}

export interface RunOptions {
  /** Stop after this much wall time even if fewer steps ran (for a Web Worker that must answer messages). */
  timeBudgetMs?: number;
}

export interface RunResult {
  stepsRun: number;
  status: TrainerStatus;
  last: StepEvent | null;
}

/** The events of a run so far. */
export interface TrainerHistory {
  steps: StepEvent[];
  evals: EvalEvent[];
  /** The diverged, failed or done event, once there is one. */
  end: DivergedEvent | FailedEvent | DoneEvent | null;
}

interface ClassifierState {
  kind: 'classifier';
  model: Classifier;
  optimizer: Optimizer<OptimizerHyperparameters, object>;
  scheduler: LRScheduler;
}

interface GanState {
  kind: 'gan';
  model: ConditionalGan;
  generatorOptimizer: Optimizer<OptimizerHyperparameters, object>;
  discriminatorOptimizer: Optimizer<OptimizerHyperparameters, object>;
  schedulers: LRScheduler[];
  noise: ReturnType<typeof streamGenerator>;
}

/** Builds the optimizer of the config on `module`'s parameters, with the post-step hooks the module asks for (nGPT's projection). */
export function buildOptimizer(config: ExperimentConfig, module: Module, transforms: readonly GradientTransform[]): Optimizer<OptimizerHyperparameters, object> {
  const o = config.optimizer.options as Record<string, number & boolean>;
  const common = { lr: config.lr, gradientTransforms: transforms, postStepHooks: modelPostStepHooks(module) };
  switch (config.optimizer.name) {
    case 'sgd':
      return new SGD(module, { ...common, momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay });
    case 'adam':
      return new Adam(module, { ...common, betas: [o.beta1!, o.beta2!], eps: o.eps, weightDecay: o.weightDecay });
    case 'adamw':
      return new AdamW(module, { ...common, betas: [o.beta1!, o.beta2!], eps: o.eps, weightDecay: o.weightDecay });
  }
}

/** The learning-rate schedule of the config over its `steps`. */
export function buildSchedule(config: ExperimentConfig): LRSchedule {
  const o = config.schedule.options as Record<string, number>;
  switch (config.schedule.name) {
    case 'constant':
      return { lr: (_step, baseLr) => baseLr };
    case 'step':
      return new StepLR(o.stepSize!, o.gamma);
    case 'cosine':
      return new CosineAnnealingLR(config.steps, o.etaMin);
    case 'warmup':
      return new LinearWarmup(o.warmupSteps!, undefined, { startFactor: o.startFactor! });
    case 'warmup-cosine':
      return new LinearWarmup(o.warmupSteps!, new CosineAnnealingLR(Math.max(1, config.steps - o.warmupSteps!), o.etaMin), { startFactor: o.startFactor! });
  }
}

/** The registered gradient transforms of the config, built fresh (they may keep state). */
export function buildGradientTransforms(config: ExperimentConfig): GradientTransform[] {
  return config.gradientTransforms.map((choice) => createGradientTransform(choice.name, choice.options, { op: 'gradientTransforms' }));
}

/** Builds the data set of a resolved config (seeded by the config's 'data' stream). */
export function buildDataset(config: ExperimentConfig, resources: ExperimentResources = {}): Dataset {
  const definition = datasets[config.dataset.name]!;
  return definition.build((config.dataset.options ?? {}) as OptionValues<OptionsSchema>, streamGenerator(config.seed, 'data'), resources);
}

/** Builds the model of a resolved config for `dataset`, weight parametrizations applied (seeded by the 'model' stream). */
export function buildModel(config: ExperimentConfig, dataset: Dataset): Module {
  const definition = models[config.model.name]!;
  const model = definition.build({
    options: (config.model.options ?? {}) as OptionValues<OptionsSchema>,
    data: { inputKind: dataset.inputKind, sampleShape: dataset.sampleShape, numClasses: dataset.numClasses },
    norms: config.norms,
    generator: streamGenerator(config.seed, 'model'),
    ...(config.model.blockWrapper ? { blockWrapper: config.model.blockWrapper } : {}),
  });
  for (const [role, choice] of Object.entries(config.weights)) {
    const target = role === 'layers' ? model : model.getModule(role);
    if (!target) throw new ValueError({ op: `weights.${role}`, expected: `a part "${role}" of model ${definition.name}`, given: 'none' });
    applyWeightParametrization(target, choice, `weights.${role}`);
  }
  return model;
}

function isFiniteNumber(x: number): boolean {
  return Number.isFinite(x);
}

function transformMetrics(report: StepReport, into: Record<string, number>, prefix = ''): void {
  for (const { name, report: values } of report.transforms) {
    for (const [key, value] of Object.entries(values ?? {})) if (typeof value === 'number') into[`${prefix}${name}.${key}`] = value;
  }
}


/**
 * A training run that advances one step at a time, so a Web Worker can interleave messages
 * (play, pause, step, reset) between calls and a headless runner can loop; everything is a
 * function of the config: the same config on the same machine gives bit-identical losses.
 *
 * Each `step()` takes one optimization step (for a GAN: one discriminator and one generator
 * update) and emits a StepEvent; every `evalEvery` steps and after the last one it also evaluates
 * and emits an EvalEvent with train/test metrics, the train-vs-eval gap, per-layer activation
 * statistics and gradient norms of that step, and the probes (running statistics, Switchable
 * importance, spectral sigma, attention max-logit). A non-finite loss or gradient stops the run
 * with a DivergedEvent; an error thrown by a model part (a normalizer failing mid-training) stops
 * it with a FailedEvent carrying the message. Neither throws: check `status`.
 *
 * Randomness comes from named streams of the config's seed (data, model, shuffle, noise), and
 * the default generator is reseeded for plugins that use it, so runs do not disturb each other.
 *
 * @example
 * const trainer = createTrainer(config);
 * trainer.subscribe((event) => postMessage(event));
 * while (trainer.status === 'ready') trainer.run(20, { timeBudgetMs: 30 });
 */
export class Trainer {
  readonly config: ExperimentConfig;
  readonly resources: ExperimentResources;
  history: TrainerHistory = { steps: [], evals: [], end: null };
  status: TrainerStatus = 'ready';
  /** The error that stopped a failed run. */
  error: Error | null = null;
  dataset!: Dataset;
  model!: Module;
  private state!: ClassifierState | GanState;
  private sampler!: BatchSampler;
  private stepsDone = 0;
  private startedAt = 0;
  private lastActivations: Record<string, ActivationStats> = {};
  private lastGradNorms: Record<string, number> = {};
  private readonly listeners = new Set<(event: TrainerEvent) => void>();
  private readonly options: TrainerOptions;
  private readonly now: () => number;

  constructor(config: ExperimentConfigInput | ExperimentConfig, resources: ExperimentResources = {}, options: TrainerOptions = {}) {
    this.config = resolveConfig(config);
    this.resources = resources;
    this.options = options;
    this.now = options.now ?? (() => globalThis.performance.now());
    if (options.onEvent) this.listeners.add(options.onEvent);
    this.build();
  }

  /** Steps completed. */
  get completedSteps(): number {
    return this.stepsDone;
  }

  /** Completed passes over the training split. */
  get epoch(): number {
    return this.sampler.epoch;
  }

  /** The task of the config. */
  get task(): ExperimentConfig['task'] {
    return this.config.task;
  }

  /**
   * What a training bundle (`saveBundle` of @normkit/tensor) needs besides the model to continue this
   * run elsewhere, PyTorch through normkit-torch included: the architecture description that
   * `normkit_torch.models.build` reads (the config's model, norms and weights, and the data's input
   * kind, sample shape and classes), the optimizer and its scheduler. Null for the conditional-
   * generation task, which trains two optimizers (a bundle holds one).
   */
  bundleParts(): { architecture: JsonValue; optimizer: Optimizer<OptimizerHyperparameters, object>; scheduler: LRScheduler } | null {
    if (this.state.kind !== 'classifier') return null;
    const { model, norms, weights } = this.config;
    const { inputKind, sampleShape, numClasses } = this.dataset;
    const architecture = JSON.parse(JSON.stringify({ model, norms, weights, data: { inputKind, sampleShape, numClasses } })) as JsonValue;
    return { architecture, optimizer: this.state.optimizer, scheduler: this.state.scheduler };
  }

  /** Starts over from the config: same data, same initialisation, same batches. History is cleared. */
  reset(): void {
    this.history = { steps: [], evals: [], end: null };
    this.status = 'ready';
    this.error = null;
    this.build();
  }

  /** Adds a listener for every event; returns the function that removes it. */
  subscribe(listener: (event: TrainerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private build(): void {
    const config = this.config;
    // Plugins that draw from the default generator (without a generator option) get a seeded one.
    manualSeed(streamSeed(config.seed, 'default'));
    this.dataset = buildDataset(config, this.resources);
    this.model = buildModel(config, this.dataset);
    if (this.options.replica) this.model = prepareReplica(config, this.model, this.options.replica);
    this.sampler = new BatchSampler(this.dataset, this.dataset.train, config.batchSize, streamGenerator(config.seed, 'shuffle'));
    const transforms = (): GradientTransform[] => [...buildGradientTransforms(config), ...(this.options.gradientTransforms ?? [])];
    const schedule = buildSchedule(config);
    if (config.task === 'conditional-generation') {
      const gan = this.model as ConditionalGan;
      const generatorOptimizer = buildOptimizer(config, gan.generatorNet, transforms());
      const discriminatorOptimizer = buildOptimizer(config, gan.discriminatorNet, transforms());
      this.state = {
        kind: 'gan',
        model: gan,
        generatorOptimizer,
        discriminatorOptimizer,
        schedulers: [new LRScheduler(generatorOptimizer, schedule), new LRScheduler(discriminatorOptimizer, schedule)],
        noise: streamGenerator(config.seed, 'noise'),
      };
    } else {
      const optimizer = buildOptimizer(config, this.model, transforms());
      this.state = { kind: 'classifier', model: this.model as Classifier, optimizer, scheduler: new LRScheduler(optimizer, schedule) };
    }
    this.stepsDone = 0;
    this.lastActivations = {};
    this.lastGradNorms = {};
    this.model.train();
    this.startedAt = this.now();
  }

  private emit(event: TrainerEvent): void {
    if (this.options.keepHistory !== false) {
      if (event.type === 'step') this.history.steps.push(event);
      else if (event.type === 'eval') this.history.evals.push(event);
      else this.history.end = event;
    }
    for (const listener of this.listeners) listener(event);
  }

  private stop(event: DivergedEvent | FailedEvent | DoneEvent): void {
    this.status = event.type === 'done' ? 'done' : event.type;
    this.emit(event);
  }

  /**
   * One optimization step. Returns its StepEvent, or null when the run is over (done, diverged or
   * failed: see `status` and `history.end`).
   */
  step(): StepEvent | null {
    if (this.status !== 'ready') return null;
    const stepNumber = this.stepsDone + 1;
    const probeStep = stepNumber % this.config.evalEvery === 0 || stepNumber === this.config.steps;
    let event: StepEvent | null;
    try {
      // Taps record only during probe steps (they start off; only the trainer turns them on), so the other
      // steps skip the two walks over every module (2% of a 64-block residual net's run).
      if (probeStep) setRecording(this.model, true);
      event = this.state.kind === 'gan' ? this.ganStep(this.state, stepNumber, probeStep) : this.classifierStep(this.state, stepNumber, probeStep);
      if (probeStep) setRecording(this.model, false);
      if (!event) return null;
      this.stepsDone = stepNumber;
      this.emit(event);
      if (probeStep) this.emit(this.evaluate());
    } catch (error) {
      if (probeStep) setRecording(this.model, false);
      const err = error instanceof Error ? error : new Error(String(error));
      this.error = err;
      this.stop({ type: 'failed', step: stepNumber, error: { name: isNormkitError(err) ? err.name : err.name || 'Error', message: err.message } });
      return null;
    }
    if (this.stepsDone >= this.config.steps) this.stop({ type: 'done', step: this.stepsDone, elapsedMs: this.now() - this.startedAt });
    return event;
  }

  /** Up to `n` steps, fewer if the run ends or the time budget runs out. */
  run(n: number, options: RunOptions = {}): RunResult {
    const start = this.now();
    let stepsRun = 0;
    let last: StepEvent | null = null;
    while (stepsRun < n && this.status === 'ready') {
      const event = this.step();
      if (event) {
        last = event;
        stepsRun++;
      }
      if (options.timeBudgetMs !== undefined && this.now() - start >= options.timeBudgetMs) break;
    }
    return { stepsRun, status: this.status, last };
  }

  /** Runs every remaining step. */
  runToEnd(): RunResult {
    return this.run(Number.POSITIVE_INFINITY);
  }

  /** Optimizer step with divergence handling; returns false (and stops the run) on a non-finite gradient. */
  private optimizerStep(optimizer: Optimizer<OptimizerHyperparameters, object>, stepNumber: number, metrics: Record<string, number>, metricPrefix = ''): boolean {
    let report: StepReport;
    try {
      report = optimizer.step();
    } catch (error) {
      if (error instanceof ValueError && error.expected.includes('finite gradients')) {
        this.stop({ type: 'diverged', step: stepNumber, reason: `non-finite gradient: ${error.given}` });
        return false;
      }
      throw error;
    }
    transformMetrics(report, metrics, metricPrefix);
    return true;
  }

  private diverged(stepNumber: number, what: string, value: number): null {
    this.stop({ type: 'diverged', step: stepNumber, reason: `${what} is ${value}` });
    return null;
  }

  private classifierStep(state: ClassifierState, stepNumber: number, probeStep: boolean): StepEvent | null {
    const { model, optimizer, scheduler } = state;
    const replica = this.options.replica;
    const full = this.sampler.next();
    const batch = replica ? shardOf(this.dataset, full, replica.group) : full;
    const lr = optimizer.paramGroups[0]!.lr;
    model.train();
    const logits = model.forward({ x: batchInputs(batch), mask: batchMask(batch) });
    const loss = crossEntropy(logits, Array.from(batch.labels));
    const lossValue = loss.item();
    if (!isFiniteNumber(lossValue)) return this.diverged(stepNumber, 'the training loss', lossValue);
    loss.backward();
    // Equal shards and a mean loss per shard: the mean of the ranks' gradients is the full batch's.
    if (replica) averageGradients(model, replica.group);
    if (probeStep) {
      this.lastActivations = readActivations(model);
      this.lastGradNorms = gradientNorms(model);
    }
    const metrics: Record<string, number> = {};
    if (!this.optimizerStep(optimizer, stepNumber, metrics)) return null;
    optimizer.zeroGrad();
    scheduler.step();
    return {
      type: 'step',
      step: stepNumber,
      epoch: this.sampler.epoch,
      lr,
      loss: lossValue,
      accuracy: accuracyOf(logits.data, batch.labels, this.dataset.numClasses),
      metrics,
    };
  }

  private ganStep(state: GanState, stepNumber: number, probeStep: boolean): StepEvent | null {
    const { model, generatorOptimizer, discriminatorOptimizer, noise } = state;
    const batch = this.sampler.next();
    const size = batch.size;
    const lr = generatorOptimizer.paramGroups[0]!.lr;
    const real = batchInputs(batch);
    const ones = new Tensor(new Float32Array(size).fill(1), [size, 1]);
    const zeros = new Tensor(new Float32Array(size), [size, 1]);
    model.train();

    // Discriminator: real -> 1, generated (no gradient into the generator) -> 0.
    const fake = noGrad(() => model.generate(randn([size, model.latentDim], { generator: noise }), batch.labels));
    const realLogits = model.discriminate(real, batch.labels);
    const fakeLogits = model.discriminate(fake, batch.labels);
    const discriminatorLoss = add(binaryCrossEntropyWithLogits(realLogits, ones), binaryCrossEntropyWithLogits(fakeLogits, zeros));
    const dLoss = discriminatorLoss.item();
    if (!isFiniteNumber(dLoss)) return this.diverged(stepNumber, 'the discriminator loss', dLoss);
    discriminatorLoss.backward();
    const metrics: Record<string, number> = { discriminatorLoss: dLoss };
    let correct = 0;
    for (let i = 0; i < size; i++) correct += (realLogits.data[i]! > 0 ? 1 : 0) + (fakeLogits.data[i]! <= 0 ? 1 : 0);
    metrics.discriminatorAccuracy = correct / (2 * size);
    const gradNorms = probeStep ? gradientNorms(model) : {};
    if (!this.optimizerStep(discriminatorOptimizer, stepNumber, metrics, 'discriminator.')) return null;
    discriminatorOptimizer.zeroGrad();

    // Generator: non-saturating loss -log D(G(z)) (Goodfellow et al., 2014).
    const generated = model.generate(randn([size, model.latentDim], { generator: noise }), batch.labels);
    const generatorLoss = binaryCrossEntropyWithLogits(model.discriminate(generated, batch.labels), ones);
    const gLoss = generatorLoss.item();
    if (!isFiniteNumber(gLoss)) return this.diverged(stepNumber, 'the generator loss', gLoss);
    generatorLoss.backward();
    if (probeStep) {
      this.lastActivations = readActivations(model);
      this.lastGradNorms = { ...gradNorms, ...Object.fromEntries(Object.entries(gradientNorms(model.generatorNet)).map(([k, v]) => [`generator.${k}`, v])) };
    }
    if (!this.optimizerStep(generatorOptimizer, stepNumber, metrics, 'generator.')) return null;
    generatorOptimizer.zeroGrad();
    // The generator's loss also reached the discriminator's parameters; drop those gradients.
    discriminatorOptimizer.zeroGrad();
    for (const scheduler of state.schedulers) scheduler.step();
    return { type: 'step', step: stepNumber, epoch: this.sampler.epoch, lr, loss: gLoss, accuracy: null, metrics };
  }

  /**
   * Evaluates the model now (also called every `evalEvery` steps): eval-mode metrics on train and
   * test, the train-mode gap, and the probes. Changes nothing in the run: running statistics
   * updated by the train-mode pass are restored, and no training random stream is drawn from.
   * The train-mode pass is skipped when the eval-mode pass on the same samples read no module's
   * `training` flag and drew nothing from the default generator: the model then computes the same
   * in both modes, so train mode's metrics are the eval-mode ones (the gap is exactly what the
   * pass would give: 0, or NaN where the metrics are not finite).
   */
  evaluate(): EvalEvent {
    const probes = collectProbes(this.model);
    const trainRows = this.evalRows(this.dataset.train);
    const testRows = this.evalRows(this.dataset.test);
    let train: SplitMetrics;
    let test: SplitMetrics;
    let trainMode: SplitMetrics;
    try {
      this.model.eval();
      // Test first: the last forward pass of an evaluation is on the training rows either way, so what
      // a model keeps of its last pass (an attention layer's max-logit, read by traces) does not change.
      test = this.measure(this.dataset.test, testRows);
      const watch = watchTrainingReads(this.model);
      const generatorBefore = defaultGenerator().getState();
      try {
        train = this.measure(this.dataset.train, trainRows);
      } finally {
        watch.stop();
      }
      const modeFree = watch.reads === 0 && sameState(generatorBefore, defaultGenerator().getState());
      if (modeFree) {
        trainMode = train;
      } else {
        const snapshot = snapshotBuffers(this.model);
        this.model.train();
        try {
          trainMode = this.measure(this.dataset.train, trainRows);
        } finally {
          restoreBuffers(snapshot);
        }
      }
    } finally {
      this.model.train();
    }
    return {
      type: 'eval',
      step: this.stepsDone,
      epoch: this.sampler.epoch,
      train,
      test,
      gap: { loss: trainMode.loss - train.loss, accuracy: trainMode.accuracy - train.accuracy },
      activations: this.lastActivations,
      gradNorms: this.lastGradNorms,
      probes,
      elapsedMs: this.now() - this.startedAt,
    };
  }

  /**
   * The first evalSamples rows of a split (splits are shuffled when built, so a prefix is a fair
   * sample), cut to whole batches when there are enough: batch statistics of a one-sample batch
   * are degenerate, and the train-mode and eval-mode passes must see the same samples for the gap.
   */
  private evalRows(split: Split): Int32Array {
    const batchSize = this.config.batchSize;
    const available = Math.min(this.config.evalSamples, split.count);
    const count = available >= batchSize ? available - (available % batchSize) : available;
    return Int32Array.from({ length: count }, (_, i) => i);
  }

  /** Metrics on `rows` of `split`, in batches of the training batch size. */
  private measure(split: Split, rows: Int32Array): SplitMetrics {
    const batchSize = this.config.batchSize;
    const batchList: Batch[] = [];
    for (let start = 0; start < rows.length; start += batchSize) batchList.push(gatherBatch(this.dataset, split, rows, start, Math.min(start + batchSize, rows.length)));
    return noGrad(() => (this.state.kind === 'gan' ? this.measureGan(this.state, batchList) : this.measureClassifier(this.state, batchList)));
  }

  private measureClassifier(state: ClassifierState, batchList: Batch[]): SplitMetrics {
    let lossTotal = 0;
    let correct = 0;
    let count = 0;
    for (const batch of batchList) {
      const logits = state.model.forward({ x: batchInputs(batch), mask: batchMask(batch) });
      lossTotal += crossEntropy(logits, Array.from(batch.labels), { reduction: 'sum' }).item();
      correct += accuracyOf(logits.data, batch.labels, this.dataset.numClasses) * batch.size;
      count += batch.size;
    }
    return { loss: lossTotal / count, accuracy: correct / count, extra: {} };
  }

  private measureGan(state: GanState, batchList: Batch[]): SplitMetrics {
    // A fresh noise stream per evaluation: the same z at every evaluation, none taken from training.
    const noise = streamGenerator(this.config.seed, 'eval-noise');
    const modes = this.dataset.modes!;
    const count = batchList.reduce((n, b) => n + b.size, 0);
    const generated = new Float32Array(count * 2);
    const labels = new Int32Array(count);
    const real = new Float32Array(count * 2);
    let offset = 0;
    for (const batch of batchList) {
      const points = state.model.generate(randn([batch.size, state.model.latentDim], { generator: noise }), batch.labels);
      generated.set(points.data, offset * 2);
      real.set(batch.inputs, offset * 2);
      labels.set(batch.labels, offset);
      offset += batch.size;
    }
    const score = scoreMixture(generated, labels, modes);
    const mmd = classConditionalMmd(generated, labels, real, labels, Math.max(2 * modes.std, 0.05));
    return { loss: mmd, accuracy: score.quality, extra: { modeCoverage: score.modeCoverage } };
  }
}

/**
 * Counts reads of the `training` flag of every module of `model` until `stop()` (which puts the
 * plain flags back with their current values). A module whose flag is not a plain own property
 * counts as read, so the caller never wrongly concludes that nothing depends on the mode.
 */
function watchTrainingReads(model: Module): { readonly reads: number; stop(): void } {
  let reads = 0;
  const restore: Array<() => void> = [];
  for (const [, module] of model.namedModules()) {
    const own = Object.getOwnPropertyDescriptor(module, 'training');
    if (!own || !('value' in own) || !own.configurable || !own.writable) {
      reads++;
      continue;
    }
    let value = own.value as boolean;
    Object.defineProperty(module, 'training', {
      configurable: true,
      enumerable: own.enumerable,
      get: () => {
        reads++;
        return value;
      },
      set: (mode: boolean) => {
        value = mode;
      },
    });
    restore.push(() => Object.defineProperty(module, 'training', { configurable: true, enumerable: own.enumerable, writable: true, value }));
  }
  return {
    get reads() {
      return reads;
    },
    stop() {
      for (const put of restore) put();
    },
  };
}

function sameState(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Checks a replica's config, swaps in SyncBatchNorm when asked, and starts every rank from rank 0's weights. */
function prepareReplica(config: ExperimentConfig, model: Module, replica: ReplicaOptions): Module {
  const { group } = replica;
  if (config.task === 'conditional-generation') {
    throw new ContextError({ op: 'Trainer (replica)', expected: 'a classification task for data-parallel training', given: `task '${config.task}'` });
  }
  if (config.batchSize % group.size !== 0) {
    throw new ContextError({ op: 'Trainer (replica)', expected: `batchSize a multiple of the ${group.size} ranks (equal shards)`, given: `batchSize = ${config.batchSize}` });
  }
  const replicated = replica.syncBatchNorm ? convertSyncBatchNorm(model, group) : model;
  // Every rank built the same weights from the same seed already; the broadcast makes it certain (as DDP does).
  broadcastModule(replicated, group);
  return replicated;
}

/** This rank's rows of a batch: [rank * B / size, (rank + 1) * B / size). */
function shardOf(dataset: Dataset, batch: Batch, group: ProcessGroup): Batch {
  const rows = batch.size / group.size;
  return gatherBatch(dataset, { count: batch.size, inputs: batch.inputs, labels: batch.labels, masks: batch.mask }, Int32Array.from({ length: rows }, (_, i) => group.rank * rows + i));
}

/**
 * Validates `config` (see `resolveConfig`) and builds its trainer. MNIST configs need
 * `resources.mnist` (from `loadMnist()` of `@normkit/experiments/mnist`).
 *
 * @example
 * const trainer = createTrainer({ task: 'classification', dataset: { name: 'two-spirals' }, model: { name: 'mlp' }, steps: 2000 });
 * trainer.runToEnd();
 * trainer.history.evals.at(-1)!.train.accuracy;
 */
export function createTrainer(config: ExperimentConfigInput | ExperimentConfig, resources: ExperimentResources = {}, options: TrainerOptions = {}): Trainer {
  return new Trainer(config, resources, options);
}
