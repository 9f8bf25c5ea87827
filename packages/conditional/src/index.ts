// @normkit/conditional: Conditional BatchNorm, SPADE and FiLM, normalising with the fused kernels of
// @normkit/batch, @normkit/group and @normkit/layer and modulating with the core's `modulate`.
export { ConditionalBatchNorm, checkLabels, conditionalBatchNormOptionsSchema } from './conditional-batch-norm';
export type { ConditionalBatchNormOptions } from './conditional-batch-norm';
export { SPADE, spadeOptionsSchema } from './spade';
export type { SPADEOptions } from './spade';
export { FiLM, filmOptionsSchema } from './film';
export type { FiLMOptions } from './film';
export { ModulatedNorm } from './modulated-norm';
export type { ConditionalModulation, ParamFreeNormKind } from './modulated-norm';
export { conditionalBatchNormPlugin, spadePlugin, filmPlugin, conditionalPlugins } from './plugins';
