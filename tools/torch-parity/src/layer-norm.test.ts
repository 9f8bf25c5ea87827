import { LayerNorm } from '@normkit/layer';
import { configValue } from './fixtures';
import { describeNormalizerParity } from './normalizer-parity';

// torch.nn.LayerNorm over 1, 2 and 3 trailing dims, with and without elementwise affine.
describeNormalizerParity('layer-norm', (c, dtype) =>
  new LayerNorm({ normalizedShape: configValue(c, 'normalizedShape'), eps: configValue(c, 'eps'), elementwiseAffine: configValue(c, 'elementwiseAffine'), dtype }),
);
