// DyT exports to ONNX through the plugin's `onnx` hook, as any third-party normalizer would.
import { exportOnnx } from '@normkit/onnx';
import { layerLowerings } from '@normkit/onnx/layer';
import { TransformerBlock } from '@normkit/layer';
import { Generator, Linear, Sequential, noGrad, randn, register, unregister, type Module, type Tensor } from '@normkit/tensor';
import { checkOnnxExport } from '@normkit/testkit';
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamicTanh } from './dynamic-tanh.js';
import { dynamicTanhLowering } from './onnx.js';
import { dynamicTanhPlugin } from './plugin.js';

afterEach(() => unregister('dynamic-tanh'));

function evalOutput(module: Module, x: Tensor): Tensor {
  module.eval();
  try {
    return noGrad(() => (module.forward as (x: Tensor) => Tensor)(x));
  } finally {
    module.train();
  }
}

async function onnxOutput(bytes: Uint8Array, x: Tensor): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = (await session.run({ input: new ort.Tensor('float32', Float32Array.from(x.data), [...x.shape]) }))[session.outputNames[0]!]!;
    return { data: out.data as Float32Array, dims: out.dims };
  } finally {
    await session.release();
  }
}

/** |a - b| <= 1e-5 max|ref| + 1e-6 for a module, 1e-4 max|ref| for a model (the @normkit/onnx tolerances). */
function expectClose(actual: ArrayLike<number>, reference: ArrayLike<number>, rtol: number, atol: number): void {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < reference.length; i++) {
    scale = Math.max(scale, Math.abs(reference[i]!));
    worst = Math.max(worst, Math.abs(actual[i]! - reference[i]!));
  }
  expect(actual.length).toBe(reference.length);
  expect(worst).toBeLessThanOrEqual(rtol * scale + atol);
}

/** A trained-looking DyT: alpha, weight and bias off their initial values. */
function randomDyt(generator: Generator, options: { numFeatures: number; elementwiseAffine?: boolean }): DynamicTanh {
  const dyt = new DynamicTanh({ ...options, alphaInit: 0.7 });
  for (const [, p] of dyt.namedParameters()) p.data.set(randn(p.shape, { mean: 0.8, std: 0.4, generator }).data);
  return dyt;
}

describe('dynamic-tanh exports to ONNX through its plugin hook', () => {
  for (const opset of [17, 23]) {
    it(`registered, a Linear + DyT model exports with no lowering passed (opset ${opset}, batch 1 and 7 through one file)`, async () => {
      register(dynamicTanhPlugin);
      const g = new Generator(opset);
      const model = new Sequential(new Linear({ inFeatures: 6, outFeatures: 8, generator: g }), randomDyt(g, { numFeatures: 8 }));
      const bytes = exportOnnx(model, { inputs: [{ shape: [2, 5, 6] }], opset, dynamicAxes: { input: { 0: 'batch' } } });
      for (const n of [1, 7]) {
        const x = randn([n, 5, 6], { std: 2, generator: g });
        const { data, dims } = await onnxOutput(bytes, x);
        const reference = evalOutput(model, x);
        expect([...dims]).toEqual(reference.shape);
        expectClose(data, reference.data, 1e-5, 1e-6);
      }
    });
  }

  it('not registered, the export fails naming the class and how to add a lowering', () => {
    expect(() => exportOnnx(new DynamicTanh({ numFeatures: 4 }), { inputs: [{ shape: [2, 4] }] })).toThrow(/no ONNX lowering for the root module \(class DynamicTanh\)/);
    // The hook (the plugin's `onnx` field) can also be passed per export, without registering the plugin.
    expect(dynamicTanhPlugin.onnx).toBe(dynamicTanhLowering);
    expect(exportOnnx(new DynamicTanh({ numFeatures: 4 }), { inputs: [{ shape: [2, 4] }], lowerings: [dynamicTanhLowering] })).toBeInstanceOf(Uint8Array);
  });

  it('a pre-LN Transformer block built with norm: "dynamic-tanh" exports (model tolerance 1e-4 max|ref|)', async () => {
    register(dynamicTanhPlugin);
    const g = new Generator(5);
    const block = new TransformerBlock({ dim: 8, numHeads: 2, norm: 'dynamic-tanh', placement: 'pre', generator: g });
    for (const [name, p] of block.namedParameters()) if (name.endsWith('alpha') || name.endsWith('norm1.weight')) p.data.set(randn(p.shape, { mean: 0.8, std: 0.3, generator: g }).data);
    const bytes = exportOnnx(block, { inputs: [{ shape: [2, 5, 8] }], dynamicAxes: { input: { 0: 'batch', 1: 'tokens' } }, lowerings: layerLowerings });
    for (const [n, l] of [[1, 5], [7, 3]] as const) {
      const x = randn([n, l, 8], { generator: g });
      const { data } = await onnxOutput(bytes, x);
      expectClose(data, evalOutput(block, x).data, 1e-4, 0);
    }
  });
});

describe('the testkit check "exports and matches onnxruntime"', () => {
  it('passes for the plugin (opsets 17 and 23, with and without affine)', async () => {
    for (const options of [{}, { elementwiseAffine: false, alphaInit: 1.5 }]) {
      const result = await checkOnnxExport(dynamicTanhPlugin, { slot: { numFeatures: 4 }, options, inputShapes: [[3, 4], [2, 3, 4]], opsets: [17, 23], exportOnnx, ort });
      expect(result.ok, result.message).toBe(true);
      expect(result.message).toMatch(/8 onnxruntime runs match/);
    }
  });

  it('fails on a planted fault: a lowering that forgets alpha', async () => {
    type Lower = typeof dynamicTanhLowering.lower;
    const faulty = {
      ...dynamicTanhPlugin,
      onnx: { ...dynamicTanhLowering, lower: (_m: DynamicTanh, [x]: Parameters<Lower>[1], ctx: Parameters<Lower>[2]) => ctx.unary('Tanh', x!) },
    };
    const result = await checkOnnxExport(faulty, { slot: { numFeatures: 4 }, options: { elementwiseAffine: false, alphaInit: 0.6 }, inputShapes: [[3, 4]], exportOnnx, ort });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/\|onnx - normkit\| = .* > /);
  });
});
