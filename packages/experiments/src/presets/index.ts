// The claims lab's experiments: one preset per claim of the literature, shared by `npm run lab`
// (apps/lab) and the playground.
import { batchNormBatchFour } from './batch-norm-batch-four';
import { batchNormLearningRate } from './batch-norm-learning-rate';
import { batchNormLearningRateFine } from './batch-norm-learning-rate-fine';
import { batchNormLossLandscape } from './batch-norm-loss-landscape';
import { batchNormMaskedPadding } from './batch-norm-masked-padding';
import { batchNormSmallBatch } from './batch-norm-small-batch';
import { batchNormTrainEvalGap } from './batch-norm-train-eval-gap';
import { batchNormTrainEvalGapBatchOne } from './batch-norm-train-eval-gap-batch-one';
import { batchNormTrainEvalGapCnn } from './batch-norm-train-eval-gap-cnn';
import { conditionalNormGeneration } from './conditional-norm-generation';
import { filmMultiTask } from './film-multi-task';
import { deepNormDeep } from './deep-norm-deep';
import { deepNormDeepV2 } from './deep-norm-deep-v2';
import { frnBatchOne } from './frn-batch-one';
import { frozenBatchNormFineTuning } from './frozen-batch-norm-fine-tuning';
import { ghostBatchNormLargeBatch } from './ghost-batch-norm-large-batch';
import { gradientClippingSubstitute } from './gradient-clipping-substitute';
import { instanceNormStyleLeakage } from './instance-norm-style-leakage';
import { layerScaleDeep } from './layer-scale-deep';
import { layerScaleDeepV2 } from './layer-scale-deep-v2';
import { ngptTrainingSpeed } from './ngpt-training-speed';
import { normFreeResidual } from './norm-free-residual';
import { outputNormDeep } from './output-norm-deep';
import { outputNormDeepV2 } from './output-norm-deep-v2';
import { periLnDeep } from './peri-ln-deep';
import { periLnDeepV2 } from './peri-ln-deep-v2';
import { preLnVsPostLn } from './pre-ln-vs-post-ln';
import { preLnVsPostLnDeep } from './pre-ln-vs-post-ln-deep';
import type { ClaimPreset } from './preset';
import { qkNormLogits } from './qk-norm-logits';
import { rmsNormSpeed } from './rms-norm-speed';
import { spectralNormGan } from './spectral-norm-gan';
import { syncBatchNormSmallBatch } from './sync-batch-norm-small-batch';
import { syncBatchNormControl } from './sync-batch-norm-control';
import { syncBatchNormTracking } from './sync-batch-norm-tracking';
import { switchableNormSelection } from './switchable-norm-selection';
import { weightNormConditioning } from './weight-norm-conditioning';
import { weightStandardizationFineTuning } from './weight-standardization-fine-tuning';
import { weightStandardizationGroupNorm } from './weight-standardization-group-norm';

export {
  batchNormSmallBatch, batchNormTrainEvalGap, batchNormMaskedPadding, batchNormLearningRate, preLnVsPostLn, rmsNormSpeed, qkNormLogits,
  frnBatchOne, switchableNormSelection, spectralNormGan, normFreeResidual, preLnVsPostLnDeep, batchNormLearningRateFine, batchNormBatchFour,
  weightStandardizationGroupNorm, gradientClippingSubstitute, ghostBatchNormLargeBatch, weightNormConditioning, batchNormTrainEvalGapCnn,
  batchNormLossLandscape, instanceNormStyleLeakage, periLnDeep, outputNormDeep, deepNormDeep, layerScaleDeep, frozenBatchNormFineTuning,
  weightStandardizationFineTuning,
};
export { conditionalNormGeneration, filmMultiTask, syncBatchNormSmallBatch, syncBatchNormTracking };
export { periLnDeepV2, outputNormDeepV2, deepNormDeepV2, layerScaleDeepV2, ngptTrainingSpeed };
export { syncBatchNormControl, batchNormTrainEvalGapBatchOne };
export { definePreset, judge, checkCriterion, formatValue, VERDICTS } from './preset';
export type {
  ClaimPreset, PresetMode, PresetRun, PresetPlan, RunRole, RunTrace, Criterion, CriterionResult, Verdict, Analysis, AnalysisContext,
  ChartSpec, ChartSeries, ResultTable, RunRecord, EvalSummary,
} from './preset';
export { runPreset, preparePreset, runPresetSeed, combineSeedParts, presetErrorResult, missingRequirements, LOSS_POINTS, LOSS_WINDOW } from './run-preset';
export type { PresetProgress, PresetResult, RunPresetOptions, SeedOutcome, PreparedPreset, SeedPart, TrainedRun, RunSource, RunSeedOptions } from './run-preset';
export { RunCache, runKey, shareableRun, trainerFingerprint } from './run-cache';
export { aggregateCriterion, describeSeedRule, presetSeeds, DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';
export type { SeedRule, SeedCriterionResult } from './seed-rule';
export {
  downsampleMean, mean, median, quantile, finalEval, finalTestAccuracy, meanTestAccuracy, evalSeries, lossSeries, maxAttentionLogit,
  largestSingularValue, timeInterleaved,
} from './analysis';
export type { InterleavedTiming } from './analysis';

/** Every claim experiment, in report order. */
export const presets: readonly ClaimPreset[] = [
  batchNormSmallBatch,
  batchNormBatchFour,
  batchNormTrainEvalGap,
  batchNormMaskedPadding,
  batchNormLearningRate,
  batchNormLearningRateFine,
  preLnVsPostLn,
  preLnVsPostLnDeep,
  rmsNormSpeed,
  qkNormLogits,
  frnBatchOne,
  switchableNormSelection,
  spectralNormGan,
  normFreeResidual,
  weightStandardizationGroupNorm,
  gradientClippingSubstitute,
  ghostBatchNormLargeBatch,
  weightNormConditioning,
  batchNormTrainEvalGapCnn,
  batchNormLossLandscape,
  instanceNormStyleLeakage,
  conditionalNormGeneration,
  filmMultiTask,
  periLnDeep,
  outputNormDeep,
  deepNormDeep,
  layerScaleDeep,
  periLnDeepV2,
  outputNormDeepV2,
  deepNormDeepV2,
  layerScaleDeepV2,
  ngptTrainingSpeed,
  frozenBatchNormFineTuning,
  weightStandardizationFineTuning,
  syncBatchNormSmallBatch,
  syncBatchNormTracking,
  syncBatchNormControl,
  batchNormTrainEvalGapBatchOne,
];

/** The preset called `name`, or undefined. */
export function presetByName(name: string): ClaimPreset | undefined {
  return presets.find((preset) => preset.name === name);
}
