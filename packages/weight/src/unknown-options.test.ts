import { Linear } from '@normkit/tensor';
import { describeUnknownOptions } from '@normkit/testkit';
import { describe, expect, it } from 'vitest';
import { WSConv2d, WSLinear, spectralNorm, weightNorm, weightStandardization } from './index';

const layer = () => new Linear({ inFeatures: 3, outFeatures: 2 });

// Every constructor and helper of the package refuses a key it does not know (it would be silently
// ignored), naming the module, the key and the accepted keys.
describeUnknownOptions([
  ['WSConv2d', (extra) => new WSConv2d({ inChannels: 2, outChannels: 2, kernelSize: 3, ...extra })],
  ['WSLinear', (extra) => new WSLinear({ inFeatures: 2, outFeatures: 2, ...extra })],
  ['weightNorm', (extra) => weightNorm(layer(), { ...extra })],
  ['spectralNorm', (extra) => spectralNorm(layer(), { ...extra })],
  ['weightStandardization', (extra) => weightStandardization(layer(), { ...extra })],
]);

describe('unknown option keys: messages', () => {
  it('PyTorch spellings get a did-you-mean', () => {
    expect(() => spectralNorm(layer(), { n_power_iterations: 2 } as never)).toThrow(
      'spectralNorm: expected options among name, nPowerIterations, eps, dim, warmUpIterations, generator, got unknown option "n_power_iterations". Did you mean "nPowerIterations"?',
    );
    expect(() => new WSConv2d({ inChannels: 2, outChannels: 2, kernelSize: 3, eps_mode: 'max' } as never)).toThrow(/Did you mean "epsMode"\?/);
  });
});
