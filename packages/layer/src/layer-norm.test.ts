import { describe, expect, it } from 'vitest';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { DTypeError, OptionError, ShapeError, ValueError, gradcheck, graphOps, mean, randn, slice, sub, tensor, type Tensor } from '@normkit/tensor';
import { LayerNorm, layerNorm } from './layer-norm';
import { RMSNorm } from './rms-norm';
import { expectSameFunction, layerNormReference } from './test-references';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

/** A float64 LayerNorm with random (not 1 and 0) weight and bias, so the affine is exercised. */
function randomLayerNorm(normalizedShape: number[], eps = 1e-5): LayerNorm {
  const norm = new LayerNorm({ normalizedShape, eps, dtype: 'float64' });
  norm.weight!.data.set(randn(normalizedShape, { dtype: 'float64' }).data);
  norm.bias!.data.set(randn(normalizedShape, { dtype: 'float64' }).data);
  return norm;
}

describe('LayerNorm', () => {
  it.each([
    ['1 trailing dim', [3, 4, 6], [6]],
    ['2 trailing dims', [3, 4, 5], [4, 5]],
    ['3 trailing dims', [2, 3, 2, 4], [3, 2, 4]],
  ])('over %s equals the composed float64 reference, forward and every gradient, and gradchecks', (_name, shape, normalizedShape) => {
    const norm = randomLayerNorm(normalizedShape);
    const x = randn(shape, { ...f64, mean: 2 });
    const dims = normalizedShape.length;
    const fused = (xx: Tensor, w: Tensor, b: Tensor) => layerNorm(xx, normalizedShape, { weight: w, bias: b, eps: 1e-5 });
    expectClose(norm.forward(x), layerNormReference(x, dims, 1e-5, norm.weight, norm.bias), 1e-12, 1e-12);
    expectSameFunction(fused, (xx, w, b) => layerNormReference(xx, dims, 1e-5, w, b), [x, norm.weight!, norm.bias!]);
    expectGradcheck(gradcheck(fused, [x, norm.weight!, norm.bias!]));
  });

  it('has PyTorch parameter names, shapes and initialisation; elementwiseAffine and bias options drop them', () => {
    const norm = new LayerNorm({ normalizedShape: [4, 5] });
    expect(Object.keys(norm.stateDict())).toEqual(['weight', 'bias']);
    expect(norm.weight!.shape).toEqual([4, 5]);
    expect(Array.from(norm.weight!.data).every((v) => v === 1)).toBe(true);
    expect(Array.from(norm.bias!.data).every((v) => v === 0)).toBe(true);
    expect(norm.eps).toBe(1e-5);
    expect(Object.keys(new LayerNorm({ normalizedShape: 4, bias: false }).stateDict())).toEqual(['weight']);
    expect(Object.keys(new LayerNorm({ normalizedShape: 4, elementwiseAffine: false }).stateDict())).toEqual([]);
    const x = randn([3, 4], { dtype: 'float64' });
    expectClose(new LayerNorm({ normalizedShape: 4, elementwiseAffine: false, dtype: 'float64' }).forward(x), layerNormReference(x, 1, 1e-5), 1e-12);
  });

  it('float32 agrees with the float64 reference (float64 accumulation)', () => {
    const x64 = randn([8, 96], { dtype: 'float64', mean: 100, std: 0.01 });
    const y = new LayerNorm({ normalizedShape: 96 }).forward(x64.to('float32'));
    expect(y.dtype).toBe('float32');
    // A large mean with a small spread: a one-pass float32 variance would lose every digit here.
    expectClose(y, layerNormReference(x64.to('float32').to('float64'), 1, 1e-5), 2e-4, 1e-4);
  });

  it('is a single node in the autograd graph', () => {
    const norm = new LayerNorm({ normalizedShape: 6 });
    expect(graphOps(norm.forward(randn([2, 3, 6])))).toEqual(['layerNorm']);
    expect(graphOps(norm.forward(randn([2, 3, 6], { requiresGrad: true }), { mask: tensor([[1, 1, 0], [1, 0, 0]]) }))).toEqual(['layerNorm']);
  });

  it('a mask leaves real rows exactly as without it; padded rows output 0 and get and give no gradient', () => {
    const norm = randomLayerNorm([5]);
    const x = randn([2, 4, 5], f64);
    const mask = tensor([[1, 1, 1, 0], [1, 0, 0, 0]]);
    const masked = norm.forward(x, { mask });
    const unmasked = norm.forward(x);
    const g = randn([2, 4, 5], { dtype: 'float64' });
    for (const [n, l] of [[0, 0], [0, 1], [0, 2], [1, 0]]) {
      const row = (n! * 4 + l!) * 5;
      expect(Array.from(masked.data.slice(row, row + 5))).toEqual(Array.from(unmasked.data.slice(row, row + 5)));
    }
    for (const [n, l] of [[0, 3], [1, 1], [1, 2], [1, 3]]) {
      const row = (n! * 4 + l!) * 5;
      expect(Array.from(masked.data.slice(row, row + 5))).toEqual([0, 0, 0, 0, 0]);
    }
    masked.backward(g);
    const gradX = x.grad!.clone();
    const gradWeight = norm.weight!.grad!.clone();
    const gradBias = norm.bias!.grad!.clone();
    expect(Array.from(gradX.data.slice(15, 20)).every((v) => v === 0)).toBe(true);
    // The parameter gradients are those of the real rows alone.
    x.grad = null;
    norm.zeroGrad();
    const realRows = (t: Tensor) => [slice(slice(t, 0, 0, 1), 1, 0, 3), slice(slice(t, 0, 1, 2), 1, 0, 1)];
    const [first, second] = realRows(x) as [Tensor, Tensor];
    const [g1, g2] = realRows(g) as [Tensor, Tensor];
    norm.forward(first).backward(g1);
    norm.forward(second).backward(g2);
    expectClose(gradWeight, norm.weight!.grad!, 1e-12);
    expectClose(gradBias, norm.bias!.grad!, 1e-12);
  });

  it('a row of identical values gives finite output (the bias) and finite gradients', () => {
    const norm = randomLayerNorm([4]);
    const x = tensor([[2.5, 2.5, 2.5, 2.5], [1, 2, 3, 4]], f64);
    const y = norm.forward(x);
    expect(Array.from(y.data).every(Number.isFinite)).toBe(true);
    expectClose(y.data.slice(0, 4), norm.bias!.data, 1e-12);
    y.backward(randn([2, 4], { dtype: 'float64' }));
    expect(Array.from(x.grad!.data).every(Number.isFinite)).toBe(true);
    const zeros = tensor([[0, 0, 0]], { dtype: 'float32', requiresGrad: true });
    const z = new LayerNorm({ normalizedShape: 3 }).forward(zeros);
    z.backward(tensor([[1, 2, 3]]));
    expect(Array.from(z.data)).toEqual([0, 0, 0]);
    expect(Array.from(zeros.grad!.data).every(Number.isFinite)).toBe(true);
  });

  it('equals RMSNorm on rows with zero mean (RMSNorm is LayerNorm without the centring)', () => {
    const x = randn([6, 8], { dtype: 'float64', mean: 3 });
    const centred = sub(x, mean(x, [1], { keepdim: true }));
    const layer = new LayerNorm({ normalizedShape: 8, elementwiseAffine: false, eps: 1e-6, dtype: 'float64' });
    const rms = new RMSNorm({ normalizedShape: 8, elementwiseAffine: false, eps: 1e-6, dtype: 'float64' });
    expectClose(layer.forward(centred), rms.forward(centred), 1e-12);
    // ... and not on the raw rows, whose mean RMSNorm keeps.
    expect(Math.abs(layer.forward(x).data[0]! - rms.forward(x).data[0]!)).toBeGreaterThan(1e-3);
  });

  it('rejects bad input with typed errors that say what was expected', () => {
    const norm = new LayerNorm({ normalizedShape: [4, 5] });
    expect(() => norm.forward(randn([2, 5, 4]))).toThrow(ShapeError);
    expect(() => norm.forward(randn([2, 5, 4]))).toThrow(/LayerNorm\.forward: expected an input whose trailing dims are normalizedShape \[4, 5\].*got \[2, 5, 4\]/);
    expect(() => norm.forward(randn([5]))).toThrow(ShapeError);
    expect(() => norm.forward(randn([2, 4, 5], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => new LayerNorm({ normalizedShape: 4, eps: 0 })).toThrow(OptionError);
    expect(() => new LayerNorm({ normalizedShape: 4, dtype: 'int8' as 'float32' })).toThrow(OptionError);
    expect(() => new LayerNorm({ normalizedShape: 4, dtype: 'int8' as 'float32' })).toThrow("LayerNorm: expected dtype 'float32' or 'float64', got dtype = int8");
    expect(() => new LayerNorm({ normalizedShape: 4, eps: -1e-5 })).toThrow(/eps to be a finite number > 0.*got eps = -0.00001/);
    expect(() => new LayerNorm({ normalizedShape: [] })).toThrow(OptionError);
    expect(() => new LayerNorm({ normalizedShape: [4, 0] })).toThrow(/normalizedShape to be a positive integer/);
    expect(() => layerNorm(randn([2, 4]), 4, { eps: Number.NaN })).toThrow(OptionError);
    const x = randn([2, 3, 4, 5]);
    expect(() => norm.forward(x, { mask: tensor([1, 1]) })).toThrow(/a mask of shape \[2, 3\].*got \[2\]/);
    expect(() => norm.forward(x, { mask: tensor([[1, 0.5, 1], [1, 1, 1]]) })).toThrow(ValueError);
  });
});

describe('LayerNorm options are checked once, in the constructor', () => {
  it('an unknown option key is refused instead of silently ignored', () => {
    expect(() => new LayerNorm({ normalizedShape: 8, epsilon: 1e-3 } as never)).toThrow(OptionError);
    expect(() => new LayerNorm({ normalizedShape: 8, epsilon: 1e-3 } as never)).toThrow(
      /^LayerNorm: expected options among normalizedShape, eps, elementwiseAffine, bias, dtype, got unknown option "epsilon"/,
    );
    expect(() => new LayerNorm({ normalizedShape: 8, elementwise_affine: false } as never)).toThrow(/Did you mean "elementwiseAffine"\?/);
    expect(new LayerNorm({ normalizedShape: 8, eps: 1e-3, elementwiseAffine: true, bias: false, dtype: 'float64' }).eps).toBe(1e-3);
  });
});
