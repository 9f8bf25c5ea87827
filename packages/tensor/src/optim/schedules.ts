import { OptionError, StateDictError, ValueError, checkNumberOption } from '../errors';

/**
 * A learning-rate schedule as a pure function of the step: `lr(step, baseLr)` is the learning rate
 * after `step` scheduler steps (step 0: before the first) for a group whose initial lr is `baseLr`.
 * The formulas are PyTorch's closed forms (`_get_closed_form_lr`), so a schedule can be evaluated at
 * any step without replaying the ones before it. Attach one to an optimizer with `LRScheduler`.
 */
export interface LRSchedule {
  lr(step: number, baseLr: number): number;
}

function checkStep(op: string, step: number): void {
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) {
    throw new ValueError({ op, expected: 'a step that is a non-negative integer', given: `step = ${String(step)}` });
  }
}

/**
 * Decays the learning rate by `gamma` every `stepSize` steps, like `torch.optim.lr_scheduler.StepLR`:
 * lr = baseLr * gamma^floor(step / stepSize).
 *
 * @example
 * new StepLR(30, 0.1).lr(65, 1); // 0.01
 */
export class StepLR implements LRSchedule {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(stepSize: number, gamma = 0.1) {
    this.stepSize = checkNumberOption('StepLR', 'stepSize', stepSize, { min: 1, integer: true });
    this.gamma = checkNumberOption('StepLR', 'gamma', gamma, { min: 0 });
  }

  lr(step: number, baseLr: number): number {
    checkStep('StepLR.lr', step);
    return baseLr * this.gamma ** Math.floor(step / this.stepSize);
  }
}

/**
 * Cosine annealing from the base lr to `etaMin` over `tMax` steps (Loshchilov and Hutter, 2017,
 * "SGDR"), like `torch.optim.lr_scheduler.CosineAnnealingLR`, in its closed form:
 * lr = etaMin + (baseLr - etaMin) * (1 + cos(pi * step / tMax)) / 2.
 * As in PyTorch the cosine continues past tMax (rising back to baseLr at 2 * tMax); there are no restarts.
 *
 * @example
 * new CosineAnnealingLR(100, 0).lr(50, 0.1); // 0.05
 */
export class CosineAnnealingLR implements LRSchedule {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(tMax: number, etaMin = 0) {
    this.tMax = checkNumberOption('CosineAnnealingLR', 'tMax', tMax, { min: 1, integer: true });
    this.etaMin = checkNumberOption('CosineAnnealingLR', 'etaMin', etaMin, { min: 0 });
  }

  lr(step: number, baseLr: number): number {
    checkStep('CosineAnnealingLR.lr', step);
    return this.etaMin + ((baseLr - this.etaMin) * (1 + Math.cos((Math.PI * step) / this.tMax))) / 2;
  }
}

export interface LinearWarmupOptions {
  /** The factor of the base lr at step 0 (default 1/3, PyTorch LinearLR's default). */
  startFactor?: number;
}

/**
 * Linear warmup, then optionally another schedule. For step < warmupSteps,
 * lr = baseLr * (startFactor + (1 - startFactor) * step / warmupSteps) (PyTorch's LinearLR with
 * endFactor 1); from step warmupSteps on, lr = then.lr(step - warmupSteps, baseLr), or baseLr
 * without `then`. Equal to PyTorch's `SequentialLR([LinearLR(startFactor, 1, warmupSteps), then], [warmupSteps])`.
 *
 * @example
 * const schedule = new LinearWarmup(500, new CosineAnnealingLR(9500), { startFactor: 0.01 });
 */
export class LinearWarmup implements LRSchedule {
  readonly warmupSteps: number;
  readonly then: LRSchedule | undefined;
  readonly startFactor: number;

  constructor(warmupSteps: number, then?: LRSchedule, options: LinearWarmupOptions = {}) {
    this.warmupSteps = checkNumberOption('LinearWarmup', 'warmupSteps', warmupSteps, { min: 1, integer: true });
    if (then !== undefined && typeof then?.lr !== 'function') {
      throw new OptionError({ op: 'LinearWarmup', expected: 'then to be a schedule with lr(step, baseLr)', given: typeof then });
    }
    this.then = then;
    this.startFactor = checkNumberOption('LinearWarmup', 'startFactor', options.startFactor ?? 1 / 3, { min: 0, max: 1 });
  }

  lr(step: number, baseLr: number): number {
    checkStep('LinearWarmup.lr', step);
    if (step < this.warmupSteps) return baseLr * (this.startFactor + ((1 - this.startFactor) * step) / this.warmupSteps);
    return this.then ? this.then.lr(step - this.warmupSteps, baseLr) : baseLr;
  }
}

/**
 * Runs schedules one after the other, like `torch.optim.lr_scheduler.SequentialLR`: schedule i
 * covers milestones[i-1] <= step < milestones[i] and restarts its own count at its milestone,
 * lr = schedules[i].lr(step - milestones[i-1], baseLr).
 *
 * @example
 * // base lr for 10 steps, then halved every 5 steps counted from step 10
 * new SequentialLR([new StepLR(1_000_000, 1), new StepLR(5, 0.5)], [10]).lr(17, 1); // 0.5
 */
export class SequentialLR implements LRSchedule {
  readonly schedules: readonly LRSchedule[];
  readonly milestones: readonly number[];

  constructor(schedules: readonly LRSchedule[], milestones: readonly number[]) {
    // Checked as unknown: JavaScript callers can pass anything.
    const givenSchedules: unknown = schedules;
    const givenMilestones: unknown = milestones;
    if (!Array.isArray(givenSchedules) || givenSchedules.length === 0 || schedules.some((s) => typeof (s as Partial<LRSchedule>)?.lr !== 'function')) {
      throw new OptionError({
        op: 'SequentialLR',
        expected: 'a non-empty list of schedules, each with lr(step, baseLr)',
        given: Array.isArray(givenSchedules) ? `[${givenSchedules.map((s) => typeof s).join(', ')}]` : typeof givenSchedules,
      });
    }
    if (!Array.isArray(givenMilestones) || milestones.length !== schedules.length - 1) {
      throw new OptionError({
        op: 'SequentialLR',
        expected: `one milestone fewer than schedules (${schedules.length - 1} for ${schedules.length} schedules)`,
        given: `${Array.isArray(givenMilestones) ? givenMilestones.length : 'no'} milestone(s)`,
      });
    }
    milestones.forEach((m, i) => {
      checkNumberOption('SequentialLR', `milestones[${i}]`, m, { min: 1, integer: true });
      if (i > 0 && m <= milestones[i - 1]!) {
        throw new OptionError({ op: 'SequentialLR', expected: 'strictly increasing milestones', given: `[${milestones.join(', ')}]` });
      }
    });
    this.schedules = [...schedules];
    this.milestones = [...milestones];
  }

  lr(step: number, baseLr: number): number {
    checkStep('SequentialLR.lr', step);
    let index = 0;
    while (index < this.milestones.length && step >= this.milestones[index]!) index++;
    const start = index === 0 ? 0 : this.milestones[index - 1]!;
    return this.schedules[index]!.lr(step - start, baseLr);
  }
}

/** What `LRScheduler` needs of an optimizer: its parameter groups' `lr`. */
export interface SchedulableOptimizer {
  readonly paramGroups: Array<{ lr: number; initialLr?: number }>;
}

export interface LRSchedulerStateDict {
  lastStep: number;
}

/**
 * Attaches a schedule to an optimizer, like PyTorch's LR schedulers: at construction each group's
 * `initialLr` is set to its current lr (unless already set) and lr becomes `schedule.lr(0, initialLr)`;
 * each `step()` (call it after `optimizer.step()`) advances the count and sets
 * lr = schedule.lr(lastStep, initialLr) for every group.
 *
 * Closed forms, not PyTorch's chainable recursive forms: an lr changed by hand between steps is
 * overwritten at the next `step()`, and two schedulers on one optimizer do not compound (the last
 * to step wins); compose schedules with `SequentialLR` or `LinearWarmup(..., then)` instead.
 *
 * @example
 * const scheduler = new LRScheduler(optimizer, new LinearWarmup(100, new CosineAnnealingLR(900)));
 * for (...) { loss.backward(); optimizer.step(); optimizer.zeroGrad(); scheduler.step(); }
 */
export class LRScheduler {
  readonly optimizer: SchedulableOptimizer;
  readonly schedule: LRSchedule;
  /** Scheduler steps taken so far (PyTorch's `last_epoch`). */
  lastStep = 0;

  constructor(optimizer: SchedulableOptimizer, schedule: LRSchedule) {
    if (!Array.isArray(optimizer?.paramGroups)) {
      throw new OptionError({ op: 'LRScheduler', expected: 'an optimizer with paramGroups', given: typeof optimizer });
    }
    if (typeof schedule?.lr !== 'function') {
      throw new OptionError({ op: 'LRScheduler', expected: 'a schedule with lr(step, baseLr)', given: typeof schedule });
    }
    this.optimizer = optimizer;
    this.schedule = schedule;
    for (const group of optimizer.paramGroups) group.initialLr ??= group.lr;
    this.apply();
  }

  private apply(): void {
    for (const group of this.optimizer.paramGroups) group.lr = this.schedule.lr(this.lastStep, group.initialLr ?? group.lr);
  }

  /** Advances one step and sets every group's lr. */
  step(): void {
    this.lastStep++;
    this.apply();
  }

  /** The lr of each group as last set. */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): LRSchedulerStateDict {
    return { lastStep: this.lastStep };
  }

  /** Restores the step count and sets the lrs for it. */
  loadStateDict(dict: LRSchedulerStateDict): void {
    const lastStep = dict?.lastStep;
    if (typeof lastStep !== 'number' || !Number.isInteger(lastStep) || lastStep < 0) {
      throw new StateDictError('LRScheduler.loadStateDict', [`expected lastStep to be a non-negative integer, got ${String(lastStep)}`]);
    }
    this.lastStep = lastStep;
    this.apply();
  }
}
