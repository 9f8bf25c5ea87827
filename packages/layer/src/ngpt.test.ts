import { describe, expect, it } from 'vitest';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  AdamW, Generator, Linear, OptionError, Registry, ShapeError, add, div, gradcheck, matmul, mul, permute, randn, reshape, sigmoid, softmax, sqrt, sub, sum, transpose,
  type Tensor,
} from '@normkit/tensor';
import { NGPTBlock, markUnitNormWeight, ngptWeightNormalization, ngptWeightNormalizationPlugin, normalizeMarkedWeights } from './ngpt';

/** x / ||x|| over the last dim, from primitive ops. */
const unit = (x: Tensor): Tensor => div(x, sqrt(sum(mul(x, x), -1, { keepdim: true })));
const linear = (x: Tensor, w: Tensor): Tensor => matmul(x, transpose(w));

/**
 * The paper's block written out from primitive float64 ops (section 2): attention with unit q, k
 * per head scaled by s_qk and softmax scale sqrt(d_k), the gated MLP with s_u, s_v sqrt(d_model),
 * and the two normalised eigen-rate updates.
 */
function referenceBlock(block: NGPTBlock, h: Tensor): Tensor {
  const [n, l, d] = h.shape as [number, number, number];
  const heads = block.numHeads;
  const dk = d / heads;
  const a = block.selfAttn;
  const split = (x: Tensor): Tensor => permute(reshape(x, [n, l, heads, dk]), [0, 2, 1, 3]);
  const sqk = reshape(block.effective('sqk'), [1, heads, 1, dk]);
  const q = mul(unit(split(linear(h, a.qProj.weight))), sqk);
  const k = mul(unit(split(linear(h, a.kProj.weight))), sqk);
  const v = split(linear(h, a.vProj.weight));
  const weights = softmax(mul(matmul(q, transpose(k)), Math.sqrt(dk)), -1);
  const attention = linear(reshape(permute(matmul(weights, v), [0, 2, 1, 3]), [n, l, d]), a.outProj.weight);
  const hA = unit(attention);
  const h1 = unit(add(h, mul(block.effective('alphaAttn'), sub(hA, h))));
  const u = mul(linear(h1, block.mlpU.weight), block.effective('su'));
  const gate = mul(linear(h1, block.mlpV.weight), mul(block.effective('sv'), Math.sqrt(d)));
  const hM = unit(linear(mul(u, mul(gate, sigmoid(gate))), block.mlpOut.weight));
  return unit(add(h1, mul(block.effective('alphaMlp'), sub(hM, h1))));
}

function columnNorms(w: Tensor, axis: 0 | 1): number[] {
  const [rows, cols] = w.shape as [number, number];
  const count = axis === 1 ? rows : cols;
  return Array.from({ length: count }, (_, v) => {
    let s = 0;
    for (let i = 0; i < (axis === 1 ? cols : rows); i++) s += (axis === 1 ? w.data[v * cols + i]! : w.data[i * cols + v]!) ** 2;
    return Math.sqrt(s);
  });
}

describe('NGPTBlock', () => {
  it("equals the paper's block from primitive float64 ops, forward and every gradient; outputs on the unit sphere; gradcheck", () => {
    const generator = new Generator(101);
    const block = new NGPTBlock({ dim: 8, numHeads: 2, feedforwardDim: 12, dtype: 'float64', generator, alpha: { init: 0.3 } });
    // Move the learned scales off their initial values so every one matters.
    for (const p of [block.alphaAttn, block.alphaMlp, block.sqk, block.su, block.sv]) {
      for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! * (0.5 + generator.uniform());
    }
    const h = unit(randn([2, 5, 8], { dtype: 'float64', generator })).detach().requireGrad();
    const y = block.forward(h);
    const expected = referenceBlock(block, h);
    expectClose(y, expected, 1e-12, 1e-12);
    for (let row = 0; row < 10; row++) expect(Math.hypot(...y.data.slice(row * 8, row * 8 + 8))).toBeCloseTo(1, 12);
    const upstream = randn([2, 5, 8], { dtype: 'float64', generator });
    const params = block.parameters();
    y.backward(upstream);
    const ours = [h, ...params].map((t) => t.grad!.clone());
    for (const t of [h, ...params]) t.grad = null;
    referenceBlock(block, h).backward(upstream);
    [h, ...params].forEach((t, i) => expectClose(ours[i]!, t.grad!, 1e-10, 1e-10));
    expectGradcheck(gradcheck((x) => block.forward(x), [h, block.alphaAttn, block.sqk, block.sv]));
  });

  it("stores each learned scale at `scale` and uses param * init / scale (the paper's reparametrisation)", () => {
    const block = new NGPTBlock({ dim: 16, numHeads: 4, dtype: 'float64' });
    expect(block.alphaAttn.data[0]).toBeCloseTo(1 / 4, 15);
    expect(block.effective('alphaAttn').data[0]).toBeCloseTo(0.05, 15);
    expect(block.sqk.data[0]).toBeCloseTo(1 / 4, 15);
    expect(block.effective('sqk').data[0]).toBeCloseTo(1, 15);
    expect(block.effective('su').data[0]).toBe(1);
    expect(Object.keys(block.stateDict()).sort()).toEqual([
      'alpha_attn', 'alpha_mlp', 'mlp_out.weight', 'mlp_u.weight', 'mlp_v.weight', 'self_attn.k_proj.weight', 'self_attn.out_proj.weight',
      'self_attn.q_proj.weight', 'self_attn.v_proj.weight', 'sqk', 'su', 'sv',
    ]);
  });

  it('keeps the weights on the unit sphere along the embedding dim: at construction, and after each step through the post-step hook', () => {
    const block = new NGPTBlock({ dim: 16, numHeads: 2, feedforwardDim: 24, generator: new Generator(102) });
    const a = block.selfAttn;
    const inputSide = [a.qProj.weight, a.kProj.weight, a.vProj.weight, block.mlpU.weight, block.mlpV.weight];
    const outputSide = [a.outProj.weight, block.mlpOut.weight];
    const allUnit = (): boolean =>
      inputSide.every((w) => columnNorms(w, 1).every((v) => Math.abs(v - 1) < 1e-6)) && outputSide.every((w) => columnNorms(w, 0).every((v) => Math.abs(v - 1) < 1e-6));
    expect(allUnit()).toBe(true);
    const h = unit(randn([2, 6, 16], { generator: new Generator(103) }));
    const plain = new AdamW(block, { lr: 0.05, weightDecay: 0 });
    sum(mul(block.forward(h), h)).backward();
    plain.step();
    expect(allUnit()).toBe(false);
    normalizeMarkedWeights(block);
    expect(allUnit()).toBe(true);
    const optimizer = new AdamW(block, { lr: 0.05, weightDecay: 0, postStepHooks: [ngptWeightNormalization()] });
    const alphaBefore = Array.from(block.alphaAttn.data);
    block.zeroGrad();
    sum(mul(block.forward(h), h)).backward();
    const report = optimizer.step();
    expect(allUnit()).toBe(true);
    expect(report.postStepHooks).toEqual([{ name: 'ngpt-weight-normalization', report: { matrices: 7 } }]);
    // The hook leaves everything else as the optimizer left it.
    expect(Array.from(block.alphaAttn.data)).not.toEqual(alphaBefore);
    expect(Array.from(block.alphaAttn.data).some((v) => Math.abs(v - 0.25) > 1e-4)).toBe(true);
  });

  it("is a registry plugin of kind 'post-step-hook' too: built by name, it keeps the weights on the sphere after a step", () => {
    const registry = new Registry();
    registry.register(ngptWeightNormalizationPlugin);
    expect(registry.list({ kind: 'post-step-hook' }).map((p) => p.name)).toEqual(['ngpt-weight-normalization']);
    const block = new NGPTBlock({ dim: 8, numHeads: 2, generator: new Generator(105) });
    const optimizer = new AdamW(block, { lr: 0.1, weightDecay: 0, postStepHooks: [registry.createPostStepHook('ngpt-weight-normalization')] });
    sum(block.forward(unit(randn([1, 3, 8], { generator: new Generator(106) })))).backward();
    optimizer.step();
    expect(columnNorms(block.mlpOut.weight, 0).every((v) => Math.abs(v - 1) < 1e-6)).toBe(true);
    expect(() => registry.createPostStepHook('ngpt-weight-normalization', { strength: 1 })).toThrow(/unknown option "strength"/);
  });

  it('markUnitNormWeight works for a model\'s own matrices (embeddings along axis 1); bad options are refused', () => {
    const embedding = new Linear({ inFeatures: 4, outFeatures: 10, bias: false, generator: new Generator(104) });
    markUnitNormWeight(embedding.weight, 1);
    expect(columnNorms(embedding.weight, 1).every((v) => Math.abs(v - 1) < 1e-6)).toBe(true);
    expect(() => markUnitNormWeight(randn([3]), 0)).toThrow(ShapeError);
    expect(() => new NGPTBlock({ dim: 6, numHeads: 4 })).toThrow(/dim divisible by numHeads/);
    expect(() => new NGPTBlock({ dim: 8, numHeads: 2, alpha: { scale: 0 } })).toThrow(OptionError);
    expect(() => new NGPTBlock({ dim: 8, numHeads: 2 }).forward(randn([2, 8]))).toThrow(/NGPTBlock.forward: expected tokens of shape \[N, L, 8\]/);
  });
});
