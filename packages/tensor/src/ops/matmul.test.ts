import { describe, expect, it } from 'vitest';
import { randn, tensor } from '../creation';
import { ShapeError } from '../errors';
import { getBackend, setBackend } from '../kernels/index';
import { gradcheck } from '../gradcheck';
import { expectClose, expectGradcheck } from '../test-utils';
import { matmul, matmulTransposed } from './matmul';
import { transpose } from './shape';

function naiveMatmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) c[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return c;
}

describe('matmul', () => {
  it('multiplies 2-D matrices', () => {
    expect(matmul(tensor([[1, 2], [3, 4]]), tensor([[5, 6], [7, 8]])).toArray()).toEqual([[19, 22], [43, 50]]);
  });

  it('matches a naive product on sizes that cross the blocking', () => {
    const a = randn([70, 130], { dtype: 'float64' });
    const b = randn([130, 300], { dtype: 'float64' });
    expectClose(matmul(a, b), naiveMatmul(a.data as Float64Array, b.data as Float64Array, 70, 130, 300), 1e-10);
  });

  it('broadcasts batch dims', () => {
    const a = randn([2, 1, 3, 4], { dtype: 'float64' });
    const b = randn([5, 4, 2], { dtype: 'float64' });
    const c = matmul(a, b);
    expect(c.shape).toEqual([2, 5, 3, 2]);
    const a1 = a.data.subarray(12, 24) as Float64Array;
    const b3 = b.data.subarray(3 * 8, 4 * 8) as Float64Array;
    expectClose(c.data.subarray((1 * 5 + 3) * 6, (1 * 5 + 4) * 6), naiveMatmul(a1, b3, 3, 4, 2), 1e-12);
  });

  it('passes gradcheck with and without batch broadcasting', () => {
    const f64 = { dtype: 'float64' as const, requiresGrad: true };
    expectGradcheck(gradcheck(matmul, [randn([3, 4], f64), randn([4, 2], f64)]));
    expectGradcheck(gradcheck(matmul, [randn([2, 1, 3, 4], f64), randn([3, 4, 2], f64)]));
  });

  it('refuses mismatched inner dims and low rank', () => {
    expect(() => matmul(randn([2, 3]), randn([4, 2]))).toThrow(ShapeError);
    expect(() => matmul(randn([2, 3]), randn([4, 2]))).toThrow(/matmul: expected inner dimensions to match.*\[2, 3\] @ \[4, 2\]/);
    expect(() => matmul(randn([3]), randn([3, 2]))).toThrow(/rank >= 2/);
  });
});

describe('matmulTransposed (a @ b^T without the transpose copy)', () => {
  it('gives matmul(a, transpose(b)) and its gradients, bit for bit, with batch broadcasting (float32 and float64, both backends)', () => {
    const before = getBackend();
    try {
      for (const backend of ['js', 'wasm'] as const) {
        setBackend(backend);
        checkAgainstMatmul(backend);
      }
    } finally {
      setBackend(before);
    }
  });

  function checkAgainstMatmul(backend: string): void {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [aShape, bShape] of [[[5, 7], [9, 7]], [[2, 3, 17, 16], [2, 3, 17, 16]], [[2, 1, 6, 8], [4, 5, 8]], [[3, 33, 20], [33, 20]]]) {
        const a = randn(aShape!, { dtype, requiresGrad: true });
        const b = randn(bShape!, { dtype, requiresGrad: true });
        const direct = matmulTransposed(a, b);
        const g = randn(direct.shape, { dtype });
        direct.backward(g);
        const [ga, gb] = [a.grad!.data.slice(), b.grad!.data.slice()];
        a.grad = null;
        b.grad = null;
        const reference = matmul(a, transpose(b));
        reference.backward(g);
        expect(direct.shape).toEqual(reference.shape);
        const label = `${backend} ${dtype} [${aShape!.join(', ')}] @ [${bShape!.join(', ')}]^T`;
        expect(Array.from(direct.data), label).toEqual(Array.from(reference.data));
        expect(Array.from(ga), `${label} grad a`).toEqual(Array.from(a.grad!.data));
        expect(Array.from(gb), `${label} grad b`).toEqual(Array.from(b.grad!.data));
      }
    }
  }

  it('passes gradcheck and refuses mismatched last dims', () => {
    const f64 = { dtype: 'float64' as const, requiresGrad: true };
    expectGradcheck(gradcheck(matmulTransposed, [randn([2, 1, 3, 4], f64), randn([3, 5, 4], f64)]));
    expect(() => matmulTransposed(randn([2, 3]), randn([4, 2]))).toThrow(/matmulTransposed: expected a's last dim to match b's last dim \(a @ b\^T\).*\[2, 3\] @ \[4, 2\]/);
  });
});
