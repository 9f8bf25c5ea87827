import { describeNormalizer, type ContextRequest } from '@normkit/testkit';
import { randn } from '@normkit/tensor';
import { adaLNPlugin, adaLNZeroPlugin, dynamicTanhPlugin, l2NormPlugin, layerNormPlugin, layerScalePlugin, qkNormPlugin, rmsNormPlugin, scaleNormPlugin } from './plugins';

// The testkit's plugin conformance suite, through the public plugin interface only. Row-wise
// normalizers are invariant to a per-sample scale (and, when they centre, shift) of the input.

const perSampleShiftAndScale = [
  { transform: 'shift', per: 'sample' },
  { transform: 'scale', per: 'sample' },
] as const;
const perSampleScale = [{ transform: 'scale', per: 'sample' }] as const;
const conditionDim = 3;
const condition = ({ shape, dtype, generator }: ContextRequest) => ({ condition: randn([shape[0]!, conditionDim], { dtype, generator }) });

describeNormalizer(layerNormPlugin, { slot: { numFeatures: 4 }, inputShapes: [[3, 4], [2, 3, 4]], invariances: perSampleShiftAndScale });
describeNormalizer(layerNormPlugin, {
  slot: { numFeatures: 4, normalizedShape: [3, 4] },
  inputShapes: [[2, 3, 4], [2, 2, 3, 4]],
  maskShape: (shape) => shape.slice(0, -2),
  invariances: perSampleShiftAndScale,
});
describeNormalizer(rmsNormPlugin, { slot: { numFeatures: 5 }, inputShapes: [[3, 5], [2, 3, 5]], invariances: perSampleScale });
describeNormalizer(qkNormPlugin, { slot: { numFeatures: 4 }, options: { kind: 'layer' }, inputShapes: [[2, 2, 3, 4]], invariances: perSampleShiftAndScale });
describeNormalizer(qkNormPlugin, { slot: { numFeatures: 4 }, options: { kind: 'rms' }, inputShapes: [[2, 2, 3, 4]], invariances: perSampleScale });
describeNormalizer(qkNormPlugin, { slot: { numFeatures: 4 }, options: { kind: 'l2' }, inputShapes: [[2, 2, 3, 4]], invariances: perSampleScale });
describeNormalizer(adaLNPlugin, {
  slot: { numFeatures: 4, conditionDim },
  inputShapes: [[2, 4], [2, 3, 4]],
  context: condition,
  invariances: perSampleShiftAndScale,
});
describeNormalizer(adaLNZeroPlugin, {
  slot: { numFeatures: 4, conditionDim },
  inputShapes: [[2, 4], [2, 3, 4]],
  context: condition,
  invariances: perSampleShiftAndScale,
});
describeNormalizer(l2NormPlugin, { slot: { numFeatures: 4 }, inputShapes: [[3, 4], [2, 3, 4]], invariances: perSampleScale });
describeNormalizer(l2NormPlugin, { slot: { numFeatures: 4, normalizedShape: [3, 4] }, options: { p: 1.5 }, inputShapes: [[2, 3, 4]], invariances: perSampleScale });
describeNormalizer(scaleNormPlugin, { slot: { numFeatures: 5 }, inputShapes: [[3, 5], [2, 3, 5]], invariances: perSampleScale });
describeNormalizer(layerScalePlugin, { slot: { numFeatures: 4 }, options: { initValues: 0.1 }, inputShapes: [[3, 4], [2, 3, 4]] });
describeNormalizer(dynamicTanhPlugin, { slot: { numFeatures: 4 }, inputShapes: [[3, 4], [2, 3, 4]] });
describeNormalizer(dynamicTanhPlugin, { slot: { numFeatures: 4, normalizedShape: [3, 4] }, options: { alphaInit: 1.5, elementwiseAffine: false }, inputShapes: [[2, 3, 4]] });
