import { InstanceNorm } from '@normkit/group';
import { configValue } from './fixtures';
import { describeNormalizerParity } from './normalizer-parity';

// torch.nn.InstanceNorm1d / InstanceNorm2d with PyTorch's defaults, with affine, and with running statistics.
describeNormalizerParity('instance-norm', (c, dtype) =>
  new InstanceNorm({
    numFeatures: configValue(c, 'numFeatures'),
    eps: configValue(c, 'eps'),
    momentum: configValue(c, 'momentum'),
    affine: configValue(c, 'affine'),
    trackRunningStats: configValue(c, 'trackRunningStats'),
    dtype,
  }),
);
