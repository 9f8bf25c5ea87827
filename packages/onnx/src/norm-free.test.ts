import { NFResidualBlock, ScaledStdConv2d, ScaledStdLinear, SkipInit, nfResidualBlocks } from '@normkit/norm-free';
import { Flatten, Generator, Linear, ReLU, Sequential, randn, type Module } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from './index';
import { normFreeLowerings } from './norm-free';
import { GlobalAvgPool2d, poolLowerings, train } from './test-models';
import { MODEL_TOLERANCE, NORMALIZER_TOLERANCE, checkWithOnnxChecker, expectOnnxMatches, onnxCheckerAvailable } from './test-support';

const lowerings = [...normFreeLowerings, ...poolLowerings];

/** Moves every parameter off its initialisation (SkipInit's zero alpha would hide the branch). */
function perturb(module: Module, generator: Generator): Module {
  for (const [, p] of module.namedParameters()) p.data.set(randn(p.shape, { mean: 0.3, std: 0.5, generator }).data.map((v, i) => p.data[i]! + v));
  return module;
}

const conv = (g: Generator, c = 4) => new ScaledStdConv2d({ inChannels: c, outChannels: c, kernelSize: 3, padding: 1, nonlinearity: 'relu', generator: g });

/** A residual branch relu -> conv -> relu -> conv, channels kept. */
const branch = (g: Generator, c = 4) => new Sequential(new ReLU(), conv(g, c), new ReLU(), conv(g, c));

const cases: Array<{ name: string; shape: number[]; build(g: Generator): Module }> = [
  { name: 'ScaledStdConv2d', shape: [2, 3, 6, 5], build: (g) => perturb(new ScaledStdConv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, nonlinearity: 'relu', generator: g }), g) },
  { name: 'ScaledStdLinear on [N, L, in]', shape: [2, 3, 6], build: (g) => perturb(new ScaledStdLinear({ inFeatures: 6, outFeatures: 5, nonlinearity: 'gelu', generator: g }), g) },
  { name: 'ScaledStdLinear on [N, in]', shape: [2, 6], build: (g) => perturb(new ScaledStdLinear({ inFeatures: 6, outFeatures: 5, generator: g }), g) },
  { name: 'SkipInit', shape: [2, 4, 5, 5], build: (g) => perturb(new SkipInit(branch(g)), g) },
  { name: 'NFResidualBlock beta 1.3, alpha 0.2', shape: [2, 4, 5, 5], build: (g) => perturb(new NFResidualBlock(branch(g), { beta: 1.3 }), g) },
  { name: 'NFResidualBlock with skipInit gain', shape: [2, 4, 5, 5], build: (g) => perturb(new NFResidualBlock(branch(g), { expectedVariance: 1.04, skipInit: true }), g) },
  {
    name: 'NFResidualBlock transition (strided shortcut)',
    shape: [2, 4, 6, 6],
    build: (g) => perturb(new NFResidualBlock(
      new Sequential(new ReLU(), new ScaledStdConv2d({ inChannels: 4, outChannels: 6, kernelSize: 3, stride: 2, padding: 1, generator: g })),
      { alpha: 0.3, expectedVariance: 1.5, shortcut: new ScaledStdConv2d({ inChannels: 4, outChannels: 6, kernelSize: 1, stride: 2, generator: g }) },
    ), g),
  },
];

/** A small NF-ResNet: scaled-WS stem, three NF blocks with SkipInit gains (variance tracked), pool, head. Input [N, 3, 8, 8]. */
function smallNfResNet(g: Generator): Sequential {
  return new Sequential(
    new ScaledStdConv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1, nonlinearity: 'identity', generator: g }),
    ...nfResidualBlocks([branch(g, 8), branch(g, 8), branch(g, 8)], { alpha: 0.2, skipInit: true }),
    new ReLU(),
    new GlobalAvgPool2d(),
    new Flatten(),
    new Linear({ inFeatures: 8, outFeatures: 5, generator: g }),
  );
}

describe('@normkit/norm-free layers and blocks match onnxruntime, batch 1 and 7 through one file', () => {
  for (const c of cases) {
    for (const opset of [17, 23]) {
      it(`${c.name}, opset ${opset}`, async () => {
        const g = new Generator(opset + c.name.length);
        const module = c.build(g);
        const bytes = exportOnnx(module, { inputs: [{ shape: c.shape }], opset, dynamicAxes: { input: { 0: 'batch' } }, lowerings });
        for (const n of [1, 7]) await expectOnnxMatches(module, bytes, randn([n, ...c.shape.slice(1)], { std: 1.5, generator: g }), NORMALIZER_TOLERANCE);
      });
    }
  }

  for (const opset of [17, 18, 21, 23]) {
    it(`a trained small NF-ResNet (scaled WS convs, NF blocks with SkipInit gains), opset ${opset}`, async () => {
      const g = new Generator(300 + opset);
      const model = smallNfResNet(g);
      train(model, [4, 3, 8, 8], g);
      expect(Math.abs((model.at(1) as NFResidualBlock).skipGain!.data[0]!)).toBeGreaterThan(0);
      const bytes = exportOnnx(model, { inputs: [{ shape: [2, 3, 8, 8] }], opset, dynamicAxes: { input: { 0: 'batch' } }, lowerings });
      for (const n of [1, 7]) await expectOnnxMatches(model, bytes, randn([n, 3, 8, 8], { generator: g }), MODEL_TOLERANCE);
    });
  }

  it.skipIf(!onnxCheckerAvailable())('opset-17 exports pass onnx.checker (full_check)', () => {
    const g = new Generator(1);
    const models = cases.map((c) => ({ name: c.name, bytes: exportOnnx(c.build(g), { inputs: [{ shape: c.shape }], dynamicAxes: { input: { 0: 'batch' } }, lowerings }) }));
    models.push({ name: 'nf-resnet', bytes: exportOnnx(smallNfResNet(g), { inputs: [{ shape: [2, 3, 8, 8] }], dynamicAxes: { input: { 0: 'batch' } }, lowerings }) });
    checkWithOnnxChecker(models);
  });
});

