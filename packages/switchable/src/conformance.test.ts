import { batchPlugins } from '@normkit/batch';
import { groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import { has, register } from '@normkit/tensor';
import { describeNormalizer } from '@normkit/testkit';
import { defineMixturePlugin, normalizerMixturePlugin, switchableNormPlugin } from './plugins';

// The testkit's conformance suite through the public plugin interface. The mixtures resolve their
// candidates in the registry when the suite is planned, so the families are registered first.
for (const plugin of [...batchPlugins, ...groupPlugins, ...layerPlugins]) if (!has(plugin.name)) register(plugin);

// Every statistic SN mixes is invariant to one shift and scale of the whole input; with batch
// statistics in eval the running averages break that, so the invariances are checked in training.
const perTensor = [
  { transform: 'shift', per: 'tensor' },
  { transform: 'scale', per: 'tensor' },
] as const;
// Instance and layer statistics (the batch-free variant) are invariant per sample.
const perSample = [
  { transform: 'shift', per: 'sample' },
  { transform: 'scale', per: 'sample' },
] as const;

describeNormalizer(switchableNormPlugin, { slot: { numFeatures: 3 }, inputShapes: [[3, 3, 4], [2, 3, 2, 3]], invariances: perTensor });
describeNormalizer(switchableNormPlugin, {
  slot: { numFeatures: 3 },
  options: { usingBatchStats: false },
  inputShapes: [[3, 3, 4], [2, 3, 2, 3]],
  invariances: perSample,
});
describeNormalizer(switchableNormPlugin, { slot: { numFeatures: 2 }, options: { usingMovingAverage: false, momentum: 0.5 }, inputShapes: [[2, 2, 5]] });
describeNormalizer(normalizerMixturePlugin, { slot: { numFeatures: 3 }, inputShapes: [[3, 3, 4], [2, 3, 2, 3]], invariances: perTensor });
describeNormalizer(normalizerMixturePlugin, {
  slot: { numFeatures: 2 },
  options: { temperature: 0.5, hard: true },
  inputShapes: [[2, 2, 5]],
  skip: {
    gradients:
      'hard: true selects argmax(logits), a step function of the logits: at the initial tie a finite difference switches candidates. ' +
      'The selected candidate is checked by its own suite, and hard mode giving the logits no gradient by normalizer-mixture.test.ts',
  },
});
// A mixture of channels-last normalizers taking a mask (LayerNorm and RMSNorm both accept one).
describeNormalizer(defineMixturePlugin({ name: 'layer-or-rms', candidates: ['layer-norm', 'rms-norm'] }), {
  slot: { numFeatures: 4 },
  inputShapes: [[3, 4], [2, 3, 4]],
  invariances: [{ transform: 'scale', per: 'sample' }],
});
