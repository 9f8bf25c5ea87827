export { Optimizer, checkCommonHyperparameters, checkBooleanOption, hyperparameterLabel } from './optimizer';
export type {
  NamedParameter, ParameterSource, OptimizerHyperparameters, ParamGroupInput, OptimizerParams, ParamGroup, OptimizerOptions,
  StepReport, OptimizerStateValue, OptimizerStateValueInput, OptimizerStateDict, ZeroGradOptions,
} from './optimizer';
export type { PostStepHook, PostStepHookReport } from './post-step-hook';
export { SGD } from './sgd';
export type { SGDHyperparameters, SGDOptions, SGDState } from './sgd';
export { Adam, adamUpdate, initAdamState, validateAdamHyperparameters } from './adam';
export type { AdamHyperparameters, AdamOptions, AdamState } from './adam';
export { AdamW } from './adamw';
export { StepLR, CosineAnnealingLR, LinearWarmup, SequentialLR, LRScheduler } from './schedules';
export type { LRSchedule, LinearWarmupOptions, SchedulableOptimizer, LRSchedulerStateDict } from './schedules';
