import { describe, expect, it } from 'vitest';
import * as api from './index';
import { Tensor, rand, randn, tensor } from './index';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

/** One row per chaining method: how to call it, and its functional op's name in the package's exports. */
const cases: Array<[method: string, call: (x: Tensor, y: Tensor) => Tensor, functional: (x: Tensor, y: Tensor) => Tensor]> = [
  ['add', (x, y) => x.add(y), (x, y) => api.add(x, y)],
  ['add (number)', (x) => x.add(2), (x) => api.add(x, 2)],
  ['sub', (x, y) => x.sub(y), (x, y) => api.sub(x, y)],
  ['mul', (x, y) => x.mul(y), (x, y) => api.mul(x, y)],
  ['div', (x, y) => x.div(y), (x, y) => api.div(x, y)],
  ['pow', (x) => x.abs().pow(1.5), (x) => api.pow(api.abs(x), 1.5)],
  ['maximum', (x, y) => x.maximum(y), (x, y) => api.maximum(x, y)],
  ['minimum', (x, y) => x.minimum(y), (x, y) => api.minimum(x, y)],
  ['neg', (x) => x.neg(), (x) => api.neg(x)],
  ['exp', (x) => x.exp(), (x) => api.exp(x)],
  ['log', (x, y) => y.log(), (_x, y) => api.log(y)],
  ['sqrt', (x, y) => y.sqrt(), (_x, y) => api.sqrt(y)],
  ['rsqrt', (x, y) => y.rsqrt(), (_x, y) => api.rsqrt(y)],
  ['abs', (x) => x.abs(), (x) => api.abs(x)],
  ['square', (x) => x.square(), (x) => api.square(x)],
  ['sin', (x) => x.sin(), (x) => api.sin(x)],
  ['cos', (x) => x.cos(), (x) => api.cos(x)],
  ['clamp', (x) => x.clamp(-0.5, 0.5), (x) => api.clamp(x, -0.5, 0.5)],
  ['relu', (x) => x.relu(), (x) => api.relu(x)],
  ['leakyRelu', (x) => x.leakyRelu(0.2), (x) => api.leakyRelu(x, 0.2)],
  ['tanh', (x) => x.tanh(), (x) => api.tanh(x)],
  ['sigmoid', (x) => x.sigmoid(), (x) => api.sigmoid(x)],
  ['silu', (x) => x.silu(), (x) => api.silu(x)],
  ['gelu', (x) => x.gelu(), (x) => api.gelu(x)],
  ['softmax', (x) => x.softmax(0), (x) => api.softmax(x, 0)],
  ['logSoftmax', (x) => x.logSoftmax(), (x) => api.logSoftmax(x)],
  ['sum', (x) => x.sum(), (x) => api.sum(x)],
  ['sum (dims, keepdim)', (x) => x.sum([0, 2], { keepdim: true }), (x) => api.sum(x, [0, 2], { keepdim: true })],
  ['mean', (x) => x.mean(-1), (x) => api.mean(x, -1)],
  ['variance', (x) => x.variance(1, { unbiased: false }), (x) => api.variance(x, 1, { unbiased: false })],
  ['max', (x) => x.max(0), (x) => api.max(x, 0)],
  ['min', (x) => x.min([1, 2]), (x) => api.min(x, [1, 2])],
  ['argmax', (x) => x.argmax(1), (x) => api.argmax(x, 1)],
  ['matmul', (x) => x.matmul(x.transpose()), (x) => api.matmul(x, api.transpose(x))],
  ['reshape', (x) => x.reshape([4, -1]), (x) => api.reshape(x, [4, -1])],
  ['flatten', (x) => x.flatten(1), (x) => api.flatten(x, 1)],
  ['unsqueeze', (x) => x.unsqueeze(1), (x) => api.unsqueeze(x, 1)],
  ['squeeze', (x) => x.unsqueeze(0).squeeze(0), (x) => api.squeeze(api.unsqueeze(x, 0), 0)],
  ['permute', (x) => x.permute([2, 0, 1]), (x) => api.permute(x, [2, 0, 1])],
  ['transpose', (x) => x.transpose(0, 2), (x) => api.transpose(x, 0, 2)],
  ['slice', (x) => x.slice(2, 1, 3), (x) => api.slice(x, 2, 1, 3)],
  ['expand', (x) => x.sum(0, { keepdim: true }).expand([5, 3, 4]), (x) => api.expand(api.sum(x, 0, { keepdim: true }), [5, 3, 4])],
  ['repeat', (x) => x.repeat([1, 2, 1]), (x) => api.repeat(x, [1, 2, 1])],
];

function inputs(): [Tensor, Tensor] {
  return [randn([2, 3, 4], f64), rand([2, 3, 4], { ...f64, low: 0.5, high: 2 })];
}

describe('Tensor method chaining', () => {
  it('x.add(y).mul(z).sum() is sum((x + y) * z), value and gradients (reference: plain loops)', () => {
    const x = tensor([1, 2, 3], f64);
    const y = tensor([10, 20, 30], f64);
    const z = tensor([0.5, -1, 2], f64);
    const out = x.add(y).mul(z).sum();
    expect(out.item()).toBe(11 * 0.5 + 22 * -1 + 33 * 2);
    out.backward();
    expect(Array.from(x.grad!.data)).toEqual([0.5, -1, 2]); // d/dx = z
    expect(Array.from(y.grad!.data)).toEqual([0.5, -1, 2]);
    expect(Array.from(z.grad!.data)).toEqual([11, 22, 33]); // d/dz = x + y
  });

  it.each(cases)('%s: same node, values and gradients as the functional op', (_name, call, functional) => {
    const [x, y] = inputs();
    const chained = call(x, y);
    const [x2, y2] = [new Tensor(x.data.slice(), x.shape, true), new Tensor(y.data.slice(), y.shape, true)];
    const direct = functional(x2, y2);
    expect(chained.shape).toEqual(direct.shape);
    expect(chained.dtype).toBe(direct.dtype);
    expect(chained.node?.op).toBe(direct.node?.op);
    expect(Array.from(chained.data)).toEqual(Array.from(direct.data));
    if (chained.requiresGrad) {
      const seed = randn(chained.shape, { dtype: 'float64' });
      chained.backward(seed);
      direct.backward(seed);
      for (const [a, b] of [[x, x2], [y, y2]] as const) {
        expect(a.grad === null ? null : Array.from(a.grad.data)).toEqual(b.grad === null ? null : Array.from(b.grad.data));
      }
    }
  });

  it('covers every chaining method declared on Tensor', () => {
    const declared = Object.getOwnPropertyNames(Tensor.prototype).filter(
      (name) => typeof (api as Record<string, unknown>)[name] === 'function' && name !== 'constructor',
    );
    const tested = new Set(cases.map(([name]) => name.split(' ')[0]));
    expect(declared.filter((name) => !tested.has(name))).toEqual([]);
    expect([...api.tensorMethodNames].sort()).toEqual([...declared].sort());
    expect(declared.length).toBeGreaterThanOrEqual(40);
  });

  it('bad arguments get the functional op\'s typed error', () => {
    const x = randn([2, 3]);
    expect(() => x.add([1, 2] as unknown as Tensor)).toThrow('add: expected b to be a Tensor or a number, got a plain array of length 2');
    expect(() => x.matmul(randn([4, 5]))).toThrow(/^matmul: expected/);
    expect(() => x.reshape([4, 4])).toThrow(api.ShapeError);
  });

  it('parameters chain too (Parameter extends Tensor)', () => {
    const weight = new api.Parameter(tensor([1, -2, 3]));
    expect(weight.relu().sum().item()).toBe(4);
  });
});
