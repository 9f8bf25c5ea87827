import { afterEach, describe, expect, it } from 'vitest';
import {
  Conv2d, Generator, Linear, OptionError, get, gradcheck, graphOps, isParametrized, list, parametrizationsOf, registerAll, registerParametrization,
  removeParametrizations, resolveOptions, unregister, type WeightParametrizationPlugin,
} from '@normkit/tensor';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { spectralNormPlugin, weightNormPlugin, weightPlugins, weightStandardizationPlugin } from './plugins';
import { SpectralNorm, spectralNorm, spectralNormOf, spectralNormWeight } from './spectral-norm';
import { gaussian } from './test-support';
import { WeightNorm, weightNorm, weightNormWeight } from './weight-norm';
import { WeightStandardization, standardizeWeight, weightStandardization } from './weight-standardization';

describe('weight plugins in the registry', () => {
  afterEach(() => {
    for (const plugin of weightPlugins) unregister(plugin.name);
  });

  it('register together, listed by family and kind', () => {
    registerAll(weightPlugins);
    expect(list({ family: 'weight' }).map((p) => p.name)).toEqual(['spectral-norm', 'weight-norm', 'weight-standardization']);
    expect(list({ kind: 'weight-parametrization', family: 'weight' })).toHaveLength(3);
    expect(get('spectral-norm')).toBe(spectralNormPlugin);
  });

  it('build parametrizations from validated options, registered with the core registerParametrization', () => {
    registerAll(weightPlugins);
    const plugin = get('weight-standardization') as WeightParametrizationPlugin;
    const conv = new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 2 });
    const parametrization = plugin.create(conv, 'weight', resolveOptions(plugin.name, plugin.options, { gain: true }));
    expect(parametrization).toBeInstanceOf(WeightStandardization);
    registerParametrization(conv, 'weight', parametrization);
    expect(Object.keys(conv.stateDict())).toEqual(['bias', 'parametrizations.weight.original', 'parametrizations.weight.0.gain']);
  });

  it('option schemas give defaults and refuse out-of-range values', () => {
    expect(resolveOptions(spectralNormPlugin.name, spectralNormPlugin.options, {})).toEqual({ nPowerIterations: 1, eps: 1e-12, dim: null, warmUpIterations: 100 });
    expect(resolveOptions(weightNormPlugin.name, weightNormPlugin.options, {})).toEqual({ dim: 0 });
    expect(resolveOptions(weightStandardizationPlugin.name, weightStandardizationPlugin.options, {})).toEqual({
      eps: 1e-5, epsMode: 'add', dim: 0, gain: false, scale: 1,
    });
    expect(() => resolveOptions(spectralNormPlugin.name, spectralNormPlugin.options, { nPowerIterations: 0 })).toThrow(OptionError);
    expect(() => resolveOptions(spectralNormPlugin.name, spectralNormPlugin.options, { eps: 0 })).toThrow(OptionError);
    expect(() => resolveOptions(weightNormPlugin.name, weightNormPlugin.options, { dim: -1 })).toThrow(OptionError);
    expect(() => resolveOptions(weightStandardizationPlugin.name, weightStandardizationPlugin.options, { epsMode: 'min' })).toThrow(OptionError);
  });

  it('create refuses a tensor already parametrized with the same plugin', () => {
    const layer = spectralNorm(new Linear({ inFeatures: 3, outFeatures: 2 }));
    expect(() => spectralNormPlugin.create(layer, 'weight', resolveOptions(spectralNormPlugin.name, spectralNormPlugin.options, {}))).toThrow(
      /already at index 0/,
    );
  });
});

describe('chaining and removal', () => {
  const build = () => {
    const layer = new Linear({ inFeatures: 5, outFeatures: 4, dtype: 'float64', generator: new Generator(1) });
    weightNorm(layer);
    spectralNorm(layer);
    weightStandardization(layer, { gain: true });
    return layer;
  };

  it("chains weight norm, spectral norm and weight standardization with PyTorch's chain keys", () => {
    const layer = build();
    expect(Object.keys(layer.stateDict())).toEqual([
      'bias',
      'parametrizations.weight.original0',
      'parametrizations.weight.original1',
      'parametrizations.weight.1._u',
      'parametrizations.weight.1._v',
      'parametrizations.weight.2.gain',
    ]);
    const chain = parametrizationsOf(layer, 'weight')!;
    expect([chain.at(0), chain.at(1), chain.at(2)].map((p) => p.constructor)).toEqual([WeightNorm, SpectralNorm, WeightStandardization]);
  });

  it('computes WS(SN(WN(g, v))) as three fused nodes, and gradients reach g, v and the gain', () => {
    const layer = build().eval();
    const chain = parametrizationsOf(layer, 'weight')!;
    const [g, v] = chain.originals;
    const sn = chain.at(1) as SpectralNorm;
    const ws = chain.at(2) as WeightStandardization;
    ws.gain!.data.set([0.5, 1, 1.5, 2]);
    const direct = standardizeWeight(spectralNormWeight(weightNormWeight(g!, v!), sn.getBuffer('_u')!, sn.getBuffer('_v')!).output, { gain: ws.gain });
    expectClose(layer.weight, direct, 1e-14, 1e-12);
    expect(graphOps(layer.weight)).toEqual(['weightStandardization', 'spectralNorm', 'weightNorm']);
    const x = gaussian([2, 5], 2, true);
    expectGradcheck(gradcheck(() => layer.forward(x), [g!, v!, ws.gain!, x]));
  });

  it('the spectral norm registered second warms up on the weight-norm output, changing no earlier state', () => {
    const layer = new Linear({ inFeatures: 5, outFeatures: 4, dtype: 'float64', generator: new Generator(3) });
    weightNorm(layer);
    const [g, v] = parametrizationsOf(layer, 'weight')!.originals.map((t) => t.clone());
    spectralNorm(layer);
    expectClose(parametrizationsOf(layer, 'weight')!.originals[0]!, g!, 0, 0);
    expectClose(parametrizationsOf(layer, 'weight')!.originals[1]!, v!, 0, 0);
    layer.eval();
    expect(spectralNormOf(layer)!.sigma).toBeGreaterThan(0);
  });

  it('removal (leaveParametrized) leaves the whole chain value as a plain weight; the module works as before', () => {
    const layer = build().eval();
    const value = layer.weight.clone();
    const x = gaussian([3, 5], 4);
    const before = layer.forward(x);
    removeParametrizations(layer, 'weight', { leaveParametrized: true });
    expect(isParametrized(layer)).toBe(false);
    expectClose(layer.weight, value, 0, 0);
    expectClose(layer.forward(x), before, 0, 0);
    expect(Object.keys(layer.stateDict())).toEqual(['bias', 'weight']);
  });

  it('weight-norm and spectral-norm parametrized tensors round-trip through a state dict (eval reads bit-identical)', () => {
    const trained = build();
    trained.train();
    for (let i = 0; i < 3; i++) void trained.weight;
    const fresh = new Linear({ inFeatures: 5, outFeatures: 4, dtype: 'float64', generator: new Generator(99) });
    weightNorm(fresh);
    spectralNorm(fresh);
    weightStandardization(fresh, { gain: true });
    fresh.loadStateDict(trained.stateDict());
    trained.eval();
    fresh.eval();
    expect(Array.from(fresh.weight.data)).toEqual(Array.from(trained.weight.data));
  });
});
