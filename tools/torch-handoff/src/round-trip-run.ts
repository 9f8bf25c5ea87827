/**
 * The run of the round-trip test (round-trip.test.ts), shared with its 2-worker replica
 * (round-trip.worker.ts): the lab's `mlp` family with BatchNorm, Adam, a warmup + cosine schedule,
 * and seeded data. Everything here is deterministic, so every thread builds the same run.
 */
import { batchPlugins } from '@normkit/batch';
import { mlpModel, type Classifier } from '@normkit/experiments';
import {
  Adam, CosineAnnealingLR, Generator, LRScheduler, LinearWarmup, crossEntropy, has, register, tensor, type Tensor,
} from '@normkit/tensor';

/** What the bundle stores as the architecture; normkit_torch.models.build reads it. */
export const ARCHITECTURE = {
  model: { name: 'mlp', options: { width: 16, depth: 2, activation: 'relu' } },
  norms: { hidden: { name: 'batch-norm', options: { momentum: 0.1 } } },
  weights: {},
  data: { inputKind: 'vector', sampleShape: [6], numClasses: 3 },
} as const;

export const STEPS = 20;
export const BATCH = 8;

export interface Batch {
  x: Tensor;
  y: number[];
}

export function build(): Classifier {
  for (const plugin of batchPlugins) if (!has(plugin.name)) register(plugin);
  return mlpModel.build({
    // conditionFeatures 0 (the family's default): no condition inputs.
    options: { ...ARCHITECTURE.model.options, conditionFeatures: 0 },
    data: ARCHITECTURE.data,
    norms: ARCHITECTURE.norms,
    generator: new Generator(3),
  }) as Classifier;
}

/** 3 * STEPS batches and an eval batch, seeded. */
export function makeData(): { batches: Batch[]; evalX: Tensor } {
  const g = new Generator(11);
  const normal = (n: number): Float32Array => Float32Array.from({ length: n }, () => g.normal());
  const batches = Array.from({ length: 3 * STEPS }, () => {
    const x = tensor(normal(BATCH * 6), { shape: [BATCH, 6] });
    // Labels depend on the inputs, so the loss can fall.
    const y = Array.from({ length: BATCH }, (_, i) => (x.data[i * 6]! > 0.5 ? 2 : x.data[i * 6 + 1]! > 0 ? 1 : 0));
    return { x, y };
  });
  return { batches, evalX: tensor(normal(5 * 6), { shape: [5, 6] }) };
}

export interface Run {
  model: Classifier;
  optimizer: Adam;
  scheduler: LRScheduler;
}

export function start(): Run {
  const model = build();
  const optimizer = new Adam(model, { lr: 0.02, weightDecay: 1e-4 });
  const scheduler = new LRScheduler(optimizer, new LinearWarmup(5, new CosineAnnealingLR(3 * STEPS - 5, 1e-4), { startFactor: 0.1 }));
  return { model, optimizer, scheduler };
}

/**
 * Trains on `batches` and returns the losses. `synchronize` runs between backward and the step (a
 * data-parallel replica averages its gradients there).
 */
export function train(run: Run, batches: readonly Batch[], synchronize?: () => void): number[] {
  run.model.train();
  return batches.map(({ x, y }) => {
    const loss = crossEntropy(run.model.forward({ x }), y);
    loss.backward();
    synchronize?.();
    run.optimizer.step();
    run.optimizer.zeroGrad();
    run.scheduler.step();
    return loss.data[0]!;
  });
}
