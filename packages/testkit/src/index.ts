// @normkit/testkit: conformance suites for normkit plugins, and the assertions behind them.
export { expectClose, expectGradcheck, expectScaleInvariant, expectThrowsWithoutStateChange } from './assertions';
export type { ScaleInvarianceOptions } from './assertions';
export type { CheckResult } from './result';
export type { PlannedCheck } from './checks/describe';

// Normalizers
export { describeNormalizer, planNormalizerChecks, runNormalizerChecks } from './checks/normalizer/suite';
export type {
  NormalizerSuiteConfig, NormalizerCheckName, InvarianceSpec, ContextRequest, Tolerance,
} from './checks/normalizer/harness';
export { checkShapeAndDType } from './checks/normalizer/shape-and-dtype';
export { checkGradients } from './checks/normalizer/gradients';
export { checkTrainEval } from './checks/normalizer/train-eval';
export { checkBatchIndependence } from './checks/normalizer/batch-independence';
export { checkInvariances } from './checks/normalizer/invariances';
export { checkStateDict } from './checks/normalizer/state-dict';
export { checkContext } from './checks/normalizer/context';
export { checkFinite } from './checks/normalizer/finite';
// Optional, async: exports and matches onnxruntime (the exporter and the runtime are passed in).
export { checkOnnxExport } from './checks/normalizer/onnx-export';
export type { OnnxExportCheckConfig, ExportOnnxFunction, OnnxRuntimeLike } from './checks/normalizer/onnx-export';

// Weight parametrizations
export { describeParametrization, planParametrizationChecks, runParametrizationChecks } from './checks/parametrization/suite';
export type { ParametrizationSuiteConfig, ParametrizationCheckName, HostRequest } from './checks/parametrization/harness';
export { checkRegistration } from './checks/parametrization/registration';
export { checkParametrizationGradients } from './checks/parametrization/gradients';
export { checkParametrizationTrainEval } from './checks/parametrization/train-eval';
export { checkParametrizationStateDict } from './checks/parametrization/state-dict';
export { checkRemoval } from './checks/parametrization/removal';
export { checkParametrizationFinite } from './checks/parametrization/finite';

// Gradient transforms
export { describeGradientTransform, planGradientTransformChecks, runGradientTransformChecks } from './checks/gradient-transform/suite';
export type { GradientTransformSuiteConfig, GradientTransformCheckName, EntriesRequest } from './checks/gradient-transform/harness';
export { checkGradientsOnly } from './checks/gradient-transform/gradients-only';
export { checkDeterministic } from './checks/gradient-transform/deterministic';
export { checkMissingGradients } from './checks/gradient-transform/missing-gradients';
export { checkGradientTransformFinite } from './checks/gradient-transform/finite';
export { checkReport } from './checks/gradient-transform/report';
export { checkIdempotent } from './checks/gradient-transform/idempotent';

export type { SuiteOptions } from './checks/shared';

// Option keys: every constructor refuses a key it does not know
export { describeUnknownOptions, planUnknownOptionsChecks, checkUnknownOptions } from './checks/options/unknown-options';
export type { OptionsBuilder, UnknownOptionsConfig } from './checks/options/unknown-options';
