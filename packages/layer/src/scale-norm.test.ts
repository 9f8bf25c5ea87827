import { expectClose, expectGradcheck } from '@normkit/testkit';
import { ContextError, DTypeError, Generator, OptionError, ShapeError, div, gradcheck, graphOps, maximum, mul, ones, randn, sqrt, sum, tensor, type Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import torch from './__fixtures__/torch-unit-norms.json';
import { ScaleNorm } from './scale-norm';

const leaf = (values: readonly number[], shape: readonly number[]): Tensor => tensor(Float64Array.from(values), { shape, dtype: 'float64', requiresGrad: true });

/** The paper's code from primitive ops: g * x / max(||x||, eps) over the trailing `dims` axes. */
function referenceScaleNorm(x: Tensor, g: Tensor, eps: number, dims = 1): Tensor {
  const axes = Array.from({ length: dims }, (_, i) => x.ndim - dims + i);
  return mul(div(x, maximum(sqrt(sum(mul(x, x), axes, { keepdim: true })), eps)), g);
}

describe('ScaleNorm', () => {
  it("matches the paper's code run by PyTorch in float64: output and the gradients of x and g", () => {
    for (const f of torch.scaleNorm) {
      const d = f.shape.at(-1)!;
      const norm = new ScaleNorm({ normalizedShape: d, eps: f.eps, dtype: 'float64' });
      norm.loadStateDict({ scale: tensor(Float64Array.of(f.scale), { shape: [], dtype: 'float64' }) });
      const x = leaf(f.x, f.shape);
      const y = norm.forward(x);
      expectClose(y, f.y, 1e-14, 1e-12);
      y.backward(tensor(Float64Array.from(f.upstream), { shape: f.shape, dtype: 'float64' }));
      expectClose(x.grad!, f.gradX, 1e-12, 1e-10);
      expectClose(norm.scale.grad!, [f.gradScale], 1e-12, 1e-10);
    }
  });

  it('equals the float64 reference from primitive ops (one and two normalised dims) in value and every gradient; gradcheck; one node', () => {
    const generator = new Generator(71);
    for (const [shape, normalizedShape] of [[[3, 5], [5]], [[2, 3, 4], [3, 4]]] as const) {
      const norm = new ScaleNorm({ normalizedShape, dtype: 'float64' });
      norm.scale.data[0] = 1.7;
      const x = randn(shape, { dtype: 'float64', generator, requiresGrad: true });
      const upstream = randn(shape, { dtype: 'float64', generator });
      const reference = (): Tensor => referenceScaleNorm(x, norm.scale, 1e-5, normalizedShape.length);
      expectClose(norm.forward(x), reference(), 1e-14, 1e-12);
      const grads = (run: () => Tensor): Tensor[] => {
        x.grad = null;
        norm.scale.grad = null;
        run().backward(upstream);
        return [x.grad!.clone(), norm.scale.grad!.clone()];
      };
      const [fused, composed] = [grads(() => norm.forward(x)), grads(reference)];
      fused.forEach((g, i) => expectClose(g, composed[i]!, 1e-12, 1e-10));
      expectGradcheck(gradcheck((xx) => norm.forward(xx), [x, norm.scale]));
      expect(graphOps(norm.forward(x))).toEqual(['scaleNorm']);
    }
  });

  it('starts at g = sqrt(d) (one scalar parameter `scale`): then each token has length sqrt(d), RMS 1', () => {
    const norm = new ScaleNorm({ normalizedShape: [4, 4], dtype: 'float64' });
    expect(norm.scale.shape).toEqual([]);
    expect(norm.scale.item()).toBe(4);
    expect(Object.keys(norm.stateDict())).toEqual(['scale']);
    expect(norm.parameters()).toHaveLength(1);
    const y = norm.forward(randn([3, 4, 4], { dtype: 'float64', generator: new Generator(72) }));
    expectClose(sum(mul(y, y), [1, 2]), mul(ones([3], { dtype: 'float64' }), 16), 1e-12, 1e-13);
    norm.scale.data[0] = 0.5;
    norm.resetParameters();
    expect(norm.scale.item()).toBe(4);
  });

  it('refuses bad options and inputs with typed errors', () => {
    expect(() => new ScaleNorm({ normalizedShape: 0 })).toThrow(OptionError);
    expect(() => new ScaleNorm({ normalizedShape: 4, eps: -1 })).toThrow(/option "eps" to be a number > 0/);
    const norm = new ScaleNorm({ normalizedShape: 4 });
    expect(() => norm.forward(randn([2, 5]))).toThrow(ShapeError);
    expect(() => norm.forward(randn([2, 4], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => norm.forward(randn([2, 4]), { mask: ones([2]) })).toThrow(ContextError);
  });
});
