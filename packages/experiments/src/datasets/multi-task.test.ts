import { Generator, OptionError, defaultOptions } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { classCounts } from './dataset';
import { MULTI_TASK_LABELINGS, multiTask, taskOf } from './multi-task';

const build = (options: Record<string, number>, seed = 0) => multiTask.build({ ...defaultOptions(multiTask.options), ...options }, new Generator(seed), {});

describe('multi-task', () => {
  it('labels every point by its own task, one-hot after the point, tasks and classes balanced', () => {
    const data = build({ trainSize: 400, testSize: 80 });
    expect(data.sampleShape).toEqual([6]);
    const tasks = taskOf(data.train, 4);
    const perTask = [0, 0, 0, 0];
    for (let i = 0; i < data.train.count; i++) {
      const row = data.train.inputs.subarray(i * 6, i * 6 + 6);
      const [x, y] = [row[0]!, row[1]!];
      expect(Math.abs(x) <= 1 && Math.abs(y) <= 1).toBe(true);
      expect(Array.from(row.subarray(2)).filter((v) => v === 1)).toHaveLength(1);
      expect(row.subarray(2).reduce((a, b) => a + b, 0)).toBe(1);
      // The label is the task's class of the float32 point (the labelings' boundaries are measure zero).
      expect(data.train.labels[i]).toBe(MULTI_TASK_LABELINGS[tasks[i]!]!.label(x, y));
      perTask[tasks[i]!]!++;
    }
    expect(perTask).toEqual([100, 100, 100, 100]);
    expect(classCounts(data.train, 2)).toEqual([200, 200]);
    expect(build({ trainSize: 400, testSize: 80 }).train.inputs).toEqual(data.train.inputs);
  });

  it('keeps one task when asked, and the same point has different classes in different tasks', () => {
    const only = build({ trainSize: 100, testSize: 20, task: 2 });
    expect(Array.from(new Set(taskOf(only.train, 4)))).toEqual([2]);
    const labelings = MULTI_TASK_LABELINGS.map((l) => l.label);
    // (0.7, -0.2): xor 1, ring 1 (0.53 < 2/pi), diagonal 1, stripe 0; (0.3, 0.9): 0, 0, 1, 1.
    expect(labelings.map((f) => f(0.7, -0.2))).toEqual([1, 1, 1, 0]);
    expect(labelings.map((f) => f(0.3, 0.9))).toEqual([0, 0, 1, 1]);
  });

  it('refuses a task beyond the tasks', () => {
    expect(() => build({ tasks: 2, task: 3 })).toThrow(OptionError);
    expect(() => build({ tasks: 2, task: 3 })).toThrow(/task < tasks \(2\)/);
  });
});
