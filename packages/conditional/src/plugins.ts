import { OptionError, SPECIFICATION_VERSION, defineNormalizer, type NormalizerPlugin, type NormalizerSlot, type NormalizerTraits } from '@normkit/tensor';
import { ConditionalBatchNorm, conditionalBatchNormOptionsSchema } from './conditional-batch-norm';
import { FiLM, filmOptionsSchema } from './film';
import { SPADE, spadeOptionsSchema } from './spade';

// Plugins of @normkit/conditional for the registry. Registration is explicit:
//   import { registerAll } from '@normkit/tensor';
//   import { conditionalPlugins } from '@normkit/conditional';
//   registerAll(conditionalPlugins);

const FAMILY = 'conditional';

/** Every conditional normalizer is channels-first; the batch-style ones depend on the batch and keep running statistics. */
function conditionalTraits(batchStatistics: boolean, overrides: Partial<NormalizerTraits>): NormalizerTraits {
  return {
    batchDependent: batchStatistics,
    hasRunningStats: batchStatistics,
    needsCondition: false,
    needsLabels: false,
    acceptsMask: false,
    layout: 'channels-first',
    ...overrides,
  };
}

/** A slot field the plugin cannot do without, or an OptionError naming the plugin and the field. */
function requireSlot(name: string, slot: NormalizerSlot, field: 'numClasses' | 'conditionDim' | 'conditionChannels', meaning: string): number {
  const value = slot[field];
  if (value === undefined) throw new OptionError({ op: `create("${name}")`, expected: `slot.${field} (${meaning})`, given: `slot.${field} = undefined` });
  return value;
}

/** `conditional-batch-norm`: BatchNorm statistics, per-class gamma and beta; `forward(x, { labels })`. */
export const conditionalBatchNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'conditional-batch-norm',
  family: FAMILY,
  description: 'Conditional BatchNorm (de Vries et al. 2017; cGANs, BigGAN): shared batch statistics, per-class gamma and beta rows.',
  options: conditionalBatchNormOptionsSchema,
  traits: (options) => conditionalTraits(true, { hasRunningStats: options.trackRunningStats, needsLabels: true, acceptsMask: true }),
  create: (slot, options) =>
    new ConditionalBatchNorm({ numFeatures: slot.numFeatures, numClasses: requireSlot('conditional-batch-norm', slot, 'numClasses', 'the number of classes'), ...options }),
});

/** `spade`: per-pixel gamma and beta from a segmentation map; `forward(x, { condition: map })`. */
export const spadePlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'spade',
  family: FAMILY,
  description: 'SPADE (Park et al. 2019, GauGAN): x * (1 + gamma(m)) + beta(m), gamma and beta per pixel from a segmentation map m.',
  options: spadeOptionsSchema,
  traits: (options) => conditionalTraits(options.paramFreeNorm === 'batch', { needsCondition: true }),
  create: (slot, options) =>
    new SPADE({
      normChannels: slot.numFeatures,
      labelChannels: requireSlot('spade', slot, 'conditionChannels', "the segmentation map's channels"),
      ...options,
    }),
});

/** `film`: per-feature gamma and beta from a condition vector, optionally after a parameter-free normalizer. */
export const filmPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'film',
  family: FAMILY,
  description: 'FiLM (Perez et al. 2018): gamma(c) * norm(x) + beta(c), per feature, from a condition vector c.',
  options: filmOptionsSchema,
  traits: (options) => conditionalTraits(options.norm === 'batch', { needsCondition: true }),
  create: (slot, options) =>
    new FiLM({ numFeatures: slot.numFeatures, conditionDim: requireSlot('film', slot, 'conditionDim', 'the width of the condition vector'), ...options }),
});

/** Every plugin of the package, for `registerAll(conditionalPlugins)`. */
export const conditionalPlugins: readonly NormalizerPlugin[] = [conditionalBatchNormPlugin, spadePlugin, filmPlugin];

// The names above, known to the type system wherever this package is imported, so
// `create('conditional-batch-norm', slot, options)` is typed by name (registration is still explicit).
declare module '@normkit/tensor' {
  interface NormalizerRegistry {
    'conditional-batch-norm': typeof conditionalBatchNormPlugin;
    'spade': typeof spadePlugin;
    'film': typeof filmPlugin;
  }
}
