import { afterEach, describe, expect, it } from 'vitest';
import { OptionError, RegistryError, create, createByName, get, list, randn, registerAll, resolveOptions, unregister, type NormalizerPlugin } from '@normkit/tensor';
import { ConditionalBatchNorm } from './conditional-batch-norm';
import { FiLM } from './film';
import { conditionalBatchNormPlugin, conditionalPlugins, filmPlugin, spadePlugin } from './plugins';
import { SPADE } from './spade';

afterEach(() => {
  for (const plugin of conditionalPlugins) unregister(plugin.name);
});

const slot = { numFeatures: 4, numClasses: 3, conditionDim: 5, conditionChannels: 2 };

describe('conditional plugins', () => {
  it('register explicitly as one family with kebab-case names', () => {
    expect(list({ family: 'conditional' })).toEqual([]);
    registerAll(conditionalPlugins);
    expect(list({ family: 'conditional' }).map((p) => p.name)).toEqual(['conditional-batch-norm', 'film', 'spade']);
    expect(get('spade')).toBe(spadePlugin);
    expect(() => registerAll(conditionalPlugins)).toThrow(RegistryError);
  });

  it('create builds each module from the slot with resolved options', () => {
    registerAll(conditionalPlugins);
    const cbn = create('conditional-batch-norm', slot, { momentum: null, eps: 1e-3 });
    expect(cbn).toBeInstanceOf(ConditionalBatchNorm);
    expect([cbn.numFeatures, cbn.numClasses, cbn.momentum, cbn.eps]).toEqual([4, 3, null, 1e-3]);
    expect(cbn.forward(randn([2, 4, 3]), { labels: [2, 0] }).shape).toEqual([2, 4, 3]);
    const spade = create('spade', slot, { hiddenChannels: 8, kernelSize: 1, paramFreeNorm: 'instance' });
    expect(spade).toBeInstanceOf(SPADE);
    expect([spade.normChannels, spade.labelChannels, spade.hiddenChannels, spade.kernelSize, spade.paramFreeNorm]).toEqual([4, 2, 8, 1, 'instance']);
    expect(create('spade', slot).hiddenChannels).toBe(128);
    const film = create('film', slot, { hidden: 7, norm: 'layer' });
    expect(film).toBeInstanceOf(FiLM);
    expect([film.numFeatures, film.conditionDim, film.hidden, film.norm]).toEqual([4, 5, 7, 'layer']);
    expect(create('film', slot).hidden).toBeNull();
    expect(film.forward(randn([2, 4]), { condition: randn([2, 5]) }).shape).toEqual([2, 4]);
  });

  it('traits: labels for CBN, a condition for SPADE and FiLM; batch statistics decide batch dependence and running statistics', () => {
    const traits = (plugin: NormalizerPlugin, options: Record<string, unknown> = {}) => plugin.traits(resolveOptions(plugin.name, plugin.options, options));
    for (const plugin of conditionalPlugins) expect(traits(plugin).layout).toBe('channels-first');
    expect(traits(conditionalBatchNormPlugin)).toEqual({
      batchDependent: true, needsCondition: false, needsLabels: true, acceptsMask: true, hasRunningStats: true, layout: 'channels-first',
    });
    expect(traits(conditionalBatchNormPlugin, { trackRunningStats: false }).hasRunningStats).toBe(false);
    expect(traits(spadePlugin)).toEqual({
      batchDependent: true, needsCondition: true, needsLabels: false, acceptsMask: false, hasRunningStats: true, layout: 'channels-first',
    });
    expect(traits(spadePlugin, { paramFreeNorm: 'instance' })).toMatchObject({ batchDependent: false, hasRunningStats: false });
    expect(traits(filmPlugin)).toEqual({
      batchDependent: false, needsCondition: true, needsLabels: false, acceptsMask: false, hasRunningStats: false, layout: 'channels-first',
    });
    expect(traits(filmPlugin, { norm: 'batch' })).toMatchObject({ batchDependent: true, hasRunningStats: true });
    expect(traits(filmPlugin, { norm: 'layer' })).toMatchObject({ batchDependent: false, hasRunningStats: false });
  });

  it('a dtype option builds float64 parameters and buffers', () => {
    registerAll(conditionalPlugins);
    for (const plugin of conditionalPlugins) {
      const norm = createByName(plugin.name, slot, { dtype: 'float64', ...(plugin === filmPlugin ? { norm: 'batch', hidden: 3 } : {}) });
      const tensors = [...norm.parameters(), ...[...norm.namedBuffers()].filter(([name]) => !name.endsWith('num_batches_tracked')).map(([, t]) => t)];
      expect(tensors.length).toBeGreaterThan(0);
      for (const t of tensors) expect(t.dtype, plugin.name).toBe('float64');
    }
  });

  it('a slot without what the plugin needs, and bad options, fail with typed errors naming the plugin', () => {
    registerAll(conditionalPlugins);
    expect(() => create('conditional-batch-norm', { numFeatures: 4 })).toThrow(/create\("conditional-batch-norm"\): expected slot\.numClasses \(.*\), got slot\.numClasses = undefined/);
    expect(() => create('spade', { numFeatures: 4 })).toThrow(/create\("spade"\): expected slot\.conditionChannels \(.*\), got slot\.conditionChannels = undefined/);
    expect(() => create('film', { numFeatures: 4 })).toThrow(/create\("film"\): expected slot\.conditionDim \(.*\), got slot\.conditionDim = undefined/);
    expect(() => createByName('film', slot, { norm: 'group' })).toThrow(OptionError);
    expect(() => create('spade', slot, { kernelSize: 4 })).toThrow(/odd kernelSize/);
    expect(() => create('conditional-batch-norm', slot, { eps: 0 })).toThrow(OptionError);
  });
});
