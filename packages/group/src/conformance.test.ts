import { describeNormalizer } from '@normkit/testkit';
import { evoNormB0Plugin, evoNormS0Plugin, filterResponseNormPlugin, groupNormPlugin, instanceNormPlugin, localResponseNormPlugin } from './plugins';

// The testkit's plugin conformance suite, through the public plugin interface only (as in the layer
// and conditional packages). GroupNorm with one group is invariant to a per-sample shift and scale,
// InstanceNorm to a per-(sample, channel) one.
const perSample = [{ transform: 'shift', per: 'sample' }, { transform: 'scale', per: 'sample' }] as const;
const perSampleChannel = [{ transform: 'shift', per: 'sample-channel' }, { transform: 'scale', per: 'sample-channel' }] as const;
describeNormalizer(groupNormPlugin, { slot: { numFeatures: 4 }, options: { numGroups: 1 }, inputShapes: [[3, 4], [2, 4, 5], [2, 4, 2, 2]], maskShape: (s) => [s[0]!, ...s.slice(2)], invariances: perSample });
describeNormalizer(groupNormPlugin, { slot: { numFeatures: 4 }, options: { numGroups: 2 }, inputShapes: [[2, 4, 5]] });
describeNormalizer(instanceNormPlugin, { slot: { numFeatures: 3 }, inputShapes: [[2, 3, 5]], invariances: perSampleChannel });
describeNormalizer(instanceNormPlugin, { slot: { numFeatures: 3 }, options: { trackRunningStats: true, affine: true }, inputShapes: [[2, 3, 5], [2, 3, 2, 2]] });
describeNormalizer(filterResponseNormPlugin, { slot: { numFeatures: 3 }, inputShapes: [[2, 3], [2, 3, 4]] });
describeNormalizer(filterResponseNormPlugin, { slot: { numFeatures: 3 }, options: { tlu: false, learnableEps: true }, inputShapes: [[2, 3, 4]] });
describeNormalizer(localResponseNormPlugin, { slot: { numFeatures: 5 }, options: { size: 3, alpha: 0.5 }, inputShapes: [[2, 5], [2, 5, 4], [2, 5, 2, 2]] });
describeNormalizer(localResponseNormPlugin, { slot: { numFeatures: 3 }, inputShapes: [[3, 3, 2]] });
describeNormalizer(evoNormS0Plugin, { slot: { numFeatures: 4 }, options: { groups: 2 }, inputShapes: [[2, 4], [2, 4, 3], [2, 4, 2, 2]] });
describeNormalizer(evoNormB0Plugin, { slot: { numFeatures: 3 }, inputShapes: [[3, 3, 4], [2, 3, 2, 2]] });
