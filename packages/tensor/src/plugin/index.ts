export { SPECIFICATION_VERSION, defineNormalizer, defineWeightParametrization, defineGradientTransform } from './types';
export type {
  SpecificationVersion, NormalizerContext, Normalizer, NormalizerSlot, NumberOptionSpec, BooleanOptionSpec, EnumOptionSpec,
  OptionSpec, OptionsSchema, OptionValues, NormalizerTraits, NormalizerPlugin, NormalizerOnnxLowering, Parametrization, WeightParametrizationPlugin,
  GradientEntry, GradientTransformReport, GradientTransform, GradientTransformPlugin, AnyPlugin, PluginKind,
} from './types';
export { resolveOptions, defaultOptions, describeOptionRange } from './options';
export { register, registerAll, unregister, has, get, getNormalizer, list, create, clearRegistry } from './registry';
