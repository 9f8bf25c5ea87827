import { SPECIFICATION_VERSION, defineNormalizer, dtypeOptionSpec, type NormalizerPlugin, type OptionsSchema } from '@normkit/tensor';
import { NormalizerMixture, mixtureTraits, resolveCandidates, type CandidateSpec } from './normalizer-mixture';
import { SwitchableNorm, switchableNormOptionsSchema } from './switchable-norm';

// Plugins of @normkit/switchable for the registry. Registration is explicit:
//   import { registerAll } from '@normkit/tensor';
//   import { switchablePlugins } from '@normkit/switchable';
//   registerAll(switchablePlugins);

const FAMILY = 'switchable';

const dtypeOption = { ...dtypeOptionSpec, description: 'Parameter and buffer dtype; inputs must match.' } as const;

/** `switchable-norm`: SwitchableNorm over [N, C, *spatial]. */
export const switchableNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'switchable-norm',
  family: FAMILY,
  description: 'Switchable Normalization (Luo et al., 2019): learned softmax mix of instance, layer and batch statistics, one per-channel affine.',
  options: switchableNormOptionsSchema,
  traits: (options) => ({
    batchDependent: options.usingBatchStats,
    needsCondition: false,
    needsLabels: false,
    acceptsMask: false,
    hasRunningStats: options.usingBatchStats,
    layout: 'channels-first',
  }),
  create: (slot, options) => new SwitchableNorm({ numFeatures: slot.numFeatures, ...options }),
});

export const normalizerMixtureOptionsSchema = {
  temperature: { type: 'number', default: 1, min: 0, minExclusive: true, description: 'Divides the logits before the softmax; lower is sharper.' },
  hard: { type: 'boolean', default: false, description: "Use only the argmax candidate's output." },
  dtype: { ...dtypeOption, description: 'Logit dtype, also given to every candidate with a dtype option; inputs must match.' },
} as const satisfies OptionsSchema;

export interface MixturePluginConfig {
  /** The plugin's kebab-case name. */
  name: string;
  /** The normalizers it mixes (names resolve in the registry when the plugin builds or reports traits). */
  candidates: readonly CandidateSpec[];
  description?: string;
  family?: string;
}

/**
 * A plugin for a `NormalizerMixture` over fixed candidates, so a mixture can be built by name like any
 * normalizer. Its traits combine the candidates' (see `mixtureTraits`).
 *
 * @example
 * register(defineMixturePlugin({ name: 'bn-or-rms', candidates: ['batch-norm', 'group-norm'] }));
 */
export function defineMixturePlugin(config: MixturePluginConfig): NormalizerPlugin<typeof normalizerMixtureOptionsSchema, NormalizerMixture> {
  const op = `mixture plugin "${config.name}"`;
  return defineNormalizer({
    name: config.name,
    family: config.family ?? FAMILY,
    description: config.description ?? `Learned softmax mix of the outputs of ${config.candidates.map(describeCandidate).join(', ')}.`,
    options: normalizerMixtureOptionsSchema,
    traits: (options) => mixtureTraits(op, resolveCandidates(op, config.candidates, options.dtype)),
    create: (slot, options) => new NormalizerMixture({ ...slot, candidates: config.candidates, ...options }),
  });
}

function describeCandidate(spec: CandidateSpec): string {
  if (typeof spec === 'string') return spec;
  if ('candidate' in spec) return typeof spec.candidate === 'string' ? spec.candidate : spec.candidate.name;
  return spec.name;
}

/**
 * `normalizer-mixture`: the output-mixing counterpart of SwitchableNorm, mixing BatchNorm,
 * InstanceNorm (with affine) and LayerNorm over (C, *) (GroupNorm with one group). Needs
 * `@normkit/batch`'s and `@normkit/group`'s plugins registered.
 */
export const normalizerMixturePlugin = defineMixturePlugin({
  name: 'normalizer-mixture',
  // Names of @normkit/batch and @normkit/group, which this package does not depend on (so their names are
  // not in its NormalizerRegistry): checked at run time when the mixture is built, like createByName.
  candidates: ['batch-norm', { candidate: 'instance-norm', options: { affine: true } }, { candidate: 'group-norm', options: { numGroups: 1 } }] as unknown as CandidateSpec[],
  description: 'Learned softmax mix of the OUTPUTS of BatchNorm, InstanceNorm and LayerNorm over (C, *) (needs the batch and group plugins registered).',
});

/** Every plugin of the package, for `registerAll(switchablePlugins)`. */
export const switchablePlugins: readonly NormalizerPlugin[] = [switchableNormPlugin, normalizerMixturePlugin];

// The names above, known to the type system wherever this package is imported, so
// `create('switchable-norm', slot, options)` is typed by name (registration is still explicit).
declare module '@normkit/tensor' {
  interface NormalizerRegistry {
    'switchable-norm': typeof switchableNormPlugin;
    'normalizer-mixture': typeof normalizerMixturePlugin;
  }
}
