import { describe, expect, it } from 'vitest';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { ContextError, Generator, Linear, OptionError, add, gradcheck, permute, randn, tensor } from '@normkit/tensor';
import { AdaLN, AdaLNZero } from './ada-ln';
import { LayerNorm } from './layer-norm';
import { RMSNorm } from './rms-norm';
import { residual, type ResidualContext } from './residual';
import { TestBatchNorm, expectSameFunction, layerNormReference, rmsNormReference } from './test-references';

const f64 = { dtype: 'float64' as const, requiresGrad: true };
const [N, L, D] = [2, 4, 6];

function linear64(seed: number): Linear {
  return new Linear({ inFeatures: D, outFeatures: D, dtype: 'float64', generator: new Generator(seed) });
}

describe('residual', () => {
  it("'pre' is x + f(norm(x)) and 'post' is norm(x + f(x)), forward and every gradient", () => {
    const f = linear64(1);
    const x = randn([N, L, D], f64);
    const layer = new LayerNorm({ normalizedShape: D, dtype: 'float64' });
    layer.weight!.data.set(randn([D], { dtype: 'float64' }).data);
    const pre = residual(f, { norm: layer, placement: 'pre' });
    expectSameFunction(
      (xx) => pre.forward(xx),
      (xx) => add(xx, f.forward(layerNormReference(xx, 1, 1e-5, layer.weight, layer.bias))),
      [x, f.weight, f.bias!, layer.weight!, layer.bias!],
    );
    const rms = new RMSNorm({ normalizedShape: D, dtype: 'float64' });
    const post = residual(f, { norm: rms, placement: 'post' });
    expectSameFunction((xx) => post.forward(xx), (xx) => rmsNormReference(add(xx, f.forward(xx)), 1, 1e-6, rms.weight), [x, f.weight, f.bias!, rms.weight!]);
    expectGradcheck(gradcheck((xx) => post.forward(xx), [x]));
  });

  it('registers norm and a module sublayer as children; function sublayers get the context', () => {
    const block = residual(new Linear({ inFeatures: D, outFeatures: D }), { norm: new LayerNorm({ normalizedShape: D }), placement: 'pre' });
    expect(Object.keys(block.stateDict())).toEqual(['norm.weight', 'norm.bias', 'sublayer.weight', 'sublayer.bias']);
    const seen: ResidualContext[] = [];
    const mask = tensor([[1, 1, 1, 0], [1, 1, 0, 0]]);
    const fn = residual((h, context) => {
      seen.push(context);
      return h;
    }, { norm: new LayerNorm({ normalizedShape: D }), placement: 'post' });
    fn.forward(randn([N, L, D]), { mask, causal: true });
    expect(seen[0]!.mask).toBe(mask);
    expect(seen[0]!.causal).toBe(true);
    expect(Object.keys(fn.stateDict())).toEqual(['norm.weight', 'norm.bias']);
  });

  it('a channels-first normalizer sees [N, D, L] and its output is transposed back; acceptsMask false withholds the mask', () => {
    const norm = new TestBatchNorm(D);
    const block = residual((h) => h, { norm, placement: 'post', layout: 'channels-first', acceptsMask: false });
    const x = randn([N, L, D]);
    const y = block.forward(x, { mask: tensor([[1, 1, 1, 0], [1, 1, 0, 0]]) });
    expect(norm.seenShapes).toEqual([[N, D, L]]);
    expect(norm.seenContexts[0]!.mask).toBeUndefined();
    const direct = permute(norm.forward(permute(add(x, x), [0, 2, 1])), [0, 2, 1]);
    expectClose(y, direct, 1e-6);
  });

  it('rejects a gate without a gated normalizer, a gate without a condition, and a bad placement', () => {
    const f = new Linear({ inFeatures: D, outFeatures: D });
    expect(() => residual(f, { norm: new LayerNorm({ normalizedShape: D }), placement: 'pre', gate: true })).toThrow(OptionError);
    expect(() => residual(f, { norm: new AdaLN({ normalizedShape: D, conditionDim: 3 }), placement: 'pre', gate: true })).toThrow(/a gated normalizer with gate: true/);
    expect(() => residual(f, { norm: new LayerNorm({ normalizedShape: D }), placement: 'middle' as 'pre' })).toThrow(/placement 'pre', 'post', 'peri', 'output', 'deepnorm'/);
  });

  it('a gated block without a condition throws a ContextError', () => {
    const block = residual(new Linear({ inFeatures: D, outFeatures: D }), { norm: new AdaLNZero({ normalizedShape: D, conditionDim: 3 }), placement: 'pre', gate: true });
    expect(() => block.forward(randn([N, L, D]))).toThrow(ContextError);
  });
});
