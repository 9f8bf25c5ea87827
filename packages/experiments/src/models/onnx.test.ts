// Every model family the engine builds, trained a few steps, exported with exportClassifierOnnx /
// exportGeneratorOnnx and run in onnxruntime-node at batch 1 and 7 through one file, against the
// model's eval forward: |a - b| <= 1e-4 max|ref| (ONNX computes in float32 throughout).
import { conditionalPlugins } from '@normkit/conditional';
import { normFreeBlockWrappers } from '@normkit/norm-free';
import { isOnnxExportError } from '@normkit/onnx';
import { conditionalLowerings } from '@normkit/onnx/conditional';
import { normFreeLowerings } from '@normkit/onnx/norm-free';
import { switchableLowerings } from '@normkit/onnx/switchable';
import { switchablePlugins } from '@normkit/switchable';
import { Generator, SGD, Tensor, list, mean, mul, noGrad, normalizerTraits, randn, randint, type Module } from '@normkit/tensor';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
// The checker helper of @normkit/onnx's own tests (a test-only module, not part of its public API).
import { checkWithOnnxChecker, onnxCheckerAvailable } from '../../../onnx/src/test-support';
import { registerFamilies, registerOnce } from '../test-support';
import type { ConditionalGan } from './gan';
import { models } from './index';
import type { Classifier, DataSpec, ModelDefinition } from './model';
import type { NormChoice } from './norm-slot';
import { exportClassifierOnnx, exportGeneratorOnnx } from './onnx';
import { listBlockWrappers, registerBlockWrapper } from './residual';

beforeAll(() => {
  registerFamilies();
  for (const plugin of [...conditionalPlugins, ...switchablePlugins]) registerOnce(plugin);
  const known = new Set(listBlockWrappers().map((w) => w.name));
  for (const wrapper of normFreeBlockWrappers) if (!known.has(wrapper.name)) registerBlockWrapper(wrapper);
});

const vectors: DataSpec = { inputKind: 'vector', sampleShape: [5], numClasses: 3 };
const tokens: DataSpec = { inputKind: 'tokens', sampleShape: [6, 4], numClasses: 2 };
const images: DataSpec = { inputKind: 'image', sampleShape: [3, 8, 8], numClasses: 4 };
const TOLERANCE = 1e-4;

function build(name: string, data: DataSpec, norms: Record<string, NormChoice>, options: Record<string, unknown> = {}, blockWrapper?: string): Module {
  const definition = models[name] as ModelDefinition;
  const defaults = Object.fromEntries(Object.entries(definition.options).map(([k, spec]) => [k, spec.default]));
  return definition.build({
    options: { ...defaults, ...options } as never, data, norms, generator: new Generator(1), ...(blockWrapper ? { blockWrapper: { name: blockWrapper } } : {}),
  });
}

/** [N, L] with sequence n having L - n % 4 real tokens. */
function tokenMask(n: number, length: number): Tensor {
  const data = new Float32Array(n * length);
  for (let i = 0; i < n; i++) for (let t = 0; t < length - (i % 4); t++) data[i * length + t] = 1;
  return new Tensor(data, [n, length]);
}

/** A few SGD steps on mean(y^2) in training mode: weights and running statistics move off their initial values. */
function train(model: Module, step: (n: number) => Tensor, generator: Generator): void {
  const optimizer = new SGD(model.parameters(), { lr: 0.05 });
  model.train();
  for (let i = 0; i < 3; i++) {
    const y = step(8);
    optimizer.zeroGrad();
    mean(mul(y, y)).backward();
    optimizer.step();
  }
  void generator;
}

function evalOutput(model: Module, run: () => Tensor): Float32Array {
  const modes = [...model.namedModules()].map(([, m]) => [m, m.training] as const);
  model.eval();
  try {
    return Float32Array.from(noGrad(run).data);
  } finally {
    for (const [m, training] of modes) m.training = training;
  }
}

async function runOnnx(bytes: Uint8Array, feeds: Record<string, OrtTensor>): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await InferenceSession.create(bytes);
  try {
    const output = (await session.run(feeds))[session.outputNames[0]!]!;
    return { data: output.data as Float32Array, dims: output.dims };
  } finally {
    await session.release();
  }
}

function expectClose(actual: Float32Array, reference: Float32Array): void {
  expect(actual.length).toBe(reference.length);
  const scale = reference.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const worst = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i]!)), 0);
  expect(Number.isFinite(worst) && scale > 0, `finite, non-zero outputs (worst ${worst}, scale ${scale})`).toBe(true);
  expect(worst, `worst |onnx - normkit| ${worst}, max |ref| ${scale}`).toBeLessThanOrEqual(TOLERANCE * scale);
}

const float = (t: Tensor) => new OrtTensor('float32', Float32Array.from(t.data), [...t.shape]);

interface ClassifierCase {
  name: string;
  model: string;
  data: DataSpec;
  norms: Record<string, NormChoice>;
  options?: Record<string, unknown>;
  blockWrapper?: string;
  mask?: boolean;
  lowerings?: Parameters<typeof exportClassifierOnnx>[2] extends infer O ? (O extends { lowerings?: infer L } ? L : never) : never;
  opsets?: number[];
}

const classifierCases: ClassifierCase[] = [
  { name: 'mlp on vectors, batch-norm, tanh', model: 'mlp', data: vectors, norms: { hidden: { name: 'batch-norm' } }, options: { activation: 'tanh' }, opsets: [17, 23] },
  { name: 'mlp on images (flattened), group-norm, gelu', model: 'mlp', data: images, norms: { hidden: { name: 'group-norm', options: { numGroups: 4 } } }, options: { depth: 2, activation: 'gelu' }, opsets: [17, 20] },
  { name: 'mlp on tokens with a padding mask, layer-norm', model: 'mlp', data: tokens, norms: { hidden: { name: 'layer-norm' } }, mask: true },
  { name: 'mlp on tokens without a mask, batch-norm over tokens (channels-first)', model: 'mlp', data: tokens, norms: { hidden: { name: 'batch-norm' } } },
  {
    name: 'mlp with condition features (FiLM from the last 2 features)', model: 'mlp', data: vectors, norms: { hidden: { name: 'film', options: { norm: 'layer' } } },
    options: { conditionFeatures: 2 }, lowerings: conditionalLowerings,
  },
  { name: 'cnn, batch-norm (channels-first), relu', model: 'cnn', data: images, norms: { conv: { name: 'batch-norm' } }, options: { channels: 4 }, opsets: [17, 18, 23] },
  { name: 'cnn, layer-norm per pixel (channels-last, Transpose), gelu, 3 stages', model: 'cnn', data: images, norms: { conv: { name: 'layer-norm' } }, options: { channels: 4, stages: 3, activation: 'gelu' } },
  { name: 'cnn, group-norm, a stage past 2x2 (no pool)', model: 'cnn', data: { ...images, sampleShape: [1, 4, 4] }, norms: { conv: { name: 'group-norm', options: { numGroups: 2 } } }, options: { channels: 4, stages: 3 } },
  { name: 'residual on vectors, batch-norm blocks, layer-norm final', model: 'residual', data: vectors, norms: { block: { name: 'batch-norm' }, final: { name: 'layer-norm' } }, options: { depth: 2 }, opsets: [17, 23] },
  { name: 'residual on tokens with a mask, rms-norm', model: 'residual', data: tokens, norms: { block: { name: 'rms-norm' }, final: { name: 'rms-norm' } }, options: { depth: 2, activation: 'gelu' }, mask: true, opsets: [17, 23] },
  { name: 'residual on images (flattened), instance of group-norm', model: 'residual', data: images, norms: { block: { name: 'group-norm', options: { numGroups: 4 } } }, options: { depth: 2, width: 16 } },
  { name: 'residual, NF blocks (no normalizer)', model: 'residual', data: vectors, norms: {}, options: { depth: 3 }, blockWrapper: 'nf-block', lowerings: normFreeLowerings },
  { name: 'residual, SkipInit blocks', model: 'residual', data: vectors, norms: {}, options: { depth: 2 }, blockWrapper: 'skip-init', lowerings: normFreeLowerings },
  {
    name: 'transformer, pre-LN with QK-norm and a final norm, padding mask', model: 'transformer', data: tokens,
    norms: { block: { name: 'layer-norm' }, qk: { name: 'qk-norm' }, final: { name: 'layer-norm' } }, mask: true, opsets: [17, 20, 23],
  },
  { name: 'transformer, post-LN, rms-norm, relu', model: 'transformer', data: tokens, norms: { block: { name: 'rms-norm' } }, options: { placement: 'post', activation: 'relu' } },
  { name: 'transformer, peri-LN, depth 3', model: 'transformer', data: tokens, norms: { block: { name: 'layer-norm' } }, options: { placement: 'peri', depth: 3 }, mask: true },
  { name: 'transformer, deepnorm', model: 'transformer', data: tokens, norms: { block: { name: 'layer-norm' } }, options: { placement: 'deepnorm' } },
  { name: 'transformer, batch-norm blocks (channels-first, no mask)', model: 'transformer', data: tokens, norms: { block: { name: 'batch-norm' }, final: { name: 'batch-norm' } } },
];

describe('exportClassifierOnnx: every classifier family matches onnxruntime at batch 1 and 7 through one file', () => {
  for (const c of classifierCases) {
    for (const opset of c.opsets ?? [17]) {
      it(`${c.name}, opset ${opset}`, async () => {
        const generator = new Generator(opset + c.name.length);
        const model = build(c.model, c.data, c.norms, c.options, c.blockWrapper) as Classifier;
        const input = (n: number) => ({
          x: randn([n, ...c.data.sampleShape], { mean: 0.3, std: 1.5, generator }),
          ...(c.data.inputKind === 'tokens' && c.mask ? { mask: tokenMask(n, c.data.sampleShape[0]!) } : {}),
        });
        train(model, (n) => model.forward(input(n)), generator);
        const bytes = exportClassifierOnnx(model, c.data, { opset, ...(c.mask ? { mask: true } : {}), ...(c.lowerings ? { lowerings: c.lowerings } : {}) });
        expect(model.training).toBe(true);
        for (const n of [1, 7]) {
          const batch = input(n);
          const reference = evalOutput(model, () => model.forward(batch));
          const { data, dims } = await runOnnx(bytes, { input: float(batch.x), ...(batch.mask ? { mask: float(batch.mask) } : {}) });
          expect([...dims]).toEqual([n, c.data.numClasses]);
          expectClose(data, reference);
        }
      });
    }
  }

  it('a mask handed to a normalizer whose statistics span tokens is refused naming the slot (group-norm on tokens)', () => {
    const model = build('mlp', tokens, { hidden: { name: 'group-norm', options: { numGroups: 4 } } });
    let error: unknown = null;
    try {
      exportClassifierOnnx(model, tokens, { mask: true });
    } catch (caught) {
      error = caught;
    }
    expect(isOnnxExportError(error), String(error)).toBe(true);
    expect(String(error)).toMatch(/module "model\.layers\.0\.norm" \(NormSlot\).*"group-norm", whose statistics span tokens/);
  });

  it('a conditional GAN is refused, pointing to exportGeneratorOnnx', () => {
    const gan = build('conditional-gan', { inputKind: 'vector', sampleShape: [2], numClasses: 3 }, {});
    expect(() => exportClassifierOnnx(gan, vectors)).toThrow(/exportClassifierOnnx: expected a classifier .*exportGeneratorOnnx/);
  });

  it('a block wrapper without its lowerings fails naming the block and where its lowering is', () => {
    const model = build('residual', vectors, {}, { depth: 1 }, 'skip-init');
    expect(() => exportClassifierOnnx(model, vectors)).toThrow(/module "model\.blocks\.0" \(class SkipInit\).*@normkit\/onnx\/norm-free/);
  });
});

// Debian's python3-onnx 1.12 knows opsets up to 17: the engine's opset-17 exports go through the standard
// checker too (the exports at other opsets are validated by onnxruntime above).
const checkerAvailable = onnxCheckerAvailable();

describe('every opset-17 engine export passes onnx.checker.check_model(full_check=True)', () => {
  if (!checkerAvailable && process.env.CI === 'true') {
    it('needs python3-onnx in CI', () => {
      expect.fail('CI=true but /usr/bin/python3 cannot import onnx: .ci/run must install python3-onnx');
    });
    return;
  }
  it.skipIf(!checkerAvailable)('every classifier family and the conditional GAN generator', () => {
    const exported = classifierCases.filter((c) => (c.opsets ?? [17]).includes(17)).map((c) => ({
      name: c.name,
      bytes: exportClassifierOnnx(build(c.model, c.data, c.norms, c.options, c.blockWrapper) as Classifier, c.data, {
        opset: 17, ...(c.mask ? { mask: true } : {}), ...(c.lowerings ? { lowerings: c.lowerings } : {}),
      }),
    }));
    const gan = build('conditional-gan', { inputKind: 'vector', sampleShape: [2], numClasses: 3 }, { generator: { name: 'conditional-batch-norm' } }, { width: 16, depth: 2 });
    exported.push({ name: 'conditional GAN generator', bytes: exportGeneratorOnnx(gan as ConditionalGan, { lowerings: conditionalLowerings }) });
    expect(exported.length).toBeGreaterThan(10);
    checkWithOnnxChecker(exported);
  });
});

describe('exportGeneratorOnnx: the conditional GAN generator (z and int64 labels as inputs) matches onnxruntime', () => {
  const cases: Array<{ name: string; norm: NormChoice; options?: Record<string, unknown> }> = [
    { name: 'plain batch-norm (class as input)', norm: { name: 'batch-norm' } },
    { name: 'conditional-batch-norm (labels)', norm: { name: 'conditional-batch-norm' } },
    { name: 'ada-ln (one-hot condition), no class input', norm: { name: 'ada-ln' }, options: { generatorClassInput: false } },
    { name: 'film with batch statistics', norm: { name: 'film', options: { norm: 'batch' } } },
  ];
  for (const c of cases) {
    it(`${c.name}, batch 1 and 7`, async () => {
      const generator = new Generator(c.name.length);
      const data: DataSpec = { inputKind: 'vector', sampleShape: [2], numClasses: 3 };
      const gan = build('conditional-gan', data, { generator: c.norm }, { width: 16, depth: 2, ...c.options }) as ConditionalGan;
      const sample = (n: number) => ({ z: randn([n, gan.latentDim], { generator }), labels: Array.from(randint(0, 3, [n], { generator }).data) });
      train(gan, (n) => {
        const { z, labels } = sample(n);
        return gan.generate(z, labels);
      }, generator);
      const bytes = exportGeneratorOnnx(gan, { lowerings: conditionalLowerings });
      for (const n of [1, 7]) {
        const { z, labels } = sample(n);
        const reference = evalOutput(gan, () => gan.generate(z, labels));
        const { data: output, dims } = await runOnnx(bytes, { z: float(z), labels: new OrtTensor('int64', BigInt64Array.from(labels, (v) => BigInt(v)), [n]) });
        expect([...dims]).toEqual([n, 2]);
        expectClose(output, reference);
      }
    });
  }
});

describe('every registered normalizer without a condition exports inside the engine models (both slot layouts)', () => {
  // Options that fit these small widths (8 features, 4 channels); each normalizer in turn fills
  // the MLP's token slots (channels-first ones through Transpose) and the CNN's image slots
  // (channels-last ones through Transpose).
  const fitting: Record<string, Record<string, unknown>> = { 'group-norm': { numGroups: 2 }, 'evo-norm-s0': { groups: 2 } };
  const shapes = [
    { model: 'mlp', role: 'hidden', data: tokens, options: { width: 8, depth: 2 } },
    { model: 'cnn', role: 'conv', data: { ...images, sampleShape: [2, 6, 6] }, options: { channels: 4 } },
  ];
  it('each matches onnxruntime at batch 3', async () => {
    const names = list({ kind: 'normalizer' }).map((p) => p.name).filter((name) => {
      const traits = normalizerTraits(name, fitting[name]);
      return !traits.needsCondition && !traits.needsLabels;
    });
    expect(names.length).toBeGreaterThanOrEqual(20);
    for (const name of names) {
      for (const shape of shapes) {
        const model = build(shape.model, shape.data, { [shape.role]: { name, options: fitting[name] ?? {} } }, shape.options) as Classifier;
        const x = randn([3, ...shape.data.sampleShape], { generator: new Generator(name.length) });
        train(model, (n) => model.forward({ x: randn([n, ...shape.data.sampleShape], { generator: new Generator(n) }) }), new Generator(0));
        const bytes = exportClassifierOnnx(model, shape.data, { lowerings: switchableLowerings });
        const reference = evalOutput(model, () => model.forward({ x }));
        const { data } = await runOnnx(bytes, { input: float(x) });
        try {
          expectClose(data, reference);
        } catch (error) {
          throw new Error(`${name} in ${shape.model}: ${String(error)}`, { cause: error });
        }
      }
    }
  });
});
