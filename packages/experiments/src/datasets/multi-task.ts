import { OptionError, type Generator } from '@normkit/tensor';
import { checkDataset, defineDataset, shuffleSplit, type Split } from './dataset';

/**
 * The labelings of the multi-task data set, in task order: each maps a point of [-1, 1]^2 to
 * class 0 or 1, and each splits the square in half, so every task is balanced and no two agree.
 */
export const MULTI_TASK_LABELINGS: ReadonlyArray<{ name: string; label: (x: number, y: number) => number }> = [
  { name: 'xor', label: (x, y) => (x * y < 0 ? 1 : 0) },
  // Area pi r^2 = 2, half the square.
  { name: 'ring', label: (x, y) => (x * x + y * y < 2 / Math.PI ? 1 : 0) },
  { name: 'diagonal', label: (x, y) => (x + y > 0 ? 1 : 0) },
  { name: 'stripe', label: (x) => (Math.abs(x) < 0.5 ? 1 : 0) },
];

/**
 * Several labelings of the same inputs, for multi-task learning: a sample is a point (x, y)
 * uniform in [-1, 1]^2 followed by the one-hot id of its task, and its label is that task's class
 * of the point (xor of the signs, inside a ring, above the diagonal, inside a stripe: see
 * MULTI_TASK_LABELINGS). The same point means different classes in different tasks, so a network
 * must read the task id. `task` -1 mixes every task (samples split evenly over tasks, classes
 * balanced within each); k keeps task k only (the one-hot is then constant), for the single-task
 * networks to compare with. Give the model `conditionFeatures: tasks` to hand the one-hot to its
 * normalizers (FiLM) instead of its layers.
 *
 * @example
 * const data = multiTask.build({ tasks: 4, task: -1, trainSize: 4000, testSize: 2000 }, new Generator(0), {});
 * data.sampleShape; // [6]: x, y, one-hot of 4 tasks
 */
export const multiTask = defineDataset({
  name: 'multi-task',
  task: 'classification',
  inputKind: 'vector',
  description: 'Several binary labelings of the same 2-D points; the task id (one-hot) follows the point',
  options: {
    trainSize: { type: 'number', default: 4000, integer: true, min: 2, max: 100_000, description: 'Training samples (tasks and classes balanced)' },
    testSize: { type: 'number', default: 2000, integer: true, min: 2, max: 100_000, description: 'Test samples (tasks and classes balanced)' },
    tasks: { type: 'number', default: 4, integer: true, min: 1, max: MULTI_TASK_LABELINGS.length, description: 'Tasks (labelings), the first k of xor, ring, diagonal, stripe' },
    task: { type: 'number', default: -1, integer: true, min: -1, max: MULTI_TASK_LABELINGS.length - 1, description: 'Keep only this task (-1: every task, mixed)' },
  },
  build: (options, generator) => {
    const { tasks, task } = options;
    if (task >= tasks) throw new OptionError({ op: 'dataset multi-task', expected: `task < tasks (${tasks}), or -1 for every task`, given: `task = ${task}` });
    const width = 2 + tasks;
    const draw = (count: number): Split => {
      const inputs = new Float32Array(count * width);
      const labels = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const t = task >= 0 ? task : i % tasks;
        // Sample i is the (i / tasks)-th of its task: alternate the classes within each task.
        const label = Math.floor(i / (task >= 0 ? 1 : tasks)) % 2;
        const [x, y] = pointWithLabel(MULTI_TASK_LABELINGS[t]!.label, label, generator);
        inputs[i * width] = x;
        inputs[i * width + 1] = y;
        inputs[i * width + 2 + t] = 1;
        labels[i] = label;
      }
      return shuffleSplit({ count, inputs, labels, masks: null }, width, generator);
    };
    return checkDataset({
      name: 'multi-task',
      task: 'classification',
      inputKind: 'vector',
      sampleShape: [width],
      numClasses: 2,
      train: draw(options.trainSize),
      test: draw(options.testSize),
    });
  },
});

/** A point uniform in [-1, 1]^2 whose class under `labeling` is `label` (rejection sampling; every class has half the square). */
function pointWithLabel(labeling: (x: number, y: number) => number, label: number, generator: Generator): [number, number] {
  for (;;) {
    const x = 2 * generator.uniform() - 1;
    const y = 2 * generator.uniform() - 1;
    if (labeling(x, y) === label) return [x, y];
  }
}

/** The task of each sample of a multi-task split (the position of its one-hot), for per-task accuracies. */
export function taskOf(split: Split, tasks: number): Int32Array {
  const width = 2 + tasks;
  const out = new Int32Array(split.count);
  for (let i = 0; i < split.count; i++) {
    for (let t = 0; t < tasks; t++) if (split.inputs[i * width + 2 + t] === 1) out[i] = t;
  }
  return out;
}
