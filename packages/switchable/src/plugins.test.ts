import { batchPlugins } from '@normkit/batch';
import { groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import {
  OptionError, RegistryError, create, createByName, get, gradcheck, graphOps, has, list, randn, register, registerAll, unregister,
} from '@normkit/tensor';
import { expectGradcheck } from '@normkit/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { NormalizerMixture } from './normalizer-mixture';
import { defineMixturePlugin, normalizerMixturePlugin, switchableNormPlugin, switchablePlugins } from './plugins';
import { SwitchableNorm } from './switchable-norm';

const others = [...batchPlugins, ...groupPlugins, ...layerPlugins];

afterEach(() => {
  for (const plugin of [...switchablePlugins, ...others]) unregister(plugin.name);
  unregister('ln-or-rms');
});

describe('switchable family plugins', () => {
  it('register together and are listed under the family', () => {
    registerAll(switchablePlugins);
    expect(list({ family: 'switchable' }).map((p) => p.name)).toEqual(['normalizer-mixture', 'switchable-norm']);
    expect(get('switchable-norm')).toBe(switchableNormPlugin);
    expect(() => registerAll(switchablePlugins)).toThrow(RegistryError);
  });

  it('switchable-norm: builds a configured SwitchableNorm by name, one fused node, with traits following usingBatchStats', () => {
    register(switchableNormPlugin);
    const sn = create('switchable-norm', { numFeatures: 4 }, { momentum: 0.2, dtype: 'float64' });
    expect(sn).toBeInstanceOf(SwitchableNorm);
    expect([sn.momentum, sn.eps, sn.usingBatchStats, sn.usingMovingAverage, sn.dtype]).toEqual([0.2, 1e-5, true, true, 'float64']);
    const x = randn([2, 4, 3], { dtype: 'float64', requiresGrad: true });
    expect(graphOps(sn.forward(x))).toEqual(['switchableNorm']);
    expectGradcheck(gradcheck((xx) => sn.forward(xx), [x, ...sn.parameters()]));
    const options = { eps: 1e-5, momentum: 0.1, usingBatchStats: true, usingMovingAverage: true, dtype: 'float32' } as const;
    const base = { needsCondition: false, needsLabels: false, acceptsMask: false, layout: 'channels-first' };
    expect(switchableNormPlugin.traits(options)).toEqual({ ...base, batchDependent: true, hasRunningStats: true });
    expect(switchableNormPlugin.traits({ ...options, usingBatchStats: false })).toEqual({ ...base, batchDependent: false, hasRunningStats: false });
    expect(() => create('switchable-norm', { numFeatures: 4 }, { momentum: 2 })).toThrow(OptionError);
    expect(() => createByName('switchable-norm', { numFeatures: 4 }, { affine: false })).toThrow(/unknown option "affine"/);
  });

  it('normalizer-mixture: mixes BatchNorm, InstanceNorm and LayerNorm over (C, *) once their families are registered', () => {
    register(normalizerMixturePlugin);
    // Not registered yet: a clear error listing what is.
    expect(() => create('normalizer-mixture', { numFeatures: 4 })).toThrow(
      /candidate 0: expected a registered normalizer name \(known: normalizer-mixture\), got "batch-norm"\. "batch-norm" is in @normkit\/batch: registerAll\(batchPlugins\)/,
    );
    registerAll(others);
    const mixture = create('normalizer-mixture', { numFeatures: 4 }, { temperature: 0.5 });
    expect(mixture).toBeInstanceOf(NormalizerMixture);
    expect(mixture.candidateNames).toEqual(['batch-norm', 'instance-norm', 'group-norm']);
    expect(mixture.temperature).toBe(0.5);
    expect(normalizerMixturePlugin.traits({ temperature: 1, hard: false, dtype: 'float32' })).toEqual({
      batchDependent: true, needsCondition: false, needsLabels: false, acceptsMask: false, hasRunningStats: true, layout: 'channels-first',
    });
    expect(mixture.forward(randn([2, 4, 3])).shape).toEqual([2, 4, 3]);
  });

  it('defineMixturePlugin: a named mixture over any candidates, buildable by name anywhere', () => {
    registerAll(layerPlugins);
    const plugin = defineMixturePlugin({ name: 'ln-or-rms', candidates: ['layer-norm', 'rms-norm'] });
    expect(plugin.description).toBe('Learned softmax mix of the outputs of layer-norm, rms-norm.');
    register(plugin);
    expect(has('ln-or-rms')).toBe(true);
    const mixture = createByName('ln-or-rms', { numFeatures: 8 }, { dtype: 'float64' }) as NormalizerMixture;
    expect(plugin.traits({ temperature: 1, hard: false, dtype: 'float64' }).layout).toBe('channels-last');
    const x = randn([2, 3, 8], { dtype: 'float64', requiresGrad: true });
    expect(mixture.forward(x).shape).toEqual([2, 3, 8]);
    expectGradcheck(gradcheck((xx) => mixture.forward(xx), [x, ...mixture.parameters()]));
  });
});
