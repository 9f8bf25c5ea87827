import { randn, type NormalizerContext } from '@normkit/tensor';
import type { ContextRequest, NormalizerSuiteConfig } from '../checks/normalizer/harness';

export const layerNormConfig: NormalizerSuiteConfig = {
  slot: { numFeatures: 4 },
  inputShapes: [[3, 4], [2, 3, 4]],
  invariances: [
    { transform: 'shift', per: 'sample' },
    { transform: 'scale', per: 'sample' },
  ],
};

export const batchNormConfig: NormalizerSuiteConfig = {
  slot: { numFeatures: 3 },
  inputShapes: [[4, 3], [2, 3, 5]],
  invariances: [
    { transform: 'shift', per: 'channel' },
    { transform: 'scale', per: 'channel' },
  ],
};

export const conditionalConfig: NormalizerSuiteConfig = {
  slot: { numFeatures: 4, conditionDim: 2, numClasses: 3 },
  inputShapes: [[3, 4]],
  context: ({ shape, dtype, generator }: ContextRequest): NormalizerContext => ({
    condition: randn([shape[0]!, 2], { dtype, generator }),
    labels: Array.from({ length: shape[0]! }, (_, i) => i % 3),
  }),
  invariances: [{ transform: 'shift', per: 'sample' }],
};

export const noEpsConfig: NormalizerSuiteConfig = { slot: { numFeatures: 4 }, inputShapes: [[3, 4]] };
