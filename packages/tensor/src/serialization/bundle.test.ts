import { describe, expect, it } from 'vitest';
import { randn } from '../creation';
import { StateDictError, ValueError } from '../errors';
import { Linear } from '../nn/linear';
import { Sequential } from '../nn/sequential';
import { mse, relu } from '../ops/index';
import { Adam } from '../optim/adam';
import { CosineAnnealingLR, LRScheduler, LinearWarmup, SequentialLR, StepLR } from '../optim/schedules';
import { SGD } from '../optim/sgd';
import { Generator } from '../random';
import type { Tensor } from '../tensor';
import { BUNDLE_FILES, describeSchedule, loadBundle, readBundle, saveBundle } from './bundle';

function model(seed: number): Sequential {
  const generator = new Generator(seed);
  return new Sequential(
    new Linear({ inFeatures: 3, outFeatures: 4, dtype: 'float64', generator }),
    new Linear({ inFeatures: 4, outFeatures: 2, dtype: 'float64', generator }),
  );
}

const g = new Generator(7);
const batches = Array.from({ length: 12 }, () => ({ x: randn([5, 3], { dtype: 'float64', generator: g }), y: randn([5, 2], { dtype: 'float64', generator: g }) }));

function train(m: Sequential, optimizer: Adam | SGD, scheduler: LRScheduler | undefined, from: number, to: number): number[] {
  const losses: number[] = [];
  for (let i = from; i < to; i++) {
    const { x, y } = batches[i]!;
    const loss = mse((m.getModule('1') as Linear).forward(relu((m.getModule('0') as Linear).forward(x))), y);
    loss.backward();
    optimizer.step();
    optimizer.zeroGrad();
    scheduler?.step();
    losses.push(loss.data[0]!);
  }
  return losses;
}

function parameters(m: Sequential): number[] {
  return [...m.parameters()].flatMap((p: Tensor) => Array.from(p.data));
}

describe('saveBundle / loadBundle', () => {
  it('a run saved after 6 Adam steps with a warmup-cosine schedule and continued from the bundle equals the uninterrupted run bit for bit', () => {
    const schedule = () => new LinearWarmup(3, new CosineAnnealingLR(9, 1e-4), { startFactor: 0.1 });
    const straight = model(1);
    const straightOptimizer = new Adam(straight, { lr: 0.05, weightDecay: 0.01 });
    const straightLosses = train(straight, straightOptimizer, new LRScheduler(straightOptimizer, schedule()), 0, 12);

    const first = model(1);
    const firstOptimizer = new Adam(first, { lr: 0.05, weightDecay: 0.01 });
    const firstScheduler = new LRScheduler(firstOptimizer, schedule());
    const firstLosses = train(first, firstOptimizer, firstScheduler, 0, 6);
    const files = saveBundle({ model: first, optimizer: firstOptimizer, scheduler: firstScheduler, architecture: { family: 'two-linears' } });
    expect(Object.keys(files).sort()).toEqual([BUNDLE_FILES.manifest, BUNDLE_FILES.model, BUNDLE_FILES.optimizer].sort());

    const second = model(99); // other initial weights: all of them come from the bundle
    const secondOptimizer = new Adam(second, { lr: 1 });
    const secondScheduler = new LRScheduler(secondOptimizer, schedule());
    const manifest = loadBundle(files, { model: second, optimizer: secondOptimizer, scheduler: secondScheduler });
    expect(manifest.architecture).toEqual({ family: 'two-linears' });
    expect(secondScheduler.lastStep).toBe(6);
    expect(secondOptimizer.paramGroups[0]!.lr).toBe(firstOptimizer.paramGroups[0]!.lr);
    const secondLosses = train(second, secondOptimizer, secondScheduler, 6, 12);
    expect([...firstLosses, ...secondLosses]).toEqual(straightLosses);
    expect(parameters(second)).toEqual(parameters(straight));
  });

  it("writes PyTorch's names: weight keys, optimizer fields exp_avg/exp_avg_sq per parameter name, step and hyperparameters in the manifest", () => {
    const m = model(1);
    const optimizer = new Adam(m, { lr: 0.01, betas: [0.8, 0.99] });
    const scheduler = new LRScheduler(optimizer, new StepLR(2, 0.5));
    train(m, optimizer, scheduler, 0, 3);
    const bundle = readBundle(saveBundle({ model: m, optimizer, scheduler }));
    expect(Object.keys(bundle.stateDict).sort()).toEqual(['0.bias', '0.weight', '1.bias', '1.weight']);
    expect(Object.keys(bundle.optimizerTensors).sort()).toEqual(
      ['0.bias', '0.weight', '1.bias', '1.weight'].flatMap((n) => [`${n}.exp_avg`, `${n}.exp_avg_sq`]).sort(),
    );
    expect(bundle.optimizerTensors['0.weight.exp_avg']!.shape).toEqual([4, 3]);
    expect(Array.from(bundle.optimizerTensors['1.bias.exp_avg_sq']!.data)).toEqual(Array.from(optimizer.stateOf(m.getModule('1')!.getParameter('bias')!)!.expAvgSq));
    const { optimizer: saved, scheduler: position, architecture, producer } = bundle.manifest;
    expect(producer).toBe('normkit');
    expect(architecture).toBe(null);
    expect(saved!.type).toBe('Adam');
    expect(saved!.state['0.weight']).toEqual({ step: 3 });
    expect(saved!.param_groups).toEqual([
      { params: ['0.weight', '0.bias', '1.weight', '1.bias'], lr: 0.005, betas: [0.8, 0.99], eps: 1e-8, weight_decay: 0, amsgrad: false, maximize: false, initial_lr: 0.01 },
    ]);
    expect(position).toEqual({ last_step: 3, schedule: { type: 'StepLR', step_size: 2, gamma: 0.5 } });
  });

  it('describes the built-in schedules in PyTorch option names, and a custom one as null', () => {
    const nested = new SequentialLR([new LinearWarmup(2), new CosineAnnealingLR(5, 0.1)], [2]);
    expect(describeSchedule(nested)).toEqual({
      type: 'SequentialLR',
      schedules: [{ type: 'LinearWarmup', warmup_steps: 2, start_factor: 1 / 3, then: null }, { type: 'CosineAnnealingLR', t_max: 5, eta_min: 0.1 }],
      milestones: [2],
    });
    expect(describeSchedule({ lr: (_step, base) => base })).toBe(null);
  });

  it('refuses an optimizer of another type and changes nothing', () => {
    const m = model(1);
    const adam = new Adam(m, { lr: 0.01 });
    train(m, adam, undefined, 0, 2);
    const files = saveBundle({ model: m, optimizer: adam });
    const target = model(5);
    const sgd = new SGD(target, { lr: 0.3, momentum: 0.9 });
    const weights = parameters(target);
    expect(() => loadBundle(files, { model: target, optimizer: sgd })).toThrow(StateDictError);
    expect(() => loadBundle(files, { model: target, optimizer: sgd })).toThrow('the bundle holds Adam state, the optimizer is SGD');
    expect(parameters(target)).toEqual(weights);
    expect(sgd.paramGroups[0]!.lr).toBe(0.3);
  });

  it('a model that does not fit leaves the optimizer and the model as they were', () => {
    const m = model(1);
    const adam = new Adam(m, { lr: 0.01 });
    train(m, adam, undefined, 0, 2);
    const files = saveBundle({ model: m, optimizer: adam });
    const bundle = readBundle(files);
    const smaller = saveBundle({ model: new Sequential(new Linear({ inFeatures: 3, outFeatures: 4, dtype: 'float64' }), new Linear({ inFeatures: 4, outFeatures: 1, dtype: 'float64' })) });
    // Same optimizer state, but weights for another head: the model part fails after the optimizer part passed.
    const mixed = { ...files, [BUNDLE_FILES.model]: smaller[BUNDLE_FILES.model]! };
    const target = model(5);
    const optimizer = new Adam(target, { lr: 0.2 });
    const weights = parameters(target);
    expect(() => loadBundle(mixed, { model: target, optimizer })).toThrow(/shape/);
    expect(parameters(target)).toEqual(weights);
    expect(optimizer.paramGroups[0]!.lr).toBe(0.2);
    expect(optimizer.paramGroups[0]!.initialLr).toBe(undefined);
    expect(optimizer.stateOf(target.getModule('0')!.getParameter('weight')!)).toBe(undefined);
    expect(bundle.manifest.optimizer!.state['1.bias']).toEqual({ step: 2 });
  });

  it('refuses an optimizer holding a parameter the model does not have, and a manifest of another format', () => {
    const m = model(1);
    const stray = randn([2], { dtype: 'float64' }).requireGrad();
    const optimizer = new Adam([...m.parameters(), stray]);
    expect(() => saveBundle({ model: m, optimizer })).toThrow(ValueError);
    expect(() => saveBundle({ model: m, optimizer })).toThrow('saveBundle: expected every parameter of options.optimizer to be a parameter of options.model, got optimizer parameter "4", not in the model');
    const files = saveBundle({ model: m });
    files[BUNDLE_FILES.manifest] = new TextEncoder().encode('{"format":"other","version":1}');
    expect(() => readBundle(files)).toThrow('readBundle: expected a manifest of format "normkit-bundle" version 1, got format "other" version 1');
    expect(() => readBundle({})).toThrow('readBundle: expected the bundle file "bundle.json" as bytes, got no such file');
  });

  it('an optimizer built from a plain parameter list is named by the model (the list order need not match)', () => {
    const m = model(1);
    const reversed = [...m.parameters()].reverse();
    const optimizer = new Adam(reversed, { lr: 0.01 });
    train(m, optimizer, undefined, 0, 2);
    const bundle = readBundle(saveBundle({ model: m, optimizer }));
    expect(bundle.manifest.optimizer!.param_groups[0]!.params).toEqual(['1.bias', '1.weight', '0.bias', '0.weight']);
    const target = model(3);
    const targetOptimizer = new Adam(target, { lr: 0.01 }); // the model's order this time
    loadBundle(saveBundle({ model: m, optimizer }), { model: target, optimizer: targetOptimizer });
    expect(Array.from(targetOptimizer.stateOf(target.getModule('0')!.getParameter('weight')!)!.expAvg)).toEqual(
      Array.from(optimizer.stateOf(m.getModule('0')!.getParameter('weight')!)!.expAvg),
    );
  });
});
