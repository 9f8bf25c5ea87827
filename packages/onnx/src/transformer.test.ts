import { batchPlugins } from '@normkit/batch';
import { LayerNorm, LayerScale, RMSNorm, Residual, TransformerBlock, layerPlugins } from '@normkit/layer';
import { GELU, Generator, Linear, MultiHeadAttention, Sequential, noGrad, ones, rand, randn, registerAll, type Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { batchLowerings } from './batch';
import { exportOnnx } from './index';
import { layerLowerings } from './layer';
import { randomize } from './test-cases';
import { MODEL_TOLERANCE, checkWithOnnxChecker, expectClose, expectOnnxMatches, onnxCheckerAvailable, runOnnx } from './test-support';

registerAll(layerPlugins);
registerAll(batchPlugins);

const lowerings = [...layerLowerings, ...batchLowerings];

interface BlockCase {
  name: string;
  build(g: Generator): TransformerBlock;
  condition?: number;
  causal?: boolean;
  mask?: boolean;
}

const cases: BlockCase[] = [
  { name: 'pre-LN, LayerNorm, GELU', build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'pre', generator: g }) },
  { name: 'post-LN, RMSNorm, ReLU, QK-norm rms', build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'rms-norm', placement: 'post', activation: 'relu', qkNorm: 'rms', generator: g }) },
  { name: 'pre-LN with QK-norm layer', build: (g) => new TransformerBlock({ dim: 8, numHeads: 4, norm: 'layer-norm', placement: 'pre', qkNorm: 'layer', generator: g }) },
  { name: 'pre-LN with QK-norm l2', build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'pre', qkNorm: 'l2', generator: g }) },
  { name: 'post-LN with BatchNorm over tokens (channels-first)', build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'batch-norm', placement: 'post', generator: g }) },
  { name: 'pre, adaLN-Zero (gated, condition input)', condition: 6, build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'ada-ln-zero', placement: 'pre', condition: { dim: 6 }, generator: g }) },
  { name: 'post, AdaLN (condition input)', condition: 6, build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'ada-ln', placement: 'post', condition: { dim: 6 }, generator: g }) },
  { name: 'peri (sandwich) with embedding norm, RMSNorm', build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'rms-norm', placement: 'peri', embeddingNorm: true, generator: g }) },
  { name: 'output placement, LayerNorm, LayerScale', build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'output', layerScale: 0.3, generator: g }) },
  { name: 'deepnorm (alpha 1.7), LayerNorm', build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'deepnorm', deepNorm: { alpha: 1.7, beta: 0.5 }, generator: g }) },
  { name: 'pre, LayerScale, causal, QK-norm rms', causal: true, build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'pre', layerScale: 0.5, qkNorm: 'rms', generator: g }) },
  { name: 'post, padding mask and causal, RMSNorm', causal: true, mask: true, build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'rms-norm', placement: 'post', generator: g }) },
  { name: 'adaLN-Zero with LayerScale and a padding mask', condition: 6, mask: true, build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'ada-ln-zero', placement: 'post', condition: { dim: 6 }, layerScale: 0.4, generator: g }) },
];

/** [N, L] 1/0 padding: sample 0 keeps every token, the others lose a random suffix, the last sample all of them (a query row with no key). */
function paddingMask(n: number, l: number, g: Generator): Tensor {
  const mask = ones([n, l]);
  for (let i = 1; i < n; i++) {
    const keep = i === n - 1 && n > 2 ? 0 : 1 + Math.floor(rand([1], { generator: g }).data[0]! * l);
    for (let j = keep; j < l; j++) mask.data[i * l + j] = 0;
  }
  return mask;
}

function evalBlock(block: TransformerBlock, x: Tensor, context: { condition?: Tensor; mask?: Tensor; causal?: boolean }): Tensor {
  block.eval();
  try {
    return noGrad(() => block.forward(x, context));
  } finally {
    block.train();
  }
}

describe('TransformerBlock (every placement, LayerScale, QK-norm, conditional, masks) matches onnxruntime (1e-4 max|ref|)', () => {
  for (const c of cases) {
    for (const opset of [17, 20, 23]) {
      it(`${c.name}, opset ${opset}`, async () => {
        const g = new Generator(opset + 3);
        const block = randomize(c.build(g), g) as TransformerBlock;
        const context = {
          ...(c.condition ? { condition: { shape: [2, c.condition] } } : {}),
          ...(c.mask ? { mask: { shape: [2, 5] } } : {}),
          ...(c.causal ? { causal: true } : {}),
        };
        const bytes = exportOnnx(block, {
          inputs: [{ shape: [2, 5, 8] }],
          context,
          opset,
          dynamicAxes: { input: { 0: 'batch', 1: 'tokens' }, condition: { 0: 'batch' }, mask: { 0: 'batch', 1: 'tokens' } },
          lowerings,
        });
        if (opset === 17 && onnxCheckerAvailable()) checkWithOnnxChecker([{ name: c.name, bytes }]);
        for (const [n, l] of [[1, 5], [7, 3]] as const) {
          const x = randn([n, l, 8], { generator: g });
          const condition = c.condition ? randn([n, c.condition], { generator: g }) : undefined;
          const mask = c.mask ? paddingMask(n, l, g) : undefined;
          const reference = evalBlock(block, x, { ...(condition ? { condition } : {}), ...(mask ? { mask } : {}), ...(c.causal ? { causal: true } : {}) });
          const { data, dims } = await runOnnx(bytes, { input: x, ...(condition ? { condition } : {}), ...(mask ? { mask } : {}) });
          expect([...dims]).toEqual(reference.shape);
          expectClose(data, reference.data, MODEL_TOLERANCE.rtol, MODEL_TOLERANCE.atol);
        }
      });
    }
  }
});

describe('a padding mask is refused where a normalizer spanning tokens would receive it', () => {
  it('BatchNorm over tokens with context.mask', () => {
    const block = new TransformerBlock({ dim: 8, numHeads: 2, norm: 'batch-norm', placement: 'pre' });
    expect(() => exportOnnx(block, { inputs: [{ shape: [2, 5, 8] }], context: { mask: { shape: [2, 5] } }, lowerings })).toThrow(/padding mask handed to BatchNorm/);
  });
});

const attentionCases: Array<{ name: string; cross?: number; mask?: boolean; causal?: boolean }> = [
  { name: 'self-attention, causal', causal: true },
  { name: 'self-attention, padding mask', mask: true },
  { name: 'self-attention, padding mask and causal', mask: true, causal: true },
  { name: 'cross-attention (key/value inputs of another length)', cross: 4 },
  { name: 'cross-attention with a key padding mask, causal (triangle at the top left, L != S)', cross: 6, mask: true, causal: true },
];

describe('MultiHeadAttention masks and cross-attention match onnxruntime (1e-5 max|ref| + 1e-6)', () => {
  for (const c of attentionCases) {
    for (const opset of [17, 18, 23]) {
      it(`${c.name}, opset ${opset}, batch 1 and 7, dynamic lengths`, async () => {
        const g = new Generator(opset + 11);
        const attention = randomize(new MultiHeadAttention({ embedDim: 8, numHeads: 2, generator: g }), g) as MultiHeadAttention;
        const s = c.cross ?? 5;
        const context = {
          ...(c.cross ? { key: { shape: [2, s, 8] }, value: { shape: [2, s, 8] } } : {}),
          ...(c.mask ? { mask: { shape: [2, s] } } : {}),
          ...(c.causal ? { causal: true } : {}),
        };
        const bytes = exportOnnx(attention, {
          inputs: [{ shape: [2, 5, 8] }], context, opset,
          dynamicAxes: { input: { 0: 'batch', 1: 'tokens' }, key: { 0: 'batch', 1: 'keys' }, value: { 0: 'batch', 1: 'keys' }, mask: { 0: 'batch', 1: c.cross ? 'keys' : 'tokens' } },
        });
        if (opset === 17 && onnxCheckerAvailable()) checkWithOnnxChecker([{ name: c.name, bytes }]);
        for (const [n, l, sn] of [[1, 5, s], [7, 3, c.cross ? s + 2 : 3]] as const) {
          const x = randn([n, l, 8], { generator: g });
          const key = c.cross ? randn([n, sn, 8], { generator: g }) : undefined;
          const value = c.cross ? randn([n, sn, 8], { generator: g }) : undefined;
          const mask = c.mask ? paddingMask(n, sn, g) : undefined;
          const options = { ...(key ? { key, value } : {}), ...(mask ? { mask } : {}), ...(c.causal ? { causal: true } : {}) };
          const reference = noGrad(() => attention.eval().forward(x, options));
          attention.train();
          const { data, dims } = await runOnnx(bytes, { input: x, ...(key ? { key, value: value! } : {}), ...(mask ? { mask } : {}) });
          expect([...dims]).toEqual(reference.shape);
          expectClose(data, reference.data, 1e-5, 1e-6);
        }
      });
    }
  }
});

describe('Residual with a module sublayer', () => {
  for (const placement of ['pre', 'post', 'peri', 'output', 'deepnorm'] as const) {
    it(`placement ${placement}, with a LayerScale, opset 17`, async () => {
      const g = new Generator(placement.length);
      const block = randomize(new Residual(new Sequential(new Linear({ inFeatures: 8, outFeatures: 8, generator: g }), new GELU()), {
        norm: new RMSNorm({ normalizedShape: 8 }),
        placement,
        layerScale: new LayerScale({ dim: 8, initValues: 0.5 }),
        ...(placement === 'peri' ? { outputNorm: new LayerNorm({ normalizedShape: 8 }) } : {}),
        ...(placement === 'deepnorm' ? { alpha: 2.5 } : {}),
      }), g);
      const bytes = exportOnnx(block, { inputs: [{ shape: [2, 5, 8] }], dynamicAxes: { input: { 0: 'batch', 1: 'tokens' } }, lowerings });
      for (const [n, l] of [[1, 5], [7, 3]] as const) await expectOnnxMatches(block, bytes, randn([n, l, 8], { generator: g }), MODEL_TOLERANCE);
    });
  }

  it('a function sublayer is refused with how to make it exportable', () => {
    const block = new Residual((x) => x, { norm: new RMSNorm({ normalizedShape: 4 }), placement: 'pre' });
    expect(() => exportOnnx(block, { inputs: [{ shape: [1, 2, 4] }], lowerings })).toThrow(/a Module sublayer/);
  });
});
