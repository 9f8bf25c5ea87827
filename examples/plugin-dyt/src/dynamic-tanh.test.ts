import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  DTypeError, ShapeError, ValueError, add, full, gradcheck, graphOps, mul, ones, randn, tanh, tensor, type Tensor,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { DynamicTanh, dynamicTanh, tanhFloat32 } from './dynamic-tanh.js';

/** The same function composed from the core's primitive ops, as the reference. */
function composed(x: Tensor, alpha: Tensor, weight: Tensor, bias: Tensor): Tensor {
  return add(mul(tanh(mul(x, alpha)), weight), bias);
}

describe('dynamicTanh', () => {
  it('matches weight * tanh(alpha * x) + bias composed from primitives, forward and every gradient', () => {
    const x = randn([2, 3, 5], { dtype: 'float64', requiresGrad: true });
    const alpha = full([1], 0.7, { dtype: 'float64', requiresGrad: true });
    const weight = randn([5], { dtype: 'float64', requiresGrad: true });
    const bias = randn([5], { dtype: 'float64', requiresGrad: true });
    const upstream = randn([2, 3, 5], { dtype: 'float64' });
    const fused = dynamicTanh(x, { alpha, weight, bias });
    fused.backward(upstream);
    const fusedGrads = [x, alpha, weight, bias].map((t) => t.grad!.clone());
    for (const t of [x, alpha, weight, bias]) t.grad = null;
    const reference = composed(x, alpha, weight, bias);
    reference.backward(upstream);
    expectClose(fused, reference, 1e-14, 1e-12);
    [x, alpha, weight, bias].forEach((t, i) => expectClose(fusedGrads[i]!, t.grad!, 1e-12, 1e-10));
  });

  it('passes gradcheck in float64 for the input, alpha, weight and bias', () => {
    const x = randn([4, 6], { dtype: 'float64', requiresGrad: true });
    const alpha = full([1], 0.5, { dtype: 'float64', requiresGrad: true });
    const weight = randn([6], { dtype: 'float64', requiresGrad: true });
    const bias = randn([6], { dtype: 'float64', requiresGrad: true });
    expectGradcheck(gradcheck((input, a, w, b) => dynamicTanh(input, { alpha: a, weight: w, bias: b }), [x, alpha, weight, bias]));
  });

  it('tanhFloat32 is within 3e-7 of Math.tanh everywhere, odd, and saturates to +-1', () => {
    let worst = 0;
    let odd = true;
    for (let i = -200_000; i <= 200_000; i++) {
      const z = i * 1e-4;
      worst = Math.max(worst, Math.abs(tanhFloat32(z) - Math.tanh(z)));
      odd &&= tanhFloat32(-z) === -tanhFloat32(z);
    }
    expect(worst).toBeLessThan(3e-7);
    expect(odd).toBe(true);
    expect(Math.abs(tanhFloat32(1e4) - 1)).toBeLessThan(3e-7);
    expect(Math.abs(tanhFloat32(-Infinity) + 1)).toBeLessThan(3e-7);
    expect(tanhFloat32(1e-6)).toBe(1e-6);
  });

  it('float32 agrees with the float64 computation to float32 precision', () => {
    const x64 = randn([4, 6], { dtype: 'float64' }).data.map((v) => v * 4);
    const weight = randn([6], { dtype: 'float64' });
    const bias = randn([6], { dtype: 'float64' });
    const y64 = dynamicTanh(tensor(x64, { shape: [4, 6], dtype: 'float64' }), { alpha: full([1], 0.9, { dtype: 'float64' }), weight, bias });
    const y32 = dynamicTanh(tensor(x64, { shape: [4, 6], dtype: 'float32' }), { alpha: full([1], 0.9), weight: weight.to('float32'), bias: bias.to('float32') });
    expect(y32.dtype).toBe('float32');
    expectClose(y32, y64, 2e-6, 2e-6);
  });

  it('is one node in the autograd graph', () => {
    const dyt = new DynamicTanh({ numFeatures: 4 });
    expect(graphOps(dyt.forward(randn([3, 4])))).toEqual(['dynamicTanh']);
  });

  it('without affine is tanh(alpha * x), with parameter names from the paper', () => {
    const dyt = new DynamicTanh({ numFeatures: 3, alphaInit: 2, elementwiseAffine: false, dtype: 'float64' });
    const x = randn([2, 3], { dtype: 'float64' });
    expectClose(dyt.forward(x), x.data.map((v) => Math.tanh(2 * v)), 1e-15, 0);
    expect([...dyt.namedParameters()].map(([name]) => name)).toEqual(['alpha']);
    expect(Object.keys(new DynamicTanh({ numFeatures: 3 }).stateDict())).toEqual(['alpha', 'weight', 'bias']);
  });

  it('refuses bad input and options with clear typed errors', () => {
    const dyt = new DynamicTanh({ numFeatures: 4 });
    expect(() => dyt.forward(randn([2, 5]))).toThrow(ShapeError);
    expect(() => dyt.forward(randn([2, 5]))).toThrow(/DynamicTanh.forward: expected an input of shape \[\.\.\., 4\], got \[2, 5\]/);
    expect(() => dyt.forward(randn([2, 4], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => new DynamicTanh({ numFeatures: 4, alphaInit: 0 })).toThrow(ValueError);
    expect(() => dynamicTanh(randn([2, 4]), { alpha: ones([2]) })).toThrow(/alpha with one element/);
    expect(() => dynamicTanh(randn([2, 4]), { alpha: ones([1]), weight: ones([3]) })).toThrow(/weight of shape \[4\]/);
  });
});
