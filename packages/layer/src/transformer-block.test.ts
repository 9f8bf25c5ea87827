import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from '@normkit/testkit';
import {
  ContextError,
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
