import { OptionError, Tensor, noGrad } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { taskOf } from '../datasets/multi-task';
import type { Classifier } from '../models/model';
import { registerFamilies } from '../test-support';
import { createTrainer } from '../train';
import { perTaskAccuracy } from './film-multi-task';

beforeAll(() => registerFamilies());

const trainer = (norm: string, conditionFeatures: number) =>
  createTrainer({
    task: 'classification',
    dataset: { name: 'multi-task', options: { tasks: 3, trainSize: 60, testSize: 30 } },
    model: { name: 'mlp', options: { width: 8, depth: 2, conditionFeatures } },
    norms: { hidden: { name: norm } },
    batchSize: 10,
    steps: 3,
    seed: 2,
  });

/** Eval-mode logits for the test inputs with their one-hot task ids replaced by task `t`. */
function logitsAsTask(model: Classifier, inputs: Float32Array, t: number): number[] {
  const rows = inputs.length / 5;
  const x = inputs.slice();
  for (let i = 0; i < rows; i++) for (let k = 0; k < 3; k++) x[i * 5 + 2 + k] = k === t ? 1 : 0;
  model.eval();
  return Array.from(noGrad(() => model.forward({ x: new Tensor(x, [rows, 5]) })).data);
}

describe('mlp conditionFeatures', () => {
  it('hands the last features to conditional normalizers only: the layers never see them', () => {
    const plain = trainer('none', 3);
    plain.run(3);
    const model = plain.model as Classifier;
    const inputs = plain.dataset.test.inputs;
    expect(logitsAsTask(model, inputs, 0)).toEqual(logitsAsTask(model, inputs, 2));
    const ada = trainer('ada-ln', 3);
    ada.run(3);
    expect(logitsAsTask(ada.model as Classifier, inputs, 0)).not.toEqual(logitsAsTask(ada.model as Classifier, inputs, 2));
  });

  it('is refused where it cannot work, and a condition-needing normalizer needs it', () => {
    expect(() => trainer('ada-ln', 0)).toThrow(/an mlp with conditionFeatures gives a condition/);
    expect(() => trainer('none', 5)).toThrow(OptionError);
  });
});

describe('perTaskAccuracy', () => {
  it('matches a per-task count of argmax hits over the whole test split, and leaves train mode on', () => {
    const run = trainer('ada-ln', 3);
    run.run(3);
    const model = run.model as Classifier;
    const { test } = run.dataset;
    const accuracy = perTaskAccuracy(model, run.dataset, 3);
    expect(model.training).toBe(true);
    model.eval();
    const logits = noGrad(() => model.forward({ x: new Tensor(test.inputs, [test.count, 5]) })).data;
    model.train();
    const tasks = taskOf(test, 3);
    const hits = [0, 0, 0];
    const counts = [0, 0, 0];
    for (let i = 0; i < test.count; i++) {
      counts[tasks[i]!]!++;
      if ((logits[2 * i + 1]! > logits[2 * i]! ? 1 : 0) === test.labels[i]) hits[tasks[i]!]!++;
    }
    accuracy.forEach((a, t) => expect(a).toBeCloseTo(hits[t]! / counts[t]!, 12));
  });
});
