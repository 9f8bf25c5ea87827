import { expectGradcheck } from '@normkit/testkit';
import {
  OptionError, RegistryError, create, createByName, get, gradcheck, graphOps, list, randn, registerAll, tensor, unregister,
} from '@normkit/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { FilterResponseNorm } from './filter-response-norm';
import { FilterResponseNormTLU } from './filter-response-norm-tlu';
import { GroupNorm } from './group-norm';
import { InstanceNorm } from './instance-norm';
import { filterResponseNormPlugin, groupNormPlugin, groupPlugins, instanceNormPlugin } from './plugins';

afterEach(() => {
  for (const plugin of groupPlugins) unregister(plugin.name);
});

describe('group family plugins', () => {
  it('register together and are listed under the family', () => {
    registerAll(groupPlugins);
    expect(list({ family: 'group' }).map((p) => p.name)).toEqual(['evo-norm-b0', 'evo-norm-s0', 'filter-response-norm', 'group-norm', 'instance-norm', 'local-response-norm']);
    expect(get('group-norm')).toBe(groupNormPlugin);
    expect(() => registerAll(groupPlugins)).toThrow(RegistryError);
  });

  it('create configured modules by name, with defaults from the schemas', () => {
    registerAll(groupPlugins);
    const group = create('group-norm', { numFeatures: 64 });
    expect(group).toBeInstanceOf(GroupNorm);
    expect(group.numGroups).toBe(32);
    const instance = create('instance-norm', { numFeatures: 8 }, { trackRunningStats: true, affine: true, momentum: 0.2 });
    expect(instance).toBeInstanceOf(InstanceNorm);
    expect([instance.affine, instance.trackRunningStats, instance.momentum]).toEqual([true, true, 0.2]);
    expect(create('filter-response-norm', { numFeatures: 8 })).toBeInstanceOf(FilterResponseNormTLU);
    expect(create('filter-response-norm', { numFeatures: 8 }, { tlu: false })).toBeInstanceOf(FilterResponseNorm);
    const frn = create('filter-response-norm', { numFeatures: 4 }, { learnableEps: true, dtype: 'float64' });
    const x = randn([1, 4, 3, 3], { dtype: 'float64', requiresGrad: true });
    expect(graphOps(frn.forward(x))).toEqual(['filterResponseNormTLU']);
    expectGradcheck(gradcheck((xx) => frn.forward(xx), [x]));
    const masked = create('group-norm', { numFeatures: 4 }, { numGroups: 2 });
    expect(masked.forward(randn([2, 4, 3]), { mask: tensor([[1, 1, 0], [1, 1, 1]]) }).shape).toEqual([2, 4, 3]);
  });

  it('describe their traits: batch-independent, channels-first, mask and running statistics where they apply', () => {
    const base = { batchDependent: false, needsCondition: false, needsLabels: false, layout: 'channels-first' };
    expect(groupNormPlugin.traits({ numGroups: 32, eps: 1e-5, affine: true, dtype: 'float32' })).toEqual({ ...base, acceptsMask: true, hasRunningStats: false });
    const instanceOptions = { eps: 1e-5, momentum: 0.1, affine: false, trackRunningStats: true, dtype: 'float32' } as const;
    expect(instanceNormPlugin.traits(instanceOptions)).toEqual({ ...base, acceptsMask: false, hasRunningStats: true });
    expect(instanceNormPlugin.traits({ ...instanceOptions, trackRunningStats: false }).hasRunningStats).toBe(false);
    expect(filterResponseNormPlugin.traits({ eps: 1e-6, learnableEps: false, tlu: true, dtype: 'float32' })).toEqual({ ...base, acceptsMask: false, hasRunningStats: false });
  });

  it('refuse bad options through the schema, and impossible slots with the module error', () => {
    registerAll(groupPlugins);
    expect(() => create('group-norm', { numFeatures: 64 }, { eps: 0 })).toThrow(OptionError);
    expect(() => create('group-norm', { numFeatures: 64 }, { numGroups: 2.5 })).toThrow(/option "numGroups" to be an integer >= 1/);
    expect(() => create('instance-norm', { numFeatures: 8 }, { momentum: 2 })).toThrow(OptionError);
    expect(() => create('group-norm', { numFeatures: 48 })).toThrow(/GroupNorm: expected numChannels divisible by numGroups, got numChannels = 48, numGroups = 32/);
    expect(() => createByName('filter-response-norm', { numFeatures: 8 }, { center: true })).toThrow(/unknown option "center"/);
  });
});
