import { describe, expect, it } from 'vitest';
import { randn, tensor } from '../creation';
import { OptionError, ValueError } from '../errors';
import { gradcheck } from '../gradcheck';
import { expectClose, expectGradcheck } from '../test-utils';
import { binaryCrossEntropyWithLogits, crossEntropy, mse } from './loss';

const f64 = { dtype: 'float64' as const, requiresGrad: true };

describe('losses', () => {
  it('crossEntropy equals -log softmax at the target', () => {
    const logits = tensor([[1, 2, 3], [1, 1, 1]], { dtype: 'float64' });
    const first = -Math.log(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3)));
    const second = Math.log(3);
    expectClose(crossEntropy(logits, [2, 0], { reduction: 'none' }), [first, second], 1e-12);
    expectClose([crossEntropy(logits, [2, 0]).item()], [(first + second) / 2], 1e-12);
  });

  it('crossEntropy with label smoothing matches the PyTorch formula', () => {
    const logits = tensor([[0.5, -1, 2]], { dtype: 'float64' });
    const lse = Math.log(Math.exp(0.5) + Math.exp(-1) + Math.exp(2));
    const logp = [0.5 - lse, -1 - lse, 2 - lse];
    const expected = -(0.9 * logp[1]!) - (0.1 / 3) * (logp[0]! + logp[1]! + logp[2]!);
    expectClose([crossEntropy(logits, [1], { labelSmoothing: 0.1 }).item()], [expected], 1e-12);
  });

  it('pass gradcheck', () => {
    expectGradcheck(gradcheck((x) => crossEntropy(x, [0, 2, 1, 2]), [randn([4, 3], f64)]));
    expectGradcheck(gradcheck((x) => crossEntropy(x, [0, 2], { labelSmoothing: 0.2, reduction: 'sum' }), [randn([2, 3], f64)]));
    expectGradcheck(gradcheck((p, t) => mse(p, t), [randn([3, 2], f64), randn([3, 2], f64)]));
    expectGradcheck(gradcheck((x, t) => binaryCrossEntropyWithLogits(x, t), [randn([5], f64), tensor([0, 1, 1, 0, 0.3], f64)]));
  });

  it('refuse bad targets', () => {
    expect(() => crossEntropy(randn([2, 3]), [0, 3])).toThrow(ValueError);
    expect(() => crossEntropy(randn([2, 3]), [0, 1.5])).toThrow(/integer class ids in \[0, 2\]/);
    expect(() => mse(randn([2]), randn([3]))).toThrow(/mse: expected prediction and target of one shape/);
  });

  it('refuse an unknown reduction instead of silently summing', () => {
    const bad = { reduction: 'avg' as 'mean' };
    expect(() => crossEntropy(randn([2, 3]), [0, 1], bad)).toThrow(/crossEntropy: expected reduction 'mean', 'sum' or 'none'/);
    expect(() => mse(randn([2]), randn([2]), bad)).toThrow(/mse: expected reduction 'mean', 'sum' or 'none'/);
    expect(() => binaryCrossEntropyWithLogits(randn([2]), randn([2]), bad)).toThrow(OptionError);
  });
});
