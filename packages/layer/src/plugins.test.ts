import { afterEach, describe, expect, it } from 'vitest';
import { OptionError, RegistryError, create, createByName, defaultOptions, get, list, randn, registerAll, unregister, type NormalizerPlugin } from '@normkit/tensor';
import { AdaLN, AdaLNZero } from './ada-ln';
import { LayerNorm } from './layer-norm';
import { adaLNPlugin, adaLNZeroPlugin, layerNormPlugin, layerPlugins, qkNormPlugin, rmsNormPlugin } from './plugins';
import { RMSNorm } from './rms-norm';

afterEach(() => {
  for (const plugin of layerPlugins) unregister(plugin.name);
});

describe('layer plugins', () => {
  it('register explicitly as one family with kebab-case names', () => {
    expect(list({ family: 'layer' })).toEqual([]);
    registerAll(layerPlugins);
    expect(list({ family: 'layer' }).map((p) => p.name)).toEqual(['ada-ln', 'ada-ln-zero', 'dyt', 'l2-norm', 'layer-norm', 'layer-scale', 'qk-norm', 'rms-norm', 'scale-norm']);
    expect(get('layer-norm')).toBe(layerNormPlugin);
    expect(() => registerAll(layerPlugins)).toThrow(RegistryError);
  });

  it('create builds each module from the slot with resolved options', () => {
    registerAll(layerPlugins);
    const layer = create('layer-norm', { numFeatures: 16 }, { eps: 1e-6, bias: false });
    expect(layer).toBeInstanceOf(LayerNorm);
    expect(layer.eps).toBe(1e-6);
    expect(Object.keys(layer.stateDict())).toEqual(['weight']);
    const wide = create('layer-norm', { numFeatures: 4, normalizedShape: [3, 4] });
    expect(wide.normalizedShape).toEqual([3, 4]);
    const rms = create('rms-norm', { numFeatures: 16 }, { eps: null });
    expect(rms).toBeInstanceOf(RMSNorm);
    expect(rms.eps).toBeNull();
    expect(create('rms-norm', { numFeatures: 16 }).eps).toBe(1e-6);
    const qk = create('qk-norm', { numFeatures: 8 }, { kind: 'l2' });
    expect([qk.kind, qk.headDim, qk.eps]).toEqual(['l2', 8, 1e-6]);
    expect(create('qk-norm', { numFeatures: 8 }, { kind: 'layer', eps: 1e-3 }).eps).toBe(1e-3);
    expect(create('ada-ln', { numFeatures: 8, conditionDim: 4 })).toBeInstanceOf(AdaLN);
    const zero = create('ada-ln-zero', { numFeatures: 8, conditionDim: 4 });
    expect(zero).toBeInstanceOf(AdaLNZero);
    expect(zero.forward(randn([2, 3, 8]), { condition: randn([2, 4]) }).shape).toEqual([2, 3, 8]);
  });

  it('traits: per sample, channels-last, masks accepted (not by qk-norm), conditions needed by the AdaLN pair', () => {
    const traits = (plugin: NormalizerPlugin) => plugin.traits(defaultOptions(plugin.options));
    for (const plugin of layerPlugins) {
      expect(traits(plugin)).toMatchObject({ batchDependent: false, needsLabels: false, hasRunningStats: false, layout: 'channels-last' });
    }
    expect(traits(layerNormPlugin)).toEqual({ batchDependent: false, needsCondition: false, needsLabels: false, acceptsMask: true, hasRunningStats: false, layout: 'channels-last' });
    expect(traits(rmsNormPlugin).acceptsMask).toBe(true);
    expect(traits(qkNormPlugin).acceptsMask).toBe(false);
    expect(traits(adaLNPlugin).needsCondition).toBe(true);
    expect(traits(adaLNZeroPlugin).needsCondition).toBe(true);
  });

  it('a dtype option builds float64 parameters (every plugin with parameters has one)', () => {
    registerAll(layerPlugins);
    for (const plugin of layerPlugins) {
      if (!('dtype' in plugin.options)) {
        expect(createByName(plugin.name, { numFeatures: 8 }).parameters(), plugin.name).toEqual([]);
        continue;
      }
      const norm = createByName(plugin.name, { numFeatures: 8, conditionDim: 4 }, { dtype: 'float64' });
      for (const p of norm.parameters()) expect(p.dtype, plugin.name).toBe('float64');
    }
  });

  it('bad options and slots fail with typed errors naming the plugin', () => {
    registerAll(layerPlugins);
    expect(() => create('layer-norm', { numFeatures: 8 }, { eps: 0 })).toThrow(OptionError);
    expect(() => create('layer-norm', { numFeatures: 8 }, { eps: 0 })).toThrow(/^create\("layer-norm"\): expected option "eps" to be a number > 0/);
    // Unknown options and values outside the schema do not compile; at run time they are refused too.
    expect(() => createByName('rms-norm', { numFeatures: 8 }, { center: true })).toThrow(/unknown option "center"/);
    expect(() => createByName('qk-norm', { numFeatures: 8 }, { kind: 'batch' })).toThrow(OptionError);
    expect(() => create('qk-norm', { numFeatures: 8, normalizedShape: [2, 4] })).toThrow(/a single normalised dim/);
    expect(() => create('ada-ln', { numFeatures: 8 })).toThrow(/create\("ada-ln"\): expected slot\.conditionDim \(the width of the condition vector\), got slot\.conditionDim = undefined/);
    expect(() => create('layer-norm', { numFeatures: 0 })).toThrow(OptionError);
  });
});
