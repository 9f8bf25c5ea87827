import { describeUnknownOptions } from '@normkit/testkit';
import { describe, expect, it } from 'vitest';
import { BatchNorm, BatchRenorm, FrozenBatchNorm, GhostBatchNorm, SyncBatchNorm } from './index';

// Every constructor of the package refuses a key it does not know (it would be silently ignored),
// naming the module, the key and the accepted keys; a near spelling of a known key gets a did-you-mean.
describeUnknownOptions([
  ['BatchNorm', (extra) => new BatchNorm({ numFeatures: 3, ...extra })],
  ['GhostBatchNorm', (extra) => new GhostBatchNorm({ numFeatures: 3, virtualBatchSize: 2, ...extra })],
  ['SyncBatchNorm', (extra) => new SyncBatchNorm({ numFeatures: 3, group: null, ...extra })],
  ['FrozenBatchNorm', (extra) => new FrozenBatchNorm({ numFeatures: 3, ...extra })],
  ['BatchRenorm', (extra) => new BatchRenorm({ numFeatures: 3, ...extra })],
], { acceptedKeys: '.*eps.*' });

describe('unknown option keys: messages', () => {
  it('a PyTorch spelling gets a did-you-mean', () => {
    expect(() => new BatchNorm({ numFeatures: 3, track_running_stats: false } as never)).toThrow(
      'BatchNorm: expected options among numFeatures, eps, momentum, affine, trackRunningStats, dtype, got unknown option "track_running_stats". Did you mean "trackRunningStats"?',
    );
    expect(() => new SyncBatchNorm({ numFeatures: 3, process_group: null } as never)).toThrow(/options among numFeatures, group, eps/);
  });
});
