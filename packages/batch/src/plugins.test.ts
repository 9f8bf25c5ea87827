import { afterEach, describe, expect, it } from 'vitest';
import { OptionError, create, createByName, getNormalizer, list, randn, registerAll, unregister } from '@normkit/tensor';
import { BatchNorm } from './batch-norm';
import { GhostBatchNorm } from './ghost-batch-norm';
import { batchNormPlugin, batchPlugins, ghostBatchNormPlugin, syncBatchNormPlugin } from './plugins';
import { SyncBatchNorm } from './sync-batch-norm';

describe('batch plugins', () => {
  afterEach(() => {
    for (const plugin of batchPlugins) unregister(plugin.name);
  });

  it('register explicitly and build the modules by name with validated options', () => {
    registerAll(batchPlugins);
    expect(list({ family: 'batch' }).map((p) => p.name)).toEqual(['batch-norm', 'batch-renorm', 'frozen-batch-norm', 'ghost-batch-norm', 'sync-batch-norm']);
    const bn = create('batch-norm', { numFeatures: 8 }, { momentum: null, eps: 1e-3, dtype: 'float64' });
    expect(bn).toBeInstanceOf(BatchNorm);
    expect([bn.momentum, bn.eps, bn.numFeatures, bn.dtype]).toEqual([null, 1e-3, 8, 'float64']);
    const ghost = create('ghost-batch-norm', { numFeatures: 4 }, { virtualBatchSize: 2 });
    expect(ghost).toBeInstanceOf(GhostBatchNorm);
    expect(ghost.virtualBatchSize).toBe(2);
    expect(ghost.forward(randn([6, 4])).shape).toEqual([6, 4]);
    const sync = create('sync-batch-norm', { numFeatures: 4 }, {});
    expect(sync).toBeInstanceOf(SyncBatchNorm);
    expect(sync.group).toBeNull();
    expect(getNormalizer('sync-batch-norm')).toBe(syncBatchNormPlugin);
  });

  it('refuse out-of-range options through their schemas', () => {
    registerAll(batchPlugins);
    expect(() => create('batch-norm', { numFeatures: 3 }, { momentum: 2 })).toThrow(OptionError);
    expect(() => create('batch-norm', { numFeatures: 3 }, { eps: 0 })).toThrow(/option "eps" to be a number > 0/);
    expect(() => create('ghost-batch-norm', { numFeatures: 3 }, { virtualBatchSize: 0 })).toThrow(/virtualBatchSize/);
    // Unknown options and values outside the schema do not compile; at run time they are refused too.
    expect(() => createByName('batch-norm', { numFeatures: 3 }, { virtualBatchSize: 4 })).toThrow(/unknown option "virtualBatchSize"/);
    expect(() => createByName('sync-batch-norm', { numFeatures: 3 }, { dtype: 'int8' })).toThrow(/option "dtype" to be one of 'float32', 'float64'/);
  });

  it('describe their traits', () => {
    const traits = batchNormPlugin.traits({ eps: 1e-5, momentum: 0.1, affine: true, trackRunningStats: false, dtype: 'float32' });
    expect(traits).toEqual({ batchDependent: true, needsCondition: false, needsLabels: false, acceptsMask: true, hasRunningStats: false, layout: 'channels-first' });
    expect(ghostBatchNormPlugin.traits({ eps: 1e-5, momentum: 0.1, affine: true, trackRunningStats: true, dtype: 'float32', virtualBatchSize: 8 }).hasRunningStats).toBe(true);
    expect(ghostBatchNormPlugin.options.virtualBatchSize.default).toBe(128);
  });
});
