import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  DTypeError, Generator, Linear, Module, OptionError, ReLU, SGD, Sequential, ShapeError, StateDictError, ValueError, add, gradcheck, graphOps, mul,
  ones, randn, reshape, rsqrt, sub, sum, tensor, type Tensor,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { BatchNorm } from './batch-norm';
import { FrozenBatchNorm, dropFrozenNumBatchesTracked, freezeBatchNorm, unfreezeBatchNorm } from './frozen-batch-norm';
import { GhostBatchNorm } from './ghost-batch-norm';
import { SyncBatchNorm } from './sync-batch-norm';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

/** torchvision's forward in one line of float64 ops: x * scale + (b - rm * scale), scale = w * rsqrt(rv + eps). */
function referenceFrozen(x: Tensor, w: Tensor, b: Tensor, rm: Tensor, rv: Tensor, eps: number): Tensor {
  const perChannel = [1, x.shape[1]!, ...x.shape.slice(2).map(() => 1)];
  const scale = mul(w, rsqrt(add(rv, eps)));
  return add(mul(x, reshape(scale, perChannel)), reshape(sub(b, mul(rm, scale)), perChannel));
}

/** A float64 FrozenBatchNorm with random buffers (running_var in [0.5, 2.5]). */
function randomFrozen(c: number, generator: Generator, eps = 1e-5): FrozenBatchNorm {
  const frozen = new FrozenBatchNorm({ numFeatures: c, eps, dtype: 'float64' });
  frozen.weight.data.set(randn([c], { dtype: 'float64', generator, mean: 1, std: 0.5 }).data);
  frozen.bias.data.set(randn([c], { dtype: 'float64', generator }).data);
  frozen.runningMean.data.set(randn([c], { dtype: 'float64', generator }).data);
  for (let i = 0; i < c; i++) frozen.runningVar.data[i] = 0.5 + 2 * generator.uniform();
  return frozen;
}

class Head extends Module {
  norm = this.registerModule('norm', new BatchNorm({ numFeatures: 4 }));
  ghost = this.registerModule('ghost', new GhostBatchNorm({ numFeatures: 4, virtualBatchSize: 2 }));
  forward(x: Tensor): Tensor {
    return this.ghost.forward(this.norm.forward(x));
  }
}

describe('FrozenBatchNorm', () => {
  it("matches torchvision's formula composed from float64 ops, in training and eval, for [N, C] to [N, C, H, W]; gradcheck", () => {
    const generator = new Generator(31);
    for (const shape of [[5, 3], [2, 3, 4], [2, 3, 3, 2]]) {
      const frozen = randomFrozen(3, generator, 1e-3);
      const x = randn(shape, { ...f64, generator, std: 2 });
      const upstream = randn(shape, { dtype: 'float64', generator });
      const expected = referenceFrozen(x, frozen.weight, frozen.bias, frozen.runningMean, frozen.runningVar, 1e-3);
      for (const training of [true, false]) {
        frozen.train(training);
        x.grad = null;
        const y = frozen.forward(x);
        expectClose(y, expected, 1e-12, 1e-12);
        y.backward(upstream);
        // dx = dy * scale: the statistics are constants.
        const gradRef = (() => {
          const xx = x.detach().requireGrad();
          referenceFrozen(xx, frozen.weight, frozen.bias, frozen.runningMean, frozen.runningVar, 1e-3).backward(upstream);
          return xx.grad!;
        })();
        expectClose(x.grad!, gradRef, 1e-12, 1e-12);
      }
      expectGradcheck(gradcheck((xx) => frozen.forward(xx), [x]));
      expect(graphOps(frozen.forward(x))).toEqual(['frozenBatchNorm']);
    }
  });

  it('holds everything as buffers under torchvision keys: no parameters, no gradient, no state change in training', () => {
    const frozen = randomFrozen(3, new Generator(32));
    expect(Object.keys(frozen.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var']);
    expect(frozen.parameters()).toEqual([]);
    expect(frozen.buffers().every((b) => !b.requiresGrad)).toBe(true);
    const before = frozen.buffers().map((b) => Array.from(b.data));
    frozen.train();
    sum(frozen.forward(randn([4, 3, 2], f64))).backward();
    expect(frozen.buffers().map((b) => Array.from(b.data))).toEqual(before);
    expect(frozen.buffers().every((b) => b.grad === null || b.grad === undefined)).toBe(true);
  });

  it('loads a BatchNorm state dict, dropping num_batches_tracked (directly, and nested through dropFrozenNumBatchesTracked)', () => {
    const generator = new Generator(33);
    const bn = new BatchNorm({ numFeatures: 3, dtype: 'float64' });
    for (let i = 0; i < 3; i++) bn.forward(randn([4, 3, 2], { dtype: 'float64', generator, mean: 1, std: 2 }));
    bn.weight!.data.set([0.5, 1.5, -1]);
    const frozen = new FrozenBatchNorm({ numFeatures: 3, dtype: 'float64' });
    const result = frozen.loadStateDict(bn.stateDict());
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(Array.from(frozen.runningVar.data)).toEqual(Array.from(bn.runningVar!.data));
    bn.eval();
    const x = randn([2, 3, 5], { dtype: 'float64', generator });
    // The same fused kernel with the same fixed statistics: bit-identical to BatchNorm in eval.
    expect(Array.from(frozen.forward(x).data)).toEqual(Array.from(bn.forward(x).data));
    // Nested: strict loading refuses the extra key until it is dropped.
    const saved = new Sequential(new Linear({ inFeatures: 2, outFeatures: 3, dtype: 'float64' }), new BatchNorm({ numFeatures: 3, dtype: 'float64' })).stateDict();
    const model = new Sequential(new Linear({ inFeatures: 2, outFeatures: 3, dtype: 'float64' }), new FrozenBatchNorm({ numFeatures: 3, dtype: 'float64' }));
    expect(() => model.loadStateDict(saved)).toThrow(StateDictError);
    expect(Object.keys(dropFrozenNumBatchesTracked(model, saved))).not.toContain('1.num_batches_tracked');
    expect(model.loadStateDict(dropFrozenNumBatchesTracked(model, saved))).toEqual({ missingKeys: [], unexpectedKeys: [] });
  });

  it('freezeBatchNorm swaps every BatchNorm (ghost and sync too) in lists and fields; eval outputs unchanged bit for bit; unfreeze swaps back', () => {
    const generator = new Generator(34);
    const head = new Head();
    const model = new Sequential(new Linear({ inFeatures: 3, outFeatures: 4 }), new SyncBatchNorm({ numFeatures: 4, eps: 1e-3 }), new ReLU(), head);
    for (let i = 0; i < 3; i++) model.forward(randn([6, 3], { generator, mean: 0.5 }));
    for (const bn of [model.at(1) as BatchNorm, head.norm, head.ghost]) bn.weight!.data.set(randn([4], { generator, mean: 1 }).data);
    model.eval();
    const x = randn([5, 3], { generator });
    const before = Array.from(model.forward(x).data);
    const linearParameters = (model.at(0) as Linear).parameters();

    expect(freezeBatchNorm(model)).toBe(model);
    expect(model.at(1)).toBeInstanceOf(FrozenBatchNorm);
    expect((model.at(1) as FrozenBatchNorm).eps).toBe(1e-3);
    expect(head.norm).toBeInstanceOf(FrozenBatchNorm);
    expect(head.ghost).toBeInstanceOf(FrozenBatchNorm);
    expect(head.getModule('ghost')).toBe(head.ghost);
    expect(model.parameters()).toEqual(linearParameters);
    expect(Object.keys(model.stateDict()).filter((k) => k.endsWith('num_batches_tracked'))).toEqual([]);
    expect(Array.from(model.forward(x).data)).toEqual(before);
    // Training no longer uses batch statistics: the output is the eval one.
    model.train();
    expect(Array.from(model.forward(x).data)).toEqual(before);

    // An optimizer built after freezing trains the rest; the frozen statistics stay.
    const optimizer = new SGD(model, { lr: 0.1 });
    const frozenState = Array.from((model.at(1) as FrozenBatchNorm).runningVar.data);
    sum(model.forward(x)).backward();
    optimizer.step();
    expect(Array.from((model.at(1) as FrozenBatchNorm).runningVar.data)).toEqual(frozenState);

    model.eval();
    const afterTraining = Array.from(model.forward(x).data);
    expect(unfreezeBatchNorm(model, { momentum: 0.2 })).toBe(model);
    expect(model.at(1)).toBeInstanceOf(BatchNorm);
    expect((model.at(1) as BatchNorm).momentum).toBe(0.2);
    expect(head.ghost).toBeInstanceOf(BatchNorm);
    expect(model.parameters()).toHaveLength(2 + 3 * 2);
    expect(Array.from(model.forward(x).data)).toEqual(afterTraining);
    expect(Object.keys(model.stateDict())).toContain('1.num_batches_tracked');
  });

  it('freezes and unfreezes a root module; refuses a BatchNorm without running statistics before changing anything', () => {
    const bn = new BatchNorm({ numFeatures: 2, affine: false });
    const frozen = freezeBatchNorm(bn);
    expect(frozen).toBeInstanceOf(FrozenBatchNorm);
    expect(Array.from((frozen as unknown as FrozenBatchNorm).weight.data)).toEqual([1, 1]);
    expect(unfreezeBatchNorm(frozen)).toBeInstanceOf(BatchNorm);
    const model = new Sequential(new BatchNorm({ numFeatures: 2 }), new BatchNorm({ numFeatures: 2, trackRunningStats: false }));
    expect(() => freezeBatchNorm(model)).toThrow(ValueError);
    expect(() => freezeBatchNorm(model)).toThrow(/module "1" with trackRunningStats: false/);
    expect(model.at(0)).toBeInstanceOf(BatchNorm);
    expect(model.at(0)).not.toBeInstanceOf(FrozenBatchNorm);
  });

  it('honours a padding mask as BatchNorm does in eval (padded outputs 0), and an empty batch', () => {
    const generator = new Generator(35);
    const frozen = randomFrozen(2, generator);
    const bn = frozen.toBatchNorm().eval();
    const x = randn([2, 2, 4], { dtype: 'float64', generator });
    const mask = tensor([[1, 1, 0, 0], [1, 1, 1, 1]], { dtype: 'float64' });
    const y = frozen.forward(x, { mask });
    expect(Array.from(y.data)).toEqual(Array.from(bn.forward(x, { mask }).data));
    expect([y.data[2], y.data[3], y.data[6], y.data[7]]).toEqual([0, 0, 0, 0]);
    expect(frozen.forward(randn([0, 2, 3], { dtype: 'float64' })).shape).toEqual([0, 2, 3]);
  });

  it('float32 (the default dtype) agrees with the float64 reference', () => {
    const generator = new Generator(36);
    const frozen = new FrozenBatchNorm({ numFeatures: 3 });
    frozen.runningMean.data.set([0.5, -1, 2]);
    frozen.runningVar.data.set([0.25, 4, 1]);
    frozen.weight.data.set([2, 0.5, -1]);
    const x = randn([2, 3, 4], { generator });
    const y = frozen.forward(x);
    expect(y.dtype).toBe('float32');
    const as64 = (t: Tensor): Tensor => t.to('float64');
    expectClose(y, referenceFrozen(as64(x), as64(frozen.weight), as64(frozen.bias), as64(frozen.runningMean), as64(frozen.runningVar), 1e-5), 1e-5, 1e-5);
  });

  it('refuses bad options and inputs with typed errors', () => {
    expect(() => new FrozenBatchNorm({ numFeatures: 0 })).toThrow(/numFeatures to be an integer >= 1/);
    expect(() => new FrozenBatchNorm({ numFeatures: 2, eps: 0 })).toThrow(OptionError);
    expect(() => new FrozenBatchNorm({ numFeatures: 2, momentum: 0.1 } as never)).toThrow(/unknown option "momentum"/);
    const frozen = new FrozenBatchNorm({ numFeatures: 3 });
    expect(() => frozen.forward(randn([3]))).toThrow(ShapeError);
    expect(() => frozen.forward(randn([2, 4]))).toThrow(/3 channels on axis 1/);
    expect(() => frozen.forward(randn([2, 3], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => frozen.forward(randn([2, 3, 4]), { mask: ones([2, 5]) })).toThrow(ShapeError);
  });
});
