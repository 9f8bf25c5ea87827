import { Conv2d, Generator, Linear, Sequential, ReLU, randn, type Module } from '@normkit/tensor';
import { WSConv2d, WSLinear, spectralNorm, weightNorm, weightStandardization } from '@normkit/weight';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from './index';
import { weightLowerings } from './weight';
import { NORMALIZER_TOLERANCE, expectOnnxMatches } from './test-support';

interface WeightCase {
  name: string;
  shape: number[];
  build(g: Generator): Module;
}

const cases: WeightCase[] = [
  { name: 'Linear + weightNorm', shape: [2, 5], build: (g) => weightNorm(new Linear({ inFeatures: 5, outFeatures: 3, generator: g })) },
  { name: 'Linear + spectralNorm', shape: [2, 5], build: (g) => spectralNorm(new Linear({ inFeatures: 5, outFeatures: 3, generator: g })) },
  { name: 'Conv2d + spectralNorm', shape: [2, 3, 5, 5], build: (g) => spectralNorm(new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, generator: g })) },
  { name: 'Conv2d + weightNorm', shape: [2, 3, 5, 5], build: (g) => weightNorm(new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, generator: g })) },
  { name: 'Conv2d + weightStandardization', shape: [2, 3, 5, 5], build: (g) => weightStandardization(new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, generator: g })) },
  { name: 'WSConv2d with gain', shape: [2, 3, 5, 5], build: (g) => new WSConv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, gain: true, generator: g }) },
  { name: 'WSLinear on [N, L, in]', shape: [2, 4, 5], build: (g) => new WSLinear({ inFeatures: 5, outFeatures: 3, generator: g }) },
];

describe('weight parametrizations fold into plain weights, computed as the eval forward computes them', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const g = new Generator(11);
      const model = new Sequential(c.build(g) as never, new ReLU());
      // Training forwards first: spectral norm's power iteration moves u and v away from their start.
      for (let i = 0; i < 3; i++) model.forward(randn(c.shape, { generator: g }));
      const before = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, Array.from(t.data)]));
      const bytes = exportOnnx(model, { inputs: [{ shape: c.shape }], dynamicAxes: { input: { 0: 'batch' } }, lowerings: weightLowerings });
      const after = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, Array.from(t.data)]));
      expect(after).toEqual(before);
      for (const n of [1, 7]) await expectOnnxMatches(model, bytes, randn([n, ...c.shape.slice(1)], { generator: g }), NORMALIZER_TOLERANCE);
    });
  }
});
