import { describeUnknownOptions } from '@normkit/testkit';
import { describe, expect, it } from 'vitest';
import { NormalizerMixture, SwitchableNorm } from './index';

// Every constructor of the package refuses a key it does not know (it would be silently ignored),
// naming the module, the key and the accepted keys. The check comes before any candidate is resolved.
describeUnknownOptions([
  ['SwitchableNorm', (extra) => new SwitchableNorm({ numFeatures: 2, ...extra })],
  ['NormalizerMixture', (extra) => new NormalizerMixture({ numFeatures: 2, candidates: [], ...extra })],
], { buildsWithoutExtra: false });

describe('unknown option keys: messages', () => {
  it('SwitchableNorm builds without one, and names every accepted key with a did-you-mean', () => {
    expect(() => new SwitchableNorm({ numFeatures: 2 })).not.toThrow();
    expect(() => new SwitchableNorm({ numFeatures: 2, using_moving_average: false } as never)).toThrow(
      'SwitchableNorm: expected options among numFeatures, eps, momentum, usingBatchStats, usingMovingAverage, dtype, got unknown option "using_moving_average". Did you mean "usingMovingAverage"?',
    );
  });

  it("NormalizerMixture: a key that is neither its own nor a slot field does not reach the candidates' slot", () => {
    expect(() => new NormalizerMixture({ numFeatures: 2, candidates: [], temprature: 0.5 } as never)).toThrow(/unknown option "temprature"/);
  });
});
