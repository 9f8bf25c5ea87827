import { Linear } from '@normkit/tensor';
import { describeUnknownOptions } from '@normkit/testkit';
import { describe, expect, it } from 'vitest';
import {
  NFResidualBlock, ScaledStdConv2d, ScaledStdLinear, SkipInit, adaptiveGradientClip, clipGradNorm, clipGradValue, scaledWeightStandardization,
} from './index';

const branch = () => new Linear({ inFeatures: 3, outFeatures: 3 });

// Every constructor and helper of the package refuses a key it does not know (it would be silently
// ignored), naming the module, the key and the accepted keys.
describeUnknownOptions([
  ['NFResidualBlock', (extra) => new NFResidualBlock(branch(), { ...extra })],
  ['SkipInit', (extra) => new SkipInit(branch(), { ...extra })],
  ['ScaledStdConv2d', (extra) => new ScaledStdConv2d({ inChannels: 2, outChannels: 2, kernelSize: 3, ...extra })],
  ['ScaledStdLinear', (extra) => new ScaledStdLinear({ inFeatures: 2, outFeatures: 2, ...extra })],
  ['scaledWeightStandardization', (extra) => scaledWeightStandardization(branch(), { ...extra })],
  ['adaptiveGradientClip', (extra) => adaptiveGradientClip({ ...extra })],
  ['clipGradNorm', (extra) => clipGradNorm({ maxNorm: 1, ...extra })],
  ['clipGradValue', (extra) => clipGradValue({ value: 1, ...extra })],
]);

describe('unknown option keys: messages', () => {
  it('the scaled-WS layers take their gamma options without handing them to WSConv2d / WSLinear', () => {
    expect(() => new ScaledStdLinear({ inFeatures: 2, outFeatures: 2, nonlinearity: 'relu' })).not.toThrow();
    expect(() => new ScaledStdConv2d({ inChannels: 2, outChannels: 2, kernelSize: 1, gamma: 1.5 })).not.toThrow();
    expect(() => new ScaledStdLinear({ inFeatures: 2, outFeatures: 2, non_linearity: 'relu' } as never)).toThrow(/Did you mean "nonlinearity"\?/);
  });

  it('the gradient transforms name their keys, with a did-you-mean for a near spelling', () => {
    expect(() => clipGradNorm({ maxNorm: 1, norm_type: 'inf' } as never)).toThrow(
      'clipGradNorm: expected options among maxNorm, normType, nonFinite, got unknown option "norm_type". Did you mean "normType"?',
    );
    expect(() => adaptiveGradientClip({ exclude_final_layer: true } as never)).toThrow(
      'adaptiveGradientClip: expected options among clipping, eps, exclude, excludeFinalLayer, nonFinite, got unknown option "exclude_final_layer". Did you mean "excludeFinalLayer"?',
    );
  });
});
