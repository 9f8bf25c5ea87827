import { describe, expect, it } from 'vitest';
import { tensor } from '../creation';
import { DTypeError, ShapeError, ValueError } from '../errors';
import { gradcheck } from '../gradcheck';
import { add, div, mul, sqrt, square } from '../ops/elementwise';
import { matmul } from '../ops/matmul';
import { sum } from '../ops/reduce';
import { reshape, transpose } from '../ops/shape';
import { SGD } from '../optim/sgd';
import type { Parametrization } from '../plugin/types';
import { Tensor, noGrad } from '../tensor';
import { Linear } from './linear';
import { Module, Parameter } from './module';
import {
  ParametrizationList, cached, isParametrized, parametrizationsOf, registerParametrization, removeParametrizations,
} from './parametrize';

// ---------------------------------------------------------------------------------------------
// Two tiny parametrizations, and a third with two originals, written out here.

function triangleMask(n: number, dtype: Tensor['dtype'], strict: boolean): Tensor {
  const data = dtype === 'float64' ? new Float64Array(n * n) : new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) data[i * n + j] = (strict ? j > i : j >= i) ? 1 : 0;
  return new Tensor(data, [n, n]);
}

/** X -> triu(X) + triu(X, 1)^T, a symmetric matrix; rightInverse(A) = triu(A) (PyTorch's doc example). */
class Symmetric extends Module implements Parametrization {
  inputs: number[][] = [];
  forward(x: Tensor): Tensor {
    this.inputs.push(Array.from(x.data));
    const n = x.shape[0]!;
    return add(mul(x, triangleMask(n, x.dtype, false)), transpose(mul(x, triangleMask(n, x.dtype, true))));
  }
  rightInverse(a: Tensor): Tensor[] {
    return [mul(a, triangleMask(a.shape[0]!, a.dtype, false))];
  }
}

/** x -> x * scale with `scale` a buffer (so it shows in the state dict); rightInverse divides. */
class Scale extends Module implements Parametrization {
  inputs: number[][] = [];
  constructor(factor: number) {
    super();
    this.registerBuffer('scale', tensor([factor], { dtype: 'float64' }));
  }
  forward(x: Tensor): Tensor {
    this.inputs.push(Array.from(x.data));
    return mul(x, this.getBuffer('scale')!);
  }
  rightInverse(y: Tensor): Tensor[] {
    return [div(y, this.getBuffer('scale')!)];
  }
}

/** Weight-norm-like, two originals: W = g * v / ||v|| per row; rightInverse(W) = [||W|| per row, W]. */
class RowNorm extends Module implements Parametrization {
  forward(g: Tensor, v: Tensor): Tensor {
    return mul(g, div(v, sqrt(sum(square(v), 1, { keepdim: true }))));
  }
  rightInverse(w: Tensor): Tensor[] {
    return [sqrt(sum(square(w), 1, { keepdim: true })), w];
  }
}

/** The module under test: `weight` is a registered Parameter field read as `this.weight` in forward. */
class TinyLinear extends Module {
  weight = this.registerParameter('weight', new Parameter(tensor([[1, 2, 3], [4, 5, 6], [7, 8, 10]], { dtype: 'float64' })));
  bias = this.registerParameter('bias', new Parameter(tensor([0.1, 0.2, 0.3], { dtype: 'float64' })));
  forward(x: Tensor): Tensor {
    return add(matmul(x, transpose(this.weight)), this.bias);
  }
}

const W0 = [1, 2, 3, 4, 5, 6, 7, 8, 10];
const triuW0 = [1, 2, 3, 0, 5, 6, 0, 0, 10];
const symW0 = [1, 2, 3, 2, 5, 6, 3, 6, 10];

function values(t: Tensor): number[] {
  return Array.from(t.data);
}

// ---------------------------------------------------------------------------------------------

describe('registerParametrization', () => {
  it('moves the original aside, with PyTorch state-dict keys, keeping the Parameter object', () => {
    const layer = new TinyLinear();
    const weight = layer.weight;
    registerParametrization(layer, 'weight', new Symmetric());
    expect(Object.keys(layer.stateDict())).toEqual(['bias', 'parametrizations.weight.original']);
    expect([...layer.namedParameters()].map(([n]) => n)).toEqual(['bias', 'parametrizations.weight.original']);
    expect(layer.getParameter('weight')).toBeUndefined();
    const list = parametrizationsOf(layer, 'weight')!;
    expect(list).toBeInstanceOf(ParametrizationList);
    // The same object, set to rightInverse(W0) = triu(W0).
    expect(list.original).toBe(weight);
    expect(values(weight)).toEqual(triuW0);
    expect(values(layer.weight)).toEqual(symW0);
    expect(layer.weight).not.toBe(weight);
    expect(isParametrized(layer)).toBe(true);
    expect(isParametrized(layer, 'weight')).toBe(true);
    expect(isParametrized(layer, 'bias')).toBe(false);
  });

  it('this.weight in forward reads the parametrized value', () => {
    const layer = registerParametrization(new TinyLinear(), 'weight', new Symmetric());
    const x = tensor([[1, -1, 2]], { dtype: 'float64' });
    const expected = [0, 1, 2].map((i) => 1 * symW0[3 * i]! - 1 * symW0[3 * i + 1]! + 2 * symW0[3 * i + 2]! + [0.1, 0.2, 0.3][i]!);
    values(layer.forward(x)).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 14));
  });

  it('chains a second parametrization after the first, originals unchanged, keys 1.<buffer>', () => {
    const layer = new TinyLinear();
    const symmetric = new Symmetric();
    const scale = new Scale(3);
    registerParametrization(layer, 'weight', symmetric);
    registerParametrization(layer, 'weight', scale);
    expect(Object.keys(layer.stateDict())).toEqual(['bias', 'parametrizations.weight.original', 'parametrizations.weight.1.scale']);
    const list = parametrizationsOf(layer, 'weight')!;
    expect(list.length).toBe(2);
    expect(list.at(0)).toBe(symmetric);
    expect(list.at(1)).toBe(scale);
    expect(values(list.original)).toEqual(triuW0);
    symmetric.inputs = [];
    scale.inputs = [];
    expect(values(layer.weight)).toEqual(symW0.map((v) => 3 * v));
    // Order: Symmetric sees the original, Scale sees Symmetric's output.
    expect(symmetric.inputs).toEqual([triuW0]);
    expect(scale.inputs).toEqual([symW0]);
  });

  it('registers several originals when the first rightInverse returns several tensors', () => {
    const layer = new TinyLinear();
    const weight = layer.weight;
    registerParametrization(layer, 'weight', new RowNorm());
    registerParametrization(layer, 'weight', new Scale(2));
    expect(Object.keys(layer.stateDict())).toEqual([
      'bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1', 'parametrizations.weight.1.scale',
    ]);
    const list = parametrizationsOf(layer, 'weight')!;
    const [g, v] = list.originals;
    expect(g).toBeInstanceOf(Parameter);
    expect(g!.shape).toEqual([3, 1]);
    expect(values(v!)).toEqual(W0);
    expect(v!.data).not.toBe(weight.data); // copies, not views of the old parameter
    values(layer.weight).forEach((x, i) => expect(x).toBeCloseTo(2 * W0[i]!, 13));
    expect(() => list.original).toThrow(/2 originals/);
  });

  it('takes the host module training mode, and follows train()/eval() later', () => {
    const layer = new TinyLinear().eval();
    const scale = new Scale(2);
    registerParametrization(layer, 'weight', scale);
    expect(scale.training).toBe(false);
    layer.train();
    expect(scale.training).toBe(true);
    expect(parametrizationsOf(layer, 'weight')!.training).toBe(true);
  });

  it('works on buffers too (the original stays a buffer)', () => {
    class WithBuffer extends Module {
      constructor() {
        super();
        this.registerBuffer('stats', tensor([1, 2], { dtype: 'float64' }));
      }
      forward(): Tensor {
        return (this as unknown as { stats: Tensor }).stats;
      }
    }
    const module = registerParametrization(new WithBuffer(), 'stats', new Scale(10));
    expect(Object.keys(module.stateDict())).toEqual(['parametrizations.stats.original', 'parametrizations.stats.0.scale']);
    expect([...module.namedParameters()]).toEqual([]);
    // rightInverse at registration keeps the value: original = stats / 10.
    values(parametrizationsOf(module, 'stats')!.original).forEach((x, i) => expect(x).toBeCloseTo([0.1, 0.2][i]!, 15));
    values(module.forward()).forEach((x, i) => expect(x).toBeCloseTo([1, 2][i]!, 15));
    (module as unknown as { stats: Tensor }).stats = tensor([30, 40], { dtype: 'float64' });
    removeParametrizations(module, 'stats');
    values(module.getBuffer('stats')!).forEach((x, i) => expect(x).toBeCloseTo([30, 40][i]!, 13));
    expect(Object.keys(module.stateDict())).toEqual(['stats']);
  });

  it('loads a state dict written with the parametrized keys', () => {
    const layer = registerParametrization(new TinyLinear(), 'weight', new Scale(2));
    layer.loadStateDict({
      bias: tensor([0, 0, 0], { dtype: 'float64' }),
      'parametrizations.weight.original': tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]], { dtype: 'float64' }),
      'parametrizations.weight.0.scale': tensor([5], { dtype: 'float64' }),
    });
    expect(values(layer.weight)).toEqual([5, 0, 0, 0, 5, 0, 0, 0, 5]);
  });
});

describe('gradients through parametrizations', () => {
  it('reach the original: dL/dX = s * (C + C^T) above the diagonal, s * C on it, 0 below', () => {
    const layer = new TinyLinear();
    registerParametrization(layer, 'weight', new Symmetric());
    registerParametrization(layer, 'weight', new Scale(3));
    const c = [0.5, -1, 2, 3, 0.25, -0.5, 1.5, 4, -2];
    sum(mul(layer.weight, tensor(c, { dtype: 'float64', shape: [3, 3] }))).backward();
    const original = parametrizationsOf(layer, 'weight')!.original;
    const expected = c.map((_, k) => {
      const i = Math.floor(k / 3);
      const j = k % 3;
      if (j < i) return 0;
      return 3 * (i === j ? c[k]! : c[k]! + c[j * 3 + i]!);
    });
    values(original.grad!).forEach((g, k) => expect(g).toBeCloseTo(expected[k]!, 14));
  });

  it('pass gradcheck through the module forward, for one and for two originals', () => {
    const x = tensor([[0.3, -1.2, 0.7], [1.1, 0.4, -0.6]], { dtype: 'float64' });
    const one = registerParametrization(registerParametrization(new TinyLinear(), 'weight', new Symmetric()), 'weight', new Scale(0.5));
    expect(gradcheck(() => one.forward(x), [parametrizationsOf(one, 'weight')!.original]).ok).toBe(true);
    const two = registerParametrization(new TinyLinear(), 'weight', new RowNorm());
    const result = gradcheck(() => two.forward(x), parametrizationsOf(two, 'weight')!.originals);
    expect(result.ok).toBe(true);
    expect(parametrizationsOf(two, 'weight')!.originals.every((o) => o.grad !== null)).toBe(true);
  });

  it('an optimizer given the module trains the original', () => {
    const layer = registerParametrization(new TinyLinear(), 'weight', new Symmetric());
    const optimizer = new SGD(layer, { lr: 0.1 });
    expect(optimizer.entries().map((e) => e.name)).toEqual(['bias', 'parametrizations.weight.original']);
    expect(optimizer.entries()[1]!.module).toBe(parametrizationsOf(layer, 'weight'));
    sum(layer.weight).backward();
    optimizer.step();
    // dL/dX = 2 above the diagonal, 1 on it, 0 below.
    expect(values(parametrizationsOf(layer, 'weight')!.original)).toEqual([0.9, 1.8, 2.8, 0, 4.9, 5.8, 0, 0, 9.9]);
  });
});

describe('assigning to a parametrized tensor', () => {
  it('runs the right inverses last to first, so the tensor reads back the assigned value', () => {
    const layer = new TinyLinear();
    registerParametrization(layer, 'weight', new Symmetric());
    registerParametrization(layer, 'weight', new Scale(2));
    const original = parametrizationsOf(layer, 'weight')!.original;
    const data = original.data;
    const a = tensor([[2, 4, 6], [4, 8, 10], [6, 10, 12]], { dtype: 'float64' });
    layer.weight = a;
    expect(values(layer.weight)).toEqual(values(a));
    expect(values(original)).toEqual([1, 2, 3, 0, 4, 5, 0, 0, 6]);
    expect(original.data).toBe(data); // in place
    expect(a.requiresGrad).toBe(false);
  });

  it('sets several originals', () => {
    const layer = registerParametrization(new TinyLinear(), 'weight', new RowNorm());
    layer.weight = tensor([[3, 4, 0], [0, 0, 2], [1, 0, 0]], { dtype: 'float64' });
    expect(values(parametrizationsOf(layer, 'weight')!.originals[0]!)).toEqual([5, 2, 1]);
    values(layer.weight).forEach((x, i) => expect(x).toBeCloseTo([3, 4, 0, 0, 0, 2, 1, 0, 0][i]!, 14));
  });

  it('refuses without a rightInverse somewhere in the chain, a non-tensor, or a wrong shape, changing nothing', () => {
    class Double extends Module implements Parametrization {
      forward(x: Tensor): Tensor {
        return mul(x, 2);
      }
    }
    const layer = new TinyLinear();
    registerParametrization(layer, 'weight', new Symmetric());
    registerParametrization(layer, 'weight', new Double());
    const assign = (value: unknown) => () => {
      (layer as unknown as { weight: unknown }).weight = value;
    };
    expect(assign(tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]], { dtype: 'float64' }))).toThrow(ValueError);
    expect(assign(tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]], { dtype: 'float64' }))).toThrow(
      /every parametrization of "weight" to define rightInverse, got parametrization 1 \(Double\) without one/,
    );
    expect(values(parametrizationsOf(layer, 'weight')!.original)).toEqual(triuW0);

    const symmetric = registerParametrization(new TinyLinear(), 'weight', new Symmetric());
    expect(() => {
      symmetric.weight = 3 as unknown as Parameter;
    }).toThrow(/expected a Tensor/);
    expect(() => {
      symmetric.weight = tensor([[1, 2], [3, 4]], { dtype: 'float64' });
    }).toThrow(ShapeError);
    expect(values(parametrizationsOf(symmetric, 'weight')!.original)).toEqual(triuW0);
  });
});

describe('removeParametrizations', () => {
  it('leaveParametrized (default): the same Parameter object holding the current value, property restored', () => {
    const layer = new TinyLinear();
    const weight = layer.weight;
    registerParametrization(layer, 'weight', new Symmetric());
    registerParametrization(layer, 'weight', new Scale(2));
    removeParametrizations(layer, 'weight');
    expect(layer.weight).toBe(weight);
    expect(layer.getParameter('weight')).toBe(weight);
    expect(values(weight)).toEqual(symW0.map((v) => 2 * v));
    expect(Object.getOwnPropertyDescriptor(layer, 'weight')).toMatchObject({ value: weight, writable: true });
    expect(Object.keys(layer.stateDict())).toEqual(['bias', 'weight']);
    expect(layer.getModule('parametrizations')).toBeUndefined();
    expect(isParametrized(layer)).toBe(false);
    expect(weight.requiresGrad).toBe(true);
  });

  it('leaveParametrized: false brings back the original', () => {
    const layer = registerParametrization(new TinyLinear(), 'weight', new Symmetric());
    removeParametrizations(layer, 'weight', { leaveParametrized: false });
    expect(values(layer.weight)).toEqual(triuW0);
    expect(layer.weight).toBeInstanceOf(Parameter);
  });

  it('with several originals: a new Parameter with the value, and leaveParametrized: false is refused', () => {
    const layer = registerParametrization(new TinyLinear(), 'weight', new RowNorm());
    expect(() => removeParametrizations(layer, 'weight', { leaveParametrized: false })).toThrow(/parametrized from 2 originals/);
    expect(isParametrized(layer, 'weight')).toBe(true);
    removeParametrizations(layer, 'weight');
    expect(layer.weight).toBeInstanceOf(Parameter);
    expect(layer.weight.requiresGrad).toBe(true);
    values(layer.weight).forEach((x, i) => expect(x).toBeCloseTo(W0[i]!, 13));
    expect(Object.keys(layer.stateDict())).toEqual(['bias', 'weight']);
  });

  it('keeps the container while another tensor is still parametrized', () => {
    const layer = new TinyLinear();
    registerParametrization(layer, 'weight', new Scale(2));
    registerParametrization(layer, 'bias', new Scale(10));
    expect(Object.keys(layer.stateDict())).toEqual([
      'parametrizations.weight.original', 'parametrizations.weight.0.scale', 'parametrizations.bias.original', 'parametrizations.bias.0.scale',
    ]);
    removeParametrizations(layer, 'weight');
    expect(isParametrized(layer)).toBe(true);
    expect(isParametrized(layer, 'weight')).toBe(false);
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'parametrizations.bias.original', 'parametrizations.bias.0.scale']);
    values(layer.bias).forEach((x, i) => expect(x).toBeCloseTo([0.1, 0.2, 0.3][i]!, 15));
    values(parametrizationsOf(layer, 'bias')!.original).forEach((x, i) => expect(x).toBeCloseTo([0.01, 0.02, 0.03][i]!, 15));
  });

  it('refuses a tensor that is not parametrized, listing the parametrized ones', () => {
    const layer = registerParametrization(new TinyLinear(), 'weight', new Scale(2));
    expect(() => removeParametrizations(layer, 'bias')).toThrow(/parametrized: "weight"\), got "bias"/);
    expect(() => removeParametrizations(new TinyLinear(), 'weight')).toThrow(/parametrized: none/);
  });
});

describe('cached', () => {
  it('computes each parametrized tensor once inside, every read outside', () => {
    const symmetric = new Symmetric();
    const layer = registerParametrization(new TinyLinear(), 'weight', symmetric);
    symmetric.inputs = [];
    const outside = [layer.weight, layer.weight];
    expect(symmetric.inputs.length).toBe(2);
    expect(outside[0]).not.toBe(outside[1]);

    symmetric.inputs = [];
    const x = tensor([[1, 2, 3]], { dtype: 'float64' });
    const [first, second, nested] = cached(() => {
      const a = layer.forward(x);
      const b = layer.forward(a);
      const inner = cached(() => layer.weight);
      return [a, b, inner];
    });
    expect(symmetric.inputs.length).toBe(1);
    expect(values(nested)).toEqual(symW0);
    // One graph node for the weight, used twice: gradients from both uses reach the original.
    sum(second).backward();
    expect(parametrizationsOf(layer, 'weight')!.original.grad).not.toBeNull();
    expect(first.requiresGrad).toBe(true);

    // Cleared on exit: a new cached call computes again.
    symmetric.inputs = [];
    cached(() => [layer.weight, layer.weight]);
    expect(symmetric.inputs.length).toBe(1);
  });

  it('returns the same tensor inside, including from nested calls, and drops it on assignment', () => {
    const symmetric = new Symmetric();
    const layer = registerParametrization(new TinyLinear(), 'weight', symmetric);
    cached(() => {
      const a = layer.weight;
      expect(cached(() => layer.weight)).toBe(a);
      expect(layer.weight).toBe(a);
      layer.weight = tensor([[1, 1, 1], [1, 1, 1], [1, 1, 1]], { dtype: 'float64' });
      const b = layer.weight;
      expect(b).not.toBe(a);
      expect(values(b)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1]);
    });
  });

  it('clears the cache even when fn throws', () => {
    const symmetric = new Symmetric();
    const layer = registerParametrization(new TinyLinear(), 'weight', symmetric);
    expect(() =>
      cached(() => {
        void layer.weight;
        throw new Error('boom');
      }),
    ).toThrow('boom');
    symmetric.inputs = [];
    void layer.weight;
    void layer.weight;
    expect(symmetric.inputs.length).toBe(2);
  });
});

describe('registration errors', () => {
  class Flatten extends Module implements Parametrization {
    forward(x: Tensor): Tensor {
      return reshape(x, [x.size]);
    }
  }
  class ToFloat32 extends Module implements Parametrization {
    forward(x: Tensor): Tensor {
      return noGrad(() => x.to('float32'));
    }
  }

  it('an unknown tensor name lists the parameters and buffers', () => {
    expect(() => registerParametrization(new TinyLinear(), 'wieght', new Symmetric())).toThrow(ValueError);
    expect(() => registerParametrization(new TinyLinear(), 'wieght', new Symmetric())).toThrow(
      /expected the name of a parameter or buffer of TinyLinear \(parameters: weight, bias; buffers: none\), got "wieght"/,
    );
  });

  it('a shape change is a ShapeError and changes nothing; unsafe allows it', () => {
    const layer = new TinyLinear();
    const weight = layer.weight;
    expect(() => registerParametrization(layer, 'weight', new Flatten())).toThrow(ShapeError);
    expect(() => registerParametrization(layer, 'weight', new Flatten())).toThrow(
      /parametrization 0 \(Flatten\)\.forward to keep the shape of TinyLinear\.weight, \[3, 3\], got \[9\].*unsafe/,
    );
    expect(layer.weight).toBe(weight);
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'bias']);
    expect(isParametrized(layer)).toBe(false);

    registerParametrization(layer, 'weight', new Flatten(), { unsafe: true });
    expect(layer.weight.shape).toEqual([9]);
    expect(parametrizationsOf(layer, 'weight')!.unsafe).toBe(true);
  });

  it('a chained shape or dtype change is refused, leaving the chain as it was', () => {
    const layer = registerParametrization(new TinyLinear(), 'weight', new Symmetric());
    expect(() => registerParametrization(layer, 'weight', new Flatten())).toThrow(/parametrization 1 \(Flatten\)\.forward/);
    expect(() => registerParametrization(layer, 'weight', new ToFloat32())).toThrow(DTypeError);
    expect(parametrizationsOf(layer, 'weight')!.length).toBe(1);
    expect(values(layer.weight)).toEqual(symW0);
  });

  it('refuses a non-parametrization and a foreign "parametrizations" child', () => {
    expect(() => registerParametrization(new TinyLinear(), 'weight', { forward: (x: Tensor) => x } as unknown as Parametrization)).toThrow(
      /a Module with forward/,
    );
    class Clash extends TinyLinear {
      constructor() {
        super();
        this.registerModule('parametrizations', new Scale(1));
      }
    }
    expect(() => registerParametrization(new Clash(), 'weight', new Scale(2))).toThrow(/child module named "parametrizations"/);
  });
});

describe('a parametrized host forward is all or nothing for the parametrizations\' buffers', () => {
  /** Counts its training reads in a buffer, like spectral norm's power iteration moves u and v. */
  class CountingReads extends Module implements Parametrization {
    constructor() {
      super();
      this.registerBuffer('reads', tensor([0], { dtype: 'float64' }));
    }
    forward(x: Tensor): Tensor {
      if (this.training) this.getBuffer('reads')!.data[0]! += 1;
      return x;
    }
  }

  it('a Linear forward that throws on its input restores the buffer its weight read moved; a good one keeps it', () => {
    const layer = registerParametrization(new Linear({ inFeatures: 3, outFeatures: 2, dtype: 'float64' }), 'weight', new CountingReads());
    const reads = (): number => layer.stateDict()['parametrizations.weight.0.reads']!.data[0]!;
    const atRegistration = reads(); // registration runs the chain once to check it
    expect(() => layer.forward(tensor([[1, 2]], { dtype: 'float64' }))).toThrow(ShapeError);
    expect(reads()).toBe(atRegistration);
    layer.forward(tensor([[1, 2, 3]], { dtype: 'float64' }));
    expect(reads()).toBe(atRegistration + 1);
    expect(() => cached(() => layer.forward(tensor([[1, 2]], { dtype: 'float64' })))).toThrow(ShapeError);
    expect(reads()).toBe(atRegistration + 1);
  });

  it('the guard is an own forward of the instance, installed once and removed with the last parametrization', () => {
    const layer = new Linear({ inFeatures: 3, outFeatures: 3, dtype: 'float64' });
    registerParametrization(layer, 'weight', new CountingReads());
    const forwardOf = (module: Module): unknown => Object.getOwnPropertyDescriptor(module, 'forward')?.value;
    const guarded = forwardOf(layer);
    expect(typeof guarded).toBe('function');
    registerParametrization(layer, 'weight', new CountingReads());
    registerParametrization(layer, 'bias', new CountingReads());
    expect(forwardOf(layer)).toBe(guarded);
    removeParametrizations(layer, 'weight');
    expect(Object.prototype.hasOwnProperty.call(layer, 'forward')).toBe(true);
    removeParametrizations(layer, 'bias');
    expect(Object.prototype.hasOwnProperty.call(layer, 'forward')).toBe(false);
    expect(Object.getOwnPropertyDescriptor(Linear.prototype, 'forward')?.value).toBe(Reflect.get(layer, 'forward'));
  });
});
