import { describe, expect, it } from 'vitest';
import { tensor } from '../creation';
import { OptionError, ShapeError, StateDictError, ValueError } from '../errors';
import { Module, Parameter } from '../nn/module';
import { mul, sum } from '../ops/index';
import type { GradientEntry, GradientTransform } from '../plugin/types';
import type { Tensor } from '../tensor';
import { Adam } from './adam';
import { AdamW } from './adamw';
import { SGD } from './sgd';

// ---------------------------------------------------------------------------------------------
// Straightforward float64 transcriptions of torch.optim's single-tensor updates, one element at a
// time, used as the reference the optimizers must match.

interface SGDRef { lr: number; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number; maximize?: boolean }

function referenceSGD(initial: number[], grads: number[][], h: SGDRef): number[][] {
  const { lr, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0, maximize = false } = h;
  const p = [...initial];
  let buf: number[] | null = null;
  const history: number[][] = [];
  for (const grad of grads) {
    let d = grad.map((g) => (maximize ? -g : g));
    if (weightDecay !== 0) d = d.map((g, i) => g + weightDecay * p[i]!);
    if (momentum !== 0) {
      buf = buf === null ? [...d] : buf.map((b, i) => b * momentum + (1 - dampening) * d[i]!);
      const b = buf;
      d = nesterov ? d.map((g, i) => g + momentum * b[i]!) : [...b];
    }
    for (let i = 0; i < p.length; i++) p[i] = p[i]! + -lr * d[i]!;
    history.push([...p]);
  }
  return history;
}

interface AdamRef { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number; amsgrad?: boolean; decoupled?: boolean }

function referenceAdam(initial: number[], grads: number[][], h: AdamRef): number[][] {
  const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, amsgrad = false, decoupled = false } = h;
  const weightDecay = h.weightDecay ?? (decoupled ? 0.01 : 0);
  const [beta1, beta2] = betas;
  let p = [...initial];
  let m = p.map(() => 0);
  let v = p.map(() => 0);
  let vMax = p.map(() => 0);
  const history: number[][] = [];
  grads.forEach((rawGrad, index) => {
    const step = index + 1;
    if (decoupled) p = p.map((x) => x * (1 - lr * weightDecay));
    const grad = !decoupled && weightDecay !== 0 ? rawGrad.map((g, i) => g + weightDecay * p[i]!) : rawGrad;
    m = m.map((mi, i) => mi * beta1 + (1 - beta1) * grad[i]!);
    v = v.map((vi, i) => vi * beta2 + (1 - beta2) * grad[i]! * grad[i]!);
    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2 = 1 - beta2 ** step;
    const stepSize = lr / biasCorrection1;
    const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
    if (amsgrad) vMax = vMax.map((x, i) => Math.max(x, v[i]!));
    const second = amsgrad ? vMax : v;
    const denom = second.map((x) => Math.sqrt(x) / biasCorrection2Sqrt + eps);
    p = p.map((x, i) => x - stepSize * (m[i]! / denom[i]!));
    history.push([...p]);
  });
  return history;
}

// ---------------------------------------------------------------------------------------------

const initial = [0.5, -1.25, 2, 0.1];
// Gradients that change sign and scale over the steps, so momentum and moments matter.
const grads = [
  [0.3, -0.2, 1.5, -0.01],
  [-0.1, 0.4, 0.9, 0.02],
  [0.25, 0.05, -2, 0.5],
  [0.7, -0.6, 0.3, -0.3],
  [-0.45, 0.15, 0.0, 1.1],
];

function param(values: readonly number[], dtype: 'float32' | 'float64' = 'float64'): Parameter {
  return new Parameter(tensor([...values], { dtype }));
}

function setGrad(p: Tensor, values: readonly number[]): void {
  p.grad = tensor([...values], { dtype: p.dtype, shape: p.shape });
}

function run(make: (p: Parameter) => { step(): unknown }, steps = grads): number[][] {
  const p = param(initial);
  const optimizer = make(p);
  return steps.map((g) => {
    setGrad(p, g);
    optimizer.step();
    return Array.from(p.data);
  });
}

function expectClose(actual: number[][], expected: number[][], digits = 14): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, s) => row.forEach((x, i) => expect(x, `step ${s + 1}, element ${i}`).toBeCloseTo(expected[s]![i]!, digits)));
}

describe('SGD matches torch.optim.SGD', () => {
  const cases: Array<[string, SGDRef]> = [
    ['plain', { lr: 0.1 }],
    ['weight decay', { lr: 0.1, weightDecay: 0.05 }],
    ['momentum (first buffer = grad)', { lr: 0.05, momentum: 0.9 }],
    ['momentum + dampening', { lr: 0.05, momentum: 0.8, dampening: 0.3 }],
    ['nesterov + weight decay', { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }],
    ['maximize + momentum', { lr: 0.02, momentum: 0.5, maximize: true, weightDecay: 0.1 }],
  ];
  for (const [name, h] of cases) {
    it(name, () => {
      expectClose(run((p) => new SGD([p], h)), referenceSGD(initial, grads, h));
    });
  }

  it('first momentum step equals a plain step, second uses the buffer', () => {
    const p = param([1]);
    const optimizer = new SGD([p], { lr: 0.1, momentum: 0.9 });
    setGrad(p, [2]);
    optimizer.step();
    expect(p.data[0]).toBeCloseTo(1 - 0.1 * 2, 15); // buffer = grad = 2
    setGrad(p, [1]);
    optimizer.step();
    expect(p.data[0]).toBeCloseTo(0.8 - 0.1 * (0.9 * 2 + 1), 15); // buffer = 2.8
    expect(Array.from(optimizer.stateOf(p)!.momentumBuffer!)).toEqual([0.9 * 2 + 1]);
  });

  it('agrees with numbers computed by PyTorch 1.13 (nesterov, weight decay, 3 steps)', () => {
    // torch.optim.SGD([p], lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01), float64, grads = grads[0..2]
    const torchValues = [0.4362726723500625, -1.2695490930307813, 1.8025502236790001, 0.0511066289716375];
    const result = run((p) => new SGD([p], { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }), grads.slice(0, 3));
    torchValues.forEach((x, i) => expect(result[2]![i]).toBeCloseTo(x, 14));
  });

  it('updates float32 parameters in place with float64 state', () => {
    const p = param(initial, 'float32');
    const data = p.data;
    const optimizer = new SGD([p], { lr: 0.05, momentum: 0.9 });
    const h = { lr: 0.05, momentum: 0.9 };
    for (const g of grads) {
      setGrad(p, g);
      optimizer.step();
    }
    expect(p.data).toBe(data);
    expect(optimizer.stateOf(p)!.momentumBuffer).toBeInstanceOf(Float64Array);
    const expected = referenceSGD(initial, grads, h).at(-1)!;
    expected.forEach((x, i) => expect(p.data[i]).toBeCloseTo(x, 5));
  });
});

describe('Adam and AdamW match torch.optim', () => {
  const adamCases: Array<[string, AdamRef]> = [
    ['Adam defaults', {}],
    ['Adam lr, betas, eps', { lr: 0.01, betas: [0.8, 0.95], eps: 1e-6 }],
    ['Adam L2 weight decay', { lr: 0.01, weightDecay: 0.1 }],
    ['Adam amsgrad', { lr: 0.01, amsgrad: true, betas: [0.5, 0.9] }],
  ];
  for (const [name, h] of adamCases) {
    it(name, () => {
      expectClose(run((p) => new Adam([p], h)), referenceAdam(initial, grads, h));
    });
  }
  const adamwCases: Array<[string, AdamRef]> = [
    ['AdamW defaults (weightDecay 0.01)', {}],
    ['AdamW strong decay', { lr: 0.05, weightDecay: 0.5 }],
    ['AdamW amsgrad', { lr: 0.01, amsgrad: true, betas: [0.5, 0.9], weightDecay: 0.1 }],
  ];
  for (const [name, h] of adamwCases) {
    it(name, () => {
      expectClose(run((p) => new AdamW([p], h)), referenceAdam(initial, grads, { ...h, decoupled: true }));
    });
  }

  it('the first Adam step moves each element by about lr (bias correction)', () => {
    const p = param([0, 0]);
    const optimizer = new Adam([p], { lr: 0.01 });
    setGrad(p, [3, -0.002]);
    optimizer.step();
    // m/(1-b1) = g and sqrt(v/(1-b2)) = |g|, so the step is lr * g / (|g| + eps).
    expect(p.data[0]).toBeCloseTo(-0.01 * (3 / (3 + 1e-8)), 15);
    expect(p.data[1]).toBeCloseTo(0.01 * (0.002 / (0.002 + 1e-8)), 15);
  });

  it('AdamW decays the weight outside the adaptive denominator, Adam inside it', () => {
    const a = param([2]);
    const w = param([2]);
    const adam = new Adam([a], { lr: 0.1, weightDecay: 0.5 });
    const adamw = new AdamW([w], { lr: 0.1, weightDecay: 0.5 });
    setGrad(a, [0]);
    setGrad(w, [0]);
    adam.step();
    adamw.step();
    // AdamW: 2 * (1 - 0.05) and a zero Adam step. Adam: the decay term is the gradient, step ~ lr.
    expect(w.data[0]).toBeCloseTo(1.9, 15);
    expect(a.data[0]).toBeCloseTo(2 - 0.1 * (1 / (1 + 1e-8)), 12);
  });

  it('agrees with numbers computed by PyTorch 1.13 (AdamW amsgrad, 5 steps; Adam weight decay, 5 steps)', () => {
    // torch.optim.AdamW([p], lr=0.01, betas=(0.5, 0.9), weight_decay=0.1, amsgrad=True), float64
    const torchAdamW = [0.4690971147786045, -1.2359606051423853, 1.9770877864804031, 0.0853434861271777];
    // torch.optim.Adam([p], lr=0.01, weight_decay=0.05), float64. (Not 0.1: then grad + 0.1 * p cancels to ~1e-18 at
    // step 1 for the last element, and torch's fused multiply-add rounds that differently, amplified by 1/(|g| + eps).)
    const torchAdam = [0.4668051040012990, -1.2355504500388261, 1.9768401659913823, 0.0901014454764982];
    const adamw = run((p) => new AdamW([p], { lr: 0.01, betas: [0.5, 0.9], weightDecay: 0.1, amsgrad: true })).at(-1)!;
    const adam = run((p) => new Adam([p], { lr: 0.01, weightDecay: 0.05 })).at(-1)!;
    torchAdamW.forEach((x, i) => expect(adamw[i]).toBeCloseTo(x, 14));
    torchAdam.forEach((x, i) => expect(adam[i]).toBeCloseTo(x, 14));
  });

  it('keeps a per-parameter step count and float64 moments', () => {
    const a = param([1, 2]);
    const b = param([3]);
    const optimizer = new Adam([a, b]);
    setGrad(a, [1, 1]);
    setGrad(b, [1]);
    optimizer.step();
    b.grad = null;
    optimizer.step();
    expect(optimizer.stateOf(a)!.step).toBe(2);
    expect(optimizer.stateOf(b)!.step).toBe(1);
    expect(optimizer.stateOf(a)!.expAvg).toBeInstanceOf(Float64Array);
    expect(optimizer.stateOf(a)!.maxExpAvgSq).toBeNull();
  });
});

class TwoLayer extends Module {
  first = this.registerModule('first', new Linearish([[1, 2], [3, 4]], [0.5, -0.5]));
  second = this.registerModule('second', new Linearish([[0.1, -0.2]], [0]));
  forward(): Tensor {
    return this.first.weight;
  }
}

class Linearish extends Module {
  weight: Parameter;
  bias: Parameter;
  constructor(weight: number[][], bias: number[]) {
    super();
    this.weight = this.registerParameter('weight', new Parameter(tensor(weight, { dtype: 'float64' })));
    this.bias = this.registerParameter('bias', new Parameter(tensor(bias, { dtype: 'float64' })));
  }
  forward(): Tensor {
    return this.weight;
  }
}

describe('Optimizer parameters and groups', () => {
  it('takes a Module: dotted names and owning modules', () => {
    const model = new TwoLayer();
    const optimizer = new SGD(model, { lr: 0.1 });
    const entries = optimizer.entries();
    expect(entries.map((e) => e.name)).toEqual(['first.weight', 'first.bias', 'second.weight', 'second.bias']);
    expect(entries[0]!.module).toBe(model.first);
    expect(entries[3]!.module).toBe(model.second);
    expect(entries[0]!.parameter).toBe(model.first.weight);
  });

  it('takes [name, parameter] pairs (namedParameters()) and plain lists', () => {
    const model = new TwoLayer();
    const named = new SGD(model.namedParameters(), { lr: 0.1 });
    expect(named.entries().map((e) => e.name)).toEqual(['first.weight', 'first.bias', 'second.weight', 'second.bias']);
    expect(named.entries()[0]!.module).toBeUndefined();
    const plain = new SGD(model.parameters(), { lr: 0.1 });
    expect(plain.entries().map((e) => e.name)).toEqual(['0', '1', '2', '3']);
  });

  it('applies per-group lr and weightDecay, defaults elsewhere', () => {
    const a = param([1]);
    const b = param([1]);
    const optimizer = new SGD([{ params: [a] }, { params: [b], lr: 0.5, weightDecay: 0.1 }], { lr: 0.1 });
    setGrad(a, [1]);
    setGrad(b, [1]);
    optimizer.step();
    expect(a.data[0]).toBeCloseTo(1 - 0.1, 15);
    expect(b.data[0]).toBeCloseTo(1 - 0.5 * (1 + 0.1), 15);
    expect(optimizer.paramGroups.map((g) => [g.lr, g.weightDecay, g.momentum])).toEqual([[0.1, 0, 0], [0.5, 0.1, 0]]);
    expect(optimizer.entries().map((e) => e.name)).toEqual(['0', '1']);
  });

  it('addParamGroup adds parameters later, and lr changes take effect at the next step', () => {
    const a = param([1]);
    const b = param([1]);
    const optimizer = new Adam([a], { lr: 0.1 });
    optimizer.addParamGroup({ params: [['head.weight', b]], lr: 0.2 });
    optimizer.paramGroups[0]!.lr = 0.3;
    setGrad(a, [1]);
    setGrad(b, [1]);
    optimizer.step();
    expect(a.data[0]).toBeCloseTo(1 - 0.3 * (1 / (1 + 1e-8)), 12);
    expect(b.data[0]).toBeCloseTo(1 - 0.2 * (1 / (1 + 1e-8)), 12);
    expect(optimizer.entries()[1]!.name).toBe('head.weight');
  });

  it('skips parameters whose grad is null: no change, no state', () => {
    const a = param([1, 2]);
    const b = param([3]);
    const optimizer = new SGD([a, b], { lr: 0.1, momentum: 0.9 });
    setGrad(a, [1, 1]);
    const report = optimizer.step();
    expect(report.updated).toBe(1);
    expect(Array.from(b.data)).toEqual([3]);
    expect(optimizer.stateOf(b)).toBeUndefined();
  });

  it('zeroGrad sets gradients to null, or to zeros with setToNone: false', () => {
    const a = param([1, 2]);
    const optimizer = new SGD([a], { lr: 0.1 });
    setGrad(a, [1, 1]);
    const grad = a.grad!;
    optimizer.zeroGrad({ setToNone: false });
    expect(a.grad).toBe(grad);
    expect(Array.from(grad.data)).toEqual([0, 0]);
    optimizer.zeroGrad();
    expect(a.grad).toBeNull();
  });

  it('trains through autograd: gradients from backward drive the update', () => {
    const model = new TwoLayer();
    const optimizer = new SGD(model, { lr: 0.5 });
    const before = Array.from(model.first.weight.data);
    sum(mul(model.first.weight, tensor([[1, 0], [0, 2]], { dtype: 'float64' }))).backward();
    optimizer.step();
    expect(Array.from(model.first.weight.data)).toEqual([before[0]! - 0.5, before[1]!, before[2]!, before[3]! - 1]);
    expect(Array.from(model.first.bias.data)).toEqual([0.5, -0.5]); // no grad: untouched
  });
});

describe('gradient transforms', () => {
  function recordingScale(name: string, factor: number, log: string[]): GradientTransform & { seen: number[][] } {
    const seen: number[][] = [];
    return {
      name,
      seen,
      apply(entries: readonly GradientEntry[]) {
        log.push(name);
        let total = 0;
        for (const { parameter } of entries) {
          seen.push(Array.from(parameter.grad!.data));
          for (let i = 0; i < parameter.grad!.size; i++) {
            total += parameter.grad!.data[i]! ** 2;
            parameter.grad!.data[i]! *= factor;
          }
        }
        return { normBefore: Math.sqrt(total), count: entries.length };
      },
    };
  }

  it('run in order before the update, see the gradients, and return their reports', () => {
    const log: string[] = [];
    const a = param([1, 1]);
    const b = param([5]);
    const half = recordingScale('half', 0.5, log);
    const third = recordingScale('third', 1 / 3, log);
    const optimizer = new SGD([a, b], { lr: 1, gradientTransforms: [half] });
    optimizer.addGradientTransform(third);
    setGrad(a, [3, 4]);
    const report = optimizer.step();
    expect(log).toEqual(['half', 'third']);
    // Only parameters with a gradient are passed; the second transform sees the first one's output.
    expect(half.seen).toEqual([[3, 4]]);
    expect(third.seen).toEqual([[1.5, 2]]);
    expect(report.transforms).toEqual([
      { name: 'half', report: { normBefore: 5, count: 1 } },
      { name: 'third', report: { normBefore: 2.5, count: 1 } },
    ]);
    expect(Array.from(a.data)).toEqual([1 - 0.5, 1 - 2 / 3]);
    expect(Array.from(b.data)).toEqual([5]);
    expect(report).toMatchObject({ skipped: false, nonFinite: [], updated: 1 });
  });

  it('receive names and owning modules when the optimizer was given a Module', () => {
    const model = new TwoLayer();
    const seen: Array<[string, Module | undefined]> = [];
    const optimizer = new SGD(model, {
      lr: 0.1,
      gradientTransforms: [{ name: 'spy', apply: (entries) => void entries.forEach((e) => seen.push([e.name, e.module])) }],
    });
    setGrad(model.second.weight, [1, 1]);
    optimizer.step();
    expect(seen).toEqual([['second.weight', model.second]]);
  });

  it('addGradientTransform refuses a non-transform', () => {
    const optimizer = new SGD([param([1])], { lr: 0.1 });
    expect(() => optimizer.addGradientTransform({ name: 'x' } as unknown as GradientTransform)).toThrow(ValueError);
    expect(() => new SGD([param([1])], { lr: 0.1, gradientTransforms: [{ name: 'x' } as unknown as GradientTransform] })).toThrow(
      /an object with apply\(entries\)/,
    );
  });
});

describe('non-finite gradients', () => {
  function setup(skipNonFinite?: boolean) {
    const a = param([1, 2]);
    const b = param([3]);
    const optimizer = new Adam([['encoder.weight', a], ['encoder.bias', b]], { lr: 0.1, skipNonFinite });
    setGrad(a, [1, 1]);
    setGrad(b, [1]);
    optimizer.step();
    return { a, b, optimizer };
  }

  it('by default step() throws a ValueError naming the parameter and changes nothing', () => {
    const { a, b, optimizer } = setup();
    const before = { a: Array.from(a.data), b: Array.from(b.data), state: optimizer.stateDict() };
    setGrad(a, [1, 2]);
    setGrad(b, [Number.NaN]);
    let transformRan = false;
    optimizer.addGradientTransform({ name: 'spy', apply: () => void (transformRan = true) });
    expect(() => optimizer.step()).toThrow(ValueError);
    expect(() => optimizer.step()).toThrow(/NaN or infinity in the gradient of "encoder\.bias".*skipNonFinite/);
    expect(Array.from(a.data)).toEqual(before.a);
    expect(Array.from(b.data)).toEqual(before.b);
    expect(optimizer.stateDict()).toEqual(before.state);
    expect(Array.from(a.grad!.data)).toEqual([1, 2]);
    expect(transformRan).toBe(false);
  });

  it('with skipNonFinite the step is skipped and reported', () => {
    const { a, b, optimizer } = setup(true);
    const before = { a: Array.from(a.data), b: Array.from(b.data), state: optimizer.stateDict() };
    setGrad(a, [Number.POSITIVE_INFINITY, 0]);
    setGrad(b, [1]);
    const report = optimizer.step();
    expect(report).toEqual({ skipped: true, nonFinite: ['encoder.weight'], transforms: [], updated: 0 });
    expect(Array.from(a.data)).toEqual(before.a);
    expect(Array.from(b.data)).toEqual(before.b);
    expect(optimizer.stateDict()).toEqual(before.state);
    setGrad(a, [1, 1]);
    expect(optimizer.step().updated).toBe(2);
    expect(optimizer.stateOf(a)!.step).toBe(2);
  });

  it('finds a -Infinity among many values, and takes the largest finite values, -0 and subnormals as finite', () => {
    const big = param(new Array<number>(1000).fill(0));
    const odd = param([0, 0, 0]);
    const optimizer = new SGD([['big', big], ['odd', odd]], { lr: 0.1, skipNonFinite: true });
    setGrad(big, Array.from({ length: 1000 }, (_, i) => (i === 777 ? Number.NEGATIVE_INFINITY : 3.4e38 * (i % 2 ? 1 : -1))));
    setGrad(odd, [-0, 1e-45, -3.4e38]);
    expect(optimizer.step().nonFinite).toEqual(['big']);
    setGrad(big, Array.from({ length: 1000 }, (_, i) => 3.4e38 * (i % 2 ? 1 : -1)));
    expect(optimizer.step()).toMatchObject({ skipped: false, nonFinite: [], updated: 2 });
    // A non-finite value is found wherever it sits (every lane of the check, and its tail).
    const seven = param(new Array<number>(7).fill(0));
    const small = new SGD([['seven', seven]], { lr: 0.1, skipNonFinite: true });
    for (let at = 0; at < 7; at++) {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
        setGrad(seven, Array.from({ length: 7 }, (_, i) => (i === at ? bad : i + 1)));
        expect(small.step().nonFinite, `${bad} at ${at}`).toEqual(['seven']);
      }
    }
  });

  it('a transform that produces a non-finite gradient is named', () => {
    const p = param([1]);
    const optimizer = new SGD([p], {
      lr: 0.1,
      gradientTransforms: [{ name: 'divide-by-zero', apply: (entries) => void entries[0]!.parameter.grad!.data.fill(1 / 0) }],
    });
    setGrad(p, [1]);
    expect(() => optimizer.step()).toThrow(/"0" after the gradient transforms divide-by-zero/);
    expect(Array.from(p.data)).toEqual([1]);
    optimizer.skipNonFinite = true;
    setGrad(p, [1]);
    expect(optimizer.step()).toEqual({ skipped: true, nonFinite: ['0'], transforms: [{ name: 'divide-by-zero', report: undefined }], updated: 0 });
    expect(Array.from(p.data)).toEqual([1]);
  });
});

describe('optimizer state dict', () => {
  it('round-trips: training resumed from a saved state matches uninterrupted training', () => {
    const make = (p: Parameter) => new Adam([{ params: [p], lr: 0.02 }], { amsgrad: true });
    const uninterrupted = run(make).at(-1)!;

    const p = param(initial);
    const first = make(p);
    for (const g of grads.slice(0, 3)) {
      setGrad(p, g);
      first.step();
    }
    const saved = first.stateDict();
    const atSave = Array.from(p.data);
    expect(saved.paramGroups[0]).toMatchObject({ lr: 0.02, amsgrad: true, params: [0], names: ['0'] });
    expect(saved.state[0]!.step).toBe(3);
    // The saved dict is a copy: more steps do not change it.
    const savedExpAvg = Array.from(saved.state[0]!.expAvg as Float64Array);
    setGrad(p, [1, 1, 1, 1]);
    first.step();
    expect(Array.from(saved.state[0]!.expAvg as Float64Array)).toEqual(savedExpAvg);

    // Through JSON (buffers become plain arrays), into a fresh optimizer with other hyperparameters.
    const asJson = JSON.stringify(saved, (_key, value: unknown) => (value instanceof Float64Array ? Array.from(value) : value));
    const resumedParam = param(atSave);
    const resumed = new Adam([resumedParam], { lr: 0.5 });
    resumed.loadStateDict(JSON.parse(asJson) as typeof saved);
    expect(resumed.paramGroups[0]!.lr).toBe(0.02);
    expect(resumed.paramGroups[0]!.amsgrad).toBe(true);
    for (const g of grads.slice(3)) {
      setGrad(resumedParam, g);
      resumed.step();
    }
    uninterrupted.forEach((x, i) => expect(resumedParam.data[i]).toBe(x));
  });

  it('refuses a mismatched dict, reporting every problem and changing nothing', () => {
    const a = param([1, 2]);
    const optimizer = new SGD([a], { lr: 0.1, momentum: 0.9 });
    setGrad(a, [1, 1]);
    optimizer.step();
    const before = optimizer.stateDict();
    let error: unknown;
    try {
      optimizer.loadStateDict({
        state: { 0: { momentumBuffer: new Float64Array(3), extra: 1 }, 5: { momentumBuffer: null } },
        paramGroups: [{ ...before.paramGroups[0]!, lr: -1 }],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateDictError);
    const problems = (error as StateDictError).problems.join('\n');
    expect(problems).toMatch(/lr \(loaded parameter group 0\) = -1/);
    expect(problems).toMatch(/momentumBuffer .*expected 2 values, got 3/);
    expect(problems).toMatch(/unexpected field "extra"/);
    expect(problems).toMatch(/parameter index 5/);
    expect(optimizer.stateDict()).toEqual(before);
    expect(() => optimizer.loadStateDict({ state: {}, paramGroups: [] })).toThrow(/0 parameter group\(s\) given, the optimizer has 1/);
  });
});

describe('optimizer validation', () => {
  it('refuses lr < 0 and weightDecay < 0, naming the option and the group', () => {
    expect(() => new SGD([param([1])], { lr: -0.1 })).toThrow(OptionError);
    expect(() => new SGD([param([1])], { lr: -0.1 })).toThrow(/expected lr to be a finite number >= 0, got lr = -0.1/);
    expect(() => new Adam([param([1])], { lr: -1e-3 })).toThrow(OptionError);
    expect(() => new AdamW([param([1])], { weightDecay: -1 })).toThrow(/weightDecay/);
    expect(() => new SGD([{ params: [param([1])] }, { params: [param([2])], lr: -1 }], { lr: 0.1 })).toThrow(/lr \(parameter group 1\)/);
    expect(() => new SGD([param([1])], { lr: Number.NaN })).toThrow(OptionError);
  });

  it('refuses betas outside [0, 1) and eps < 0', () => {
    expect(() => new Adam([param([1])], { betas: [1, 0.999] })).toThrow(/betas\[0\] to be a finite number >= 0 < 1, got betas\[0\] = 1/);
    expect(() => new Adam([param([1])], { betas: [0.9, -0.1] })).toThrow(OptionError);
    expect(() => new AdamW([param([1])], { betas: [0.9, 1.5] })).toThrow(/betas\[1\]/);
    expect(() => new Adam([param([1])], { betas: [0.9] as unknown as [number, number] })).toThrow(/pair/);
    expect(() => new Adam([param([1])], { eps: -1 })).toThrow(/eps/);
    expect(() => new Adam([param([1])], { betas: [0, 0] })).not.toThrow();
  });

  it('refuses nesterov without momentum or with dampening, and a missing lr', () => {
    expect(() => new SGD([param([1])], { lr: 0.1, nesterov: true })).toThrow(/nesterov with momentum > 0 and dampening 0/);
    expect(() => new SGD([param([1])], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(OptionError);
    expect(() => new SGD([param([1])], {} as { lr: number })).toThrow(/learning rate/);
  });

  it('refuses empty, duplicated, non-leaf and unknown inputs', () => {
    const p = param([1]);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/at least one parameter/);
    expect(() => new SGD([p, p], { lr: 0.1 })).toThrow(/parameter "1" listed twice/);
    expect(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 })).toThrow(/listed twice \(parameter group 1\)/);
    expect(() => new SGD([mul(p, 2)], { lr: 0.1 })).toThrow(/leaf tensors/);
    expect(() => new SGD([1 as unknown as Tensor], { lr: 0.1 })).toThrow(ValueError);
    expect(() => new SGD([{ params: [p], weight_decay: 0.1 } as never], { lr: 0.1 })).toThrow(/unknown option "weight_decay"/);
    expect(() => new SGD([{ params: [p] }, p] as never, { lr: 0.1 })).toThrow(/not a mix/);
  });

  it('refuses a gradient whose size differs from its parameter', () => {
    const p = param([1, 2]);
    const optimizer = new SGD([p], { lr: 0.1 });
    p.grad = tensor([1, 2, 3], { dtype: 'float64' });
    expect(() => optimizer.step()).toThrow(ShapeError);
  });
});

describe('optimizer options are checked once, in the constructor', () => {
  it('unknown option keys are refused (PyTorch spellings get a suggestion), so nothing is silently ignored', () => {
    const w = new Parameter(tensor([1, 2], { dtype: 'float64' }));
    expect(() => new Adam([w], { weight_decay: 0.1 } as never)).toThrow(OptionError);
    expect(() => new Adam([w], { weight_decay: 0.1 } as never)).toThrow(/^Adam: expected options among lr, betas, eps, weightDecay, amsgrad, maximize, gradientTransforms, postStepHooks, skipNonFinite, got unknown option "weight_decay"\. Did you mean "weightDecay"\?/);
    expect(() => new AdamW([w], { beta: [0.9, 0.99] } as never)).toThrow(/AdamW: .*unknown option "beta"/);
    expect(() => new SGD([w], { lr: 0.1, nesterov_momentum: true } as never)).toThrow(/SGD: .*unknown option "nesterov_momentum"/);
    // Every documented key is accepted.
    expect(new Adam([w], { lr: 1e-2, betas: [0.8, 0.9], eps: 1e-6, weightDecay: 0.1, amsgrad: true, maximize: false, skipNonFinite: true, gradientTransforms: [], postStepHooks: [] }).defaults.lr).toBe(1e-2);
    expect(new SGD([w], { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0, maximize: false }).defaults.momentum).toBe(0.9);
  });
});
