import { afterEach, describe, expect, it } from 'vitest';
import {
  Conv2d, OptionError, get, list, registerAll, registerParametrization, resolveOptions, unregister,
  type GradientTransformPlugin, type WeightParametrizationPlugin,
} from '@normkit/tensor';
import { WeightStandardization } from '@normkit/weight';
import { expectClose } from '@normkit/testkit';
import {
  adaptiveGradientClipPlugin, clipGradNormPlugin, clipGradValuePlugin, normFreePlugins, scaledWeightStandardizationPlugin,
} from './plugins';
import { NONLINEARITY_GAMMA, ScaledStdConv2d } from './scaled-weight-standardization';
import { gaussian, randomEntry } from './test-support';

describe('norm-free plugins in the registry', () => {
  afterEach(() => {
    for (const plugin of normFreePlugins) unregister(plugin.name);
  });

  it('register together, listed by family and kind', () => {
    registerAll(normFreePlugins);
    expect(list({ family: 'norm-free' }).map((p) => p.name)).toEqual([
      'adaptive-gradient-clip', 'clip-grad-norm', 'clip-grad-value', 'scaled-weight-standardization',
    ]);
    expect(list({ kind: 'gradient-transform', family: 'norm-free' })).toHaveLength(3);
    expect(get('adaptive-gradient-clip')).toBe(adaptiveGradientClipPlugin);
  });

  it('option schemas give the documented defaults and refuse out-of-range values', () => {
    const defaults = (plugin: GradientTransformPlugin | WeightParametrizationPlugin) => resolveOptions(plugin.name, plugin.options, {});
    expect(defaults(adaptiveGradientClipPlugin)).toEqual({ clipping: 0.01, eps: 1e-3, excludeFinalLayer: false, nonFinite: 'error' });
    expect(defaults(clipGradNormPlugin)).toEqual({ maxNorm: 1, normType: 2, nonFinite: 'error' });
    expect(defaults(clipGradValuePlugin)).toEqual({ value: 1, nonFinite: 'error' });
    expect(defaults(scaledWeightStandardizationPlugin)).toEqual({ nonlinearity: 'identity', eps: 1e-6, epsMode: 'add', dim: 0 });
    expect(() => resolveOptions('agc', adaptiveGradientClipPlugin.options, { clipping: 0 })).toThrow(OptionError);
    expect(() => resolveOptions('norm', clipGradNormPlugin.options, { maxNorm: -1 })).toThrow(OptionError);
    expect(() => resolveOptions('norm', clipGradNormPlugin.options, { normType: 0 })).toThrow(OptionError);
    expect(() => resolveOptions('value', clipGradValuePlugin.options, { value: 0 })).toThrow(OptionError);
    expect(() => resolveOptions('ws', scaledWeightStandardizationPlugin.options, { nonlinearity: 'swish' })).toThrow(OptionError);
  });

  it('create builds the transforms with the resolved options (normType null: the max norm)', () => {
    registerAll(normFreePlugins);
    const plugin = get('clip-grad-norm') as GradientTransformPlugin;
    const transform = plugin.create(resolveOptions(plugin.name, plugin.options, { maxNorm: 0.5, normType: null })) as unknown as { options: { normType: number } };
    expect(transform.options.normType).toBe(Infinity);
    const agc = adaptiveGradientClipPlugin.create(resolveOptions('a', adaptiveGradientClipPlugin.options, { clipping: 0.05, excludeFinalLayer: true }));
    expect(agc.name).toBe('adaptive-gradient-clip');
    const entries = [randomEntry('w', [3, 2], 1, 10), randomEntry('head.w', [2, 3], 2, 10)];
    const headBefore = Array.from(entries[1]!.parameter.grad!.data);
    expect(agc.apply(entries)).toEqual({ units: 3, clippedUnits: 3, excludedParameters: 1 });
    expect(Array.from(entries[1]!.parameter.grad!.data)).toEqual(headBefore);
  });

  it('the scaled-WS plugin builds @normkit/weight\'s WeightStandardization with gain and gamma / sqrt(fanIn)', () => {
    const plugin = scaledWeightStandardizationPlugin;
    const conv = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, dtype: 'float64' });
    const parametrization = plugin.create(conv, 'weight', resolveOptions(plugin.name, plugin.options, { nonlinearity: 'silu' }));
    expect(parametrization).toBeInstanceOf(WeightStandardization);
    const ws = parametrization;
    expect(ws.scale).toBe(NONLINEARITY_GAMMA.silu / Math.sqrt(27));
    expect(ws.gain!.shape).toEqual([4, 1, 1, 1]);
    const layer = new ScaledStdConv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, nonlinearity: 'silu', dtype: 'float64' });
    layer.weight.data.set(conv.weight.data);
    layer.bias!.data.set(conv.bias!.data);
    registerParametrization(conv, 'weight', parametrization);
    const x = gaussian([1, 3, 5, 5], 1);
    expectClose(conv.forward(x), layer.forward(x), 1e-14, 1e-12);
  });
});
