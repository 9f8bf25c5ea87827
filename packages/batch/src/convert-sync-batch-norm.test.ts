import { describe, expect, it } from 'vitest';
import { InProcessGroup, Linear, Module, ReLU, SGD, Sequential, full, graphOps, randn, type ProcessGroup, type Tensor } from '@normkit/tensor';
import { BatchNorm } from './batch-norm';
import { convertSyncBatchNorm } from './convert-sync-batch-norm';
import { GhostBatchNorm } from './ghost-batch-norm';
import { SyncBatchNorm } from './sync-batch-norm';

class Block extends Module {
  norm = this.registerModule('norm', new BatchNorm({ numFeatures: 4 }));
  ghost = this.registerModule('ghost', new GhostBatchNorm({ numFeatures: 4, virtualBatchSize: 2 }));
  forward(x: Tensor): Tensor {
    return this.ghost.forward(this.norm.forward(x));
  }
}

const group: ProcessGroup = { rank: 0, size: 1, allReduce: () => undefined, broadcast: () => undefined, barrier: () => undefined };

describe('convertSyncBatchNorm', () => {
  it('swaps every BatchNorm in Sequential layer lists and module fields, sharing parameters and buffers', () => {
    const block = new Block();
    const model = new Sequential(new Linear({ inFeatures: 3, outFeatures: 4 }), new BatchNorm({ numFeatures: 4, momentum: null, eps: 1e-3 }), new ReLU(), block);
    model.eval();
    const oldNorm = model.at(1) as BatchNorm;
    const optimizer = new SGD(model, { lr: 0.1 });
    const namesBefore = Object.keys(model.stateDict());

    expect(convertSyncBatchNorm(model, group)).toBe(model);
    const swapped = model.at(1);
    expect(swapped).toBeInstanceOf(SyncBatchNorm);
    expect(model.getModule('1')).toBe(swapped);
    const sync = swapped as SyncBatchNorm;
    expect([sync.group, sync.momentum, sync.eps, sync.training]).toEqual([group, null, 1e-3, false]);
    expect(sync.weight).toBe(oldNorm.weight);
    expect(sync.runningVar).toBe(oldNorm.runningVar);
    expect(block.norm).toBeInstanceOf(SyncBatchNorm);
    expect(block.getModule('norm')).toBe(block.norm);
    expect(block.ghost).toBeInstanceOf(GhostBatchNorm);
    expect(block.ghost).not.toBeInstanceOf(SyncBatchNorm);
    expect(Object.keys(model.stateDict())).toEqual(namesBefore);
    // The optimizer built before the swap still holds exactly the model's parameters.
    const held = optimizer.paramGroups[0]!.entries.map((e) => e.parameter);
    model.parameters().forEach((p, i) => expect(held[i]).toBe(p));

    model.train();
    const ops = graphOps(model.forward(randn([6, 3])));
    expect(ops.filter((op) => op.endsWith('atchNorm'))).toEqual(['ghostBatchNorm', 'syncBatchNorm', 'syncBatchNorm']);
  });

  it('replaces a root BatchNorm, attaches existing SyncBatchNorms to the group, and the result synchronises', () => {
    const root = convertSyncBatchNorm(new BatchNorm({ numFeatures: 2 }), group);
    expect(root).toBeInstanceOf(SyncBatchNorm);
    const loose = new SyncBatchNorm({ numFeatures: 2 });
    expect(convertSyncBatchNorm(loose, group)).toBe(loose);
    expect(loose.group).toBe(group);

    const outputs = InProcessGroup.run(2, (g) => {
      const model = convertSyncBatchNorm(new Sequential(new BatchNorm({ numFeatures: 1, affine: false })), g);
      return Array.from(model.forward(full([1, 1], g.rank)).data);
    });
    // Statistics over both replicas: values 0 and 1, mean 0.5.
    expect(outputs[0]![0]).toBeCloseTo(-1, 3);
    expect(outputs[1]![0]).toBeCloseTo(1, 3);
  });
});
