// @normkit/norm-free: training deep networks without normalization layers. Adaptive gradient
// clipping and torch-style gradient clipping (gradient transforms), scaled weight
// standardization (on @normkit/weight), SkipInit and NF-ResNet residual blocks.
export { adaptiveGradientClip, resolveAdaptiveGradientClipOptions, owningLayerPath } from './adaptive-gradient-clip';
export type {
  AdaptiveGradientClipOptions, ResolvedAdaptiveGradientClipOptions, AdaptiveGradientClipReport, AdaptiveGradientClipTransform, AgcExclusion,
} from './adaptive-gradient-clip';
export { clipGradNorm, resolveClipGradNormOptions, totalGradNorm } from './clip-grad-norm';
export type { ClipGradNormOptions, ResolvedClipGradNormOptions, ClipGradNormTransform, ClipGradNormReport, NormType } from './clip-grad-norm';
export { clipGradValue, resolveClipGradValueOptions } from './clip-grad-value';
export type { ClipGradValueOptions, ResolvedClipGradValueOptions, ClipGradValueTransform, ClipGradValueReport } from './clip-grad-value';
export type { GradientSource, NonFinitePolicy, SkippedReport } from './shared';
export {
  NONLINEARITY_GAMMA, NONLINEARITY_NAMES, computeGamma, resolveGamma, ScaledStdConv2d, ScaledStdLinear,
  scaledWeightStandardization, createScaledWeightStandardization,
} from './scaled-weight-standardization';
export type {
  NonlinearityName, GammaOptions, ScaledStdOptions, ScaledWeightStandardizationOptions, ScaledWeightStandardizationParametrizationOptions,
} from './scaled-weight-standardization';
export { SkipInit } from './skip-init';
export type { SkipInitOptions, ResidualFunction, AnyResidualFunction, BranchArguments } from './skip-init';
export { NFResidualBlock, nfResidualBlocks } from './nf-residual-block';
export type { NFResidualBlockOptions, NFResidualBlocksOptions } from './nf-residual-block';
export {
  adaptiveGradientClipPlugin, clipGradNormPlugin, clipGradValuePlugin, scaledWeightStandardizationPlugin, normFreePlugins,
} from './plugins';
export { nfBlockWrapper, skipInitWrapper, normFreeBlockWrappers } from './block-wrappers';
export type { ResidualBlockWrapper, ResidualBlockInfo } from './block-wrappers';
