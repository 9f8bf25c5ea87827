import { Linear, OptionError } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { NFResidualBlock, ScaledStdConv2d, ScaledStdLinear, SkipInit, scaledWeightStandardization } from './index';

const branch = () => new Linear({ inFeatures: 3, outFeatures: 3 });

// Every constructor and helper of the package refuses a key it does not know (it would be silently
// ignored), naming the module, the key and the accepted keys.
const constructors: Array<[string, (extra: Record<string, unknown>) => unknown]> = [
  ['NFResidualBlock', (extra) => new NFResidualBlock(branch(), { ...extra })],
  ['SkipInit', (extra) => new SkipInit(branch(), { ...extra })],
  ['ScaledStdConv2d', (extra) => new ScaledStdConv2d({ inChannels: 2, outChannels: 2, kernelSize: 3, ...extra })],
  ['ScaledStdLinear', (extra) => new ScaledStdLinear({ inFeatures: 2, outFeatures: 2, ...extra })],
  ['scaledWeightStandardization', (extra) => scaledWeightStandardization(branch(), { ...extra })],
];

describe('constructors refuse unknown option keys', () => {
  for (const [name, build] of constructors) {
    it(`${name}: an unknown key is an OptionError naming the module, the key and the accepted keys`, () => {
      expect(() => build({})).not.toThrow();
      expect(() => build({ bogusKey: 1 })).toThrow(OptionError);
      expect(() => build({ bogusKey: 1 })).toThrow(new RegExp(`^${name}: expected options among .+, got unknown option "bogusKey"`));
    });
  }

  it('the scaled-WS layers take their gamma options without handing them to WSConv2d / WSLinear', () => {
    expect(() => new ScaledStdLinear({ inFeatures: 2, outFeatures: 2, nonlinearity: 'relu' })).not.toThrow();
    expect(() => new ScaledStdConv2d({ inChannels: 2, outChannels: 2, kernelSize: 1, gamma: 1.5 })).not.toThrow();
    expect(() => new ScaledStdLinear({ inFeatures: 2, outFeatures: 2, non_linearity: 'relu' } as never)).toThrow(/Did you mean "nonlinearity"\?/);
  });
});
