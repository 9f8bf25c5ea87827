import { describe, expect, it } from 'vitest';
import { randn, tensor } from '../creation';
import { gradcheck } from '../gradcheck';
import { expectClose, expectGradcheck } from '../test-utils';
import { erf, gelu, leakyRelu, logSoftmax, relu, sigmoid, silu, softmax, tanh } from './activation';
import { sum } from './reduce';
import erfReference from '../kernels/js/erf-reference.json';

describe('activations', () => {
  it('erf matches reference values to double precision', () => {
    // Values from the Abramowitz-Stegun tables / mpmath.
    const cases: Array<[number, number]> = [
      [0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527],
      [3, 0.9999779095030014], [4, 0.9999999845827421], [-1.5, -0.9661051464753108],
    ];
    for (const [x, expected] of cases) expect(Math.abs(erf(x) - expected)).toBeLessThan(1e-15);
  });

  it('erf is within 1.5 ulp of 50-digit values on every piece and at the piece edges', () => {
    const ulp = (v: number): number => {
      const a = Math.abs(v);
      if (a < 2.2250738585072014e-308) return 5e-324;
      return 2 ** (Math.floor(Math.log2(a)) - 52) * (2 ** Math.floor(Math.log2(a)) > a ? 0.5 : 1);
    };
    let worst = 0;
    for (const [x, expected] of erfReference.points as Array<[number, number]>) {
      worst = Math.max(worst, Math.abs(erf(x) - expected) / ulp(expected));
    }
    expect(worst).toBeLessThanOrEqual(1.5);
    expect(erf(Number.NaN)).toBeNaN();
    expect([erf(Infinity), erf(-Infinity), Object.is(erf(-0), -0)]).toEqual([1, -1, true]);
  });

  it('compute values', () => {
    const x = tensor([-2, -0.5, 0, 1.5], { dtype: 'float64' });
    expectClose(relu(x), [0, 0, 0, 1.5]);
    expectClose(leakyRelu(x, 0.1), [-0.2, -0.05, 0, 1.5]);
    expectClose(tanh(x), [-2, -0.5, 0, 1.5].map(Math.tanh), 1e-12);
    expectClose(sigmoid(x), [-2, -0.5, 0, 1.5].map((v) => 1 / (1 + Math.exp(-v))), 1e-12);
    expectClose(silu(x), [-2, -0.5, 0, 1.5].map((v) => v / (1 + Math.exp(-v))), 1e-12);
    // x * Phi(x) with tabulated normal CDF values Phi(-2), Phi(-0.5), Phi(1.5).
    expectClose(gelu(x), [-2 * 0.022750131948179195, -0.5 * 0.3085375387259869, 0, 1.5 * 0.9331927987311419], 1e-12);
  });

  it("relu follows PyTorch at NaN, ±0 and ±Inf, forward and backward (values printed by torch 1.13's relu)", () => {
    // torch.relu([nan, -0., 0., -1., 2., inf, -inf]) and the gradient of sum(relu(x)).
    const x = tensor([Number.NaN, -0, 0, -1, 2, Infinity, -Infinity], { dtype: 'float64', requiresGrad: true });
    const y = relu(x);
    expect(Array.from(y.data).map(String)).toEqual(['NaN', '0', '0', '0', '2', 'Infinity', '0']);
    expect(Object.is(y.data[1], -0)).toBe(true);
    sum(y).backward();
    expect(Array.from(x.grad!.data)).toEqual([1, 0, 0, 0, 1, 1, 0]);
  });

  it('softmax rows sum to one and logSoftmax is its log', () => {
    const x = randn([3, 5], { dtype: 'float64' });
    const s = softmax(x, 1);
    expectClose(sum(s, 1), [1, 1, 1], 1e-12);
    expectClose(logSoftmax(x, 1), Array.from(s.data, Math.log), 1e-12);
    expectClose(softmax(tensor([1000, 1000], { dtype: 'float64' })), [0.5, 0.5]);
  });

  it('pass gradcheck', () => {
    const x = tensor([[-2.1, -0.4, 0.3, 1.7], [0.9, -1.2, 2.5, -0.05]], { dtype: 'float64', requiresGrad: true });
    for (const fn of [relu, tanh, sigmoid, silu, gelu, (t: typeof x) => leakyRelu(t, 0.2)]) expectGradcheck(gradcheck(fn, [x]));
    expectGradcheck(gradcheck((t) => softmax(t, 0), [x]));
    expectGradcheck(gradcheck((t) => logSoftmax(t, -1), [x]));
  });
});
