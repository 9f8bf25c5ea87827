import { describeUnknownOptions } from '@normkit/testkit';
import { describe, expect, it } from 'vitest';
import { ConditionalBatchNorm, FiLM, SPADE } from './index';

// Every constructor of the package refuses a key it does not know (it would be silently ignored),
// naming the module, the key and the accepted keys.
describeUnknownOptions([
  ['ConditionalBatchNorm', (extra) => new ConditionalBatchNorm({ numFeatures: 2, numClasses: 3, ...extra })],
  ['FiLM', (extra) => new FiLM({ numFeatures: 2, conditionDim: 3, ...extra })],
  ['SPADE', (extra) => new SPADE({ normChannels: 2, labelChannels: 3, hiddenChannels: 4, ...extra })],
]);

describe('unknown option keys: messages', () => {
  it('ConditionalBatchNorm has no affine option (its class tables are the affine) and says which keys it takes', () => {
    expect(() => new ConditionalBatchNorm({ numFeatures: 2, numClasses: 3, affine: true } as never)).toThrow(
      'ConditionalBatchNorm: expected options among numFeatures, numClasses, eps, momentum, trackRunningStats, dtype, got unknown option "affine"',
    );
    expect(() => new FiLM({ numFeatures: 2, conditionDim: 3, condition_dim: 3 } as never)).toThrow(/Did you mean "conditionDim"\?/);
  });
});
