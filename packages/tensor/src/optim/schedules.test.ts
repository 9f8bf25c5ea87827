import { describe, expect, it } from 'vitest';
import { tensor } from '../creation';
import { OptionError, StateDictError, ValueError } from '../errors';
import { Parameter } from '../nn/module';
import { CosineAnnealingLR, LRScheduler, LinearWarmup, SequentialLR, StepLR, type LRSchedule } from './schedules';
import { SGD } from './sgd';

function values(schedule: LRSchedule, steps: number, baseLr = 1): number[] {
  return Array.from({ length: steps + 1 }, (_, step) => schedule.lr(step, baseLr));
}

function expectValues(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((x, i) => expect(x, `step ${i}`).toBeCloseTo(expected[i]!, 11));
}

// Expected lists: the lr after each scheduler.step() of torch.optim.lr_scheduler 1.13 on SGD(lr=1),
// step 0 first; each also follows from the closed form by hand.
describe('schedules as functions of the step', () => {
  it('StepLR: baseLr * gamma^floor(step / stepSize)', () => {
    expectValues(values(new StepLR(3, 0.5), 8), [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]);
    expect(new StepLR(30).lr(65, 2)).toBeCloseTo(2 * 0.01, 15);
  });

  it('CosineAnnealingLR: closed form, continuing past tMax like PyTorch', () => {
    const torch = [
      1.0, 0.92360679775, 0.72360679775, 0.47639320225, 0.27639320225, 0.2, 0.27639320225, 0.47639320225, 0.72360679775,
      0.92360679775, 1.0, 0.92360679775, 0.72360679775,
    ];
    expectValues(values(new CosineAnnealingLR(5, 0.2), 12), torch);
    // Half-way: the mean of baseLr and etaMin.
    expect(new CosineAnnealingLR(100, 0.01).lr(50, 0.1)).toBeCloseTo(0.055, 15);
  });

  it('LinearWarmup alone: PyTorch LinearLR (end factor 1), then constant', () => {
    expectValues(values(new LinearWarmup(4), 6), [1 / 3, 0.5, 2 / 3, 5 / 6, 1, 1, 1]);
    expectValues(values(new LinearWarmup(2, undefined, { startFactor: 0 }), 3, 0.4), [0, 0.2, 0.4, 0.4]);
  });

  it('LinearWarmup then cosine: PyTorch SequentialLR([LinearLR(0.25, 1, 4), CosineAnnealingLR(6, 0.1)], [4])', () => {
    const torch = [
      0.25, 0.4375, 0.625, 0.8125, 1.0, 0.939711431703, 0.775, 0.55, 0.325, 0.160288568297, 0.1, 0.160288568297, 0.325, 0.55,
      0.775,
    ];
    expectValues(values(new LinearWarmup(4, new CosineAnnealingLR(6, 0.1), { startFactor: 0.25 }), 14), torch);
  });

  it('SequentialLR restarts each schedule at its milestone', () => {
    // torch: SequentialLR([LinearLR(0.5, 1, 3), StepLR(2, 0.5)], [3])
    const torch = [0.5, 2 / 3, 5 / 6, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125];
    const warmupThenStep = new SequentialLR([new LinearWarmup(3, undefined, { startFactor: 0.5 }), new StepLR(2, 0.5)], [3]);
    expectValues(values(warmupThenStep, 10), torch);
    // Three pieces: constant, cosine over 4 steps, then decay every step.
    const three = new SequentialLR([new StepLR(100, 1), new CosineAnnealingLR(4, 0), new StepLR(1, 0.5)], [2, 6]);
    expectValues(values(three, 8, 2), [2, 2, 2, 2 * (1 + Math.SQRT1_2) / 2, 1, 2 * (1 - Math.SQRT1_2) / 2, 2, 1, 0.5]);
  });

  it('scale with the base lr (factor schedules) and shift towards etaMin (cosine)', () => {
    expect(new StepLR(2, 0.1).lr(4, 0.3)).toBeCloseTo(0.003, 15);
    expect(new CosineAnnealingLR(10, 0.05).lr(10, 0.3)).toBeCloseTo(0.05, 15);
  });
});

describe('LRScheduler attached to an optimizer', () => {
  function optimizer() {
    const a = new Parameter(tensor([1], { dtype: 'float64' }));
    const b = new Parameter(tensor([1], { dtype: 'float64' }));
    return new SGD([{ params: [a] }, { params: [b], lr: 0.01 }], { lr: 0.1 });
  }

  it('sets step 0 at construction and each group follows its own initial lr', () => {
    const opt = optimizer();
    const scheduler = new LRScheduler(opt, new LinearWarmup(2, new StepLR(1, 0.5), { startFactor: 0.5 }));
    expect(opt.paramGroups.map((g) => g.initialLr)).toEqual([0.1, 0.01]);
    const seen = [scheduler.getLastLr()];
    for (let i = 0; i < 4; i++) {
      scheduler.step();
      seen.push(scheduler.getLastLr());
    }
    const expected = [[0.05, 0.005], [0.075, 0.0075], [0.1, 0.01], [0.05, 0.005], [0.025, 0.0025]];
    seen.forEach((lrs, s) => lrs.forEach((lr, g) => expect(lr, `step ${s} group ${g}`).toBeCloseTo(expected[s]![g]!, 15)));
    expect(scheduler.lastStep).toBe(4);
  });

  it('the optimizer uses the scheduled lr', () => {
    const p = new Parameter(tensor([1], { dtype: 'float64' }));
    const opt = new SGD([p], { lr: 1 });
    const scheduler = new LRScheduler(opt, new StepLR(1, 0.5));
    for (let i = 0; i < 3; i++) {
      p.grad = tensor([1], { dtype: 'float64' });
      opt.step();
      scheduler.step();
    }
    expect(p.data[0]).toBeCloseTo(1 - (1 + 0.5 + 0.25), 15);
  });

  it('stateDict / loadStateDict restore the step and the lrs; an optimizer state dict keeps initialLr', () => {
    const opt = optimizer();
    const scheduler = new LRScheduler(opt, new CosineAnnealingLR(10, 0));
    for (let i = 0; i < 3; i++) scheduler.step();
    const saved = scheduler.stateDict();
    const savedOptimizer = opt.stateDict();
    expect(savedOptimizer.paramGroups[1]!.initialLr).toBe(0.01);

    const restoredOptimizer = optimizer();
    restoredOptimizer.loadStateDict(savedOptimizer);
    const restored = new LRScheduler(restoredOptimizer, new CosineAnnealingLR(10, 0));
    restored.loadStateDict(saved);
    expect(restored.getLastLr()).toEqual(scheduler.getLastLr());
    scheduler.step();
    restored.step();
    expect(restored.getLastLr()).toEqual(scheduler.getLastLr());
    expect(() => restored.loadStateDict({ lastStep: -1 })).toThrow(StateDictError);
  });
});

describe('schedule validation', () => {
  it('refuses bad arguments with an OptionError naming them', () => {
    expect(() => new StepLR(0, 0.1)).toThrow(/stepSize to be an integer >= 1, got stepSize = 0/);
    expect(() => new StepLR(2.5)).toThrow(OptionError);
    expect(() => new StepLR(2, -0.1)).toThrow(/gamma/);
    expect(() => new CosineAnnealingLR(0)).toThrow(/tMax/);
    expect(() => new CosineAnnealingLR(10, -1)).toThrow(/etaMin/);
    expect(() => new LinearWarmup(0)).toThrow(/warmupSteps/);
    expect(() => new LinearWarmup(5, undefined, { startFactor: 1.5 })).toThrow(/startFactor/);
    expect(() => new LinearWarmup(5, {} as LRSchedule)).toThrow(/then to be a schedule/);
    expect(() => new SequentialLR([new StepLR(1)], [3])).toThrow(/one milestone fewer than schedules \(0 for 1 schedules\)/);
    expect(() => new SequentialLR([new StepLR(1), new StepLR(1), new StepLR(1)], [4, 2])).toThrow(/strictly increasing/);
    expect(() => new SequentialLR([], [])).toThrow(/non-empty/);
    expect(() => new LRScheduler({} as never, new StepLR(1))).toThrow(/paramGroups/);
  });

  it('refuses a negative or fractional step', () => {
    expect(() => new StepLR(2).lr(-1, 1)).toThrow(ValueError);
    expect(() => new CosineAnnealingLR(2).lr(0.5, 1)).toThrow(/non-negative integer/);
  });
});
