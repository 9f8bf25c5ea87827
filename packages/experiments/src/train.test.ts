import { Generator, type GradientTransform } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentConfigInput } from './config';
import type { MnistSource } from './datasets/dataset';
import { loadMnist } from './mnist';
import { collectProbes } from './probes';
import { createTrainer, type EvalEvent, type TrainerEvent } from './train';
import { registerTestPlugins } from './test-support';

beforeAll(() => registerTestPlugins());

function spirals(overrides: Partial<ExperimentConfigInput> = {}): ExperimentConfigInput {
  return {
    task: 'classification',
    dataset: { name: 'two-spirals', options: { trainSize: 400, testSize: 200 } },
    model: { name: 'mlp', options: { width: 16, depth: 2 } },
    norms: { hidden: { name: 'batch-norm' } },
    batchSize: 16,
    steps: 40,
    evalEvery: 20,
    evalSamples: 200,
    seed: 7,
    ...overrides,
  };
}

const losses = (events: { loss: number }[]): number[] => events.map((e) => e.loss);
const withoutTime = (evals: EvalEvent[]): Omit<EvalEvent, 'elapsedMs'>[] => evals.map(({ elapsedMs: _elapsed, ...rest }) => rest);

describe('determinism', () => {
  it('the same seed gives bit-identical losses, metrics and probes; another seed does not', () => {
    const a = createTrainer(spirals());
    const b = createTrainer(spirals());
    a.runToEnd();
    b.runToEnd();
    expect(a.history.steps).toHaveLength(40);
    expect(losses(a.history.steps)).toEqual(losses(b.history.steps));
    expect(withoutTime(a.history.evals)).toEqual(withoutTime(b.history.evals));
    const c = createTrainer(spirals({ seed: 8 }));
    c.runToEnd();
    expect(losses(c.history.steps)).not.toEqual(losses(a.history.steps));
  });

  it('evaluating (train-mode gap pass included) never changes the training trajectory', () => {
    for (const config of [spirals({ evalEvery: 1 }), gan({ evalEvery: 1, steps: 12 })]) {
      const often = createTrainer(config);
      const rarely = createTrainer({ ...config, evalEvery: 1000 });
      often.runToEnd();
      rarely.runToEnd();
      expect(often.history.evals.length).toBe(config.steps);
      expect(rarely.history.evals.length).toBe(1);
      expect(losses(often.history.steps)).toEqual(losses(rarely.history.steps));
    }
  });

  it('reset() replays the run exactly', () => {
    const trainer = createTrainer(spirals({ steps: 15 }));
    trainer.runToEnd();
    const first = losses(trainer.history.steps);
    trainer.reset();
    expect(trainer.history.steps).toEqual([]);
    expect(trainer.status).toBe('ready');
    trainer.runToEnd();
    expect(losses(trainer.history.steps)).toEqual(first);
  });
});

describe('learning', () => {
  it('a seeded MLP learns two spirals to > 95% training accuracy (with and without BatchNorm)', () => {
    const start = performance.now();
    for (const norm of ['none', 'batch-norm']) {
      const trainer = createTrainer({
        task: 'classification',
        dataset: { name: 'two-spirals' },
        model: { name: 'mlp', options: { width: 32, depth: 3 } },
        norms: { hidden: { name: norm } },
        optimizer: { name: 'adam' },
        lr: 0.01,
        batchSize: 32,
        steps: 800,
        evalEvery: 800,
        seed: 0,
      });
      trainer.runToEnd();
      const last = trainer.history.evals.at(-1)!;
      expect(trainer.status).toBe('done');
      expect(last.train.accuracy, norm).toBeGreaterThan(0.95);
      expect(last.test.accuracy, norm).toBeGreaterThan(0.9);
    }
    expect(performance.now() - start).toBeLessThan(20_000);
  });
});

describe('learning real data', () => {
  it('an MLP with BatchNorm learns the MNIST digits of the mnist package (> 85% test accuracy in 300 steps)', async () => {
    const mnist = await loadMnist();
    const trainer = createTrainer(
      {
        task: 'classification',
        dataset: { name: 'mnist' },
        model: { name: 'mlp', options: { width: 64, depth: 2 } },
        norms: { hidden: { name: 'batch-norm' } },
        lr: 0.003,
        batchSize: 32,
        steps: 300,
        evalEvery: 300,
      },
      { mnist },
    );
    trainer.runToEnd();
    expect(trainer.history.evals[0]!.test.accuracy).toBeGreaterThan(0.85);
  });
});

describe('steppable runs and events', () => {
  it('step(), run(n), time budgets, status and the event order', () => {
    const events: TrainerEvent['type'][] = [];
    const trainer = createTrainer(spirals({ steps: 10, evalEvery: 4 }), {}, { onEvent: (e) => events.push(e.type) });
    expect(trainer.step()!.step).toBe(1);
    expect(trainer.run(3).stepsRun).toBe(3);
    expect(trainer.completedSteps).toBe(4);
    expect(trainer.run(100, { timeBudgetMs: 0 }).stepsRun).toBe(1);
    const unsubscribe = trainer.subscribe(() => undefined);
    unsubscribe();
    const result = trainer.runToEnd();
    expect(result).toMatchObject({ stepsRun: 5, status: 'done' });
    expect(result.last!.step).toBe(10);
    expect(trainer.step()).toBeNull();
    expect(events).toEqual([
      'step', 'step', 'step', 'step', 'eval', 'step', 'step', 'step', 'step', 'eval', 'step', 'step', 'eval', 'done',
    ]);
    expect(trainer.history.end).toMatchObject({ type: 'done', step: 10 });
  });

  it('events are plain data a Web Worker can post (structured clone and JSON)', () => {
    const trainer = createTrainer(spirals({ steps: 4, evalEvery: 2 }));
    const events: TrainerEvent[] = [];
    trainer.subscribe((e) => events.push(e));
    trainer.runToEnd();
    for (const event of events) {
      expect(structuredClone(event)).toEqual(event);
      expect(JSON.parse(JSON.stringify(event))).toEqual(event);
    }
  });

  it('step events carry lr, epoch, batch loss and accuracy; the schedule sets lr', () => {
    const trainer = createTrainer(spirals({ steps: 60, lr: 0.1, schedule: { name: 'warmup', options: { warmupSteps: 10, startFactor: 0.1 } } }));
    trainer.runToEnd();
    const steps = trainer.history.steps;
    expect(steps[0]!.lr).toBeCloseTo(0.01, 12);
    expect(steps[5]!.lr).toBeCloseTo(0.1 * (0.1 + 0.9 * 0.5), 12);
    expect(steps[30]!.lr).toBe(0.1);
    // 400 samples in batches of 16: 25 steps per epoch.
    expect(steps[24]!.epoch).toBe(0);
    expect(steps[25]!.epoch).toBe(1);
    for (const s of steps) {
      expect(Number.isFinite(s.loss)).toBe(true);
      expect(s.accuracy).toBeGreaterThanOrEqual(0);
      expect(s.accuracy).toBeLessThanOrEqual(1);
    }
    const cosine = createTrainer(spirals({ steps: 20, lr: 0.1, schedule: { name: 'cosine' } }));
    cosine.runToEnd();
    expect(cosine.history.steps[10]!.lr).toBeCloseTo(0.05, 12);
  });
});

describe('evaluation and probes', () => {
  it('reports activations, gradient norms and BatchNorm running statistics by layer, and a train/eval gap', () => {
    const trainer = createTrainer(spirals({ batchSize: 4, steps: 20, evalEvery: 20 }));
    trainer.runToEnd();
    const evaluation = trainer.history.evals.at(-1)!;
    expect(Object.keys(evaluation.activations)).toEqual(['layers.0', 'layers.1']);
    for (const stats of Object.values(evaluation.activations)) {
      expect(stats.mean).toBeGreaterThanOrEqual(0); // after ReLU
      expect(stats.std).toBeGreaterThan(0);
    }
    expect(Object.keys(evaluation.gradNorms).sort()).toEqual(
      ['head', 'layers.0.linear', 'layers.0.norm.batch-norm', 'layers.1.linear', 'layers.1.norm.batch-norm'].sort(),
    );
    const running = evaluation.probes.runningStats['layers.0.norm.batch-norm']!;
    expect(running.mean).toHaveLength(16);
    expect(running.var.every((v) => v > 0)).toBe(true);
    // Batches of 4: batch statistics differ from the running averages, so the modes disagree.
    expect(evaluation.gap.loss).not.toBe(0);
    expect(evaluation.train.extra).toEqual({});
  });

  it('the gap is exactly 0 for a normalizer without batch statistics', () => {
    const trainer = createTrainer(spirals({ norms: { hidden: { name: 'layer-norm' } }, steps: 10, evalEvery: 10 }));
    trainer.runToEnd();
    expect(trainer.history.evals[0]!.gap).toEqual({ loss: 0, accuracy: 0 });
    expect(trainer.history.evals[0]!.probes.runningStats).toEqual({});
  });

  it('skips the train-mode pass when the eval-mode pass read no training flag, with the gap the pass gives', () => {
    for (const [name, skipped] of [['layer-norm', true], ['batch-norm', false]] as const) {
      const trainer = createTrainer(spirals({ norms: { hidden: { name } }, steps: 10, evalEvery: 1000 }));
      trainer.runToEnd();
      const forward = trainer.model.forward.bind(trainer.model);
      let calls = 0;
      trainer.model.forward = (input: Parameters<typeof forward>[0]) => {
        calls++;
        return forward(input);
      };
      const evaluation = trainer.evaluate();
      // 192 of the 200 evaluation samples per split, in 12 batches of 16: eval mode on train and test, then train mode on train.
      expect(calls, name).toBe(skipped ? 24 : 36);
      for (const [, module] of trainer.model.namedModules()) expect(Object.getOwnPropertyDescriptor(module, 'training')).toMatchObject({ value: true, writable: true });
      if (!skipped) continue;
      expect(evaluation.gap).toEqual({ loss: 0, accuracy: 0 });
      // A flag the watch cannot see through (an accessor) forces the pass: the same evaluation.
      const norm = [...trainer.model.namedModules()].find(([path]) => path.endsWith('layer-norm'))![1];
      let mode = norm.training;
      Object.defineProperty(norm, 'training', { configurable: true, get: () => mode, set: (v: boolean) => (mode = v) });
      calls = 0;
      const { elapsedMs: _a, ...full } = trainer.evaluate();
      const { elapsedMs: _b, ...fast } = evaluation;
      expect(calls).toBe(36);
      expect(full).toEqual(fast);
    }
  });

  it('leaves a Transformer as the train-mode pass did: the max-logit its attention kept from the last batch', () => {
    const config: ExperimentConfigInput = {
      task: 'sequence-classification',
      dataset: { name: 'sequences', options: { trainSize: 64, testSize: 48, maxLength: 8 } },
      model: { name: 'transformer', options: { dim: 8, numHeads: 2, depth: 2 } },
      norms: { block: { name: 'layer-norm' } },
      batchSize: 8,
      steps: 3,
      evalEvery: 1000,
    };
    const fast = createTrainer(config);
    const full = createTrainer(config);
    fast.runToEnd();
    full.runToEnd();
    // An accessor flag on one module forces the train-mode pass in `full`.
    const module = [...full.model.namedModules()].at(-1)![1];
    let mode = module.training;
    Object.defineProperty(module, 'training', { configurable: true, get: () => mode, set: (v: boolean) => (mode = v) });
    const { elapsedMs: _a, ...a } = fast.evaluate();
    const { elapsedMs: _b, ...b } = full.evaluate();
    expect(a).toEqual(b);
    expect(Object.keys(collectProbes(fast.model).maxLogit)).toHaveLength(2);
    expect(collectProbes(fast.model)).toEqual(collectProbes(full.model));
  });

  it('reads spectral-style sigma from weight parametrizations and gradient-transform reports', () => {
    const trainer = createTrainer(
      spirals({
        weights: { layers: { name: 'test-scaled-weight', options: { initial: -2 } } },
        gradientTransforms: [{ name: 'test-clip-value', options: { limit: 1e-4 } }],
        steps: 4,
        evalEvery: 4,
      }),
    );
    trainer.runToEnd();
    const sigma = trainer.history.evals[0]!.probes.sigma;
    expect(Object.keys(sigma).sort()).toEqual(['head.parametrizations.weight.0', 'layers.0.linear.parametrizations.weight.0', 'layers.1.linear.parametrizations.weight.0']);
    expect(Math.abs(sigma['head.parametrizations.weight.0']! - 2)).toBeLessThan(0.1); // |s|, s = -2 moved by 4 Adam steps
    expect(trainer.history.steps[0]!.metrics['test-clip-value.clipped']).toBeGreaterThan(0);
    // Parametrized layers report their gradient under the layer's own name.
    expect(Object.keys(trainer.history.evals[0]!.gradNorms)).toContain('layers.0.linear');
  });

  it('reads the attention max-logit of a Transformer on padded sequences', () => {
    const trainer = createTrainer({
      task: 'sequence-classification',
      dataset: { name: 'sequences', options: { trainSize: 64, testSize: 32, maxLength: 8 } },
      model: { name: 'transformer', options: { dim: 8, numHeads: 2, depth: 2 } },
      norms: { block: { name: 'rms-norm' }, qk: { name: 'qk-norm' }, final: { name: 'layer-norm' } },
      batchSize: 8,
      steps: 6,
      evalEvery: 3,
    });
    trainer.runToEnd();
    expect(trainer.status).toBe('done');
    const maxLogit = trainer.history.evals.at(-1)!.probes.maxLogit;
    expect(Object.keys(maxLogit)).toEqual(['blocks.0.self_attn', 'blocks.1.self_attn']);
    for (const value of Object.values(maxLogit)) expect(value).toBeGreaterThan(0);
    expect(Object.keys(trainer.history.evals[0]!.activations)).toEqual(['blocks.0', 'blocks.1']);
  });
});

describe('divergence and failures stop the run with a readable event', () => {
  it('a non-finite loss stops the run as diverged (a deep norm-free residual net at a high learning rate)', () => {
    const trainer = createTrainer(
      spirals({ model: { name: 'residual', options: { width: 16, depth: 8 } }, norms: {}, optimizer: { name: 'sgd' }, lr: 10, steps: 200, evalEvery: 1000 }),
    );
    const result = trainer.runToEnd();
    expect(result.status).toBe('diverged');
    expect(trainer.history.end!.type).toBe('diverged');
    expect((trainer.history.end as { reason: string }).reason).toMatch(/non-finite|is (NaN|Infinity)/);
    expect(trainer.history.steps.length).toBeLessThan(200);
    expect(trainer.history.end!.step).toBe(trainer.completedSteps + 1);
    expect(trainer.step()).toBeNull();
  });

  it('a non-finite gradient (here made by a gradient transform passed in code) stops the run as diverged', () => {
    const poison: GradientTransform = {
      name: 'poison',
      apply: (entries) => {
        entries[0]!.parameter.grad!.data.fill(Number.NaN);
      },
    };
    const trainer = createTrainer(spirals(), {}, { gradientTransforms: [poison] });
    trainer.runToEnd();
    expect(trainer.status).toBe('diverged');
    expect(trainer.history.end).toMatchObject({ type: 'diverged', step: 1 });
    expect((trainer.history.end as { reason: string }).reason).toMatch(/non-finite gradient: NaN or infinity in the gradient of "layers.0.linear.weight" after the gradient transforms poison/);
  });

  it('a normalizer that throws mid-training fails the run with its message; other runs are unaffected', () => {
    const failing = createTrainer(spirals({ model: { name: 'mlp', options: { width: 8, depth: 1 } }, norms: { hidden: { name: 'record-channels-first', options: { failAt: 3 } } } }));
    const healthy = createTrainer(spirals({ steps: 5 }));
    failing.run(10);
    healthy.runToEnd();
    expect(failing.status).toBe('failed');
    expect(failing.completedSteps).toBe(2);
    expect(failing.history.end).toMatchObject({ type: 'failed', step: 3, error: { name: 'ValueError' } });
    expect((failing.history.end as { error: { message: string } }).error.message).toMatch(/record-channels-first\.forward: expected to be asked fewer times, got call 3/);
    expect(failing.error).toBeInstanceOf(Error);
    expect(healthy.status).toBe('done');
  });
});

function gan(overrides: Partial<ExperimentConfigInput> = {}): ExperimentConfigInput {
  return {
    task: 'conditional-generation',
    dataset: { name: 'conditional-mixture', options: { trainSize: 256, testSize: 128 } },
    model: { name: 'conditional-gan', options: { width: 16, discriminatorWidth: 16 } },
    norms: { generator: { name: 'record-conditional' }, discriminator: { name: 'layer-norm' } },
    optimizer: { name: 'adam', options: { beta1: 0.5 } },
    lr: 0.002,
    batchSize: 32,
    steps: 20,
    evalEvery: 10,
    seed: 3,
    ...overrides,
  };
}

describe('other tasks', () => {
  it('conditional GAN: discriminator and generator losses, quality, coverage and MMD; sigma on the discriminator', () => {
    const trainer = createTrainer(gan({ weights: { discriminator: { name: 'test-scaled-weight' } } }));
    trainer.runToEnd();
    expect(trainer.status).toBe('done');
    const step = trainer.history.steps[0]!;
    expect(step.accuracy).toBeNull();
    expect(Number.isFinite(step.metrics.discriminatorLoss!)).toBe(true);
    expect(step.metrics.discriminatorAccuracy).toBeGreaterThanOrEqual(0);
    const evaluation = trainer.history.evals.at(-1)!;
    for (const split of [evaluation.train, evaluation.test]) {
      expect(split.loss).toBeGreaterThanOrEqual(-1e-9); // MMD^2
      expect(split.accuracy).toBeGreaterThanOrEqual(0);
      expect(split.extra.modeCoverage).toBeGreaterThanOrEqual(0);
      expect(split.extra.modeCoverage).toBeLessThanOrEqual(1);
    }
    expect(Object.keys(evaluation.probes.sigma).every((name) => name.startsWith('discriminator.'))).toBe(true);
    expect(Object.keys(evaluation.gradNorms).some((name) => name.startsWith('generator.'))).toBe(true);
    expect(Object.keys(evaluation.gradNorms).some((name) => name.startsWith('discriminator.'))).toBe(true);
  });

  it('MLP and residual net on padded sequences, masked and unmasked BatchNorm', () => {
    for (const [model, role] of [['mlp', 'hidden'], ['residual', 'block']] as const) {
      for (const mask of [true, false]) {
        const trainer = createTrainer({
          task: 'sequence-classification',
          dataset: { name: 'sequences', options: { trainSize: 64, testSize: 32 } },
          model: { name: model, options: { width: 8, depth: 2 } },
          norms: { [role]: { name: 'batch-norm', mask } },
          batchSize: 8,
          steps: 4,
          evalEvery: 4,
        });
        trainer.runToEnd();
        expect(trainer.status, `${model} mask ${mask}`).toBe('done');
      }
    }
  });

  it('CNN on MNIST-shaped images needs the images passed in', () => {
    const source: MnistSource = {
      digits: Array.from({ length: 10 }, (_, d) => {
        const g = new Generator(d);
        return Float32Array.from({ length: 20 * 784 }, () => (g.uniform() < 0.1 + d / 20 ? 1 : 0));
      }),
    };
    const config: ExperimentConfigInput = {
      task: 'classification',
      dataset: { name: 'mnist', options: { trainSize: 100, testSize: 50, pool: 2 } },
      model: { name: 'cnn', options: { channels: 4 } },
      norms: { conv: { name: 'group-norm', options: { numGroups: 2 } } },
      batchSize: 10,
      steps: 3,
      evalEvery: 3,
    };
    expect(() => createTrainer(config)).toThrow(/loadMnist/);
    const trainer = createTrainer(config, { mnist: source });
    trainer.runToEnd();
    expect(trainer.status).toBe('done');
    expect(Object.keys(trainer.history.evals[0]!.activations)).toEqual(['stages.0', 'stages.1']);
  });
});
