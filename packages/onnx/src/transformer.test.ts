import { batchPlugins } from '@normkit/batch';
import { TransformerBlock, layerPlugins } from '@normkit/layer';
import { Generator, noGrad, randn, registerAll, type Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { batchLowerings } from './batch';
import { exportOnnx } from './index';
import { layerLowerings } from './layer';
import { randomize } from './test-cases';
import { MODEL_TOLERANCE, checkWithOnnxChecker, expectClose, onnxCheckerAvailable, runOnnx } from './test-support';

registerAll(layerPlugins);
registerAll(batchPlugins);

const lowerings = [...layerLowerings, ...batchLowerings];

interface BlockCase {
  name: string;
  build(g: Generator): TransformerBlock;
  condition?: number;
}

const cases: BlockCase[] = [
  { name: 'pre-LN, LayerNorm, GELU', build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'pre', generator: g }) },
  { name: 'post-LN, RMSNorm, ReLU, QK-norm rms', build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'rms-norm', placement: 'post', activation: 'relu', qkNorm: 'rms', generator: g }) },
  { name: 'pre-LN with QK-norm layer', build: (g) => new TransformerBlock({ dim: 8, numHeads: 4, norm: 'layer-norm', placement: 'pre', qkNorm: 'layer', generator: g }) },
  { name: 'pre-LN with QK-norm l2', build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'layer-norm', placement: 'pre', qkNorm: 'l2', generator: g }) },
  { name: 'post-LN with BatchNorm over tokens (channels-first)', build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'batch-norm', placement: 'post', generator: g }) },
  { name: 'pre, adaLN-Zero (gated, condition input)', condition: 6, build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'ada-ln-zero', placement: 'pre', condition: { dim: 6 }, generator: g }) },
  { name: 'post, AdaLN (condition input)', condition: 6, build: (g) => new TransformerBlock({ dim: 8, numHeads: 2, norm: 'ada-ln', placement: 'post', condition: { dim: 6 }, generator: g }) },
];

function evalBlock(block: TransformerBlock, x: Tensor, condition: Tensor | undefined): Tensor {
  block.eval();
  try {
    return noGrad(() => block.forward(x, condition ? { condition } : {}));
  } finally {
    block.train();
  }
}

describe('TransformerBlock (pre and post, QK-norm, conditional) matches onnxruntime (1e-4 max|ref|)', () => {
  for (const c of cases) {
    for (const opset of [17, 20, 23]) {
      it(`${c.name}, opset ${opset}`, async () => {
        const g = new Generator(opset + 3);
        const block = randomize(c.build(g), g) as TransformerBlock;
        const context = c.condition ? { condition: { shape: [2, c.condition] } } : undefined;
        const bytes = exportOnnx(block, {
          inputs: [{ shape: [2, 5, 8] }],
          context,
          opset,
          dynamicAxes: { input: { 0: 'batch', 1: 'tokens' }, condition: { 0: 'batch' } },
          lowerings,
        });
        if (opset === 17 && onnxCheckerAvailable()) checkWithOnnxChecker([{ name: c.name, bytes }]);
        for (const [n, l] of [[1, 5], [7, 3]] as const) {
          const x = randn([n, l, 8], { generator: g });
          const condition = c.condition ? randn([n, c.condition], { generator: g }) : undefined;
          const reference = evalBlock(block, x, condition);
          const { data, dims } = await runOnnx(bytes, condition ? { input: x, condition } : { input: x });
          expect([...dims]).toEqual(reference.shape);
          expectClose(data, reference.data, MODEL_TOLERANCE.rtol, MODEL_TOLERANCE.atol);
        }
      });
    }
  }
});
