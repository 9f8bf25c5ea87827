import { describe, expect, it } from 'vitest';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  Generator,
  MultiHeadAttention,
  OptionError,
  ShapeError,
  add,
  div,
  gradcheck,
  graphOps,
  mul,
  randn,
  sqrt,
  sum,
  type Tensor,
} from '@normkit/tensor';
import { QKNorm, qkNormFactory, type QKNormKind } from './qk-norm';
import { rmsNorm } from './rms-norm';
import { expectSameFunction, layerNormReference, rmsNormReference } from './test-references';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

/** scale * sqrt(D) * x / sqrt(|x|^2 + eps) over the last dim, composed. */
function l2Reference(x: Tensor, scale: Tensor, eps: number): Tensor {
  const D = x.shape[x.ndim - 1]!;
  return mul(mul(div(x, sqrt(add(sum(mul(x, x), [x.ndim - 1], { keepdim: true }), eps))), scale), Math.sqrt(D));
}

describe('QKNorm', () => {
  const [N, H, L, D] = [2, 3, 4, 8];

  it("'layer' and 'rms' are LayerNorm and RMSNorm over headDim on [N, heads, L, headDim], forward and gradients", () => {
    const q = randn([N, H, L, D], { ...f64, mean: 1 });
    const layer = new QKNorm({ headDim: D, kind: 'layer', dtype: 'float64' });
    layer.weight!.data.set(randn([D], { dtype: 'float64' }).data);
    layer.bias!.data.set(randn([D], { dtype: 'float64' }).data);
    expectSameFunction((x) => layer.forward(x), (x) => layerNormReference(x, 1, 1e-5, layer.weight, layer.bias), [q, layer.weight!, layer.bias!]);
    const rms = new QKNorm({ headDim: D, kind: 'rms', dtype: 'float64' });
    rms.weight!.data.set(randn([D], { dtype: 'float64' }).data);
    expectSameFunction((x) => rms.forward(x), (x) => rmsNormReference(x, 1, 1e-6, rms.weight), [q, rms.weight!]);
    expectGradcheck(gradcheck((x) => rms.forward(x), [q]));
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'bias']);
    expect(Object.keys(rms.stateDict())).toEqual(['weight']);
  });

  it("'l2' is unit length times a learnable scalar: scale * sqrt(D) * x / |x|, forward, gradients and gradcheck", () => {
    const k = randn([N, H, L, D], f64);
    const norm = new QKNorm({ headDim: D, kind: 'l2', eps: 1e-6, dtype: 'float64' });
    expect(norm.scale!.shape).toEqual([]);
    expect(norm.scale!.item()).toBe(1);
    norm.scale!.data[0] = 1.7;
    expectSameFunction((x) => norm.forward(x), (x, s) => l2Reference(x, s, 1e-6), [k, norm.scale!]);
    expectGradcheck(gradcheck((x) => norm.forward(x), [k]));
    // Unit RMS at scale 1, i.e. norm sqrt(D).
    const unit = new QKNorm({ headDim: D, kind: 'l2', dtype: 'float64' }).forward(k);
    const norms = sqrt(sum(mul(unit, unit), [3]));
    expectClose(norms, new Float64Array(N * H * L).fill(Math.sqrt(D)), 1e-5);
    expect(Object.keys(norm.stateDict())).toEqual(['scale']);
    // At scale 1 it is RMSNorm without weight, with eps / headDim.
    expectClose(new QKNorm({ headDim: D, kind: 'l2', eps: 1e-3, dtype: 'float64' }).forward(k), rmsNorm(k, D, { eps: 1e-3 / D }), 1e-12);
  });

  it.each(['layer', 'rms', 'l2'] as const)("'%s' is a single node in the autograd graph", (kind) => {
    expect(graphOps(new QKNorm({ headDim: D, kind }).forward(randn([N, H, L, D])))).toEqual(['qkNorm']);
  });

  it('plugs into MultiHeadAttention as q_norm and k_norm', () => {
    const attention = new MultiHeadAttention({ embedDim: 16, numHeads: 2, qkNorm: qkNormFactory({ kind: 'rms' }) });
    expect(attention.qNorm).toBeInstanceOf(QKNorm);
    expect((attention.qNorm as QKNorm).headDim).toBe(8);
    const keys = Object.keys(attention.stateDict());
    expect(keys).toContain('q_norm.weight');
    expect(keys).toContain('k_norm.weight');
    const y = attention.forward(randn([2, 5, 16]));
    expect(y.shape).toEqual([2, 5, 16]);
  });

  it('bounds attention logits when the q/k projection weights are scaled up; without it they grow with the square of the scale', () => {
    const [embedDim, numHeads] = [32, 4];
    const headDim = embedDim / numHeads;
    const x = randn([2, 6, embedDim], { generator: new Generator(3) });
    const maxLogit = (qkNorm: ((d: number) => QKNorm) | undefined, factor: number): number => {
      const attention = new MultiHeadAttention({ embedDim, numHeads, qkNorm, generator: new Generator(7) });
      for (const projection of [attention.qProj, attention.kProj]) {
        for (let i = 0; i < projection.weight.size; i++) projection.weight.data[i]! *= factor;
      }
      attention.forward(x);
      return attention.lastMaxLogit;
    };
    const plain = [maxLogit(undefined, 1), maxLogit(undefined, 100)] as const;
    expect(plain[1] / plain[0]).toBeGreaterThan(0.99e4);
    for (const kind of ['layer', 'rms', 'l2'] as QKNormKind[]) {
      const normed = [maxLogit(qkNormFactory({ kind }), 1), maxLogit(qkNormFactory({ kind }), 100)] as const;
      // Unit-RMS q and k: |q.k| / sqrt(d) <= |q| |k| / sqrt(d) = sqrt(d), whatever the weights.
      expect(normed[1]).toBeLessThanOrEqual(Math.sqrt(headDim) * (1 + 1e-6));
      expect(normed[1] / normed[0]).toBeLessThan(1.01);
      expect(normed[1]).toBeLessThan(plain[1] / 100);
    }
  });

  it("'l2' logitScale is Henry et al.'s g: a token attending to itself gets logit g * cos = g", () => {
    const g0 = Math.log2(6 * 6 - 6);
    const attention = new MultiHeadAttention({ embedDim: 16, numHeads: 2, qkNorm: qkNormFactory({ kind: 'l2', logitScale: g0, eps: 1e-12, dtype: 'float64' }), dtype: 'float64' });
    // Identical q and k projections: q_i = k_i, so the self logit is g * cos(q_i, q_i) = g, the largest.
    attention.kProj.weight.data.set(attention.qProj.weight.data);
    attention.forward(randn([1, 6, 16], { dtype: 'float64' }));
    expect(attention.lastMaxLogit).toBeCloseTo(g0, 6);
  });

  it('rejects bad input with typed errors', () => {
    const norm = new QKNorm({ headDim: 8 });
    expect(() => norm.forward(randn([2, 3, 4, 6]))).toThrow(ShapeError);
    expect(() => norm.forward(randn([2, 3, 4, 6]))).toThrow(/QKNorm\.forward: expected an input whose trailing dims are normalizedShape \[8\]/);
    expect(() => new QKNorm({ headDim: 0 })).toThrow(OptionError);
    expect(() => new QKNorm({ headDim: 8, kind: 'batch' as QKNormKind })).toThrow(/kind to be one of 'layer', 'rms', 'l2'/);
    expect(() => new QKNorm({ headDim: 8, eps: 0 })).toThrow(OptionError);
    expect(() => new QKNorm({ headDim: 8, dtype: 'int8' as 'float32' })).toThrow(OptionError);
    expect(() => new QKNorm({ headDim: 8, dtype: 'int8' as 'float32' })).toThrow("QKNorm: expected dtype 'float32' or 'float64', got dtype = int8");
    expect(() => new QKNorm({ headDim: 8, kind: 'rms', logitScale: 3 })).toThrow(/logitScale only with kind 'l2'/);
    expect(() => new QKNorm({ headDim: 8, kind: 'l2', logitScale: -1 })).toThrow(OptionError);
    // A head width that does not match: the attention's headDim is 8, the norm's 6.
    expect(() => new MultiHeadAttention({ embedDim: 16, numHeads: 2, qkNorm: () => new QKNorm({ headDim: 6 }) }).forward(randn([1, 3, 16]))).toThrow(ShapeError);
  });
});
