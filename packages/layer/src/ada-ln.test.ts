import { describe, expect, it } from 'vitest';
import { expectGradcheck } from '@normkit/testkit';
import {
  ContextError,
  DTypeError,
  Generator,
  Linear,
  OptionError,
  ShapeError,
  add,
  gelu,
  gradcheck,
  graphOps,
  matmul,
  mul,
  randn,
  reshape,
  silu,
  slice,
  transpose,
  type Tensor,
} from '@normkit/tensor';
import { AdaLN, AdaLNZero, isGatedNormalizer } from './ada-ln';
import { LayerNorm } from './layer-norm';
import { residual } from './residual';
import { expectSameFunction, layerNormReference } from './test-references';

const f64 = { dtype: 'float64' as const, requiresGrad: true };
const [N, L, D, C] = [2, 3, 6, 5];

function predictor(norm: AdaLN | AdaLNZero): Linear {
  return norm.adaLNModulation.at(1) as Linear;
}

/** Linear(SiLU(c)) split into `chunks` pieces [N, 1, D], composed from primitive ops. */
function composedChunks(c: Tensor, weight: Tensor, bias: Tensor, chunks: number): Tensor[] {
  const predicted = add(matmul(silu(c), transpose(weight)), bias);
  return Array.from({ length: chunks }, (_, i) => reshape(slice(predicted, 1, i * D, (i + 1) * D), [c.shape[0]!, 1, D]));
}

/** LayerNorm_noaffine(x) * (1 + scale) + shift, composed. */
function composedAdaLN(x: Tensor, c: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  const [shift, scale] = composedChunks(c, weight, bias, 2) as [Tensor, Tensor];
  return add(mul(layerNormReference(x, 1, eps), add(scale, 1)), shift);
}

describe('AdaLN', () => {
  it('is LayerNorm_noaffine(x) * (1 + scale(c)) + shift(c) with (shift, scale) = Linear(SiLU(c)): forward and every gradient', () => {
    const norm = new AdaLN({ normalizedShape: D, conditionDim: C, dtype: 'float64', generator: new Generator(1) });
    const linear = predictor(norm);
    const x = randn([N, L, D], { ...f64, mean: 1 });
    const c = randn([N, C], f64);
    expectSameFunction(
      (xx, cc) => norm.forward(xx, { condition: cc }),
      (xx, cc, w, b) => composedAdaLN(xx, cc, w, b, 1e-6),
      [x, c, linear.weight, linear.bias!],
    );
    expectGradcheck(gradcheck((xx, cc) => norm.forward(xx, { condition: cc }), [x, c]));
  });

  it('has DiT names and shapes; zeroInit makes it LayerNorm without affine', () => {
    const norm = new AdaLN({ normalizedShape: D, conditionDim: C });
    const dict = norm.stateDict();
    expect(Object.keys(dict)).toEqual(['adaLN_modulation.1.weight', 'adaLN_modulation.1.bias']);
    expect(dict['adaLN_modulation.1.weight']!.shape).toEqual([2 * D, C]);
    expect(norm.eps).toBe(1e-6);
    const zero = new AdaLN({ normalizedShape: D, conditionDim: C, zeroInit: true, dtype: 'float64' });
    const x = randn([N, L, D], { dtype: 'float64' });
    const plain = new LayerNorm({ normalizedShape: D, eps: 1e-6, elementwiseAffine: false, dtype: 'float64' });
    expect(Array.from(zero.forward(x, { condition: randn([N, C], { dtype: 'float64' }) }).data)).toEqual(Array.from(plain.forward(x).data));
  });

  it('normalises with one fused node and modulates with the core modulation primitive (one node)', () => {
    const norm = new AdaLN({ normalizedShape: D, conditionDim: C });
    const ops = graphOps(norm.forward(randn([N, L, D], { requiresGrad: true }), { condition: randn([N, C]) }));
    expect(ops.filter((op) => op === 'adaLN')).toHaveLength(1);
    expect(ops.filter((op) => op === 'adaLNModulate')).toHaveLength(1);
    // Nothing else touches the normalised tokens: the remaining nodes are the predictor's.
    expect(ops.filter((op) => !['adaLN', 'adaLNModulate', 'silu', 'linear', 'matmul', 'transpose', 'permute', 'add', 'reshape', 'slice'].includes(op))).toEqual([]);
  });

  it('rejects a condition of the wrong width, batch or dtype, a missing condition, and bad options', () => {
    const norm = new AdaLN({ normalizedShape: D, conditionDim: C });
    const x = randn([N, L, D]);
    expect(() => norm.forward(x, { condition: randn([N, C + 1]) })).toThrow(ShapeError);
    expect(() => norm.forward(x, { condition: randn([N, C + 1]) })).toThrow(/AdaLN\.modulation: expected a condition of shape \[N, 5\].*got \[2, 6\]/);
    expect(() => norm.forward(x, { condition: randn([N + 1, C]) })).toThrow(/AdaLN\.forward: expected an input \[N, \.\.\., 6\] with the condition's batch N = 3/);
    expect(() => norm.forward(x, { condition: randn([N, C], { dtype: 'float64' }) })).toThrow(DTypeError);
    expect(() => norm.forward(x)).toThrow(ContextError);
    expect(() => norm.forward(randn([N, L, D + 1]), { condition: randn([N, C]) })).toThrow(ShapeError);
    expect(() => new AdaLN({ normalizedShape: D, conditionDim: 0 })).toThrow(OptionError);
    expect(() => new AdaLN({ normalizedShape: D, conditionDim: C, eps: 0 })).toThrow(OptionError);
    expect(() => new AdaLN({ normalizedShape: D, conditionDim: C, dtype: 'int8' as 'float32' })).toThrow(OptionError);
    expect(() => new AdaLNZero({ normalizedShape: D, conditionDim: C, dtype: 'int8' as 'float32' })).toThrow("AdaLNZero: expected dtype 'float32' or 'float64', got dtype = int8");
  });
});

describe('adaLN-Zero', () => {
  it('predicts zero shift, scale and gate at initialisation, and is a gated normalizer', () => {
    const norm = new AdaLNZero({ normalizedShape: D, conditionDim: C });
    expect(isGatedNormalizer(norm)).toBe(true);
    expect(isGatedNormalizer(new AdaLN({ normalizedShape: D, conditionDim: C }))).toBe(false);
    expect(predictor(norm).weight.shape).toEqual([3 * D, C]);
    const { shift, scale, gate } = norm.modulation(randn([N, C]));
    for (const t of [shift, scale, gate]) {
      expect(t.shape).toEqual([N, D]);
      expect(Array.from(t.data).every((v) => v === 0)).toBe(true);
    }
  });

  it('the gated pre block x + gate(c) * f(modulate(LN(x))) is exactly the identity at initialisation, and learns from there', () => {
    const norm = new AdaLNZero({ normalizedShape: D, conditionDim: C });
    const mlp = new Linear({ inFeatures: D, outFeatures: D, generator: new Generator(2) });
    const block = residual((h) => gelu(mlp.forward(h)), { norm, placement: 'pre', gate: true });
    const x = randn([N, L, D], { requiresGrad: true });
    const c = randn([N, C], { requiresGrad: true });
    const y = block.forward(x, { condition: c });
    expect(Array.from(y.data)).toEqual(Array.from(x.data));
    const g = randn([N, L, D]);
    y.backward(g);
    // dy/dx is the identity; the gate's rows of the predictor get a gradient (DiT's point: the
    // block can leave zero), the shift and scale rows none yet (the gate blocks them).
    expect(Array.from(x.grad!.data)).toEqual(Array.from(g.data));
    const gradWeight = predictor(norm).weight.grad!.data;
    const rowNorm = (from: number, to: number) => Array.from(gradWeight.slice(from * C, to * C)).reduce((s, v) => s + Math.abs(v), 0);
    expect(rowNorm(0, 2 * D)).toBe(0);
    expect(rowNorm(2 * D, 3 * D)).toBeGreaterThan(0);
    expect(Array.from(mlp.weight.grad!.data).every((v) => v === 0)).toBe(true);
  });

  it('with a non-zero predictor: x + gate * f(LN(x) * (1 + scale) + shift), composed, forward and every gradient', () => {
    const norm = new AdaLNZero({ normalizedShape: D, conditionDim: C, dtype: 'float64' });
    const linear = predictor(norm);
    linear.weight.data.set(randn([3 * D, C], { dtype: 'float64' }).data);
    linear.bias!.data.set(randn([3 * D], { dtype: 'float64' }).data);
    const mlp = new Linear({ inFeatures: D, outFeatures: D, dtype: 'float64', generator: new Generator(4) });
    const block = residual(mlp, { norm, placement: 'pre', gate: true });
    const composed = (x: Tensor, c: Tensor, w: Tensor, b: Tensor): Tensor => {
      const [shift, scale, gate] = composedChunks(c, w, b, 3) as [Tensor, Tensor, Tensor];
      return add(x, mul(gate, mlp.forward(add(mul(layerNormReference(x, 1, 1e-6), add(scale, 1)), shift))));
    };
    const x = randn([N, L, D], f64);
    const c = randn([N, C], f64);
    expectSameFunction((xx, cc) => block.forward(xx, { condition: cc }), (xx, cc, w, b) => composed(xx, cc, w, b), [x, c, linear.weight, linear.bias!]);
    expectGradcheck(gradcheck((xx, cc) => block.forward(xx, { condition: cc }), [x, c]));
  });
});
