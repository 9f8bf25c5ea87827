// The 'post-step-hook' plugin kind: registered, listed by kind, built by name with validated options, run by optimizers.
import { describe, expect, it } from 'vitest';
import { RegistryError } from '../errors';
import { tensor } from '../creation';
import { Parameter } from '../nn/module';
import { sum } from '../ops/reduce';
import { SGD } from '../optim/sgd';
import { Registry } from './registry';
import { definePostStepHook } from './types';

const clampPlugin = definePostStepHook({
  name: 'clamp-weights',
  family: 'test',
  description: 'Clamps every updated parameter to [-limit, limit] after the step.',
  options: { limit: { type: 'number', default: 1, min: 0, description: 'The bound.' } },
  create: ({ limit }) => ({
    name: 'clamp-weights',
    apply(entries) {
      for (const { parameter } of entries) for (let i = 0; i < parameter.size; i++) parameter.data[i] = Math.max(-limit, Math.min(limit, parameter.data[i]!));
      return { clamped: entries.length };
    },
  }),
});

describe("plugin kind 'post-step-hook'", () => {
  it('registers, lists by kind, builds by name with validated options, and runs after the optimizer update', () => {
    const registry = new Registry();
    registry.register(clampPlugin);
    expect(clampPlugin.kind).toBe('post-step-hook');
    expect(registry.list({ kind: 'post-step-hook' }).map((p) => p.name)).toEqual(['clamp-weights']);
    const hook = registry.createPostStepHook('clamp-weights', { limit: 0.5 });
    const w = new Parameter(tensor([0.4, -0.4], { dtype: 'float64' }));
    const optimizer = new SGD([w], { lr: 1, postStepHooks: [hook] });
    sum(w).backward(); // SGD alone would give -0.6, -1.4
    expect(optimizer.step().postStepHooks).toEqual([{ name: 'clamp-weights', report: { clamped: 1 } }]);
    expect(Array.from(w.data)).toEqual([-0.5, -0.5]);
    expect(() => registry.createPostStepHook('clamp-weights', { limit: -1 })).toThrow(/option "limit" to be a number >= 0/);
    expect(() => registry.createPostStepHook('nope')).toThrow(RegistryError);
    expect(() => registry.register({ ...clampPlugin, name: 'bad-hook', create: () => ({ name: 'x' }) } as never)).not.toThrow();
    expect(() => registry.createPostStepHook('bad-hook')).toThrow(/an object with apply/);
  });
});
