import { describeUnknownOptions } from '@normkit/testkit';
import { describe, expect, it } from 'vitest';
import { EvoNormB0, EvoNormS0, FilterResponseNorm, FilterResponseNormTLU, GroupNorm, InstanceNorm, LocalResponseNorm, TLU } from './index';

// Every constructor of the package refuses a key it does not know (it would be silently ignored),
// naming the module, the key and the accepted keys.
describeUnknownOptions([
  ['GroupNorm', (extra) => new GroupNorm({ numGroups: 1, numChannels: 2, ...extra })],
  ['InstanceNorm', (extra) => new InstanceNorm({ numFeatures: 2, ...extra })],
  ['FilterResponseNorm', (extra) => new FilterResponseNorm({ numFeatures: 2, ...extra })],
  ['FilterResponseNormTLU', (extra) => new FilterResponseNormTLU({ numFeatures: 2, ...extra })],
  ['TLU', (extra) => new TLU({ numFeatures: 2, ...extra })],
  ['LocalResponseNorm', (extra) => new LocalResponseNorm({ size: 3, ...extra })],
  ['EvoNormS0', (extra) => new EvoNormS0({ numFeatures: 4, groups: 2, ...extra })],
  ['EvoNormB0', (extra) => new EvoNormB0({ numFeatures: 2, ...extra })],
]);

describe('unknown option keys: messages', () => {
  it('names every accepted key, required ones first, with a did-you-mean for a near spelling', () => {
    expect(() => new GroupNorm({ numGroups: 1, numChannels: 2, num_groups: 2 } as never)).toThrow(
      'GroupNorm: expected options among numGroups, numChannels, eps, affine, dtype, got unknown option "num_groups". Did you mean "numGroups"?',
    );
    expect(() => new InstanceNorm({ numFeatures: 2, track_running_stats: true } as never)).toThrow(
      'InstanceNorm: expected options among numFeatures, eps, momentum, affine, trackRunningStats, dtype, got unknown option "track_running_stats". Did you mean "trackRunningStats"?',
    );
  });
});
