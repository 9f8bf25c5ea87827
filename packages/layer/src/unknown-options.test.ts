import { Linear, has, register, unregister } from '@normkit/tensor';
import { describeUnknownOptions } from '@normkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdaLN, AdaLNZero, DynamicTanh, L2Norm, LayerNorm, LayerScale, NGPTBlock, QKNorm, RMSNorm, ScaleNorm, TransformerBlock, residual,
} from './index';
import { layerNormPlugin } from './plugins';

// TransformerBlock builds its norms by name from the global registry.
let registered = false;
beforeAll(() => {
  if (!has('layer-norm')) {
    register(layerNormPlugin);
    registered = true;
  }
});
afterAll(() => {
  if (registered) unregister('layer-norm');
});

// Every constructor of the package refuses a key it does not know (it would be silently ignored),
// naming the module, the key and the accepted keys.
describeUnknownOptions([
  ['LayerNorm', (extra) => new LayerNorm({ normalizedShape: 4, ...extra })],
  ['RMSNorm', (extra) => new RMSNorm({ normalizedShape: 4, ...extra })],
  ['QKNorm', (extra) => new QKNorm({ headDim: 4, ...extra })],
  ['AdaLN', (extra) => new AdaLN({ normalizedShape: 4, conditionDim: 2, ...extra })],
  ['AdaLNZero', (extra) => new AdaLNZero({ normalizedShape: 4, conditionDim: 2, ...extra })],
  ['DynamicTanh', (extra) => new DynamicTanh({ normalizedShape: 4, ...extra })],
  ['L2Norm', (extra) => new L2Norm({ ...extra })],
  ['LayerScale', (extra) => new LayerScale({ dim: 4, ...extra })],
  ['ScaleNorm', (extra) => new ScaleNorm({ normalizedShape: 4, ...extra })],
  ['NGPTBlock', (extra) => new NGPTBlock({ dim: 8, numHeads: 2, ...extra })],
  ['TransformerBlock', (extra) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'pre', ...extra })],
  ['residual', (extra) => residual(new Linear({ inFeatures: 4, outFeatures: 4 }), { norm: new LayerNorm({ normalizedShape: 4 }), placement: 'pre', ...extra })],
]);

describe('unknown option keys: messages', () => {
  it('AdaLN takes zeroInit; AdaLN-Zero, which always starts at zero, refuses it', () => {
    expect(() => new AdaLN({ normalizedShape: 4, conditionDim: 2, zeroInit: true })).not.toThrow();
    expect(() => new AdaLNZero({ normalizedShape: 4, conditionDim: 2, zeroInit: false } as never)).toThrow(/AdaLNZero: expected options among .*, got unknown option "zeroInit"/);
  });

  it('a near spelling gets a did-you-mean', () => {
    expect(() => new RMSNorm({ normalizedShape: 4, epsilon: 1e-6 } as never)).toThrow(
      'RMSNorm: expected options among normalizedShape, eps, elementwiseAffine, dtype, got unknown option "epsilon"',
    );
    expect(() => new QKNorm({ headDim: 4, head_dim: 4 } as never)).toThrow(/Did you mean "headDim"\?/);
  });
});
