export { SPECIFICATION_VERSION, defineNormalizer, defineWeightParametrization, defineGradientTransform, definePostStepHook } from './types';
export type {
  SpecificationVersion, NormalizerContext, Normalizer, NormalizerSlot, NumberOptionSpec, BooleanOptionSpec, EnumOptionSpec,
  OptionSpec, OptionsSchema, OptionValues, NormalizerTraits, NormalizerPlugin, NormalizerOnnxLowering, Parametrization, WeightParametrizationPlugin,
  GradientEntry, GradientTransformReport, GradientTransform, GradientTransformPlugin, PostStepHookPlugin, PostStepHookLiteral, PostStepHookRegistry,
  PostStepHookName, AnyPlugin, PluginKind,
  NormalizerLiteral, WeightParametrizationLiteral, GradientTransformLiteral,
  NormalizerRegistry, WeightParametrizationRegistry, GradientTransformRegistry, NormalizerName, WeightParametrizationName,
  GradientTransformName, NormalizerChoice, NormalizerChoiceByName, OptionsInput, PluginOptions, PluginProduct, PluginOfKind,
} from './types';
export { resolveOptions, defaultOptions, describeOptionRange, checkOptionKeys, resolveModuleOptions } from './options';
export type { ModuleOptionsSpec, RequiredNumberOption } from './options';
export {
  Registry, defaultRegistry, register, registerAll, unregister, has, get, getNormalizer, list, create, createByName, createFromPlugin,
  createParametrization, createGradientTransform, createPostStepHook, resolvePlugin, normalizerTraits, normalizerChoice,
} from './registry';
export type { ListFilter, CallerContext } from './registry';
export { FIRST_PARTY_PACKAGES, firstPartyHome } from './first-party';
