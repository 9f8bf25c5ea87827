import { expectClose, expectGradcheck } from '@normkit/testkit';
import { ContextError, DTypeError, Generator, Linear, OptionError, Sequential, ShapeError, gradcheck, graphOps, mul, ones, randn, reshape, tensor, type Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import torch from './__fixtures__/torch-unit-norms.json';
import { LayerNorm } from './layer-norm';
import { LayerScale } from './layer-scale';
import { residual } from './residual';

describe('LayerScale', () => {
  it("matches timm's x * gamma run by PyTorch in float64, and the one-line reference; gradcheck; one modulate node", () => {
    const f = torch.layerScale;
    const ls = new LayerScale({ dim: 6, dtype: 'float64' });
    ls.loadStateDict({ gamma: tensor(Float64Array.from(f.gamma), { shape: [6], dtype: 'float64' }) });
    const x = tensor(Float64Array.from(f.x), { shape: f.shape, dtype: 'float64', requiresGrad: true });
    const y = ls.forward(x);
    expectClose(y, f.y, 0, 1e-15);
    expectClose(y, mul(x, reshape(ls.gamma, [1, 1, 6])), 0, 0);
    y.backward(tensor(Float64Array.from(f.upstream), { shape: f.shape, dtype: 'float64' }));
    expectClose(x.grad!, f.gradX, 1e-14, 1e-12);
    expectClose(ls.gamma.grad!, f.gradGamma, 1e-14, 1e-12);
    expectGradcheck(gradcheck((xx: Tensor) => ls.forward(xx), [x, ls.gamma]));
    expect(graphOps(ls.forward(x))).toEqual(['layerScale']);
  });

  it("initialises gamma to initValues (timm 1e-5), per channel, under timm's name; scales several trailing dims", () => {
    const ls = new LayerScale({ dim: 4 });
    expect(Array.from(ls.gamma.data)).toEqual([1e-5, 1e-5, 1e-5, 1e-5].map(Math.fround));
    expect(Object.keys(ls.stateDict())).toEqual(['gamma']);
    const wide = new LayerScale({ dim: [2, 3], initValues: 0.5, dtype: 'float64' });
    const x = randn([4, 2, 3], { dtype: 'float64', generator: new Generator(81) });
    expectClose(wide.forward(x), mul(x, 0.5), 0, 0);
  });

  it('as a residual branch output, x + gamma * f(norm(x)) starts close to the identity', () => {
    const generator = new Generator(82);
    const linear = new Linear({ inFeatures: 8, outFeatures: 8, dtype: 'float64', generator });
    const scale = new LayerScale({ dim: 8, dtype: 'float64' });
    const block = residual(new Sequential(linear, scale), { norm: new LayerNorm({ normalizedShape: 8, dtype: 'float64' }), placement: 'pre' });
    const x = randn([2, 3, 8], { dtype: 'float64', generator });
    expectClose(block.forward(x), x, 1e-4, 0);
    expect(block.parameters()).toContain(scale.gamma);
  });

  it('refuses bad options and inputs with typed errors', () => {
    expect(() => new LayerScale({ dim: 0 })).toThrow(OptionError);
    expect(() => new LayerScale({ dim: 4, initValues: Number.NaN })).toThrow(/option "initValues"/);
    const ls = new LayerScale({ dim: 4 });
    expect(() => ls.forward(randn([2, 5]))).toThrow(ShapeError);
    expect(() => ls.forward(randn([2, 4], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => ls.forward(randn([2, 4]), { mask: ones([2]) })).toThrow(ContextError);
  });
});
