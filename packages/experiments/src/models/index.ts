import type { OptionsSchema } from '@normkit/tensor';
import { cnnModel } from './cnn';
import { conditionalGanModel } from './gan';
import type { ModelDefinition } from './model';
import { mlpModel } from './mlp';
import { ngptModel } from './ngpt';
import { residualModel } from './residual';
import { transformerModel } from './transformer';

export { NormSlot, NO_NORM, traitsOf } from './norm-slot';
export type { NormChoice, PluginChoice, SlotLayout, SlotContext, SlotExtras } from './norm-slot';
export { ActivationTap, activationStats } from './tap';
export type { ActivationStats } from './tap';
export {
  defineModel, activate, maskedMeanPool, applyWeightParametrization, weightLayers, normFor, modelPostStepHooks,
} from './model';
export type { PostStepHookSource, ModelInput, Classifier, DataSpec, NormRole, ModelBuildContext, ModelDefinition, ActivationName } from './model';
export { Mlp, DenseLayer, mlpModel } from './mlp';
export type { MlpOptions } from './mlp';
export { Cnn, ConvStage, cnnModel } from './cnn';
export type { CnnOptions } from './cnn';
export {
  ResidualNet, ResidualBranch, PlainResidualBlock, residualModel, plainBlockWrapper, registerBlockWrapper, unregisterBlockWrapper,
  listBlockWrappers, getBlockWrapper, resolveBlockWrapper,
} from './residual';
export type { ResidualNetOptions, ResidualBlockModule, BlockInfo, BlockWrapperDefinition } from './residual';
export { TinyTransformer, transformerModel } from './transformer';
export type { TinyTransformerOptions } from './transformer';
export { NGPTClassifier, ngptModel } from './ngpt';
export type { NGPTClassifierOptions } from './ngpt';
export { ConditionalGan, ConditionalMlp, conditionalGanModel, oneHot } from './gan';
export type { ConditionalGanOptions } from './gan';

/** Every built-in model by name. */
export const models: Readonly<Record<string, ModelDefinition<OptionsSchema>>> = Object.freeze({
  mlp: mlpModel,
  cnn: cnnModel,
  residual: residualModel,
  transformer: transformerModel,
  ngpt: ngptModel,
  'conditional-gan': conditionalGanModel,
} as unknown as Record<string, ModelDefinition<OptionsSchema>>);
