export { Module, Parameter } from './module';
export type { StateDict, LoadStateDictOptions, LoadStateDictResult } from './module';
export * as init from './init';
export type { InitOptions, KaimingOptions, FanMode, Nonlinearity } from './init';
export { Linear } from './linear';
export type { LinearOptions } from './linear';
export { Conv2d, ConvTranspose2d } from './conv2d';
export type { Conv2dLayerOptions, ConvTranspose2dLayerOptions } from './conv2d';
export { Embedding } from './embedding';
export type { EmbeddingOptions } from './embedding';
export { Dropout } from './dropout';
export { Sequential, ModuleList, Identity, Flatten } from './sequential';
export type { TensorModule } from './sequential';
export { ReLU, GELU, SiLU, Tanh } from './activation';
export { MultiHeadAttention, fromTorchAttentionStateDict, toTorchAttentionStateDict } from './multi-head-attention';
export type { MultiHeadAttentionOptions, AttentionForwardOptions } from './multi-head-attention';
export {
  registerParametrization, removeParametrizations, isParametrized, parametrizationsOf, cached, ParametrizationList, ParametrizationDict,
} from './parametrize';
export type { RegisterParametrizationOptions, RemoveParametrizationsOptions } from './parametrize';
