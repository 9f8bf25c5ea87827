// @normkit/weight: Weight Normalization, Spectral Normalization and Weight Standardization, as
// parametrizations on the core's parametrize mechanism (one fused node each).
export { weightNorm, createWeightNorm, WeightNorm, weightNormWeight, normExceptDim } from './weight-norm';
export type { WeightNormOptions, WeightNormParametrizationOptions, WeightNormWeightOptions } from './weight-norm';
export { spectralNorm, createSpectralNorm, spectralNormOf, SpectralNorm, spectralNormWeight, powerIteration } from './spectral-norm';
export type { SpectralNormOptions, SpectralNormParametrizationOptions, SpectralNormWeightResult, PowerIterationOptions } from './spectral-norm';
export { weightStandardization, createWeightStandardization, WeightStandardization, standardizeWeight, resolveStandardization } from './weight-standardization';
export type {
  WeightStandardizationOptions, WeightStandardizationParametrizationOptions, StandardizeWeightOptions, ResolvedStandardization, EpsMode,
} from './weight-standardization';
export { WSConv2d, WSLinear } from './ws-layers';
export type { WeightStandardizedLayerOptions } from './ws-layers';
export { weightNormPlugin, spectralNormPlugin, weightStandardizationPlugin, weightPlugins } from './plugins';
