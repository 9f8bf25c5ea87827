import { describe, expect, it } from 'vitest';
import { graphOps } from '../autograd';
import { randn, zeros } from '../creation';
import { ShapeError } from '../errors';
import { gradcheck } from '../gradcheck';
import { getBackend, setBackend } from '../kernels/backend';
import type { Tensor } from '../tensor';
import { expectGradcheck } from '../test-utils';
import { add } from './elementwise';
import { linear } from './linear';
import { matmul } from './matmul';
import { reshape, transpose } from './shape';

describe('linear', () => {
  it('is matmul(x, weight^T) + bias to the bit, forward and every gradient, on both backends (GEMM-sized and tiny)', () => {
    const before = getBackend();
    try {
      for (const backend of ['js', 'wasm'] as const) {
        setBackend(backend);
        for (const [leading, inFeatures, outFeatures] of [[[4, 96], 256, 192], [[3], 5, 2], [[2, 3], 7, 9]] as const) {
          const x = randn([...leading, inFeatures], { requiresGrad: true });
          const weight = randn([outFeatures, inFeatures], { requiresGrad: true });
          const bias = randn([outFeatures], { requiresGrad: true });
          const upstream = randn([...leading, outFeatures]);
          const grads = (y: Tensor) => {
            x.grad = weight.grad = bias.grad = null;
            y.backward(upstream);
            return [y.data.slice(), x.grad!.data.slice(), weight.grad!.data.slice(), bias.grad!.data.slice()];
          };
          const rows = leading.reduce((a, b) => a * b, 1);
          const composed = grads(reshape(add(matmul(reshape(x, [rows, inFeatures]), transpose(weight)), bias), [...leading, outFeatures]));
          const fused = grads(linear(x, weight, bias));
          expect(fused, `${backend} ${JSON.stringify([leading, inFeatures, outFeatures])}`).toEqual(composed);
        }
      }
    } finally {
      setBackend(before);
    }
  });

  it('is ONE node and passes gradcheck with and without a bias', () => {
    const f64 = { dtype: 'float64' as const, requiresGrad: true };
    const x = randn([2, 3, 4], f64);
    const weight = randn([5, 4], f64);
    const bias = randn([5], f64);
    expect(graphOps(linear(x, weight, bias))).toEqual(['linear']);
    expectGradcheck(gradcheck((a: Tensor, w: Tensor, b: Tensor) => linear(a, w, b), [x, weight, bias]));
    expectGradcheck(gradcheck((a: Tensor, w: Tensor) => linear(a, w), [x, weight]));
  });

  it('refuses mismatched shapes naming what it expected', () => {
    expect(() => linear(randn([2, 3]), randn([4, 5]))).toThrow(ShapeError);
    expect(() => linear(randn([2, 4]), randn([3, 4]), zeros([4]))).toThrow(/linear: expected x \[\.\.\., in\], weight \[out, in\] and bias \[out\] or null, got x \[2, 4\], weight \[3, 4\], bias \[4\]/);
  });
});
