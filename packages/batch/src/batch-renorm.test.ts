import { expectClose, expectGradcheck } from '@normkit/testkit';
import {
  Generator, InProcessGroup, OptionError, Sequential, ShapeError, add, div, gradcheck, graphOps, mean, mul, randn, reshape, sqrt, sub, sum, tensor, variance, type Tensor,
} from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { BatchNorm } from './batch-norm';
import { BatchRenorm, paperRenormSchedule, renormClipsAt } from './batch-renorm';
import { convertSyncBatchNorm } from './convert-sync-batch-norm';
import { SyncBatchNorm } from './sync-batch-norm';
import { freezeBatchNorm, FrozenBatchNorm } from './frozen-batch-norm';
import { statisticsAxes } from './__fixtures__/reference';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

/**
 * The paper's Algorithm 1 in float64 ops, with its own moving mu and sigma (not a variance): r and
 * d computed from detached batch statistics and entering as constants.
 */
class PaperRenorm {
  mu: number[];
  sigma: number[];
  /** How many r and d values hit a clip, and how many did not, over all training steps. */
  clipped = 0;
  free = 0;
  constructor(c: number, readonly eps: number, readonly alpha: number) {
    this.mu = new Array<number>(c).fill(0);
    this.sigma = new Array<number>(c).fill(Math.sqrt(1 + eps));
  }
  copy(): PaperRenorm {
    const other = new PaperRenorm(this.mu.length, this.eps, this.alpha);
    other.mu = [...this.mu];
    other.sigma = [...this.sigma];
    return other;
  }
  train(x: Tensor, gamma: Tensor, beta: Tensor, clip: { rmin: number; rmax: number; dmax: number }): Tensor {
    const axes = statisticsAxes(x);
    const perChannel = [1, x.shape[1]!, ...x.shape.slice(2).map(() => 1)];
    const muB = mean(x, axes, { keepdim: true });
    const sigmaB = sqrt(add(variance(x, axes, { keepdim: true, unbiased: false }), this.eps));
    const muBv = Array.from(muB.data);
    const sigmaBv = Array.from(sigmaB.data);
    const r = sigmaBv.map((s, c) => Math.min(clip.rmax, Math.max(clip.rmin, s / this.sigma[c]!)));
    const d = muBv.map((m, c) => Math.min(clip.dmax, Math.max(-clip.dmax, (m - this.mu[c]!) / this.sigma[c]!)));
    for (const [value, low, high] of [...r.map((v) => [v, clip.rmin, clip.rmax]), ...d.map((v) => [v, -clip.dmax, clip.dmax])] as Array<[number, number, number]>) {
      if (value === low || value === high) this.clipped++;
      else this.free++;
    }
    const xhat = add(mul(div(sub(x, muB), sigmaB), reshape(tensor(r, { dtype: 'float64' }), perChannel)), reshape(tensor(d, { dtype: 'float64' }), perChannel));
    const y = add(mul(xhat, reshape(gamma, perChannel)), reshape(beta, perChannel));
    this.mu = this.mu.map((m, c) => m + this.alpha * (muBv[c]! - m));
    this.sigma = this.sigma.map((s, c) => s + this.alpha * (sigmaBv[c]! - s));
    return y;
  }
  eval(x: Tensor, gamma: Tensor, beta: Tensor): Tensor {
    const perChannel = [1, x.shape[1]!, ...x.shape.slice(2).map(() => 1)];
    const c = (v: number[]): Tensor => reshape(tensor(v, { dtype: 'float64' }), perChannel);
    return add(mul(div(sub(x, c(this.mu)), c(this.sigma)), reshape(gamma, perChannel)), reshape(beta, perChannel));
  }
}

/** Gradients of `fn`'s output against `upstream` for fresh leaf copies of `inputs`. */
function gradients(fn: (...t: Tensor[]) => Tensor, inputs: Tensor[], upstream: Tensor): Tensor[] {
  const leaves = inputs.map((t) => t.detach().requireGrad());
  fn(...leaves).backward(upstream);
  return leaves.map((t) => t.grad!);
}

describe('BatchRenorm', () => {
  it("follows the paper's Algorithm 1 in float64 over 4 training steps (values, dx, dgamma, dbeta, moving mu and sigma) and in eval", () => {
    const generator = new Generator(41);
    for (const shape of [[6, 3], [4, 3, 5], [3, 3, 2, 2]]) {
      const clips = { rmax: 1.5, dmax: 0.8 };
      const bn = new BatchRenorm({ numFeatures: 3, eps: 1e-3, momentum: 0.3, dtype: 'float64', ...clips });
      bn.weight!.data.set(randn([3], { dtype: 'float64', generator, mean: 1, std: 0.3 }).data);
      bn.bias!.data.set(randn([3], { dtype: 'float64', generator }).data);
      const reference = new PaperRenorm(3, 1e-3, 0.3);
      for (let step = 0; step < 4; step++) {
        // Batches whose statistics drift, so some r and d are clipped and some are not.
        const x = add(randn(shape, { ...f64, generator, std: 0.7 + 0.4 * step }), 0.6 * (step - 1)).detach().requireGrad();
        const upstream = randn(shape, { dtype: 'float64', generator });
        const gamma = bn.weight!.detach();
        const beta = bn.bias!.detach();
        const limits = { rmin: 1 / 1.5, ...clips };
        const before = reference.copy();
        const expected = reference.train(x, gamma, beta, limits);
        const [dx, dgamma, dbeta] = gradients((xx, g, b) => before.train(xx, g, b, limits), [x, gamma, beta], upstream);
        bn.weight!.grad = null;
        bn.bias!.grad = null;
        const y = bn.forward(x);
        expectClose(y, expected, 1e-12, 1e-12);
        y.backward(upstream);
        expectClose(x.grad!, dx!, 1e-10, 1e-12);
        expectClose(bn.weight!.grad!, dgamma!, 1e-10, 1e-12);
        expectClose(bn.bias!.grad!, dbeta!, 1e-10, 1e-12);
        expectClose(bn.runningMean!, tensor(reference.mu, { dtype: 'float64' }), 1e-12, 1e-14);
        expectClose(bn.runningVar!, tensor(reference.sigma.map((s) => s * s - 1e-3), { dtype: 'float64' }), 1e-12, 1e-14);
      }
      // Both regimes were exercised: corrections at a clip and corrections inside it.
      expect(reference.clipped).toBeGreaterThan(3);
      expect(reference.free).toBeGreaterThan(3);
      expect(bn.numBatchesTracked!.data[0]).toBe(4);
      bn.eval();
      const x = randn(shape, { dtype: 'float64', generator });
      expectClose(bn.forward(x), reference.eval(x, bn.weight!.detach(), bn.bias!.detach()), 1e-12, 1e-12);
    }
  });

  it('passes gradcheck where r and d are both clipped (so locally constant), with r != 1 and d != 0', () => {
    const generator = new Generator(42);
    const bn = new BatchRenorm({ numFeatures: 2, momentum: 0, rmax: 2, dmax: 1, dtype: 'float64' });
    bn.weight!.data.set([1.5, -0.7]);
    bn.bias!.data.set([0.2, 0.1]);
    // Moving statistics far from the batch: sigma_B / sigma = 10 and |mu_B - mu| / sigma = 5, both clipped.
    bn.runningMean!.data.set([-5, 5]);
    bn.runningVar!.data.set([1e-2, 1e-2]);
    const x = randn([5, 2, 3], { ...f64, generator });
    expectGradcheck(gradcheck((xx) => bn.forward(xx), [x]));
    expect(Array.from(bn.runningMean!.data)).toEqual([-5, 5]);
    expect(graphOps(bn.forward(x))).toContain('batchRenorm');
  });

  it('is BatchNorm when r = 1 and d = 0 (rmax = 1, dmax = 0) and during the warm-up; not after it', () => {
    const generator = new Generator(43);
    const x = randn([4, 3, 5], { generator, std: 3 });
    const bn = new BatchNorm({ numFeatures: 3 });
    const same = new BatchRenorm({ numFeatures: 3, rmax: 1, dmax: 0 });
    same.runningMean!.data.set([1, 2, 3]);
    expectClose(same.forward(x), bn.forward(x), 1e-6, 1e-6);
    const warm = new BatchRenorm({ numFeatures: 3, warmupSteps: 2, rmaxRelaxedAt: 4, dmaxRelaxedAt: 4 });
    warm.runningMean!.data.set([1, 2, 3]);
    expectClose(warm.forward(x), new BatchNorm({ numFeatures: 3 }).forward(x), 1e-6, 1e-6);
    expect(warm.currentClips()).toEqual({ rmin: 1, rmax: 1, dmax: 0 });
    warm.forward(x);
    warm.forward(x);
    expect(warm.currentClips()).toEqual({ rmin: 1 / 2, rmax: 2, dmax: 2.5 });
    const third = warm.forward(x);
    const plain = new BatchNorm({ numFeatures: 3 }).forward(x);
    expect(Math.max(...Array.from(third.data, (v, i) => Math.abs(v - plain.data[i]!)))).toBeGreaterThan(1e-3);
  });

  it("schedules the clips: held at r = 1, d = 0 for warmupSteps, then linear to rmax and dmax (the paper's 5k / 40k / 25k)", () => {
    const at = (step: number) => renormClipsAt({ ...paperRenormSchedule, rmin: null }, step);
    expect(at(0)).toEqual({ rmin: 1, rmax: 1, dmax: 0 });
    expect(at(4999)).toEqual({ rmin: 1, rmax: 1, dmax: 0 });
    expect(at(5000)).toEqual({ rmin: 1, rmax: 1, dmax: 0 });
    expect(at(15000)).toEqual({ rmin: 1 / (1 + 2 / 3.5), rmax: 1 + 2 / 3.5, dmax: 2.5 });
    expect(at(25000).dmax).toBe(5);
    expect(at(40000)).toEqual({ rmin: 1 / 3, rmax: 3, dmax: 5 });
    expect(at(1e6)).toEqual({ rmin: 1 / 3, rmax: 3, dmax: 5 });
    expect(renormClipsAt({ rmax: 4, rmin: 0.5, dmax: 2, warmupSteps: 0, rmaxRelaxedAt: 0, dmaxRelaxedAt: 0 }, 0)).toEqual({ rmin: 0.5, rmax: 4, dmax: 2 });
    expect(renormClipsAt({ rmax: 3, rmin: 0.5, dmax: 2, warmupSteps: 10, rmaxRelaxedAt: 20, dmaxRelaxedAt: 5 }, 15)).toEqual({ rmin: 0.75, rmax: 2, dmax: 2 });
  });

  it('uses the moving statistics in eval (BatchNorm eval) and freezes to a FrozenBatchNorm with the same output', () => {
    const generator = new Generator(44);
    const bn = new BatchRenorm({ numFeatures: 3, momentum: 0.5 });
    for (let i = 0; i < 3; i++) bn.forward(randn([4, 3, 2], { generator, std: 2 }));
    bn.eval();
    const x = randn([2, 3, 2], { generator });
    const frozen = freezeBatchNorm(bn) as unknown as FrozenBatchNorm;
    expect(frozen).toBeInstanceOf(FrozenBatchNorm);
    expect(Array.from(frozen.forward(x).data)).toEqual(Array.from(bn.forward(x).data));
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
  });

  it('masks padded positions out of the statistics: equals the unpadded batch', () => {
    const generator = new Generator(45);
    const real = randn([1, 2, 3], { dtype: 'float64', generator });
    const padded = tensor([[[...real.data.slice(0, 3), 9, 9], [...real.data.slice(3, 6), -9, -9]]], { dtype: 'float64' });
    const mask = tensor([[1, 1, 1, 0, 0]], { dtype: 'float64' });
    const a = new BatchRenorm({ numFeatures: 2, dtype: 'float64', momentum: 0.5 });
    const b = new BatchRenorm({ numFeatures: 2, dtype: 'float64', momentum: 0.5 });
    a.runningMean!.data.set([0.3, -0.2]);
    b.runningMean!.data.set([0.3, -0.2]);
    const ya = a.forward(real);
    const yb = b.forward(padded, { mask });
    expectClose(tensor(Array.from(yb.data).filter((_, i) => i % 5 < 3), { dtype: 'float64' }), reshape(ya, [6]), 1e-12, 1e-12);
    expect(Array.from(yb.data).filter((_, i) => i % 5 >= 3)).toEqual([0, 0, 0, 0]);
    expectClose(b.runningVar!, a.runningVar!, 1e-12, 1e-14);
  });

  it('works without affine (r and d alone)', () => {
    const bn = new BatchRenorm({ numFeatures: 2, affine: false, dtype: 'float64', dmax: 0.1 });
    bn.runningMean!.data.set([10, -10]);
    const y = bn.forward(tensor([[0, 1], [2, 3]], { dtype: 'float64' }));
    // Batch means 1 and 2, variances 1 = the moving ones: r = 1; d = (mu_B - mu) / sigma clipped to -0.1 and +0.1.
    const sb = Math.sqrt(1 + 1e-5);
    expectClose(y, tensor([[-1 / sb - 0.1, -1 / sb + 0.1], [1 / sb - 0.1, 1 / sb + 0.1]], { dtype: 'float64' }), 1e-12, 1e-12);
    expect(bn.parameters()).toEqual([]);
  });

  it('is refused by convertSyncBatchNorm (no synchronized version: r and d would be lost), leaving the model unchanged', () => {
    const renorm = new BatchRenorm({ numFeatures: 3 });
    const model = new Sequential(new BatchNorm({ numFeatures: 3 }), renorm);
    expect(() => InProcessGroup.run(1, (group) => convertSyncBatchNorm(model, group))).toThrow(/convertSyncBatchNorm: expected batch norms it can synchronise .*, got a BatchRenorm at "1"/);
    expect(model.at(0)).toBeInstanceOf(BatchNorm);
    expect(model.at(0)).not.toBeInstanceOf(SyncBatchNorm);
    expect(model.at(1)).toBe(renorm);
  });

  it('refuses bad options and inputs with typed errors, changing no state', () => {
    expect(() => new BatchRenorm({ numFeatures: 3, rmax: 0.5 })).toThrow(OptionError);
    expect(() => new BatchRenorm({ numFeatures: 3, rmax: 0.5 })).toThrow(/option "rmax" to be a number >= 1/);
    expect(() => new BatchRenorm({ numFeatures: 3, rmin: 2 })).toThrow(/rmin/);
    expect(() => new BatchRenorm({ numFeatures: 3, dmax: -1 })).toThrow(/dmax/);
    expect(() => new BatchRenorm({ numFeatures: 3, warmupSteps: 1.5 })).toThrow(/warmupSteps/);
    expect(() => new BatchRenorm({ numFeatures: 0 })).toThrow(/numFeatures/);
    expect(() => new BatchRenorm({ numFeatures: 3, trackRunningStats: false } as never)).toThrow(/unknown option "trackRunningStats"/);
    const bn = new BatchRenorm({ numFeatures: 3 });
    const before = bn.stateDict();
    expect(() => bn.forward(randn([4, 2, 5]))).toThrow(ShapeError);
    expect(() => bn.forward(randn([1, 3]))).toThrow(/more than 1 value per channel/);
    for (const [key, value] of Object.entries(bn.stateDict())) expect(Array.from(value.data)).toEqual(Array.from(before[key]!.data));
    expect(() => sum(bn.forward(randn([2, 3])))).not.toThrow();
  });
});
