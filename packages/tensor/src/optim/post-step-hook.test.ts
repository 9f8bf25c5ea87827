import { describe, expect, it } from 'vitest';
import { Linear } from '../nn/linear';
import { tensor } from '../creation';
import { Parameter } from '../nn/module';
import { sum } from '../ops/reduce';
import { ValueError } from '../errors';
import { SGD } from './sgd';
import type { PostStepHook } from './post-step-hook';

describe('post-step hooks', () => {
  it('run after the update, in order, on the updated parameters only, and report', () => {
    const w = new Parameter(tensor([1, 2], { dtype: 'float64' }));
    const frozen = new Parameter(tensor([5], { dtype: 'float64' }));
    const seen: string[] = [];
    const order: string[] = [];
    const halve: PostStepHook = {
      name: 'halve',
      apply(entries) {
        order.push('halve');
        for (const { name, parameter } of entries) {
          seen.push(`${name}=${Array.from(parameter.data).join(',')}`);
          for (let i = 0; i < parameter.size; i++) parameter.data[i]! /= 2;
        }
        return { count: entries.length };
      },
    };
    const last: PostStepHook = { name: 'last', apply: () => void order.push('last') };
    const optimizer = new SGD([['w', w], ['frozen', frozen]], { lr: 0.5, postStepHooks: [halve] }).addPostStepHook(last);
    sum(w).backward(); // grad 1, 1
    const version = w.version;
    const report = optimizer.step();
    // The hook saw the updated values (1 - 0.5, 2 - 0.5), then halved them.
    expect(seen).toEqual(['w=0.5,1.5']);
    expect(Array.from(w.data)).toEqual([0.25, 0.75]);
    expect(Array.from(frozen.data)).toEqual([5]);
    expect(order).toEqual(['halve', 'last']);
    expect(report.postStepHooks).toEqual([{ name: 'halve', report: { count: 1 } }, { name: 'last', report: undefined }]);
    expect(w.version).toBeGreaterThan(version);
    expect(optimizer.postStepHooks.map((h) => h.name)).toEqual(['halve', 'last']);
  });

  it('do not run on a skipped step; a malformed hook is refused', () => {
    const linear = new Linear({ inFeatures: 2, outFeatures: 1, dtype: 'float64' });
    let runs = 0;
    const optimizer = new SGD(linear, { lr: 0.1, skipNonFinite: true, postStepHooks: [{ name: 'count', apply: () => void runs++ }] });
    linear.weight.grad = tensor([[Number.NaN, 0]], { dtype: 'float64' });
    linear.bias!.grad = tensor([0], { dtype: 'float64' });
    const skipped = optimizer.step();
    expect(skipped.skipped).toBe(true);
    expect(skipped.postStepHooks).toBeUndefined();
    expect(runs).toBe(0);
    expect(() => optimizer.addPostStepHook({ name: 'x' } as unknown as PostStepHook)).toThrow(ValueError);
    expect(() => optimizer.addPostStepHook(null as unknown as PostStepHook)).toThrow(/SGD.addPostStepHook: expected an object with a name and apply\(entries\), got null/);
  });
});
