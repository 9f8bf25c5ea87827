// @normkit/layer: LayerNorm, RMSNorm, QKNorm, AdaLN / adaLN-Zero, L2 (unit) norm, ScaleNorm, LayerScale, Dynamic Tanh,
// residual blocks (Pre-LN, Post-LN, Peri-LN, output-only, DeepNorm), the Transformer block and nGPT's block, with their registry plugins (registration is explicit).
export { LayerNorm, layerNorm, layerNormOptionsSchema } from './layer-norm';
export type { LayerNormOptions, LayerNormFunctionalOptions } from './layer-norm';
export { RMSNorm, rmsNorm, machineEpsilon, rmsNormOptionsSchema } from './rms-norm';
export type { RMSNormOptions, RMSNormFunctionalOptions } from './rms-norm';
export { QKNorm, qkNormFactory, QK_NORM_KINDS } from './qk-norm';
export type { QKNormOptions, QKNormKind } from './qk-norm';
export { AdaLN, AdaLNZero, isGatedNormalizer, broadcastOverTokens } from './ada-ln';
export type { AdaLNOptions, AdaLNZeroOptions, Modulation, GatedModulation, GatedNormalizer } from './ada-ln';
export { Residual, residual, PLACEMENTS } from './residual';
export type { ResidualOptions, ResidualContext, Sublayer, Placement } from './residual';
export { TransformerBlock } from './transformer-block';
export { deepNormConstants, deepNormInit } from './deep-norm';
export { NGPTBlock, markUnitNormWeight, ngptWeightNormalization, ngptWeightNormalizationPlugin, normalizeMarkedWeights } from './ngpt';
export type { NGPTBlockOptions, NGPTBlockContext, ScaledInit } from './ngpt';
export type { DeepNormArchitecture, DeepNormConstants } from './deep-norm';
export type { TransformerBlockOptions, TransformerBlockContext, NormSpec } from './transformer-block';
export { L2Norm, l2Norm, l2NormOptionsSchema } from './l2-norm';
export type { L2NormOptions, L2NormFunctionalOptions } from './l2-norm';
export { ScaleNorm, scaleNormOptionsSchema } from './scale-norm';
export type { ScaleNormOptions } from './scale-norm';
export { LayerScale, layerScaleOptionsSchema } from './layer-scale';
export type { LayerScaleOptions } from './layer-scale';
export { DynamicTanh, dynamicTanhOptionsSchema } from './dynamic-tanh';
export type { DynamicTanhOptions } from './dynamic-tanh';
export {
  dynamicTanhPlugin, layerNormPlugin, rmsNormPlugin, qkNormPlugin, adaLNPlugin, adaLNZeroPlugin, l2NormPlugin, scaleNormPlugin, layerScalePlugin, layerPlugins,
} from './plugins';
