// The normalizer cases every test file shares: a module with non-trivial parameters and statistics, and its input shape.
import { BatchNorm, BatchRenorm, FrozenBatchNorm, GhostBatchNorm, SyncBatchNorm, batchNormPlugin } from '@normkit/batch';
import {
  EvoNormB0, EvoNormS0, FilterResponseNorm, FilterResponseNormTLU, GroupNorm, InstanceNorm, LocalResponseNorm, TLU, groupNormPlugin, instanceNormPlugin,
} from '@normkit/group';
import { DynamicTanh, L2Norm, LayerNorm, LayerScale, RMSNorm, ScaleNorm, layerNormPlugin, rmsNormPlugin } from '@normkit/layer';
import { NormalizerMixture, SwitchableNorm } from '@normkit/switchable';
import {
  Conv2d, ConvTranspose2d, Dropout, Flatten, GELU, Generator, Identity, Linear, MultiHeadAttention, ReLU, SiLU, Tanh, rand, randn, type Module, type Tensor,
} from '@normkit/tensor';
import { batchLowerings } from './batch';
import { groupLowerings } from './group';
import { layerLowerings } from './layer';
import { switchableLowerings } from './switchable';
import { weightLowerings } from './weight';

export const familyLowerings = [...batchLowerings, ...layerLowerings, ...groupLowerings, ...switchableLowerings, ...weightLowerings];

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
  // SwitchableNorm's importance logits: a mixture where every statistic counts.
  for (const [name, p] of module.namedParameters()) if (name.endsWith('mean_weight') || name.endsWith('var_weight')) p.data.set(randn(p.shape, { generator }).data);
  // FRN's learned epsilon is added as |eps_learned|; TLU's tau around zero clips part of the output.
  for (const [name, p] of module.namedParameters()) if (name.endsWith('eps_learned') || name.endsWith('tau')) p.data.set(randn(p.shape, { std: 0.3, generator }).data);
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
  { name: 'FilterResponseNorm [N, C, H, W]', shape: [2, 4, 5, 3], build: (g) => randomize(new FilterResponseNorm({ numFeatures: 4 }), g) },
  { name: 'FilterResponseNorm [N, C]', shape: [2, 4], build: (g) => randomize(new FilterResponseNorm({ numFeatures: 4, eps: 1e-3 }), g) },
  { name: 'FilterResponseNormTLU learnableEps', shape: [2, 4, 3, 3], build: (g) => randomize(new FilterResponseNormTLU({ numFeatures: 4, learnableEps: true }), g) },
  { name: 'TLU', shape: [2, 4, 3], build: (g) => randomize(new TLU({ numFeatures: 4 }), g) },
  { name: 'SwitchableNorm [N, C, H, W]', shape: [2, 4, 3, 3], build: (g) => randomize(new SwitchableNorm({ numFeatures: 4 }), g) },
  { name: 'SwitchableNorm [N, C, L]', shape: [2, 4, 5], build: (g) => randomize(new SwitchableNorm({ numFeatures: 4, eps: 1e-3 }), g) },
  { name: 'SwitchableNorm usingBatchStats: false', shape: [2, 4, 5], build: (g) => randomize(new SwitchableNorm({ numFeatures: 4, usingBatchStats: false }), g) },
  { name: 'InstanceNorm running stats', shape: [2, 4, 5, 3], build: (g) => randomize(new InstanceNorm({ numFeatures: 4, affine: true, trackRunningStats: true }), g) },
  { name: 'FrozenBatchNorm [N, C, H, W]', shape: [2, 4, 5, 3], build: (g) => randomizeFrozen(new FrozenBatchNorm({ numFeatures: 4, eps: 1e-3 }), g) },
  { name: 'FrozenBatchNorm [N, C]', shape: [2, 6], build: (g) => randomizeFrozen(new FrozenBatchNorm({ numFeatures: 6 }), g) },
  { name: 'LocalResponseNorm size 5 [N, C, H, W]', shape: [2, 7, 4, 3], build: () => new LocalResponseNorm({ size: 5, alpha: 0.5, beta: 0.75, k: 2 }) },
  { name: 'LocalResponseNorm even size 4 [N, C, L]', shape: [2, 6, 5], build: () => new LocalResponseNorm({ size: 4, alpha: 0.8, beta: 0.6, k: 1 }) },
  { name: 'LocalResponseNorm [N, C], size > C', shape: [2, 3], build: () => new LocalResponseNorm({ size: 5, alpha: 0.3, beta: 1.2, k: 0.5 }) },
  { name: 'EvoNormS0 [N, C, H, W] 2 groups', shape: [2, 6, 4, 3], build: (g) => randomize(new EvoNormS0({ numFeatures: 6, groups: 2 }), g) },
  { name: 'EvoNormS0 [N, C, L] one group', shape: [2, 4, 5], build: (g) => randomize(new EvoNormS0({ numFeatures: 4, groups: 1, eps: 1e-3 }), g) },
  { name: 'EvoNormB0 [N, C, H, W]', shape: [2, 4, 5, 3], build: (g) => randomize(new EvoNormB0({ numFeatures: 4 }), g) },
  { name: 'EvoNormB0 [N, C]', shape: [2, 4], build: (g) => randomize(new EvoNormB0({ numFeatures: 4 }), g) },
  { name: 'L2Norm (last axis)', shape: [2, 3, 8], build: () => new L2Norm() },
  { name: 'L2Norm p 1 over axes [1, 2]', shape: [2, 3, 4], build: () => new L2Norm({ axes: [1, -1], p: 1 }) },
  { name: 'L2Norm p 3, eps 0.5', shape: [2, 5], build: () => new L2Norm({ p: 3, eps: 0.5 }) },
  { name: 'ScaleNorm [N, L, D]', shape: [2, 3, 8], build: (g) => randomize(new ScaleNorm({ normalizedShape: 8 }), g) },
  { name: 'ScaleNorm over [L, D]', shape: [2, 3, 4], build: (g) => randomize(new ScaleNorm({ normalizedShape: [3, 4], eps: 1e-2 }), g) },
  { name: 'LayerScale [N, L, D]', shape: [2, 3, 8], build: (g) => randomize(new LayerScale({ dim: 8 }), g) },
  { name: 'DynamicTanh over [L, D]', shape: [2, 3, 8], build: (g) => randomize(new DynamicTanh({ normalizedShape: [3, 8], alphaInit: 0.8 }), g) },
  { name: 'BatchRenorm (eval: running statistics)', shape: [2, 4, 3, 3], build: (g) => randomize(new BatchRenorm({ numFeatures: 4 }), g) },
  {
    name: 'NormalizerMixture BN + IN + GN',
    shape: [2, 4, 3, 3],
    build: (g) => randomize(new NormalizerMixture({ numFeatures: 4, candidates: channelsFirstCandidates, temperature: 0.7 }), g),
  },
  { name: 'NormalizerMixture hard (argmax only)', shape: [2, 4, 5], build: (g) => randomize(new NormalizerMixture({ numFeatures: 4, candidates: channelsFirstCandidates, hard: true }), g) },
  { name: 'NormalizerMixture LayerNorm + RMSNorm', shape: [2, 3, 8], build: (g) => randomize(new NormalizerMixture({ numFeatures: 8, candidates: [layerNormPlugin, rmsNormPlugin] }), g) },
];

const channelsFirstCandidates = [batchNormPlugin, { candidate: instanceNormPlugin, options: { affine: true } }, { candidate: groupNormPlugin, options: { numGroups: 2 } }];

/** FrozenBatchNorm keeps gamma and beta as buffers: random values for all four. */
function randomizeFrozen(module: FrozenBatchNorm, generator: Generator): Module {
  module.weight.data.set(rand(module.weight.shape, { low: 0.5, high: 1.5, generator }).data);
  module.bias.data.set(randn(module.bias.shape, { generator }).data);
  return randomize(module, generator);
}

/** An input of `shape` with batch `n` (values off zero mean and unit scale, so statistics matter). */
export function sampleInput(shape: readonly number[], n: number, generator: Generator): Tensor {
  return randn([n, ...shape.slice(1)], { mean: 0.3, std: 1.7, generator });
}

export interface CoreCase {
  name: string;
  shape: number[];
  build(g: Generator): Module;
  opsets?: number[];
  /** The batch axis is dynamic unless the input is unbatched. */
  staticShape?: boolean;
}

export const coreCases: CoreCase[] = [
  { name: 'Linear [N, in] (Gemm)', shape: [2, 5], build: (g) => new Linear({ inFeatures: 5, outFeatures: 3, generator: g }) },
  { name: 'Linear [N, L, in] (MatMul + Add)', shape: [2, 4, 5], build: (g) => new Linear({ inFeatures: 5, outFeatures: 3, generator: g }) },
  { name: 'Linear bias: false', shape: [2, 5], build: (g) => new Linear({ inFeatures: 5, outFeatures: 3, bias: false, generator: g }) },
  { name: 'Linear bias: false on [N, L, in]', shape: [2, 4, 5], build: (g) => new Linear({ inFeatures: 5, outFeatures: 3, bias: false, generator: g }) },
  { name: 'Conv2d 3x3 padding 1', shape: [2, 3, 6, 5], build: (g) => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, generator: g }) },
  {
    name: 'Conv2d stride 2, dilation 2, groups 2, no bias, [kH, kW] = [3, 2]',
    shape: [2, 4, 9, 8],
    build: (g) => new Conv2d({ inChannels: 4, outChannels: 6, kernelSize: [3, 2], stride: 2, padding: [1, 0], dilation: 2, groups: 2, bias: false, generator: g }),
  },
  { name: "Conv2d padding 'same'", shape: [2, 2, 5, 5], build: (g) => new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 5, padding: 'same', generator: g }) },
  { name: 'Conv2d unbatched [C, H, W]', shape: [3, 6, 5], staticShape: true, build: (g) => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, generator: g }) },
  { name: 'ConvTranspose2d 4x4 stride 2 padding 1', shape: [2, 3, 4, 5], build: (g) => new ConvTranspose2d({ inChannels: 3, outChannels: 4, kernelSize: 4, stride: 2, padding: 1, generator: g }) },
  {
    name: 'ConvTranspose2d groups 2, dilation 2, outputPadding 1, no bias',
    shape: [2, 4, 3, 4],
    build: (g) => new ConvTranspose2d({ inChannels: 4, outChannels: 6, kernelSize: [3, 2], stride: 2, padding: [1, 0], dilation: 2, outputPadding: 1, groups: 2, bias: false, generator: g }),
  },
  { name: 'ConvTranspose2d unbatched', shape: [3, 4, 4], staticShape: true, build: (g) => new ConvTranspose2d({ inChannels: 3, outChannels: 2, kernelSize: 3, generator: g }) },
  { name: 'ReLU', shape: [2, 7], build: () => new ReLU() },
  { name: 'Tanh', shape: [2, 7], build: () => new Tanh() },
  { name: 'SiLU (x * Sigmoid)', shape: [2, 3, 7], build: () => new SiLU() },
  { name: 'GELU exact', shape: [2, 3, 7], build: () => new GELU(), opsets: [17, 20] },
  { name: 'Dropout (identity in eval)', shape: [2, 7], build: (g) => new Dropout({ p: 0.5, generator: g }) },
  { name: 'Identity', shape: [2, 7], build: () => new Identity() },
  { name: 'Flatten (default: Flatten axis 1)', shape: [2, 3, 4, 2], build: () => new Flatten() },
  { name: 'Flatten startDim 2 (Reshape)', shape: [2, 3, 4, 2], build: () => new Flatten({ startDim: 2 }) },
  { name: 'MultiHeadAttention (self-attention)', shape: [2, 5, 8], build: (g) => randomize(new MultiHeadAttention({ embedDim: 8, numHeads: 2, generator: g }), g) },
  {
    name: 'MultiHeadAttention with LayerNorm QK-norm',
    shape: [2, 5, 8],
    build: (g) => randomize(new MultiHeadAttention({ embedDim: 8, numHeads: 2, qkNorm: (d) => new LayerNorm({ normalizedShape: d }), generator: g }), g),
  },
  {
    name: 'MultiHeadAttention with RMSNorm QK-norm, no bias',
    shape: [2, 5, 8],
    build: (g) => randomize(new MultiHeadAttention({ embedDim: 8, numHeads: 4, bias: false, qkNorm: (d) => new RMSNorm({ normalizedShape: d }), generator: g }), g),
    opsets: [17, 23],
  },
  { name: 'Flatten 1..2 of rank 4 (Reshape)', shape: [2, 3, 4, 2], build: () => new Flatten({ startDim: 1, endDim: 2 }) },
];

export { Generator };
