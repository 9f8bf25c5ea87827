import { describe, expect, it } from 'vitest';
import { fixtureTensor, nnLayerFixtures } from '../__fixtures__/nn-layers';
import { randn, tensor } from '../creation';
import { ContextError, DTypeError, OptionError, ShapeError } from '../errors';
import { gradcheck } from '../gradcheck';
import { mul } from '../ops/elementwise';
import { Generator } from '../random';
import type { Tensor } from '../tensor';
import { expectClose, expectGradcheck } from '../test-utils';
import { Linear } from './linear';

const f64 = { dtype: 'float64' as const };

/** y[r, o] = b[o] + sum_i x[r, i] w[o, i], with plain loops. */
function referenceLinear(x: Tensor, w: Tensor, b: Tensor | null): Float64Array {
  const [outFeatures, inFeatures] = w.shape as [number, number];
  const rows = x.size / inFeatures;
  const y = new Float64Array(rows * outFeatures);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outFeatures; o++) {
      let total = b ? b.data[o]! : 0;
      for (let i = 0; i < inFeatures; i++) total += x.data[r * inFeatures + i]! * w.data[o * inFeatures + i]!;
      y[r * outFeatures + o] = total;
    }
  }
  return y;
}

describe('Linear', () => {
  it('maps [..., inFeatures] to [..., outFeatures] like the reference', () => {
    const layer = new Linear({ inFeatures: 4, outFeatures: 3, ...f64, generator: new Generator(0) });
    for (const shape of [[5, 4], [2, 3, 4], [4], [2, 1, 3, 4]]) {
      const x = randn(shape, f64);
      const y = layer.forward(x);
      expect(y.shape).toEqual([...shape.slice(0, -1), 3]);
      expectClose(y, referenceLinear(x, layer.weight, layer.bias), 1e-12);
    }
  });

  it('works without a bias', () => {
    const layer = new Linear({ inFeatures: 3, outFeatures: 2, bias: false, ...f64 });
    expect(layer.bias).toBeNull();
    const x = randn([4, 3], f64);
    expectClose(layer.forward(x), referenceLinear(x, layer.weight, null), 1e-12);
  });

  it('matches PyTorch F.linear, output and every gradient', () => {
    const fixture = nnLayerFixtures.linear;
    const layer = new Linear({ inFeatures: 3, outFeatures: 2, ...f64 });
    layer.loadStateDict({ weight: fixtureTensor(fixture.inputs.weight!), bias: fixtureTensor(fixture.inputs.bias!) });
    const x = fixtureTensor(fixture.inputs.x!, true);
    const y = layer.forward(x);
    expectClose(y, fixture.output.data, 1e-12);
    y.backward(Float64Array.from(fixture.upstream.data));
    expectClose(x.grad!, fixture.grads.x!.data, 1e-12);
    expectClose(layer.weight.grad!, fixture.grads.weight!.data, 1e-12);
    expectClose(layer.bias!.grad!, fixture.grads.bias!.data, 1e-12);
  });

  it('passes gradcheck in float64 for the input, weight and bias', () => {
    const layer = new Linear({ inFeatures: 3, outFeatures: 2, ...f64, generator: new Generator(1) });
    const x = randn([2, 2, 3], { ...f64, requiresGrad: true });
    expectGradcheck(gradcheck((input) => layer.forward(input), [x, layer.weight, layer.bias!]));
  });

  it("registers PyTorch's state-dict names and shapes", () => {
    const layer = new Linear({ inFeatures: 5, outFeatures: 2 });
    const dict = layer.stateDict();
    expect(Object.keys(dict)).toEqual(['weight', 'bias']);
    expect(dict.weight!.shape).toEqual([2, 5]);
    expect(dict.bias!.shape).toEqual([2]);
    expect(Object.keys(new Linear({ inFeatures: 5, outFeatures: 2, bias: false }).stateDict())).toEqual(['weight']);
  });

  it("initialises like PyTorch: weight and bias within 1/sqrt(inFeatures), reproducibly", () => {
    const layer = new Linear({ inFeatures: 16, outFeatures: 300, generator: new Generator(2) });
    const bound = 1 / Math.sqrt(16);
    for (const p of [layer.weight, layer.bias!]) {
      expect(Math.max(...p.data)).toBeLessThan(bound);
      expect(Math.min(...p.data)).toBeGreaterThanOrEqual(-bound);
      expect(Math.max(...p.data)).toBeGreaterThan(0.95 * bound);
    }
    const again = new Linear({ inFeatures: 16, outFeatures: 300, generator: new Generator(2) });
    expect([...again.weight.data]).toEqual([...layer.weight.data]);
  });

  it('reads this.weight at forward time, so a getter installed on the instance takes effect', () => {
    const layer = new Linear({ inFeatures: 2, outFeatures: 2, bias: false, ...f64 });
    const original = layer.weight;
    Object.defineProperty(layer, 'weight', { get: () => mul(original, 2), configurable: true });
    const x = tensor([[1, -1]], f64);
    expectClose(layer.forward(x), referenceLinear(x, mul(original, 2), null), 1e-12);
  });

  it('refuses a wrong last dim, a wrong dtype and bad options with clear errors', () => {
    const layer = new Linear({ inFeatures: 4, outFeatures: 2 });
    expect(() => layer.forward(randn([2, 3]))).toThrow(ShapeError);
    expect(() => layer.forward(randn([2, 3]))).toThrow('Linear.forward: expected an input of shape [..., 4] (last dim = inFeatures = 4), got [2, 3]');
    expect(() => layer.forward(tensor(1))).toThrow(ShapeError);
    expect(() => layer.forward(randn([2, 4], f64))).toThrow(DTypeError);
    expect(() => layer.forward(randn([2, 4], f64))).toThrow(/float32 input.*got a float64 input/);
    expect(() => new Linear({ inFeatures: 2.5, outFeatures: 2 })).toThrow(OptionError);
    expect(() => new Linear({ inFeatures: 2, outFeatures: -1 })).toThrow(/outFeatures to be an integer >= 0/);
  });

  it('resetParameters refuses a parametrized weight', () => {
    const layer = new Linear({ inFeatures: 2, outFeatures: 2 });
    layer.unregister('weight');
    expect(() => layer.resetParameters()).toThrow(ContextError);
  });
});
