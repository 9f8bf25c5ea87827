// The normalizer cases every test file shares: a module with non-trivial parameters and statistics, and its input shape.
import { BatchNorm, GhostBatchNorm, SyncBatchNorm } from '@normkit/batch';
import { GroupNorm, InstanceNorm } from '@normkit/group';
import { LayerNorm, RMSNorm } from '@normkit/layer';
import { Generator, rand, randn, type Module, type Tensor } from '@normkit/tensor';
import { batchLowerings } from './batch';
import { groupLowerings } from './group';
import { layerLowerings } from './layer';

export const familyLowerings = [...batchLowerings, ...layerLowerings, ...groupLowerings];

export interface NormalizerCase {
  name: string;
  /** Shape with the batch first; the batch axis is exported as dynamic. */
  shape: number[];
  build(generator: Generator): Module;
}

/** Random gamma/beta and running statistics, so a wrong axis or a swapped input shows. */
export function randomize(module: Module, generator: Generator): Module {
  for (const [name, p] of module.namedParameters()) {
    p.data.set((name.endsWith('weight') ? rand(p.shape, { low: 0.5, high: 1.5, generator }) : randn(p.shape, { generator })).data);
  }
  for (const [name, b] of module.namedBuffers()) {
    if (name.endsWith('running_mean')) b.data.set(randn(b.shape, { std: 0.5, generator }).data);
    if (name.endsWith('running_var')) b.data.set(rand(b.shape, { low: 0.5, high: 2, generator }).data);
  }
  return module;
}

export const normalizerCases: NormalizerCase[] = [
  { name: 'BatchNorm [N, C]', shape: [2, 6], build: (g) => randomize(new BatchNorm({ numFeatures: 6 }), g) },
  { name: 'BatchNorm [N, C, L]', shape: [2, 6, 5], build: (g) => randomize(new BatchNorm({ numFeatures: 6 }), g) },
  { name: 'BatchNorm [N, C, H, W]', shape: [2, 4, 5, 3], build: (g) => randomize(new BatchNorm({ numFeatures: 4, eps: 1e-3 }), g) },
  { name: 'BatchNorm affine: false', shape: [2, 4, 5, 3], build: (g) => randomize(new BatchNorm({ numFeatures: 4, affine: false }), g) },
  { name: 'BatchNorm trackRunningStats: false', shape: [2, 4, 5, 3], build: (g) => randomize(new BatchNorm({ numFeatures: 4, trackRunningStats: false }), g) },
  { name: 'GhostBatchNorm', shape: [2, 4, 5], build: (g) => randomize(new GhostBatchNorm({ numFeatures: 4, virtualBatchSize: 2 }), g) },
  { name: 'SyncBatchNorm', shape: [2, 4, 3, 3], build: (g) => randomize(new SyncBatchNorm({ numFeatures: 4 }), g) },
  { name: 'LayerNorm [N, L, D]', shape: [2, 3, 8], build: (g) => randomize(new LayerNorm({ normalizedShape: 8 }), g) },
  { name: 'LayerNorm over [L, D]', shape: [2, 3, 8], build: (g) => randomize(new LayerNorm({ normalizedShape: [3, 8], eps: 1e-3 }), g) },
  { name: 'LayerNorm bias: false', shape: [2, 8], build: (g) => randomize(new LayerNorm({ normalizedShape: 8, bias: false }), g) },
  { name: 'LayerNorm no affine', shape: [2, 3, 8], build: (g) => randomize(new LayerNorm({ normalizedShape: 8, elementwiseAffine: false }), g) },
  { name: 'RMSNorm [N, L, D]', shape: [2, 3, 8], build: (g) => randomize(new RMSNorm({ normalizedShape: 8 }), g) },
  { name: 'RMSNorm eps: null, over [L, D]', shape: [2, 3, 8], build: (g) => randomize(new RMSNorm({ normalizedShape: [3, 8], eps: null }), g) },
  { name: 'RMSNorm no affine', shape: [2, 8], build: (g) => randomize(new RMSNorm({ normalizedShape: 8, elementwiseAffine: false }), g) },
  { name: 'GroupNorm [N, C, H, W]', shape: [2, 6, 4, 3], build: (g) => randomize(new GroupNorm({ numGroups: 3, numChannels: 6 }), g) },
  { name: 'GroupNorm [N, C, L] affine: false', shape: [2, 6, 5], build: (g) => randomize(new GroupNorm({ numGroups: 2, numChannels: 6, affine: false }), g) },
  { name: 'GroupNorm one group', shape: [2, 4, 3, 3], build: (g) => randomize(new GroupNorm({ numGroups: 1, numChannels: 4, eps: 1e-3 }), g) },
  { name: 'InstanceNorm (default)', shape: [2, 4, 5, 3], build: (g) => randomize(new InstanceNorm({ numFeatures: 4 }), g) },
  { name: 'InstanceNorm affine [N, C, L]', shape: [2, 4, 6], build: (g) => randomize(new InstanceNorm({ numFeatures: 4, affine: true }), g) },
  { name: 'InstanceNorm running stats', shape: [2, 4, 5, 3], build: (g) => randomize(new InstanceNorm({ numFeatures: 4, affine: true, trackRunningStats: true }), g) },
];

/** An input of `shape` with batch `n` (values off zero mean and unit scale, so statistics matter). */
export function sampleInput(shape: readonly number[], n: number, generator: Generator): Tensor {
  return randn([n, ...shape.slice(1)], { mean: 0.3, std: 1.7, generator });
}

export { Generator };
