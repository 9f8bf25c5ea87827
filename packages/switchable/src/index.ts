// @normkit/switchable: Switchable Normalization (statistics mixing) and NormalizerMixture (output mixing
// over any registered normalizers), with their plugins (registration is explicit).
export { SwitchableNorm, switchableNormalize, softmaxOf, SWITCHABLE_STATISTICS, switchableNormOptionsSchema } from './switchable-norm';
export type {
  SwitchableNormOptions, SwitchableNormalizeOptions, SwitchableNormalizeResult, SwitchableImportance, SwitchableStatistic, BatchStatisticsSource,
} from './switchable-norm';
export { NormalizerMixture, mixOutputs, mixtureTraits, resolveCandidates } from './normalizer-mixture';
export type { NormalizerMixtureOptions, CandidateSpec, CandidateImportance, ResolvedCandidate } from './normalizer-mixture';
export {
  switchableNormPlugin, normalizerMixturePlugin, defineMixturePlugin, switchablePlugins, normalizerMixtureOptionsSchema,
} from './plugins';
export type { MixturePluginConfig } from './plugins';
