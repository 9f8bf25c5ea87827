import { Module, MultiHeadAttention, Parameter, Tensor, Generator, randn, ones, zeros } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { collectProbes, layerOf, restoreBuffers, snapshotBuffers, toJsonValue } from './probes';

/** Switchable-Norm-like: mixture weights from importance(); a running-stats norm that replaces its buffers. */
class Mixture extends Module {
  readonly logits = this.registerParameter('logits', new Parameter(new Tensor(Float32Array.from([0, Math.log(3)]), [2])));
  importance(): { mean: Tensor; var: Float32Array } {
    const e = Array.from(this.logits.data, Math.exp);
    const total = e[0]! + e[1]!;
    return { mean: new Tensor(Float32Array.from(e.map((v) => v / total)), [2]), var: Float32Array.from([1]) };
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

class Running extends Module {
  constructor() {
    super();
    this.registerBuffer('running_mean', zeros([3]));
    this.registerBuffer('running_var', ones([3]));
  }
  sigma = 2.5;
  forward(x: Tensor): Tensor {
    // Replaces the buffer, like normalizers that use setBuffer after an update.
    this.setBuffer('running_mean', new Tensor(Float32Array.from([9, 9, 9]), [3]));
    this.getBuffer('running_var')!.data.fill(7);
    return x;
  }
}

class Model extends Module {
  readonly mixture = this.registerModule('mixture', new Mixture());
  readonly norm = this.registerModule('norm', new Running());
  readonly attention = this.registerModule('attention', new MultiHeadAttention({ embedDim: 4, numHeads: 2, generator: new Generator(0) }));
  forward(x: Tensor): Tensor {
    return this.attention.forward(this.norm.forward(this.mixture.forward(x)));
  }
}

describe('probes', () => {
  it('finds running statistics, importance, sigma and max-logit by duck typing', () => {
    const model = new Model();
    model.forward(randn([2, 3, 4], { generator: new Generator(1) }));
    const probes = collectProbes(model);
    expect(probes.runningStats).toEqual({ norm: { mean: [9, 9, 9], var: [7, 7, 7] } });
    expect(probes.importance.mixture).toEqual({ mean: [0.25, 0.75], var: [1] });
    expect(probes.sigma).toEqual({ norm: 2.5 });
    expect(probes.maxLogit.attention).toBe(model.attention.lastMaxLogit);
    expect(probes.maxLogit.attention).toBeGreaterThan(0);
  });

  it('snapshot/restore undoes in-place updates and replaced buffers', () => {
    const model = new Model();
    const snapshot = snapshotBuffers(model);
    model.forward(randn([1, 2, 4]));
    expect(Array.from(model.norm.getBuffer('running_mean')!.data)).toEqual([9, 9, 9]);
    restoreBuffers(snapshot);
    expect(Array.from(model.norm.getBuffer('running_mean')!.data)).toEqual([0, 0, 0]);
    expect(Array.from(model.norm.getBuffer('running_var')!.data)).toEqual([1, 1, 1]);
  });

  it('layer names fold parametrizations into their layer', () => {
    expect(layerOf('layers.0.linear.weight')).toBe('layers.0.linear');
    expect(layerOf('layers.0.linear.parametrizations.weight.original')).toBe('layers.0.linear');
    expect(layerOf('position')).toBe('');
  });

  it('toJsonValue makes typed arrays, tensors and nested records plain', () => {
    expect(toJsonValue({ a: Float64Array.from([1, 2]), b: [new Tensor(Float32Array.from([1, 2, 3, 4]), [2, 2])], c: 'x' })).toEqual({ a: [1, 2], b: [[[1, 2], [3, 4]]], c: 'x' });
  });
});
