import { Identity, randn } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { defineLowering, exportOnnx } from './index';
import { Generator, coreCases, familyLowerings, normalizerCases } from './test-cases';
import { poolLowerings, smallCnn, smallMlp } from './test-models';
import { checkWithOnnxChecker, onnxCheckerAvailable } from './test-support';

// Debian's python3-onnx 1.12 knows opsets up to 17 only: exports at 18-23 are validated by
// onnxruntime session creation and the output comparisons in the other test files.
const available = onnxCheckerAvailable();
const inCi = process.env.CI === 'true';
const message = 'python3-onnx is not installed (apt-get install python3-onnx); the ONNX checker test is skipped outside CI';

describe('every opset-17 export passes onnx.checker.check_model(full_check=True)', () => {
  if (!available && inCi) {
    it('needs python3-onnx in CI', () => {
      expect.fail('CI=true but /usr/bin/python3 cannot import onnx: .ci/run must install python3-onnx');
    });
    return;
  }
  it.skipIf(!available)(available ? 'normalizers, core layers and the small models' : message, () => {
    const lowerings = [...familyLowerings, ...poolLowerings];
    const models: Array<{ name: string; bytes: Uint8Array }> = [];
    const g = new Generator(17);
    for (const c of normalizerCases) {
      models.push({ name: c.name, bytes: exportOnnx(c.build(g), { inputs: [{ shape: c.shape }], dynamicAxes: { input: { 0: 'batch' } }, lowerings }) });
    }
    for (const c of coreCases) {
      const dynamicAxes: Record<string, Record<number, string>> = c.staticShape ? {} : { input: { 0: 'batch' } };
      models.push({ name: c.name, bytes: exportOnnx(c.build(g), { inputs: [{ shape: c.shape }], dynamicAxes, lowerings }) });
    }
    models.push({ name: 'cnn', bytes: exportOnnx(smallCnn(g), { inputs: [randn([2, 3, 8, 8], { generator: g })], dynamicAxes: { input: [0] }, lowerings }) });
    models.push({ name: 'mlp', bytes: exportOnnx(smallMlp(g), { inputs: [{ shape: [2, 5, 6] }], dynamicAxes: { input: { 0: 'batch', 1: 'tokens' } }, lowerings }) });
    expect(models.length).toBe(normalizerCases.length + coreCases.length + 2);
    checkWithOnnxChecker(models);
  });

  it.skipIf(!available)('the checker does reject an invalid graph (so the test above can fail)', () => {
    const bogus = defineLowering({ loweringVersion: 'v1', module: Identity, lower: (_m, [x], ctx) => ctx.unary('NotAnOnnxOp', x!) });
    const bytes = exportOnnx(new Identity(), { inputs: [{ shape: [2] }], lowerings: [bogus] });
    expect(() => checkWithOnnxChecker([{ name: 'bogus', bytes }])).toThrow(/NotAnOnnxOp/);
  });
});
