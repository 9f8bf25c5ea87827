import { describe, expect, it } from 'vitest';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { DTypeError, OptionError, ShapeError, gradcheck, graphOps, randn, tensor, type Tensor } from '@normkit/tensor';
import { RMSNorm, machineEpsilon, rmsNorm } from './rms-norm';
import { expectSameFunction, rmsNormReference } from './test-references';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

describe('RMSNorm', () => {
  it.each([
    ['1 trailing dim', [3, 4, 6], [6]],
    ['2 trailing dims', [2, 3, 5], [3, 5]],
  ])('with affine, over %s, equals x * rsqrt(mean(x^2) + eps) * weight composed in float64; gradchecks', (_name, shape, normalizedShape) => {
    const norm = new RMSNorm({ normalizedShape, eps: 1e-6, dtype: 'float64' });
    norm.weight!.data.set(randn(normalizedShape, { dtype: 'float64' }).data);
    const x = randn(shape, { ...f64, mean: 1 });
    const dims = normalizedShape.length;
    const fused = (xx: Tensor, w: Tensor) => rmsNorm(xx, normalizedShape, { weight: w, eps: 1e-6 });
    expectClose(norm.forward(x), rmsNormReference(x, dims, 1e-6, norm.weight), 1e-12, 1e-12);
    expectSameFunction(fused, (xx, w) => rmsNormReference(xx, dims, 1e-6, w), [x, norm.weight!]);
    expectGradcheck(gradcheck(fused, [x, norm.weight!]));
  });

  it('without affine: no parameters, the same function without the weight; gradchecks', () => {
    const norm = new RMSNorm({ normalizedShape: 7, elementwiseAffine: false, dtype: 'float64' });
    expect(norm.weight).toBeNull();
    expect(Object.keys(norm.stateDict())).toEqual([]);
    const x = randn([4, 7], f64);
    expectSameFunction((xx) => norm.forward(xx), (xx) => rmsNormReference(xx, 1, 1e-6), [x]);
    expectGradcheck(gradcheck((xx) => norm.forward(xx), [x]));
  });

  it('has Llama/PyTorch state-dict names (weight only, no bias), weight 1 at init, eps 1e-6 by default', () => {
    const norm = new RMSNorm({ normalizedShape: 16 });
    expect(Object.keys(norm.stateDict())).toEqual(['weight']);
    expect(Array.from(norm.weight!.data).every((v) => v === 1)).toBe(true);
    expect(norm.eps).toBe(1e-6);
  });

  it('eps: null is PyTorch eps=None, the machine epsilon of the dtype', () => {
    expect(machineEpsilon('float32')).toBe(1.1920928955078125e-7);
    expect(machineEpsilon('float64')).toBe(2.220446049250313e-16);
    // Tiny activations, where eps matters: mean(x^2) is about 1e-8.
    const x = randn([3, 8], { dtype: 'float64', std: 1e-4 });
    const none64 = new RMSNorm({ normalizedShape: 8, eps: null, elementwiseAffine: false, dtype: 'float64' });
    expectClose(none64.forward(x), rmsNormReference(x, 1, Number.EPSILON), 1e-12);
    const x32 = x.to('float32');
    const none32 = new RMSNorm({ normalizedShape: 8, eps: null, elementwiseAffine: false });
    expectClose(none32.forward(x32), rmsNormReference(x32.to('float64'), 1, 2 ** -23), 1e-5, 1e-5);
    // ... and clearly not the 1e-6 default there.
    const llama = new RMSNorm({ normalizedShape: 8, elementwiseAffine: false, dtype: 'float64' });
    expect(Math.abs(llama.forward(x).data[0]! - none64.forward(x).data[0]!)).toBeGreaterThan(1e-3);
  });

  it('is a single node in the autograd graph', () => {
    expect(graphOps(new RMSNorm({ normalizedShape: 6 }).forward(randn([2, 3, 6])))).toEqual(['rmsNorm']);
  });

  it('a zero row gives 0 and finite gradients, not NaN; masked rows output 0', () => {
    const norm = new RMSNorm({ normalizedShape: 4, dtype: 'float64' });
    const x = tensor([[0, 0, 0, 0], [3, 3, 3, 3], [1, -2, 3, 4]], f64);
    const y = norm.forward(x, { mask: tensor([1, 1, 0]) });
    expect(Array.from(y.data.slice(0, 4))).toEqual([0, 0, 0, 0]);
    expectClose(y.data.slice(4, 8), [1, 1, 1, 1], 1e-6);
    expect(Array.from(y.data.slice(8))).toEqual([0, 0, 0, 0]);
    y.backward(randn([3, 4], { dtype: 'float64' }));
    expect(Array.from(x.grad!.data).every(Number.isFinite)).toBe(true);
    expect(Array.from(x.grad!.data.slice(8))).toEqual([0, 0, 0, 0]);
  });

  it('rejects bad input with typed errors', () => {
    const norm = new RMSNorm({ normalizedShape: 8 });
    expect(() => norm.forward(randn([2, 7]))).toThrow(ShapeError);
    expect(() => norm.forward(randn([2, 7]))).toThrow(/RMSNorm\.forward: expected an input whose trailing dims are normalizedShape \[8\]/);
    expect(() => norm.forward(randn([2, 8], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => new RMSNorm({ normalizedShape: 8, eps: 0 })).toThrow(OptionError);
    expect(() => new RMSNorm({ normalizedShape: 8, dtype: 'int8' as 'float32' })).toThrow(OptionError);
    expect(() => new RMSNorm({ normalizedShape: 8, dtype: 'int8' as 'float32' })).toThrow("RMSNorm: expected dtype 'float32' or 'float64', got dtype = int8");
    expect(() => new RMSNorm({ normalizedShape: 8, eps: -1 })).toThrow(/eps to be a finite number > 0/);
    expect(() => new RMSNorm({ normalizedShape: 2.5 })).toThrow(OptionError);
    expect(() => norm.forward(randn([2, 3, 8]), { mask: tensor([1, 0, 1]) })).toThrow(/a mask of shape \[2, 3\]/);
  });
});
