import { Tensor, noGrad } from '@normkit/tensor';
import { batches, type Dataset } from '../datasets/dataset';
import { MULTI_TASK_LABELINGS, taskOf } from '../datasets/multi-task';
import type { Classifier } from '../models/model';
import type { NormChoice } from '../models/norm-slot';
import { accuracyOf } from '../metrics';
import { RUN_COLUMNS, evalSeries, mean, runRow, show } from './analysis';
import { SEED_SOURCE } from './common';
import { definePreset, type PresetMode, type PresetRun, type RunRole } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

/** xor, ring, diagonal, stripe: four labelings of the same points. */
const TASKS = 4;
/** Training steps of one single-task network; the multi-task networks get TASKS times as many (same samples per task). */
const STEPS: Record<PresetMode, number> = { full: 1500, reduced: 6 };
const SAMPLES_PER_TASK: Record<PresetMode, { train: number; test: number }> = { full: { train: 1000, test: 2000 }, reduced: { train: 64, test: 32 } };
/** "Reaches the single-task accuracies": on every task within 3 points (2 standard errors of the difference on 2,000 test points near 0.95 is about 1.4 points). */
const REACHES = -0.03;
/** Single-task networks must learn their task (a positive control). */
const TRAINS = 0.9;
/** Without the task id the tasks must conflict: a shared network falls at least 10 points below the single-task networks on average. */
const CONFLICT = 0.1;

function run(id: string, label: string, role: RunRole, task: number, norm: NormChoice, mode: PresetMode, seed: number): PresetRun {
  const tasks = task < 0 ? TASKS : 1;
  const steps = STEPS[mode] * tasks;
  const sizes = SAMPLES_PER_TASK[mode];
  return {
    id,
    label,
    role,
    config: {
      task: 'classification',
      dataset: { name: 'multi-task', options: { tasks: TASKS, task, trainSize: sizes.train * tasks, testSize: sizes.test * tasks } },
      // The task's one-hot (the last 4 features) goes to the normalization slots, never to the layers.
      model: { name: 'mlp', options: { width: 64, depth: 3, conditionFeatures: TASKS } },
      norms: { hidden: norm },
      optimizer: { name: 'adam' },
      lr: 0.003,
      batchSize: 32,
      steps,
      evalEvery: Math.max(1, Math.floor(steps / 5)),
      evalSamples: mode === 'full' ? 1000 : 32,
      seed,
    },
  };
}

/** Accuracy per task on the whole test split, in eval mode: [task] -> accuracy (NaN for a task with no samples). */
export function perTaskAccuracy(model: Classifier, dataset: Dataset, tasks: number): number[] {
  const taskIds = taskOf(dataset.test, tasks);
  const correct = new Array<number>(tasks).fill(0);
  const count = new Array<number>(tasks).fill(0);
  model.eval();
  try {
    for (const batch of batches(dataset, dataset.test, { batchSize: 256 })) {
      const logits = noGrad(() => model.forward({ x: new Tensor(batch.inputs, batch.shape) })).data;
      for (let row = 0; row < batch.size; row++) {
        const t = taskIds[batch.indices[row]!]!;
        count[t]!++;
        correct[t]! += accuracyOf(logits.subarray(row * dataset.numClasses, (row + 1) * dataset.numClasses), [batch.labels[row]!], dataset.numClasses);
      }
    }
  } finally {
    model.train();
  }
  return correct.map((c, t) => (count[t]! > 0 ? c / count[t]! : Number.NaN));
}

/** One network switching tasks through FiLM parameters against one network per task. */
export const filmMultiTask = definePreset({
  name: 'film-multi-task',
  title: 'One network switching tasks through FiLM reaches the single-task accuracies',
  claim: {
    quote:
      'FiLM (Feature-wise Linear Modulation): applies affine transformation to intermediate features based on conditioning; γ(c) and β(c) are ' +
      'predicted by a conditioning network; used in visual reasoning, multi-task learning, and neural rendering',
    section: 'Conditional and Adaptive Normalization',
    source: SEED_SOURCE,
  },
  method:
    `Four labelings of the same points of [-1, 1]^2 (${MULTI_TASK_LABELINGS.map((l) => l.name).join(', ')}; each balanced, no two alike): the ` +
    'same point has different classes in different tasks. One MLP (3 hidden layers of 64, ReLU) learns all four, the task id (one-hot) reaching ' +
    'it only through a FiLM layer after every hidden Linear (gamma and beta from the one-hot by a Linear, no normalizer before it), against four ' +
    'single-task MLPs of the same size, each trained on its own task. Same samples per task: 1,000 training points per task; a single-task network ' +
    `takes ${STEPS.full} steps of 32, the multi-task networks ${TASKS} x ${STEPS.full} (Adam, lr 0.003). A shared MLP without the task id (no FiLM) ` +
    'shows the tasks conflict. Per-task test accuracy on 2,000 held-out points per task. Five seeds; each criterion on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['film'] },
  criteria: [
    { id: 'single-trains', kind: 'control', statement: `every single-task network learns its task (test accuracy at least ${TRAINS}; positive control)`, metric: 'min over tasks of single-task accuracy', comparison: '>=', threshold: TRAINS },
    {
      id: 'tasks-conflict', kind: 'control', statement: `without the task id a shared network falls at least ${CONFLICT * 100} points below the single-task networks on average (the task id matters)`,
      metric: 'mean over tasks of [single - shared without task id]', comparison: '>=', threshold: CONFLICT,
    },
    {
      id: 'film-reaches', kind: 'claim', statement: `the FiLM network is within ${-REACHES * 100} points of the single-task network on every task`,
      metric: 'min over tasks of [FiLM - single]', comparison: '>=', threshold: REACHES,
    },
  ],
  plan: (mode, seed = 0) => ({
    runs: [
      ...MULTI_TASK_LABELINGS.slice(0, TASKS).map((l, t) => run(`single-${t}`, `single-task: ${l.name}`, 'control', t, { name: 'none' }, mode, seed)),
      run('film', 'all tasks, FiLM on the task id', 'subject', -1, { name: 'film' }, mode, seed),
      run('shared', 'all tasks, no task id', 'reference', -1, { name: 'none' }, mode, seed),
    ],
  }),
  analyze: ({ runs, trainers }) => {
    const accuracies = (id: string): number[] =>
      runs[id]!.status === 'diverged' ? new Array<number>(TASKS).fill(0.5) : perTaskAccuracy(trainers[id]!.model as Classifier, trainers[id]!.dataset, TASKS);
    const single = Array.from({ length: TASKS }, (_, t) => accuracies(`single-${t}`)[t]!);
    const film = accuracies('film');
    const shared = accuracies('shared');
    const filmGap = film.map((a, t) => a - single[t]!);
    const conflict = single.map((a, t) => a - shared[t]!);
    const names = MULTI_TASK_LABELINGS.slice(0, TASKS).map((l) => l.name);
    const list = (values: number[]) => values.map((v, t) => `${names[t]} ${show(v)}`).join(', ');
    const records = Object.values(runs);
    return {
      measured: { 'single-trains': Math.min(...single), 'tasks-conflict': mean(conflict), 'film-reaches': Math.min(...filmGap) },
      details: {
        'single-trains': list(single),
        'tasks-conflict': `single - shared: ${list(conflict)}`,
        'film-reaches': `FiLM - single: ${list(filmGap)} (FiLM ${list(film)})`,
      },
      table: { columns: RUN_COLUMNS, rows: records.map((r) => runRow(r)) },
      tables: [
        {
          title: 'Test accuracy per task',
          table: {
            columns: ['task', 'single-task network', 'FiLM, all tasks', 'shared, no task id', 'FiLM - single'],
            rows: names.map((name, t) => [name, Number(single[t]!.toFixed(4)), Number(film[t]!.toFixed(4)), Number(shared[t]!.toFixed(4)), Number(filmGap[t]!.toFixed(4))]),
          },
        },
      ],
      charts: [
        {
          id: 'curves', title: 'Test accuracy during training (all tasks mixed for the multi-task runs)', xLabel: 'samples of each task seen', yLabel: 'test accuracy',
          series: records.map((r) => evalSeries(r, (e) => e.testAccuracy, r.label, r.config.batchSize / (r.id.startsWith('single') ? 1 : TASKS))),
          guides: [{ y: 0.5, label: 'chance' }],
        },
      ],
      notes: [
        `The FiLM network has one body for the four tasks: ${TASKS} x fewer hidden weights than the four single-task networks together, plus 2 x 64 x (${TASKS} + 1) FiLM parameters per layer.`,
      ],
      extra: { single, film, shared },
    };
  },
});
