import { describeNormalizer, type ContextRequest } from '@normkit/testkit';
import { randn } from '@normkit/tensor';
import { conditionalBatchNormPlugin, filmPlugin, spadePlugin } from './plugins';

// The testkit's plugin conformance suite, through the public plugin interface only. The modulation
// depends on the condition alone, so each technique keeps its normalizer's invariances: per channel
// for batch statistics (in training), per (sample, channel) for instance, per sample for layer.

const perChannel = [{ transform: 'shift', per: 'channel' }, { transform: 'scale', per: 'channel' }] as const;
const perSampleChannel = [{ transform: 'shift', per: 'sample-channel' }, { transform: 'scale', per: 'sample-channel' }] as const;
const perSample = [{ transform: 'shift', per: 'sample' }, { transform: 'scale', per: 'sample' }] as const;

const numClasses = 4;
const labels = ({ shape, generator }: ContextRequest) => ({ labels: Array.from({ length: shape[0]! }, () => generator.integer(numClasses)) });
const labelChannels = 3;
const segmentationMap = ({ shape, dtype, generator }: ContextRequest) => ({ condition: randn([shape[0]!, labelChannels, 2, 2], { dtype, generator }) });
const conditionDim = 4;
const conditionVector = ({ shape, dtype, generator }: ContextRequest) => ({ condition: randn([shape[0]!, conditionDim], { dtype, generator }) });

describeNormalizer(conditionalBatchNormPlugin, {
  slot: { numFeatures: 3, numClasses },
  inputShapes: [[4, 3], [3, 3, 5]],
  context: labels,
  invariances: perChannel,
});
describeNormalizer(spadePlugin, {
  slot: { numFeatures: 2, conditionChannels: labelChannels },
  options: { hiddenChannels: 4, paramFreeNorm: 'batch' },
  inputShapes: [[2, 2, 3, 3]],
  context: segmentationMap,
  invariances: perChannel,
});
describeNormalizer(spadePlugin, {
  slot: { numFeatures: 2, conditionChannels: labelChannels },
  options: { hiddenChannels: 4, kernelSize: 1, paramFreeNorm: 'instance' },
  inputShapes: [[2, 2, 3, 3]],
  context: segmentationMap,
  invariances: perSampleChannel,
});
describeNormalizer(filmPlugin, {
  slot: { numFeatures: 3, conditionDim },
  inputShapes: [[3, 3], [2, 3, 4]],
  context: conditionVector,
});
describeNormalizer(filmPlugin, {
  slot: { numFeatures: 3, conditionDim },
  options: { norm: 'batch', hidden: 5 },
  inputShapes: [[3, 3], [2, 3, 4]],
  context: conditionVector,
  invariances: perChannel,
});
describeNormalizer(filmPlugin, {
  slot: { numFeatures: 3, conditionDim },
  options: { norm: 'instance' },
  inputShapes: [[2, 3, 4]],
  context: conditionVector,
  invariances: perSampleChannel,
});
describeNormalizer(filmPlugin, {
  slot: { numFeatures: 3, conditionDim },
  options: { norm: 'layer', hidden: 5 },
  inputShapes: [[3, 3], [2, 3, 2, 2]],
  context: conditionVector,
  invariances: perSample,
});
