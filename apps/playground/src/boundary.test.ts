import { createTrainer, snapshotBuffers, type Classifier, type ExperimentConfig } from '@normkit/experiments';
import { Tensor, ValueError, noGrad } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { decisionBoundary, gridInputs, planeBounds } from './boundary';
import { defaultDraft, validateDraft, withDataset } from './drafts';
import { registerPlugins } from './plugins';

beforeAll(() => registerPlugins());

function config(normalizer: string, dataset = 'two-spirals'): ExperimentConfig {
  const check = validateDraft(withDataset(defaultDraft(normalizer), dataset));
  if (!check.ok) throw new Error(check.message);
  return check.config;
}

/** Reference: argmax of one eval forward per point, in float64 (the map must agree cell by cell). */
function referenceClasses(model: Classifier, inputs: Float32Array, numClasses: number): number[] {
  const wasTraining = (model as unknown as { training: boolean }).training;
  (model as unknown as { eval(): void }).eval();
  const logits = noGrad(() => model.forward({ x: new Tensor(inputs, [inputs.length / 2, 2]) }).data);
  (model as unknown as { train(mode?: boolean): void }).train(wasTraining);
  return Array.from({ length: inputs.length / 2 }, (_, r) => {
    const row = Array.from(logits.subarray(r * numClasses, (r + 1) * numClasses));
    return row.indexOf(Math.max(...row));
  });
}

describe('decisionBoundary', () => {
  it("leaves a BatchNorm's running statistics and every training flag as they were", () => {
    const trainer = createTrainer(config('batch-norm'), {}, { keepHistory: false });
    trainer.run(30);
    const before = snapshotBuffers(trainer.model).map((b) => Array.from(b.data));
    const runningMean = [...trainer.model.namedBuffers()].find(([name]) => name.endsWith('running_mean'))![1];
    expect(before.length).toBeGreaterThan(0);
    decisionBoundary(trainer.model, trainer.dataset, trainer.completedSteps);
    expect(snapshotBuffers(trainer.model).map((b) => Array.from(b.data))).toEqual(before);
    expect([...trainer.model.namedModules()].every(([, m]) => m.training)).toBe(true);
    // And the run goes on exactly as one that never rendered a map.
    const twin = createTrainer(config('batch-norm'), {}, { keepHistory: false });
    twin.run(30);
    const a = trainer.run(5).last!.loss;
    const b = twin.run(5).last!.loss;
    expect(a).toBe(b);
    expect(runningMean.data.some((v) => v !== 0)).toBe(true);
  });

  it('agrees with an eval forward at every cell centre and every drawn training point', () => {
    const trainer = createTrainer(config('layer-norm', 'circles'), {}, { keepHistory: false });
    trainer.run(40);
    const map = decisionBoundary(trainer.model, trainer.dataset, trainer.completedSteps, { resolution: 24, maxPoints: 50 });
    const model = trainer.model as unknown as Classifier;
    expect(Array.from(map.classes)).toEqual(referenceClasses(model, gridInputs(map.bounds, 24), 2));
    expect(Array.from(map.predicted)).toEqual(referenceClasses(model, map.points, 2));
    expect(Array.from(map.labels)).toEqual(Array.from(trainer.dataset.train.labels.subarray(0, 50)));
    expect(map.classes.length).toBe(24 * 24);
    // Both classes appear once trained a little, and confidences are probabilities of the argmax (>= 1/2 of 255).
    expect(new Set(map.classes).size).toBe(2);
    expect(Math.min(...map.confidence)).toBeGreaterThanOrEqual(127);
  });

  it('covers the training points with a margin, top row at the largest y', () => {
    const bounds = planeBounds(new Float32Array([0, 0, 1, 2]));
    expect(bounds).toEqual([-0.1, 1.1, -0.2, 2.2]);
    const grid = gridInputs([0, 2, 0, 2], 2);
    expect(Array.from(grid)).toEqual([0.5, 1.5, 1.5, 1.5, 0.5, 0.5, 1.5, 0.5]);
  });

  it('refuses a data set that is not 2-D points, naming it', () => {
    const check = validateDraft(withDataset(defaultDraft('layer-norm'), 'sequences'));
    const trainer = createTrainer(check.ok ? check.config : config('layer-norm'), {}, { keepHistory: false });
    expect(() => decisionBoundary(trainer.model, trainer.dataset, 0)).toThrow(ValueError);
    expect(() => decisionBoundary(trainer.model, trainer.dataset, 0)).toThrow(/decisionBoundary: expected a classification data set of 2-D points/);
  });
});
