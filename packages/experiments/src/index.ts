// @normkit/experiments: the experiment engine of the playground and the claims lab.
export * from './datasets/index';
export * from './models/index';
export { streamSeed, streamGenerator } from './seed';
export {
  resolveConfig, encodeConfig, decodeConfig, optimizerSchemas, scheduleSchemas, CONFIG_VERSION, TASKS,
} from './config';
export type { ExperimentConfig, ExperimentConfigInput, NamedOptions, OptimizerName, ScheduleName, OptimizerOptions } from './config';
export {
  Trainer, createTrainer, buildDataset, buildModel, buildOptimizer, buildSchedule, buildGradientTransforms,
} from './train';
export type {
  SplitMetrics, StepEvent, EvalEvent, DivergedEvent, FailedEvent, DoneEvent, TrainerEvent, TrainerStatus, TrainerOptions,
  RunOptions, RunResult, TrainerHistory, ReplicaOptions,
} from './train';
export { trainReplica } from './data-parallel';
export type { DataParallelRequest, DataParallelRunner, ReplicaRun } from './data-parallel';
export { normkitNormTimer } from './norm-timing';
export type { NormTimer, NormTimingRequest } from './norm-timing';
export { accuracyOf, scoreMixture, classConditionalMmd } from './metrics';
export type { MixtureScore } from './metrics';
export {
  collectProbes, gradientNorms, readActivations, layerOf, snapshotBuffers, restoreBuffers, toJsonValue,
} from './probes';
export type { Probes, RunningStatsProbe, JsonValue, BufferSnapshot } from './probes';
export * from './presets/index';
