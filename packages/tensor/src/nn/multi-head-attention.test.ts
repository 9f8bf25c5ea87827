import { describe, expect, it } from 'vitest';
import { fixtureTensor, nnLayerFixtures, type FixtureCase } from '../__fixtures__/nn-layers';
import { ones, randn, tensor } from '../creation';
import { OptionError, ShapeError, StateDictError, ValueError } from '../errors';
import { gradcheck } from '../gradcheck';
import { add, div, mul, sqrt, square } from '../ops/elementwise';
import { mean } from '../ops/reduce';
import { Generator } from '../random';
import type { Tensor } from '../tensor';
import { expectClose, expectGradcheck } from '../test-utils';
import { Module, Parameter } from './module';
import { MultiHeadAttention, fromTorchAttentionStateDict, toTorchAttentionStateDict } from './multi-head-attention';

const f64 = { dtype: 'float64' as const };

/** RMS normalization over the last dim with a learnable scale, recording the shapes it sees. */
class RecordingRmsNorm extends Module {
  readonly seen: number[][] = [];
  weight: Tensor;
  constructor(readonly dim: number) {
    super();
    this.weight = this.registerParameter('weight', new Parameter(add(ones([dim], f64), randn([dim], { ...f64, std: 0.3 }))));
  }
  override forward(x: Tensor): Tensor {
    this.seen.push([...x.shape]);
    return mul(div(x, sqrt(add(mean(square(x), -1, { keepdim: true }), 1e-6))), this.weight);
  }
}

function rmsNormVector(v: Float64Array, weight: ArrayLike<number>): Float64Array {
  let squares = 0;
  for (const x of v) squares += x * x;
  const scale = 1 / Math.sqrt(squares / v.length + 1e-6);
  return v.map((x, i) => x * scale * weight[i]!);
}

interface ReferenceOptions {
  key?: Tensor;
  value?: Tensor;
  mask?: Tensor;
  causal?: boolean;
  qNorm?: (v: Float64Array) => Float64Array;
  kNorm?: (v: Float64Array) => Float64Array;
}

/** Multi-head attention written out with plain loops over the module's parameters. */
function referenceAttention(attention: MultiHeadAttention, query: Tensor, options: ReferenceOptions = {}): { output: Float64Array; maxLogit: number } {
  const key = options.key ?? query;
  const value = options.value ?? key;
  const { embedDim: E, numHeads: H, headDim: D } = attention;
  const [N, L] = query.shape as [number, number];
  const S = key.shape[1]!;
  const project = (x: ArrayLike<number>, layer: { weight: Tensor; bias: Tensor | null }, rows: number): Float64Array => {
    const out = new Float64Array(rows * E);
    for (let r = 0; r < rows; r++) for (let o = 0; o < E; o++) {
      let total = layer.bias ? layer.bias.data[o]! : 0;
      for (let i = 0; i < E; i++) total += x[r * E + i]! * layer.weight.data[o * E + i]!;
      out[r * E + o] = total;
    }
    return out;
  };
  const q = project(query.data, attention.qProj, N * L);
  const k = project(key.data, attention.kProj, N * S);
  const v = project(value.data, attention.vProj, N * S);
  const context = new Float64Array(N * L * E);
  let maxLogit = 0;
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let i = 0; i < L; i++) {
    let qi: Float64Array = q.slice((n * L + i) * E + h * D, (n * L + i) * E + (h + 1) * D);
    if (options.qNorm) qi = options.qNorm(qi);
    const logits: number[] = [];
    const allowed: boolean[] = [];
    for (let j = 0; j < S; j++) {
      let kj: Float64Array = k.slice((n * S + j) * E + h * D, (n * S + j) * E + (h + 1) * D);
      if (options.kNorm) kj = options.kNorm(kj);
      let dot = 0;
      for (let d = 0; d < D; d++) dot += qi[d]! * kj[d]!;
      logits.push(dot / Math.sqrt(D));
      allowed.push((!options.mask || options.mask.data[n * S + j] === 1) && (!options.causal || j <= i));
    }
    // A query with no key left gets zero weights (the module's documented choice).
    if (!allowed.includes(true)) continue;
    const top = Math.max(...logits.filter((_, j) => allowed[j]));
    const exps = logits.map((z, j) => (allowed[j] ? Math.exp(z - top) : 0));
    const total = exps.reduce((a, b) => a + b, 0);
    for (let j = 0; j < S; j++) {
      if (!allowed[j]) continue;
      maxLogit = Math.max(maxLogit, Math.abs(logits[j]!));
      const weight = exps[j]! / total;
      for (let d = 0; d < D; d++) context[(n * L + i) * E + h * D + d]! += weight * v[(n * S + j) * E + h * D + d]!;
    }
  }
  return { output: project(context, attention.outProj, N * L), maxLogit };
}

function attentionFromTorch(fixture: FixtureCase): MultiHeadAttention {
  const options = fixture.options as { embedDim: number; numHeads: number };
  const attention = new MultiHeadAttention({ embedDim: options.embedDim, numHeads: options.numHeads, ...f64 });
  const torchState = Object.fromEntries(
    ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias'].map((name) => [name, fixtureTensor(fixture.inputs[name]!)]),
  );
  attention.loadStateDict(fromTorchAttentionStateDict(torchState));
  return attention;
}

/** The gradient of PyTorch's packed in_proj_* from ours: q, k, v stacked along dim 0. */
function packedGrad(attention: MultiHeadAttention, suffix: 'weight' | 'bias'): number[] {
  return [attention.qProj, attention.kProj, attention.vProj].flatMap((p) => [...p[suffix]!.grad!.data]);
}

describe('MultiHeadAttention', () => {
  it('matches the loop reference, with and without mask and causal, for self- and cross-attention', () => {
    const attention = new MultiHeadAttention({ embedDim: 6, numHeads: 3, ...f64, generator: new Generator(0) });
    // Non-zero biases, so the reference checks where they enter.
    for (const p of attention.parameters()) if (p.ndim === 1) p.data.set(randn(p.shape, f64).data);
    const query = randn([2, 4, 6], f64);
    const key = randn([2, 5, 6], f64);
    const value = randn([2, 5, 6], f64);
    const mask = tensor([[1, 0, 1, 1, 0], [1, 1, 1, 1, 1]], f64);
    const selfMask = tensor([[1, 1, 0, 1], [0, 1, 1, 1]], f64);
    const cases: ReferenceOptions[] = [{}, { key, value }, { key, value, mask }, { causal: true }, { mask: selfMask, causal: true }, { key, value, mask, causal: true }];
    for (const options of cases) {
      const expected = referenceAttention(attention, query, options);
      const y = attention.forward(query, options);
      expect(y.shape).toEqual([2, 4, 6]);
      expectClose(y, expected.output, 1e-12);
      expect(attention.lastMaxLogit).toBeCloseTo(expected.maxLogit, 12);
    }
  });

  for (const [name, fixture] of Object.entries({
    'self-attention': nnLayerFixtures.attention,
    'cross-attention': nnLayerFixtures.attentionCross,
    'key padding + causal': nnLayerFixtures.attentionMaskedCausal,
  })) {
    it(`matches torch.nn.MultiheadAttention (${name}), output and every gradient`, () => {
      const attention = attentionFromTorch(fixture);
      const query = fixtureTensor(fixture.inputs.query!, true);
      const cross = fixture.options!.cross === true;
      const key = cross ? fixtureTensor(fixture.inputs.key!, true) : undefined;
      const value = cross ? fixtureTensor(fixture.inputs.value!, true) : undefined;
      const mask = fixture.mask ? fixtureTensor(fixture.mask) : undefined;
      const y = attention.forward(query, { key, value, mask, causal: fixture.options!.causal === true });
      expectClose(y, fixture.output.data, 1e-12);
      y.backward(Float64Array.from(fixture.upstream.data));
      expectClose(query.grad!, fixture.grads.query!.data, 1e-11);
      if (key && value) {
        expectClose(key.grad!, fixture.grads.key!.data, 1e-11);
        expectClose(value.grad!, fixture.grads.value!.data, 1e-11);
      }
      expectClose(packedGrad(attention, 'weight'), fixture.grads.in_proj_weight!.data, 1e-11);
      expectClose(packedGrad(attention, 'bias'), fixture.grads.in_proj_bias!.data, 1e-11);
      expectClose(attention.outProj.weight.grad!, fixture.grads['out_proj.weight']!.data, 1e-11);
      expectClose(attention.outProj.bias!.grad!, fixture.grads['out_proj.bias']!.data, 1e-11);
    });
  }

  it('passes gradcheck in float64 (input and every parameter, with mask and causal)', () => {
    const attention = new MultiHeadAttention({ embedDim: 4, numHeads: 2, ...f64, generator: new Generator(1) });
    const query = randn([2, 3, 4], { ...f64, requiresGrad: true });
    const mask = tensor([[1, 1, 0], [1, 1, 1]], f64);
    expectGradcheck(gradcheck((x) => attention.forward(x, { mask, causal: true }), [query, ...attention.parameters()]));
    const key = randn([2, 2, 4], { ...f64, requiresGrad: true });
    expectGradcheck(gradcheck((x, k) => attention.forward(x, { key: k }), [query, key, ...attention.parameters()]));
  });

  it('builds q_norm and k_norm with headDim and applies them to [N, heads, L, headDim] before the dot product', () => {
    const calls: number[] = [];
    const attention = new MultiHeadAttention({
      embedDim: 6, numHeads: 2, ...f64, generator: new Generator(2),
      qkNorm: (headDim) => {
        calls.push(headDim);
        return new RecordingRmsNorm(headDim);
      },
    });
    expect(calls).toEqual([3, 3]);
    const qNorm = attention.qNorm as RecordingRmsNorm;
    const kNorm = attention.kNorm as RecordingRmsNorm;
    expect(qNorm).not.toBe(kNorm);
    expect(Object.keys(attention.stateDict())).toEqual([
      'q_proj.weight', 'q_proj.bias', 'k_proj.weight', 'k_proj.bias', 'v_proj.weight', 'v_proj.bias',
      'out_proj.weight', 'out_proj.bias', 'q_norm.weight', 'k_norm.weight',
    ]);
    const query = randn([2, 4, 6], { ...f64, requiresGrad: true });
    const key = randn([2, 5, 6], f64);
    const y = attention.forward(query, { key, causal: true });
    expect(qNorm.seen).toEqual([[2, 2, 4, 3]]);
    expect(kNorm.seen).toEqual([[2, 2, 5, 3]]);
    const expected = referenceAttention(attention, query, {
      key, causal: true,
      qNorm: (v) => rmsNormVector(v, qNorm.weight.data),
      kNorm: (v) => rmsNormVector(v, kNorm.weight.data),
    });
    expectClose(y, expected.output, 1e-12);
    expect(attention.lastMaxLogit).toBeCloseTo(expected.maxLogit, 12);
    expectGradcheck(gradcheck((x) => attention.forward(x, { key }), [query, qNorm.weight, kNorm.weight]));
  });

  it('records lastMaxLogit over attended pairs only: NaN before a forward, padded keys excluded', () => {
    const attention = new MultiHeadAttention({ embedDim: 4, numHeads: 1, ...f64, generator: new Generator(3) });
    expect(attention.lastMaxLogit).toBeNaN();
    const query = randn([1, 2, 4], f64);
    const key = randn([1, 3, 4], f64);
    key.data.set(key.data.subarray(8, 12).map((v) => v * 1000), 8); // the last key would dominate the logits
    attention.forward(query, { key });
    const all = attention.lastMaxLogit;
    expect(all).toBeCloseTo(referenceAttention(attention, query, { key }).maxLogit, 9);
    const mask = tensor([[1, 1, 0]], f64);
    attention.forward(query, { key, mask });
    expect(attention.lastMaxLogit).toBeCloseTo(referenceAttention(attention, query, { key, mask }).maxLogit, 12);
    expect(attention.lastMaxLogit).toBeLessThan(all / 10);
    expect(typeof attention.lastMaxLogit).toBe('number');
  });

  it('gives a query with no key left zero attention (output = out_proj.bias), never NaN, and finite gradients', () => {
    const attention = new MultiHeadAttention({ embedDim: 4, numHeads: 2, ...f64, generator: new Generator(4) });
    attention.outProj.bias!.data.set([0.5, -1, 2, 0.25]);
    const query = randn([2, 3, 4], { ...f64, requiresGrad: true });
    const mask = tensor([[0, 0, 0], [0, 1, 1]], f64);
    const y = attention.forward(query, { mask, causal: true });
    expect([...y.data].every(Number.isFinite)).toBe(true);
    // Sample 0 has no key at all; sample 1's first query sees only padding under the causal mask.
    for (const row of [0, 1, 2, 3]) expect([...y.data.subarray(row * 4, row * 4 + 4)]).toEqual([0.5, -1, 2, 0.25]);
    expectClose(y, referenceAttention(attention, query, { mask, causal: true }).output, 1e-12);
    y.backward(randn([2, 3, 4], f64));
    expect([...query.grad!.data].every(Number.isFinite)).toBe(true);
    expectGradcheck(gradcheck((x) => attention.forward(x, { mask, causal: true }), [query, ...attention.parameters()]));
  });

  it('applies attention dropout only in training mode', () => {
    const attention = new MultiHeadAttention({ embedDim: 4, numHeads: 2, dropout: 0.5, ...f64, generator: new Generator(5) });
    const query = randn([2, 6, 4], f64);
    const expected = referenceAttention(attention, query).output;
    const trained = attention.forward(query);
    expect([...trained.data]).not.toEqual([...expected]);
    attention.eval();
    expectClose(attention.forward(query), expected, 1e-12);
  });

  it("initialises like PyTorch: q/k/v within xavier's bound for [3E, E], zero input and output biases", () => {
    const attention = new MultiHeadAttention({ embedDim: 32, numHeads: 4, generator: new Generator(6) });
    const bound = Math.sqrt(6 / (4 * 32));
    for (const projection of [attention.qProj, attention.kProj, attention.vProj]) {
      const magnitudes = [...projection.weight.data].map(Math.abs);
      expect(Math.max(...magnitudes)).toBeLessThan(bound);
      expect(Math.max(...magnitudes)).toBeGreaterThan(0.9 * bound);
      expect([...projection.bias!.data].every((b) => b === 0)).toBe(true);
    }
    expect(Math.max(...[...attention.outProj.weight.data].map(Math.abs))).toBeLessThan(1 / Math.sqrt(32));
    expect([...attention.outProj.bias!.data].every((b) => b === 0)).toBe(true);
    expect(Object.keys(new MultiHeadAttention({ embedDim: 4, numHeads: 2, bias: false }).stateDict())).toEqual([
      'q_proj.weight', 'k_proj.weight', 'v_proj.weight', 'out_proj.weight',
    ]);
  });

  it('refuses bad shapes, masks and options with clear errors', () => {
    const attention = new MultiHeadAttention({ embedDim: 4, numHeads: 2 });
    expect(() => attention.forward(randn([3, 4]))).toThrow(ShapeError);
    expect(() => attention.forward(randn([2, 3, 5]))).toThrow(
      'MultiHeadAttention.forward: expected query of shape [N, L, 4] (batch first, last dim = embedDim = 4), got [2, 3, 5]',
    );
    expect(() => attention.forward(randn([2, 3, 4]), { key: randn([3, 3, 4]) })).toThrow(/key and value of shape \[2, S, 4\]/);
    expect(() => attention.forward(randn([2, 3, 4]), { key: randn([2, 5, 4]), value: randn([2, 4, 4]) })).toThrow(ShapeError);
    expect(() => attention.forward(randn([2, 3, 4]), { mask: ones([2, 4]) })).toThrow('expected a key padding mask of shape [2, 3] ([N, S]), got [2, 4]');
    expect(() => attention.forward(randn([2, 3, 4]), { mask: tensor([[1, 1, 2], [1, 1, 1]]) })).toThrow(ValueError);
    expect(() => new MultiHeadAttention({ embedDim: 6, numHeads: 4 })).toThrow(OptionError);
    expect(() => new MultiHeadAttention({ embedDim: 6, numHeads: 4 })).toThrow(/embedDim divisible by numHeads/);
    expect(() => new MultiHeadAttention({ embedDim: 4, numHeads: 0 })).toThrow(/numHeads to be an integer >= 1/);
    expect(() => new MultiHeadAttention({ embedDim: 4, numHeads: 2, dropout: 1 })).toThrow(/dropout to be a finite number >= 0 < 1/);
  });
});

describe('PyTorch state-dict conversion', () => {
  it("packs q/k/v into PyTorch's in_proj_* keys and back, for a module or a whole model", () => {
    const attention = new MultiHeadAttention({ embedDim: 4, numHeads: 2, generator: new Generator(7) });
    const torchState = toTorchAttentionStateDict(attention.stateDict());
    expect(Object.keys(torchState).sort()).toEqual([...nnLayerFixtures.attention.stateDictKeys!].sort());
    expect(torchState.in_proj_weight!.shape).toEqual([12, 4]);
    expect([...torchState.in_proj_weight!.data.subarray(16, 32)]).toEqual([...attention.kProj.weight.data]);
    const back = fromTorchAttentionStateDict(torchState);
    const fresh = new MultiHeadAttention({ embedDim: 4, numHeads: 2, generator: new Generator(8) });
    fresh.loadStateDict(back);
    for (const [name, t] of Object.entries(attention.stateDict())) expect([...fresh.stateDict()[name]!.data]).toEqual([...t.data]);

    const model = { 'layers.0.self_attn.in_proj_weight': torchState.in_proj_weight!, 'layers.0.norm.weight': ones([4]) };
    expect(Object.keys(fromTorchAttentionStateDict(model)).sort()).toEqual([
      'layers.0.norm.weight', 'layers.0.self_attn.k_proj.weight', 'layers.0.self_attn.q_proj.weight', 'layers.0.self_attn.v_proj.weight',
    ]);
    expect(Object.keys(fromTorchAttentionStateDict({ q_proj_weight: ones([4, 4]) }))).toEqual(['q_proj.weight']);
  });

  it('refuses a packed tensor whose first dim is not divisible by 3', () => {
    expect(() => fromTorchAttentionStateDict({ in_proj_bias: ones([4]) })).toThrow(StateDictError);
    expect(() => fromTorchAttentionStateDict({ in_proj_bias: ones([4]) })).toThrow(/divisible by 3/);
  });
});
