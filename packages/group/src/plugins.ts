import { SPECIFICATION_VERSION, defineNormalizer, type NormalizerPlugin, type NormalizerTraits } from '@normkit/tensor';
import { EvoNormB0, evoNormB0OptionsSchema } from './evo-norm-b0';
import { EvoNormS0, evoNormS0OptionsSchema } from './evo-norm-s0';
import { FilterResponseNorm, filterResponseNormOptionsSchema } from './filter-response-norm';
import { FilterResponseNormTLU } from './filter-response-norm-tlu';
import { GroupNorm, groupNormOptionsSchema } from './group-norm';
import { InstanceNorm, instanceNormOptionsSchema } from './instance-norm';
import { LocalResponseNorm, localResponseNormOptionsSchema } from './local-response-norm';

/** None of the family needs a condition or labels; all but EvoNorm-B0 look at one sample only. */
function traits(overrides: Pick<NormalizerTraits, 'acceptsMask' | 'hasRunningStats'> & Partial<NormalizerTraits>): NormalizerTraits {
  return { batchDependent: false, needsCondition: false, needsLabels: false, layout: 'channels-first', ...overrides };
}

/** `group-norm`: GroupNorm over [N, C, *]; numGroups defaults to 32, as in Flax. */
export const groupNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'group-norm',
  family: 'group',
  description: 'GroupNorm (Wu & He 2018): per-sample statistics over groups of channels, per-channel affine',
  options: groupNormOptionsSchema,
  traits: () => traits({ acceptsMask: true, hasRunningStats: false }),
  create: (slot, options) => new GroupNorm({ numChannels: slot.numFeatures, ...options }),
});

/** `instance-norm`: InstanceNorm over [N, C, *spatial] with PyTorch's defaults. */
export const instanceNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'instance-norm',
  family: 'group',
  description: 'InstanceNorm (Ulyanov et al. 2016): per-sample, per-channel statistics over spatial positions',
  options: instanceNormOptionsSchema,
  traits: (options) => traits({ acceptsMask: false, hasRunningStats: options.trackRunningStats }),
  create: (slot, options) => new InstanceNorm({ numFeatures: slot.numFeatures, ...options }),
});

/** `filter-response-norm`: FRN with its TLU fused into one node (`tlu: false` for FRN alone). */
export const filterResponseNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'filter-response-norm',
  family: 'group',
  description: 'Filter Response Normalization with TLU (Singh & Krishnan 2020): mean-square normalisation per sample and channel, learned threshold',
  options: {
    ...filterResponseNormOptionsSchema,
    tlu: { type: 'boolean', default: true, description: 'Apply the TLU z = max(y, tau) in the same node (FRN is meant to be used with it)' },
  },
  traits: () => traits({ acceptsMask: false, hasRunningStats: false }),
  create: (slot, options) => {
    const { tlu, ...frnOptions } = options;
    return tlu ? new FilterResponseNormTLU({ numFeatures: slot.numFeatures, ...frnOptions }) : new FilterResponseNorm({ numFeatures: slot.numFeatures, ...frnOptions });
  },
});

/** `local-response-norm`: torch.nn.LocalResponseNorm across neighbouring channels; no parameters, any input dtype. */
export const localResponseNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'local-response-norm',
  family: 'group',
  description: 'Local Response Normalization (Krizhevsky et al. 2012): each activation divided by (k + alpha * mean square over size neighbouring channels)^beta',
  options: localResponseNormOptionsSchema,
  traits: () => traits({ acceptsMask: false, hasRunningStats: false }),
  create: (_slot, options) => new LocalResponseNorm(options),
});

/** `evo-norm-s0`: timm's EvoNorm2dS0, a normalization-activation layer over channel groups. */
export const evoNormS0Plugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'evo-norm-s0',
  family: 'group',
  description: 'EvoNorm-S0 (Liu et al. 2020): x * sigmoid(v x) / group std(x) * weight + bias, normalization and activation in one layer',
  options: evoNormS0OptionsSchema,
  traits: () => traits({ acceptsMask: false, hasRunningStats: false }),
  create: (slot, options) => new EvoNormS0({ numFeatures: slot.numFeatures, ...options }),
});

/** `evo-norm-b0`: timm's EvoNorm2dB0, batch variance in training and running_var in eval. */
export const evoNormB0Plugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'evo-norm-b0',
  family: 'group',
  description: 'EvoNorm-B0 (Liu et al. 2020): x / max(batch std, v x + instance std) * weight + bias, with a running variance',
  options: evoNormB0OptionsSchema,
  traits: () => traits({ acceptsMask: false, hasRunningStats: true, batchDependent: true }),
  create: (slot, options) => new EvoNormB0({ numFeatures: slot.numFeatures, ...options }),
});

/** The family's plugins, for `registerAll(groupPlugins)`. */
export const groupPlugins: readonly NormalizerPlugin[] = [
  groupNormPlugin, instanceNormPlugin, filterResponseNormPlugin, localResponseNormPlugin, evoNormS0Plugin, evoNormB0Plugin,
];

// The names above, known to the type system wherever this package is imported, so
// `create('group-norm', slot, options)` is typed by name (registration is still explicit).
declare module '@normkit/tensor' {
  interface NormalizerRegistry {
    'group-norm': typeof groupNormPlugin;
    'instance-norm': typeof instanceNormPlugin;
    'filter-response-norm': typeof filterResponseNormPlugin;
    'local-response-norm': typeof localResponseNormPlugin;
    'evo-norm-s0': typeof evoNormS0Plugin;
    'evo-norm-b0': typeof evoNormB0Plugin;
  }
}
