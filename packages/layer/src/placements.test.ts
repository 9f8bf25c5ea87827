// Peri-LN, output-only and DeepNorm placements and LayerScale, in residual() and TransformerBlock.
import { describe, expect, it } from 'vitest';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  Generator, Linear, OptionError, add, gradcheck, mul, normalizerChoice, normalizerTraits, randn, registerAll, sum, tensor, unregister, type Tensor,
} from '@normkit/tensor';
import { AdaLNZero } from './ada-ln';
import { deepNormConstants } from './deep-norm';
import { LayerNorm } from './layer-norm';
import { LayerScale } from './layer-scale';
import { layerPlugins } from './plugins';
import { RMSNorm } from './rms-norm';
import { residual } from './residual';
import { expectSameFunction, layerNormReference, rmsNormReference, testBatchNormPlugin } from './test-references';
import { TransformerBlock } from './transformer-block';

const f64 = { dtype: 'float64' as const, requiresGrad: true };
const [N, L, D] = [2, 4, 6];

function linear64(seed: number): Linear {
  return new Linear({ inFeatures: D, outFeatures: D, dtype: 'float64', generator: new Generator(seed) });
}

function randomLayerNorm(seed: number): LayerNorm {
  const norm = new LayerNorm({ normalizedShape: D, dtype: 'float64' });
  const generator = new Generator(seed);
  norm.weight!.data.set(randn([D], { dtype: 'float64', generator, mean: 1 }).data);
  norm.bias!.data.set(randn([D], { dtype: 'float64', generator }).data);
  return norm;
}

describe('residual placements', () => {
  it("'peri' is x + outputNorm(f(norm(x))), 'output' is x + norm(f(x)), 'deepnorm' is norm(alpha x + f(x)): forward and every gradient", () => {
    const f = linear64(1);
    const x = randn([N, L, D], f64);
    const inner = randomLayerNorm(2);
    const outer = new RMSNorm({ normalizedShape: D, dtype: 'float64' });
    outer.weight!.data.set(randn([D], { dtype: 'float64', generator: new Generator(3) }).data);
    const ln = (h: Tensor, n: LayerNorm): Tensor => layerNormReference(h, 1, 1e-5, n.weight, n.bias);
    const peri = residual(f, { norm: inner, outputNorm: outer, placement: 'peri' });
    expectSameFunction((xx) => peri.forward(xx), (xx) => add(xx, rmsNormReference(f.forward(ln(xx, inner)), 1, 1e-6, outer.weight)), [
      x, f.weight, f.bias!, inner.weight!, inner.bias!, outer.weight!,
    ]);
    expect(Object.keys(peri.stateDict())).toEqual(['norm.weight', 'norm.bias', 'output_norm.weight', 'sublayer.weight', 'sublayer.bias']);
    const output = residual(f, { norm: inner, placement: 'output' });
    expectSameFunction((xx) => output.forward(xx), (xx) => add(xx, ln(f.forward(xx), inner)), [x, f.weight, f.bias!, inner.weight!, inner.bias!]);
    const deep = residual(f, { norm: inner, placement: 'deepnorm', alpha: 2.5 });
    expectSameFunction((xx) => deep.forward(xx), (xx) => ln(add(mul(xx, 2.5), f.forward(xx)), inner), [x, f.weight, f.bias!, inner.weight!, inner.bias!]);
    expect(deep.alpha).toBe(2.5);
    for (const block of [peri, output, deep]) expectGradcheck(gradcheck((xx) => block.forward(xx), [x]));
  });

  it('a LayerScale scales the branch just before it joins the skip path, in every placement', () => {
    const f = linear64(4);
    const x = randn([N, L, D], f64);
    const norm = randomLayerNorm(5);
    const outputNorm = randomLayerNorm(6);
    const ls = new LayerScale({ dim: D, initValues: 0.3, dtype: 'float64' });
    ls.gamma.data.set(randn([D], { dtype: 'float64', generator: new Generator(7) }).data);
    const n = (h: Tensor, which = norm): Tensor => layerNormReference(h, 1, 1e-5, which.weight, which.bias);
    const s = (h: Tensor): Tensor => mul(h, ls.gamma);
    const cases = [
      [{ placement: 'pre' }, (xx: Tensor) => add(xx, s(f.forward(n(xx))))],
      [{ placement: 'post' }, (xx: Tensor) => n(add(xx, s(f.forward(xx))))],
      [{ placement: 'peri', outputNorm }, (xx: Tensor) => add(xx, s(n(f.forward(n(xx)), outputNorm)))],
      [{ placement: 'output' }, (xx: Tensor) => add(xx, s(n(f.forward(xx))))],
      [{ placement: 'deepnorm', alpha: 1.7 }, (xx: Tensor) => n(add(mul(xx, 1.7), s(f.forward(xx))))],
    ] as const;
    for (const [options, reference] of cases) {
      const block = residual(f, { norm, layerScale: ls, ...options });
      expectSameFunction((xx) => block.forward(xx), reference, [x, f.weight, ls.gamma, norm.weight!]);
      expect(Object.keys(block.stateDict())).toContain('layer_scale.gamma');
    }
  });

  it('refuses inconsistent options with typed errors', () => {
    const f = linear64(8);
    const norm = new LayerNorm({ normalizedShape: D, dtype: 'float64' });
    const other = new LayerNorm({ normalizedShape: D, dtype: 'float64' });
    expect(() => residual(f, { norm, placement: 'peri' })).toThrow(/outputNorm \(the normalizer on f's output\) with placement 'peri'/);
    expect(() => residual(f, { norm, placement: 'pre', outputNorm: other })).toThrow(/outputNorm only with placement 'peri'/);
    expect(() => residual(f, { norm, placement: 'deepnorm' })).toThrow(/alpha, a finite number > 0, with placement 'deepnorm'/);
    expect(() => residual(f, { norm, placement: 'deepnorm', alpha: -1 })).toThrow(OptionError);
    expect(() => residual(f, { norm, placement: 'post', alpha: 2 })).toThrow(/alpha only with placement 'deepnorm'/);
    expect(() => residual(f, { norm, placement: 'pre', layerScale: 0.1 as unknown as LayerScale })).toThrow(/layerScale to be a LayerScale module/);
    expect(() => residual(f, { norm: new AdaLNZero({ normalizedShape: D, conditionDim: 3 }), placement: 'output', gate: true })).toThrow(
      /placement 'pre' or 'post' with gate: true/,
    );
    expect(() => residual(f, { norm, placement: 'middle' as 'pre' })).toThrow(/placement 'pre', 'post', 'peri', 'output', 'deepnorm'/);
  });
});

describe('deepNormConstants', () => {
  it("gives the paper's alpha and beta for encoder-only, decoder-only and both halves of an encoder-decoder", () => {
    expect(deepNormConstants({ architecture: 'decoder-only', layers: 48 })).toEqual({ alpha: 96 ** 0.25, beta: 384 ** -0.25 });
    expect(deepNormConstants({ architecture: 'encoder-only', layers: 24 })).toEqual({ alpha: 48 ** 0.25, beta: 192 ** -0.25 });
    const [n, m] = [18, 6];
    expect(deepNormConstants({ architecture: 'encoder-decoder', encoderLayers: n, decoderLayers: m, part: 'encoder' })).toEqual({
      alpha: 0.81 * (n ** 4 * m) ** (1 / 16),
      beta: 0.87 * (n ** 4 * m) ** (-1 / 16),
    });
    expect(deepNormConstants({ architecture: 'encoder-decoder', encoderLayers: n, decoderLayers: m, part: 'decoder' })).toEqual({ alpha: 18 ** 0.25, beta: 72 ** -0.25 });
    expect(deepNormConstants({ architecture: 'decoder-only', layers: 1 }).alpha).toBeCloseTo(Math.SQRT2 ** 0.5 * 1, 12);
    expect(() => deepNormConstants({ architecture: 'decoder-only', layers: 0 })).toThrow(/layers to be a positive integer/);
    expect(() => deepNormConstants({ architecture: 'encoder-decoder', encoderLayers: 2, decoderLayers: 2, part: 'middle' as 'encoder' })).toThrow(/part 'encoder' or 'decoder'/);
    expect(() => deepNormConstants({ architecture: 'mixture' } as never)).toThrow(/architecture 'encoder-only', 'decoder-only' or 'encoder-decoder'/);
  });
});

describe('TransformerBlock placements', () => {
  const dim = 64;
  const setup = (): void => registerAll(layerPlugins);
  const teardown = (): void => {
    for (const plugin of layerPlugins) unregister(plugin.name);
  };

  it("'peri' adds norm1_post and norm2_post on the sublayer outputs; 'output' normalises only the outputs", () => {
    setup();
    try {
      const x = randn([2, 5, dim], { generator: new Generator(10) });
      const peri = new TransformerBlock({ dim, numHeads: 4, norm: 'layer-norm', placement: 'peri', generator: new Generator(11) });
      expect(Object.keys(peri.stateDict()).filter((k) => k.startsWith('norm'))).toEqual([
        'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias', 'norm1_post.weight', 'norm1_post.bias', 'norm2_post.weight', 'norm2_post.bias',
      ]);
      for (const norm of [peri.norm1Post!, peri.norm2Post!]) (norm as LayerNorm).weight!.data.set(randn([dim], { generator: new Generator(12), mean: 1 }).data);
      const h = add(x, peri.norm1Post!.forward(peri.selfAttn.forward(peri.norm1.forward(x))));
      const expected = add(h, peri.norm2Post!.forward(peri.feedforward(peri.norm2.forward(h))));
      expectClose(peri.forward(x), expected, 1e-5, 1e-5);
      const output = new TransformerBlock({ dim, numHeads: 4, norm: 'rms-norm', placement: 'output', generator: new Generator(13) });
      const g = add(x, output.norm1.forward(output.selfAttn.forward(x)));
      expectClose(output.forward(x), add(g, output.norm2.forward(output.feedforward(g))), 1e-5, 1e-5);
      expect(output.norm1Post).toBeNull();
    } finally {
      teardown();
    }
  });

  it("'deepnorm': alpha on the skip path and the paper's init (gain beta for the MLP, value and output projections; 1 for query and key)", () => {
    setup();
    try {
      const width = 256;
      const { alpha, beta } = deepNormConstants({ architecture: 'decoder-only', layers: 48 });
      const block = new TransformerBlock({ dim: width, numHeads: 4, norm: 'layer-norm', placement: 'deepnorm', deepNorm: { architecture: 'decoder-only', layers: 48 }, generator: new Generator(14) });
      expect(block.deepNorm).toEqual({ alpha, beta });
      const std = (t: Tensor): number => Math.sqrt(Array.from(t.data).reduce((a, v) => a + v * v, 0) / t.size);
      const xavier = (fanIn: number, fanOut: number, gain: number): number => gain * Math.sqrt(2 / (fanIn + fanOut));
      const a = block.selfAttn;
      // 65k+ samples per square projection: the empirical std is within 2% of the target.
      for (const [t, target] of [
        [a.vProj.weight, xavier(width, width, beta)],
        [a.outProj.weight, xavier(width, width, beta)],
        [a.qProj.weight, xavier(width, width, 1)],
        [a.kProj.weight, xavier(width, width, 1)],
        [block.linear1.weight, xavier(width, 4 * width, beta)],
        [block.linear2.weight, xavier(4 * width, width, beta)],
      ] as const) {
        expect(Math.abs(std(t) / target - 1)).toBeLessThan(0.02);
      }
      const x = randn([2, 3, width], { generator: new Generator(15) });
      const h = block.norm1.forward(add(mul(x, alpha), block.selfAttn.forward(x)));
      expectClose(block.forward(x), block.norm2.forward(add(mul(h, alpha), block.feedforward(h))), 1e-5, 1e-5);
      const explicit = new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'deepnorm', deepNorm: { alpha: 3, beta: 0.5 } });
      expect(explicit.deepNorm).toEqual({ alpha: 3, beta: 0.5 });
      expect(() => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'deepnorm' })).toThrow(/deepNorm .* with placement 'deepnorm'/);
      expect(() => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'post', deepNorm: { alpha: 3, beta: 0.5 } })).toThrow(/deepNorm only with placement 'deepnorm'/);
      expect(() => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'deepnorm', deepNorm: { alpha: 0, beta: 0.5 } })).toThrow(/deepNorm.alpha to be a finite number > 0/);
    } finally {
      teardown();
    }
  });

  it('every layer plugin (and a channels-first test norm) builds, runs and trains in every new placement, with a mask; gated ones refuse them', () => {
    registerAll([testBatchNormPlugin]);
    setup();
    try {
      const mask = tensor([[1, 1, 1, 0], [1, 1, 0, 0]]);
      for (const plugin of [...layerPlugins, testBatchNormPlugin]) {
        if (plugin.name === 'qk-norm') continue; // per-head, for attention only
        const traits = normalizerTraits(plugin.name);
        for (const placement of ['peri', 'output', 'deepnorm'] as const) {
          const options = {
            dim: 8, numHeads: 2, norm: normalizerChoice(plugin.name), placement, layerScale: 0.1, embeddingNorm: placement === 'peri', generator: new Generator(19),
            ...(placement === 'deepnorm' ? { deepNorm: { architecture: 'encoder-only' as const, layers: 12 } } : {}),
            ...(traits.needsCondition ? { condition: { dim: 3 } } : {}),
          };
          if (plugin.name === 'ada-ln-zero') {
            expect(() => new TransformerBlock(options), plugin.name).toThrow(/placement 'pre' or 'post' with gate: true/);
            continue;
          }
          const block = new TransformerBlock(options);
          const x = randn([2, 4, 8], { requiresGrad: true, generator: new Generator(20) });
          const y = block.forward(x, { mask, ...(traits.needsCondition ? { condition: randn([2, 3]) } : {}) });
          sum(mul(y, y)).backward();
          const label = `${plugin.name} ${placement}`;
          expect(Array.from(y.data).every(Number.isFinite), label).toBe(true);
          expect(Array.from(x.grad!.data).some((v) => v !== 0), label).toBe(true);
          expect(block.parameters().every((p) => p.grad !== null && Array.from(p.grad.data).every(Number.isFinite)), label).toBe(true);
        }
      }
    } finally {
      teardown();
      unregister(testBatchNormPlugin.name);
    }
  });

  it('layerScale adds ls1 and ls2 (timm names): a pre block starts within 1e-3 of the identity; embeddingNorm normalises the input first', () => {
    setup();
    try {
      const x = randn([2, 5, dim], { generator: new Generator(16) });
      const block = new TransformerBlock({ dim, numHeads: 4, norm: 'layer-norm', placement: 'pre', layerScale: 1e-5, generator: new Generator(17) });
      expect(Object.keys(block.stateDict())).toEqual(expect.arrayContaining(['ls1.gamma', 'ls2.gamma']));
      const y = block.forward(x);
      expect(Math.max(...Array.from(y.data, (v, i) => Math.abs(v - x.data[i]!)))).toBeLessThan(1e-3);
      const plain = new TransformerBlock({ dim, numHeads: 4, norm: 'layer-norm', placement: 'pre', generator: new Generator(17) });
      expect(Math.max(...Array.from(plain.forward(x).data, (v, i) => Math.abs(v - x.data[i]!)))).toBeGreaterThan(1e-2);
      const embedded = new TransformerBlock({ dim, numHeads: 4, norm: 'layer-norm', placement: 'peri', embeddingNorm: true, generator: new Generator(18) });
      const withoutEmbed = new TransformerBlock({ dim, numHeads: 4, norm: 'layer-norm', placement: 'peri', generator: new Generator(18) });
      const state = embedded.stateDict();
      expect(Object.keys(state)).toEqual(expect.arrayContaining(['norm_embed.weight', 'norm_embed.bias']));
      (embedded.normEmbed as LayerNorm).weight!.data.fill(2);
      expectClose(embedded.forward(x), withoutEmbed.forward(embedded.normEmbed!.forward(x)), 1e-5, 1e-5);
      expect(() => new TransformerBlock({ dim, numHeads: 4, norm: 'layer-norm', placement: 'pre', layerScale: Number.NaN })).toThrow(/layerScale to be a finite number/);
    } finally {
      teardown();
    }
  });
});
