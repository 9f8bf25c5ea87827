import { GroupNorm } from '@normkit/group';
import { configValue } from './fixtures';
import { describeNormalizerParity } from './normalizer-parity';

// torch.nn.GroupNorm: images and sequences, 1 group (LayerNorm-like), C groups (InstanceNorm-like), no affine, [N, C] input.
describeNormalizerParity('group-norm', (c, dtype) =>
  new GroupNorm({ numGroups: configValue(c, 'numGroups'), numChannels: configValue(c, 'numChannels'), eps: configValue(c, 'eps'), affine: configValue(c, 'affine'), dtype }),
);
