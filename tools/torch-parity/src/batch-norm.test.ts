import { BatchNorm } from '@normkit/batch';
import { configValue } from './fixtures';
import { describeNormalizerParity } from './normalizer-parity';

// torch.nn.BatchNorm1d / BatchNorm2d: momentum 0.1, 0.3 and None (cumulative average), affine or
// not, trackRunningStats false (batch statistics in eval too); 3 training steps then eval.
describeNormalizerParity('batch-norm', (c, dtype) =>
  new BatchNorm({
    numFeatures: configValue(c, 'numFeatures'),
    eps: configValue(c, 'eps'),
    momentum: configValue(c, 'momentum'),
    affine: configValue(c, 'affine'),
    trackRunningStats: configValue(c, 'trackRunningStats'),
    dtype,
  }),
);
