import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from '@normkit/testkit';
import {
  ContextError,
  DTypeError,
  Generator,
  OptionError,
  RegistryError,
  ShapeError,
  add,
  gelu,
  list,
  normalizerChoice,
  normalizerTraits,
  randn,
  registerAll,
  tensor,
  unregister,
  type NormalizerPlugin,
  type Tensor,
} from '@normkit/tensor';
import { layerPlugins } from './plugins';
import { QKNorm } from './qk-norm';
import type { TestBatchNorm } from './test-references';
import { testBatchNormPlugin } from './test-references';
import { TransformerBlock } from './transformer-block';

const [N, L, D, H, C] = [2, 5, 8, 2, 6];
const plugins: NormalizerPlugin[] = [...layerPlugins, testBatchNormPlugin];

beforeAll(() => registerAll(plugins));
afterAll(() => {
  for (const plugin of plugins) unregister(plugin.name);
});

describe('TransformerBlock', () => {
  it('pre and post blocks run forward and backward for every registered normalizer', () => {
    const names = list({ kind: 'normalizer' }).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['layer-norm', 'rms-norm', 'qk-norm', 'ada-ln', 'ada-ln-zero', 'test-batch-norm']));
    for (const name of names) {
      const traits = normalizerTraits(name);
      for (const placement of ['pre', 'post'] as const) {
        const label = `${name} ${placement}`;
        const block = new TransformerBlock({
          dim: D, numHeads: H, norm: normalizerChoice(name), placement, generator: new Generator(5),
          ...(traits.needsCondition ? { condition: { dim: C } } : {}),
        });
        const x = randn([N, L, D], { requiresGrad: true });
        const condition = traits.needsCondition ? randn([N, C], { requiresGrad: true }) : undefined;
        const y = block.forward(x, { mask: tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]), causal: true, condition });
        expect(y.shape, label).toEqual([N, L, D]);
        expect(Array.from(y.data).every(Number.isFinite), label).toBe(true);
        y.backward(randn([N, L, D]));
        expect(Array.from(x.grad!.data).every(Number.isFinite), label).toBe(true);
        expect(Array.from(x.grad!.data).some((v) => v !== 0), label).toBe(true);
        for (const [parameterName, p] of block.namedParameters()) {
          expect(p.grad, `${label}: ${parameterName}`).not.toBeNull();
          expect(Array.from(p.grad!.data).every(Number.isFinite), `${label}: ${parameterName}`).toBe(true);
        }
        if (condition) expect(Array.from(condition.grad!.data).every(Number.isFinite), label).toBe(true);
      }
    }
  });

  it("'pre' is x + Attn(norm1(x)), then + MLP(norm2(.)); 'post' is norm1(x + Attn(x)), then norm2(. + MLP(.))", () => {
    for (const norm of ['layer-norm', 'rms-norm'] as const) {
      const x = randn([N, L, D]);
      const mask = tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]);
      const pre = new TransformerBlock({ dim: D, numHeads: H, norm, placement: 'pre' });
      const attend = (block: TransformerBlock, h: Tensor) => block.selfAttn.forward(h, { mask, causal: true });
      const mlp = (block: TransformerBlock, h: Tensor) => block.linear2.forward(gelu(block.linear1.forward(h)));
      const h1 = add(x, attend(pre, pre.norm1.forward(x)));
      expectClose(pre.forward(x, { mask, causal: true }), add(h1, mlp(pre, pre.norm2.forward(h1))), 1e-6);
      const post = new TransformerBlock({ dim: D, numHeads: H, norm, placement: 'post' });
      const h2 = post.norm1.forward(add(x, attend(post, x)));
      expectClose(post.forward(x, { mask, causal: true }), post.norm2.forward(add(h2, mlp(post, h2))), 1e-6);
    }
  });

  it("has nn.TransformerEncoderLayer's child names; qkNorm adds q_norm and k_norm to attention", () => {
    const block = new TransformerBlock({ dim: D, numHeads: H, norm: 'layer-norm', placement: 'pre', qkNorm: 'rms' });
    const keys = Object.keys(block.stateDict());
    for (const key of ['self_attn.q_proj.weight', 'self_attn.out_proj.bias', 'self_attn.q_norm.weight', 'self_attn.k_norm.weight', 'linear1.weight', 'linear2.bias', 'norm1.weight', 'norm2.bias']) {
      expect(keys).toContain(key);
    }
    expect(block.linear1.outFeatures).toBe(4 * D);
    expect(block.selfAttn.qNorm).toBeInstanceOf(QKNorm);
    expect((block.selfAttn.qNorm as QKNorm).kind).toBe('rms');
    const l2 = new TransformerBlock({ dim: D, numHeads: H, norm: { name: 'rms-norm', options: { eps: 1e-5 } }, placement: 'post', qkNorm: { kind: 'l2', logitScale: 3 } });
    expect(Object.keys(l2.stateDict())).toContain('self_attn.q_norm.scale');
    expect((l2.norm1 as unknown as { eps: number }).eps).toBe(1e-5);
  });

  it('norm ada-ln-zero with a condition is exactly the identity at initialisation', () => {
    const block = new TransformerBlock({ dim: D, numHeads: H, norm: 'ada-ln-zero', placement: 'pre', condition: { dim: C } });
    expect(Object.keys(block.stateDict())).toContain('norm1.adaLN_modulation.1.weight');
    const x = randn([N, L, D]);
    const y = block.forward(x, { condition: randn([N, C]), causal: true });
    expect(Array.from(y.data)).toEqual(Array.from(x.data));
  });

  it('a channels-first normalizer gets the tokens as [N, D, L] and the mask, which keeps padding out of its statistics', () => {
    const block = new TransformerBlock({ dim: D, numHeads: H, norm: normalizerChoice('test-batch-norm'), placement: 'pre' });
    const mask = tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]);
    const x = randn([N, L, D]);
    const y = block.forward(x, { mask });
    const norm = block.norm1 as TestBatchNorm;
    expect(norm.seenShapes[0]).toEqual([N, D, L]);
    expect(norm.seenContexts[0]!.mask).toBe(mask);
    // Garbage in the padded tokens changes no real token: not the attention, not the batch statistics.
    const garbage = x.clone();
    for (const [n, l] of [[0, 4], [1, 3], [1, 4]] as const) for (let d = 0; d < D; d++) garbage.data[(n * L + l) * D + d] = 100 + d;
    const z = block.forward(garbage, { mask });
    for (const [n, l] of [[0, 0], [0, 3], [1, 0], [1, 2]] as const) {
      const row = (n * L + l) * D;
      expectClose(z.data.slice(row, row + D), y.data.slice(row, row + D), 1e-5);
    }
  });

  it('per-token normalizers do not get the mask: padded tokens are computed as PyTorch does', () => {
    for (const norm of ['layer-norm', 'rms-norm'] as const) {
      const block = new TransformerBlock({ dim: D, numHeads: H, norm, placement: 'post' });
      const y = block.forward(randn([N, L, D]), { mask: tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]]) });
      // Post-LN ends with norm2: with a mask the padded tokens would be exactly 0.
      expect(Array.from(y.data.slice(4 * D, 5 * D)).some((v) => v !== 0)).toBe(true);
    }
  });

  it('padded tokens do not change the real tokens of a Pre-LN block (masked attention, per-token LayerNorm)', () => {
    const block = new TransformerBlock({ dim: D, numHeads: H, norm: 'layer-norm', placement: 'pre' });
    const mask = tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]);
    const x = randn([N, L, D]);
    const garbage = x.clone();
    for (let i = 3 * D; i < L * D; i++) garbage.data[i] = 1000 * Math.sin(i);
    const a = block.forward(x, { mask });
    const b = block.forward(garbage, { mask });
    expectClose(a.data.slice(0, 3 * D), b.data.slice(0, 3 * D), 1e-6);
    expectClose(a.data.slice(L * D), b.data.slice(L * D), 0);
  });

  it("dtype: every parameter and buffer in it (float32 by default, as PyTorch); float64 blocks compute in float64", () => {
    const options = { dim: D, numHeads: H, placement: 'peri', embeddingNorm: true, layerScale: 0.5, qkNorm: 'layer', generator: new Generator(3) } as const;
    const defaults = new TransformerBlock({ ...options, norm: 'layer-norm' });
    expect(defaults.dtype).toBe('float32');
    for (const dtype of ['float32', 'float64'] as const) {
      for (const norm of ['layer-norm', 'rms-norm', 'ada-ln-zero'] as const) {
        const block = new TransformerBlock({ ...options, norm: normalizerChoice(norm), dtype, ...(norm === 'ada-ln-zero' ? { condition: { dim: C }, placement: 'pre' } : {}) });
        const tensors = [...block.namedParameters(), ...block.namedBuffers()];
        expect(tensors.length, norm).toBeGreaterThan(20);
        for (const [name, t] of tensors) expect(t.dtype, `${dtype} ${norm}: ${name}`).toBe(dtype);
        const condition = norm === 'ada-ln-zero' ? randn([N, C], { dtype }) : undefined;
        const x = randn([N, L, D], { dtype, requiresGrad: true });
        const y = block.forward(x, { condition, mask: tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]], { dtype }) });
        expect(y.dtype, norm).toBe(dtype);
        y.backward(randn([N, L, D], { dtype }));
        expect(x.grad!.dtype).toBe(dtype);
      }
    }
    // The same float32 initial weights, in float64: outputs agree to float32 rounding, and float64 is float64-exact
    // against its own composed pre-LN formula.
    const wide = new TransformerBlock({ ...options, norm: 'layer-norm', dtype: 'float64', generator: new Generator(3) });
    for (const [name, t] of defaults.namedParameters()) {
      const target = [...wide.namedParameters()].find(([n]) => n === name)![1];
      target.data.set(t.data);
    }
    const x32 = randn([N, L, D]);
    const x64 = tensor(Array.from(x32.data), { shape: [N, L, D], dtype: 'float64' });
    expectClose(wide.forward(x64).data, defaults.forward(x32).data, 1e-5);
    const pre = new TransformerBlock({ dim: D, numHeads: H, norm: 'layer-norm', placement: 'pre', dtype: 'float64' });
    const h = add(x64, pre.selfAttn.forward(pre.norm1.forward(x64)));
    expectClose(pre.forward(x64), add(h, pre.linear2.forward(gelu(pre.linear1.forward(pre.norm2.forward(h))))), 1e-14);
  });

  it('dtype: an unknown dtype, a norm or qkNorm naming another dtype, and inputs in another dtype are refused', () => {
    const base = { dim: D, numHeads: H, norm: 'layer-norm', placement: 'pre' } as const;
    expect(() => new TransformerBlock({ ...base, dtype: 'float16' as 'float32' })).toThrow(/^TransformerBlock: expected dtype 'float32' or 'float64', got dtype = float16/);
    expect(() => new TransformerBlock({ ...base, norm: { name: 'rms-norm', options: { dtype: 'float32' } }, dtype: 'float64' })).toThrow(
      /^TransformerBlock: expected norm options without a dtype or with the block's dtype 'float64', got norm "rms-norm" with dtype = "float32"/,
    );
    expect(() => new TransformerBlock({ ...base, qkNorm: { kind: 'rms', dtype: 'float32' }, dtype: 'float64' })).toThrow(/qkNorm without a dtype or with the block's dtype 'float64'/);
    // A normalizer without a dtype option whose parameters stay float32 (the test BatchNorm) is refused in float64.
    expect(new TransformerBlock({ ...base, norm: normalizerChoice('test-batch-norm') }).dtype).toBe('float32');
    expect(() => new TransformerBlock({ ...base, norm: normalizerChoice('test-batch-norm'), dtype: 'float64' })).toThrow(
      /^TransformerBlock: expected a norm whose parameters and buffers follow the block's dtype 'float64', got norm "test-batch-norm" with norm1.weight in float32/,
    );
    const block = new TransformerBlock({ ...base, dtype: 'float64' });
    expect(() => block.forward(randn([N, L, D]))).toThrow(DTypeError);
    expect(() => block.forward(randn([N, L, D]))).toThrow(/^TransformerBlock\.forward: expected tokens in the block's dtype float64, got tokens in float32/);
    const conditional = new TransformerBlock({ ...base, norm: 'ada-ln', condition: { dim: C }, dtype: 'float64' });
    expect(() => conditional.forward(randn([N, L, D], { dtype: 'float64' }), { condition: randn([N, C]) })).toThrow(/expected condition in the block's dtype float64/);
  });

  it('rejects an unknown normalizer name, a missing condition, bad shapes and options with typed errors', () => {
    // A misspelt name does not compile; plain JavaScript (or a cast) gets a RegistryError naming the block's option.
    const nope = 'nope-norm' as unknown as 'layer-norm';
    expect(() => new TransformerBlock({ dim: D, numHeads: H, norm: nope, placement: 'pre' })).toThrow(RegistryError);
    expect(() => new TransformerBlock({ dim: D, numHeads: H, norm: nope, placement: 'pre' })).toThrow(
      /^TransformerBlock: norm: expected a registered normalizer name \(known: .*layer-norm.*rms-norm.*\), got "nope-norm"/,
    );
    const nearMiss = 'rmsnorm' as unknown as 'layer-norm';
    expect(() => new TransformerBlock({ dim: D, numHeads: H, norm: { name: nearMiss }, placement: 'pre' })).toThrow(/Did you mean "rms-norm"\?/);
    expect(() => new TransformerBlock({ dim: D, numHeads: H, norm: 'ada-ln', placement: 'pre' })).toThrow(/condition: \{ dim \} for norm "ada-ln"/);
    expect(() => new TransformerBlock({ dim: D, numHeads: H, norm: { name: 'layer-norm', options: { eps: 0 } }, placement: 'pre' })).toThrow(OptionError);
    expect(() => new TransformerBlock({ dim: D, numHeads: H, norm: 'layer-norm', placement: 'sandwich' as 'pre' })).toThrow(OptionError);
    expect(() => new TransformerBlock({ dim: D, numHeads: H, norm: 'layer-norm', placement: 'pre', qkNorm: 'batch' as 'rms' })).toThrow(/qkNorm to be one of/);
    expect(() => new TransformerBlock({ dim: 0, numHeads: H, norm: 'layer-norm', placement: 'pre' })).toThrow(OptionError);
    const conditional = new TransformerBlock({ dim: D, numHeads: H, norm: 'ada-ln', placement: 'pre', condition: { dim: C } });
    expect(() => conditional.forward(randn([N, L, D]))).toThrow(ContextError);
    expect(() => conditional.forward(randn([N, L, D]), { condition: randn([N, C + 1]) })).toThrow(ShapeError);
    expect(() => conditional.forward(randn([N, L, D]), { condition: randn([N + 1, C]) })).toThrow(ShapeError);
    const block = new TransformerBlock({ dim: D, numHeads: H, norm: 'layer-norm', placement: 'pre' });
    expect(() => block.forward(randn([N, L, D + 1]))).toThrow(/TransformerBlock\.forward: expected tokens of shape \[N, L, 8\]/);
  });
});
