import { afterEach, describe, expect, it, vi } from 'vitest';
import { customOp, isAutogradDebug, setAutogradDebug } from './autograd';
import { ones, tensor } from './creation';
import { AutogradError, DTypeError, ShapeError } from './errors';
import { Linear } from './nn/linear';
import * as init from './nn/init';
import { add, exp, mul } from './ops/elementwise';
import { mse } from './ops/loss';
import { sum } from './ops/reduce';
import { SGD } from './optim/sgd';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

afterEach(() => setAutogradDebug(false));

describe('a second backward through the same graph', () => {
  it('is an AutogradError unless retainGraph was asked for the first time (PyTorch semantics)', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = sum(mul(x, x));
    y.backward();
    expect(Array.from(x.grad!.data)).toEqual([2, 4]);
    const error = errorOf(() => y.backward());
    expect(error).toBeInstanceOf(AutogradError);
    expect(error.message).toMatch(/^backward: expected a graph that was not freed by an earlier backward, got a second backward through sum\. Pass \{ retainGraph: true \}/);
    expect(Array.from(x.grad!.data)).toEqual([2, 4]);
  });

  it('retainGraph keeps the graph for another backward, which then accumulates', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = sum(mul(x, x));
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(Array.from(x.grad!.data)).toEqual([4, 8]);
    expect(() => y.backward()).toThrow(AutogradError);
  });

  it('also refuses a backward through a shared part of a graph freed by another output', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const hidden = mul(x, 3);
    const a = sum(hidden);
    const b = sum(mul(hidden, hidden));
    a.backward();
    expect(() => b.backward()).toThrow(/freed by an earlier backward/);
  });
});

describe('version counters: modifying a tensor saved for backward', () => {
  it('every normkit in-place API bumps the version', () => {
    const layer = new Linear({ inFeatures: 2, outFeatures: 1 });
    const w = layer.weight;
    let v = w.version;
    init.constant(w, 0.5);
    expect(w.version).toBe(++v);
    init.uniform(w, -1, 1);
    expect(w.version).toBe(++v);
    layer.loadStateDict({ weight: tensor([[1, 2]]), bias: tensor([0]) });
    expect(w.version).toBe(++v);
    w.data = new Float32Array([3, 4]);
    expect(w.version).toBe(++v);
    mse(layer.forward(tensor([[1, 1]])), tensor([[0]])).backward();
    new SGD(layer, { lr: 0.1 }).step();
    expect(w.version).toBe(++v);
    w.bumpVersion();
    expect(w.version).toBe(v + 1);
  });

  it('assigning .data refuses another length or dtype (the shape and dtype are fixed)', () => {
    const t = tensor([1, 2, 3]);
    expect(() => (t.data = new Float32Array(2))).toThrow(ShapeError);
    expect(() => (t.data = new Float64Array(3))).toThrow(DTypeError);
    expect(t.version).toBe(0);
  });

  it('backward refuses a graph whose saved input was modified in place (optimizer step between forward and backward)', () => {
    const layer = new Linear({ inFeatures: 2, outFeatures: 1 });
    const optimizer = new SGD(layer, { lr: 0.1 });
    const x = tensor([[1, 2]]);
    mse(layer.forward(x), tensor([[0]])).backward();
    const pending = mse(layer.forward(x), tensor([[0]]));
    optimizer.step();
    const error = errorOf(() => pending.backward());
    expect(error).toBeInstanceOf(AutogradError);
    // Linear is one `linear` node saving x, weight and bias; the weight (initialised: version 1, stepped:
    // version 2) is the first modified one its check meets.
    expect(error.message).toMatch(/^linear \(backward\): .*modified in place after it was saved for backward: Tensor\(\[1, 2\], float32, requiresGrad\) is at version 2; expected version 1/);
  });

  it('backward refuses a modified saved output too (exp saves its result)', () => {
    const x = tensor([0, 1], { requiresGrad: true });
    const y = exp(x);
    const loss = sum(y);
    init.zeros(y);
    expect(() => loss.backward()).toThrow(/modified in place after it was saved for backward/);
  });

  it('an unmodified graph still works, and customOp may declare which tensors its backward reads', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const w = tensor([3, 4], { requiresGrad: true });
    const y = customOp({ op: 'addOnly', inputs: [x, w], saved: [], data: add(x, w).data, shape: [2], backward: (g) => [g, g] });
    init.constant(w, 0); // addOnly's backward reads neither input: no error, as in PyTorch for add
    y.backward(ones([2]));
    expect(Array.from(x.grad!.data)).toEqual([1, 1]);
  });
});

describe('autograd debug mode: checksums of saved tensors', () => {
  it('is off by default and catches direct element writes into .data when on', () => {
    expect(isAutogradDebug()).toBe(false);
    const run = (): Error | undefined => {
      const x = tensor([1, 2], { requiresGrad: true });
      const w = tensor([3, 4]);
      const y = sum(mul(x, w));
      w.data[0] = 100; // not seen by the version counter
      try {
        y.backward();
      } catch (error) {
        return error as Error;
      }
      return undefined;
    };
    expect(run()).toBeUndefined(); // undetectable without debug mode: documented
    setAutogradDebug(true);
    expect(isAutogradDebug()).toBe(true);
    const error = run();
    expect(error).toBeInstanceOf(AutogradError);
    expect(error!.message).toMatch(/changed after it was saved for backward \(autograd debug checksum\)/);
  });

  it('can be switched on by the NORMKIT_AUTOGRAD_DEBUG environment variable', async () => {
    vi.stubEnv('NORMKIT_AUTOGRAD_DEBUG', '1');
    try {
      vi.resetModules();
      const fresh = await import('./autograd');
      expect(fresh.isAutogradDebug()).toBe(true);
      vi.stubEnv('NORMKIT_AUTOGRAD_DEBUG', '0');
      vi.resetModules();
      expect((await import('./autograd')).isAutogradDebug()).toBe(false);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
