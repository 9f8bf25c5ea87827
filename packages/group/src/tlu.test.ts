import { expectClose, expectGradcheck } from '@normkit/testkit';
import { DTypeError, Generator, OptionError, ShapeError, gradcheck, graphOps, maximum, randn, reshape, tensor, type Tensor } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { f64, gradientsOf } from './test-support';
import { TLU, tlu } from './tlu';

describe('TLU', () => {
  it('equals maximum(x, tau) composed from ops, forward and gradients (ties go to x), as one node', () => {
    const generator = new Generator(31);
    const x = randn([3, 4, 2, 3], { ...f64, generator });
    const tau = randn([4], { ...f64, generator, std: 0.5 });
    // A tie in every channel of sample 0.
    for (let c = 0; c < 4; c++) x.data[c * 6] = tau.data[c]!;
    const upstream = randn([3, 4, 2, 3], { dtype: 'float64', generator });
    const composed = (): Tensor => maximum(x, reshape(tau, [1, 4, 1, 1]));
    expectClose(tlu(x, tau), composed(), 0, 0);
    const fused = gradientsOf(() => tlu(x, tau), [x, tau], upstream);
    const reference = gradientsOf(composed, [x, tau], upstream);
    fused.forEach((g, i) => expectClose(g, reference[i]!, 1e-14, 1e-14));
    expect(graphOps(tlu(x, tau))).toEqual(['tlu']);
    // Away from ties finite differences agree.
    for (let c = 0; c < 4; c++) x.data[c * 6] = tau.data[c]! + 0.25;
    expectGradcheck(gradcheck(tlu, [x, tau]));
  });

  it('is ReLU at initialisation (tau = 0), with state-dict name tau', () => {
    const act = new TLU({ numFeatures: 2 });
    expect(Object.keys(act.stateDict())).toEqual(['tau']);
    const z = act.forward(tensor([-1, 2, 3, -4], { shape: [2, 2, 1] }));
    expect(Array.from(z.data)).toEqual([0, 2, 3, 0]);
  });

  it('refuses bad inputs with typed errors', () => {
    expect(() => new TLU({ numFeatures: 3, dtype: 'int8' as 'float32' })).toThrow(OptionError);
    expect(() => new TLU({ numFeatures: 3, dtype: 'int8' as 'float32' })).toThrow("TLU: expected dtype 'float32' or 'float64', got dtype = int8");
    const act = new TLU({ numFeatures: 3 });
    expect(() => act.forward(randn([2, 4, 5]))).toThrow(ShapeError);
    expect(() => act.forward(randn([2, 3, 5], { dtype: 'float64' }))).toThrow(DTypeError);
    expect(() => tlu(randn([2, 3, 5]), randn([2]))).toThrow(/tlu: expected tau with 3 elements \(one per channel\), got shape \[2\]/);
  });
});
