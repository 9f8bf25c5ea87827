import { BatchNorm } from '@normkit/batch';
import { Dropout, Generator, Linear, Module, Sequential, randn, type Tensor } from '@normkit/tensor';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineLowering, exportOnnx, getLowering, isOnnxExportError, registerLowering, unregisterLowering } from './index';
import { saveOnnx } from './node';
import { coreCases, familyLowerings } from './test-cases';
import { NORMALIZER_TOLERANCE, evalForward, expectClose, expectOnnxMatches, runOnnx } from './test-support';

describe('core layers alone match onnxruntime', () => {
  for (const c of coreCases) {
    for (const opset of c.opsets ?? [17]) {
      it(`${c.name}, opset ${opset}`, async () => {
        const g = new Generator(7);
        const module = c.build(g);
        const dynamicAxes: Record<string, Record<number, string>> = c.staticShape ? {} : { input: { 0: 'batch' } };
        const bytes = exportOnnx(module, { inputs: [{ shape: c.shape }], opset, dynamicAxes, lowerings: familyLowerings });
        const batches = c.staticShape ? [c.shape[0]!] : [1, 7];
        for (const n of batches) await expectOnnxMatches(module, bytes, randn([n, ...c.shape.slice(1)], { std: 2, generator: g }), NORMALIZER_TOLERANCE);
      });
    }
  }
});

class Unknown extends Module {
  override forward(x: Tensor): Tensor {
    return x;
  }
}

describe('errors and options', () => {
  it('an unsupported module fails naming its path and class and how to add a lowering', () => {
    const model = new Sequential(new Linear({ inFeatures: 2, outFeatures: 2 }), new Unknown());
    let error: unknown;
    try {
      exportOnnx(model, { inputs: [{ shape: [1, 2] }] });
    } catch (e) {
      error = e;
    }
    expect(isOnnxExportError(error)).toBe(true);
    expect((error as Error).message).toMatch(/no ONNX lowering for module "1" \(class Unknown\)/);
    expect((error as Error).message).toMatch(/registerLowering\(defineLowering\(\{ loweringVersion: 'v1', module: Unknown/);
  });

  it('a first-party normalizer without its family lowerings points at the family entry', () => {
    expect(() => exportOnnx(new BatchNorm({ numFeatures: 2 }), { inputs: [{ shape: [2, 2] }] })).toThrow(/@normkit\/onnx\/batch/);
  });

  it('registerLowering makes a class exportable; unregisterLowering removes it', async () => {
    const lowering = defineLowering({ loweringVersion: 'v1', module: Unknown, lower: (_m, [x], ctx) => ctx.unary('Neg', x!) });
    registerLowering(lowering);
    try {
      expect(getLowering(Unknown)).toBe(lowering);
      const bytes = exportOnnx(new Unknown(), { inputs: [{ shape: [3] }] });
      const x = randn([3]);
      // The lowering (Neg) is what runs: the exporter trusts it for values, and checks only the shape.
      const { data } = await runOnnx(bytes, { input: x });
      expectClose(data, x.data.map((v) => -v), 0, 1e-7);
    } finally {
      expect(unregisterLowering(Unknown)).toBe(true);
    }
    expect(() => exportOnnx(new Unknown(), { inputs: [{ shape: [3] }] })).toThrow(/no ONNX lowering/);
  });

  it('a lowering that computes the wrong shape is caught against the eval forward', () => {
    const wrong = defineLowering({ loweringVersion: 'v1', module: Unknown, lower: (_m, [x], ctx) => ctx.node('Flatten', [x!], [1, 6]) });
    expect(() => exportOnnx(new Unknown(), { inputs: [{ shape: [2, 3] }], lowerings: [wrong] })).toThrow(/lowered output shape to match the eval forward's \[2, 3\]/);
  });

  it('refuses opsets outside 17..23 and a name count that does not match the inputs', () => {
    const linear = new Linear({ inFeatures: 2, outFeatures: 2 });
    expect(() => exportOnnx(linear, { inputs: [{ shape: [1, 2] }], opset: 16 })).toThrow(/opset from 17 to 23/);
    expect(() => exportOnnx(linear, { inputs: [{ shape: [1, 2] }], opset: 24 })).toThrow(/opset from 17 to 23/);
    expect(() => exportOnnx(linear, { inputs: [{ shape: [1, 2] }], inputNames: ['a', 'b'] })).toThrow(/1 input name/);
  });

  it('keeps training flags, uses custom names and takes example tensors', async () => {
    const g = new Generator(3);
    const model = new Sequential(new Linear({ inFeatures: 3, outFeatures: 2, generator: g }), new Dropout({ p: 0.9 }));
    model.at(1).training = false;
    const x = randn([4, 3], { generator: g });
    const bytes = exportOnnx(model, { inputs: [x], inputNames: ['features'], outputNames: ['logits'] });
    expect([model.training, model.at(0).training, model.at(1).training]).toEqual([true, true, false]);
    const { InferenceSession, Tensor: OrtTensor } = await import('onnxruntime-node');
    const session = await InferenceSession.create(bytes);
    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(['logits']);
    const out = await session.run({ features: new OrtTensor('float32', Float32Array.from(x.data), [4, 3]) });
    expectClose(out.logits!.data as Float32Array, evalForward(model, x).data, 1e-5, 1e-6);
    await session.release();
  });

  it('saveOnnx writes the same bytes exportOnnx returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'normkit-onnx-save-'));
    try {
      const model = new Linear({ inFeatures: 2, outFeatures: 2, generator: new Generator(1) });
      const path = join(dir, 'linear.onnx');
      const bytes = await saveOnnx(model, path, { inputs: [{ shape: [1, 2] }] });
      expect(new Uint8Array(readFileSync(path))).toEqual(bytes);
      expect(bytes).toEqual(exportOnnx(model, { inputs: [{ shape: [1, 2] }] }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
