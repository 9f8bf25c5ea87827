import type { OptionsSchema } from '@normkit/tensor';
import type { DatasetDefinition } from './dataset';
import { circles } from './circles';
import { conditionalMixture } from './conditional-mixture';
import { gaussians } from './gaussians';
import { mnist } from './mnist';
import { multiTask } from './multi-task';
import { sequences } from './sequences';
import { twoSpirals } from './two-spirals';
import { xor } from './xor';

export {
  BatchSampler, batches, gatherBatch, batchInputs, batchMask, classCounts, balancedLabels, sampleSize, defineDataset,
} from './dataset';
export type {
  TaskKind, InputKind, Split, MixtureModes, Dataset, ExperimentResources, MnistSource, DatasetDefinition, Batch, BatchOptions,
} from './dataset';
export { twoSpirals, circles, xor, gaussians, mnist, sequences, conditionalMixture, multiTask };
export { MULTI_TASK_LABELINGS, taskOf } from './multi-task';
export { sequenceLengths } from './sequences';

/** Every built-in data set by name. */
export const datasets: Readonly<Record<string, DatasetDefinition<OptionsSchema>>> = Object.freeze({
  'two-spirals': twoSpirals,
  circles,
  xor,
  gaussians,
  mnist,
  sequences,
  'conditional-mixture': conditionalMixture,
  'multi-task': multiTask,
} as Record<string, DatasetDefinition<OptionsSchema>>);
