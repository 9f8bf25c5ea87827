import { RMSNorm } from '@normkit/layer';
import { configValue } from './fixtures';
import { describeNormalizerParity } from './normalizer-parity';

// RMSNorm as torch.nn.RMSNorm (torch >= 2.4) defines it, written out in generate.py for torch 1.13.
describeNormalizerParity('rms-norm', (c, dtype) =>
  new RMSNorm({ normalizedShape: configValue(c, 'normalizedShape'), eps: configValue(c, 'eps'), elementwiseAffine: configValue(c, 'elementwiseAffine'), dtype }),
);
