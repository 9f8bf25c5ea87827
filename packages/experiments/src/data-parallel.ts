// What one rank of a data-parallel experiment runs (in a worker thread of `runDataParallel`).
import { batchPlugins } from '@normkit/batch';
import { groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import { has, register, setNumThreads, type ProcessGroup } from '@normkit/tensor';
import type { ExperimentConfigInput } from './config';
import { createTrainer, type Trainer, type TrainerStatus } from './train';

/** Several variants of one data-parallel run, trained side by side on every rank. */
export interface DataParallelRequest {
  /** The shared configuration (classification; batchSize a multiple of the ranks). */
  config: ExperimentConfigInput;
  /** The variants, trained in lockstep: one step of each in turn (the order alternating), so timings share the machine's load. */
  variants: ReadonlyArray<{ id: string; syncBatchNorm: boolean }>;
}

/** One variant as one rank saw it. */
export interface ReplicaRun {
  id: string;
  rank: number;
  status: TrainerStatus;
  reason: string | null;
  /** This rank's shard loss at every step (the batch's loss is the mean over ranks). */
  losses: number[];
  /** Wall milliseconds of every step on this rank (the steps that evaluate included). */
  stepMs: number[];
  /** The last evaluation (eval mode, every rank the same data): test accuracy and loss, train accuracy. */
  final: { testAccuracy: number; testLoss: number; trainAccuracy: number } | null;
  /** Every buffer of the model (running statistics) at the end, by state-dict key. */
  buffers: Record<string, number[]>;
}

/**
 * One rank of a data-parallel experiment: builds a replica trainer per variant (`TrainerOptions.replica`)
 * and steps them in lockstep until all are done. Registers the batch, group and layer families (the
 * packages the engine depends on; a worker starts with an empty registry) and uses one kernel
 * thread (the ranks are the threads). Every rank must run the same request.
 */
export function trainReplica(group: ProcessGroup, request: DataParallelRequest): ReplicaRun[] {
  for (const plugin of [...batchPlugins, ...groupPlugins, ...layerPlugins]) if (!has(plugin.name)) register(plugin);
  setNumThreads(1);
  const trainers: Trainer[] = request.variants.map((v) => createTrainer(request.config, {}, { replica: { group, syncBatchNorm: v.syncBatchNorm } }));
  const stepMs: number[][] = trainers.map(() => []);
  for (let step = 0; trainers.some((t) => t.status === 'ready'); step++) {
    const order = trainers.map((_, i) => i);
    if (step % 2 === 1) order.reverse();
    for (const i of order) {
      const trainer = trainers[i]!;
      if (trainer.status !== 'ready') continue;
      const start = performance.now();
      trainer.step();
      stepMs[i]!.push(performance.now() - start);
    }
  }
  return trainers.map((trainer, i) => {
    const end = trainer.history.end;
    const last = trainer.history.evals.at(-1);
    return {
      id: request.variants[i]!.id,
      rank: group.rank,
      status: trainer.status,
      reason: end?.type === 'diverged' ? end.reason : end?.type === 'failed' ? `${end.error.name}: ${end.error.message}` : null,
      losses: trainer.history.steps.map((s) => s.loss),
      stepMs: stepMs[i]!,
      final: last ? { testAccuracy: last.test.accuracy, testLoss: last.test.loss, trainAccuracy: last.train.accuracy } : null,
      buffers: Object.fromEntries([...trainer.model.namedBuffers()].map(([name, buffer]) => [name, Array.from(buffer.data, Number)])),
    };
  });
}

/**
 * Runs a data-parallel request on worker threads and returns every rank's runs (`[rank][variant]`),
 * synchronously: what the claims lab calls inside a preset. In Node it comes from
 * `dataParallelRunner()` of `@normkit/experiments/node`; a browser has none, so presets that need it
 * are 'unavailable' there.
 */
export interface DataParallelRunner {
  /** Ranks (worker threads) of every run. */
  readonly size: number;
  train(request: DataParallelRequest): ReplicaRun[][];
}
