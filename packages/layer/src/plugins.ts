import {
  OptionError,
  SPECIFICATION_VERSION,
  defineNormalizer,
  type NormalizerPlugin,
  type NormalizerSlot,
  type NormalizerTraits,
} from '@normkit/tensor';
import { AdaLN, AdaLNZero } from './ada-ln';
import { DynamicTanh, dynamicTanhOptionsSchema } from './dynamic-tanh';
import { L2Norm, l2NormOptionsSchema } from './l2-norm';
import { LayerNorm, layerNormOptionsSchema } from './layer-norm';
import { LayerScale, layerScaleOptionsSchema } from './layer-scale';
import { QKNorm, QK_NORM_KINDS } from './qk-norm';
import { RMSNorm, rmsNormOptionsSchema } from './rms-norm';
import { rowwiseDtypeOption } from './row-layout';
import { ScaleNorm, scaleNormOptionsSchema } from './scale-norm';

// Plugins of @normkit/layer for the registry. Registration is explicit:
//   import { registerAll } from '@normkit/tensor';
//   import { layerPlugins } from '@normkit/layer';
//   registerAll(layerPlugins);

const FAMILY = 'layer';

/** Every layer-style normalizer: per sample, no running statistics, channels-last ([..., D]). */
function rowwiseTraits(overrides: Partial<NormalizerTraits> = {}): NormalizerTraits {
  return {
    batchDependent: false,
    needsCondition: false,
    needsLabels: false,
    acceptsMask: true,
    hasRunningStats: false,
    layout: 'channels-last',
    ...overrides,
  };
}

function normalizedShapeOf(slot: NormalizerSlot): readonly number[] {
  return slot.normalizedShape ?? [slot.numFeatures];
}

function conditionDimOf(name: string, slot: NormalizerSlot): number {
  if (slot.conditionDim === undefined) {
    throw new OptionError({ op: `create("${name}")`, expected: 'slot.conditionDim (the width of the condition vector)', given: 'slot.conditionDim = undefined' });
  }
  return slot.conditionDim;
}

/** The shared dtype option; the row-wise normalizers have parameters but no buffers. */
const dtypeOption = rowwiseDtypeOption;

const positiveEps = (defaultValue: number, description: string) =>
  ({ type: 'number', default: defaultValue, min: 0, minExclusive: true, description }) as const;

export const layerNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'layer-norm',
  family: FAMILY,
  description: 'LayerNorm: per-token mean and variance over the trailing dims, per-element affine (Ba et al., 2016).',
  options: layerNormOptionsSchema,
  traits: () => rowwiseTraits(),
  create: (slot, options) => new LayerNorm({ normalizedShape: normalizedShapeOf(slot), ...options }),
});

export const rmsNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'rms-norm',
  family: FAMILY,
  description: 'RMSNorm: x / sqrt(mean(x^2) + eps) * weight, no centring and no bias (Zhang and Sennrich, 2019).',
  options: rmsNormOptionsSchema,
  traits: () => rowwiseTraits(),
  create: (slot, options) => new RMSNorm({ normalizedShape: normalizedShapeOf(slot), ...options }),
});

export const qkNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'qk-norm',
  family: FAMILY,
  description: 'QK-norm: per-head normalisation of queries or keys over headDim (layer, rms or unit-length l2).',
  options: {
    kind: { type: 'enum', values: QK_NORM_KINDS, default: 'layer', description: "'layer' (ViT-22B), 'rms' (OLMo 2, Qwen 3) or 'l2' (Henry et al., 2020)." },
    eps: {
      type: 'number',
      default: null,
      min: 0,
      minExclusive: true,
      nullable: true,
      description: 'null: the kind default (1e-5 layer, 1e-6 rms, 1e-6 on |x|^2 for l2).',
    },
    dtype: dtypeOption,
  },
  traits: () => rowwiseTraits({ acceptsMask: false }),
  create: (slot, options) => {
    const shape = normalizedShapeOf(slot);
    if (shape.length !== 1) {
      throw new OptionError({ op: 'create("qk-norm")', expected: 'a single normalised dim (headDim)', given: `normalizedShape [${shape.join(', ')}]` });
    }
    return new QKNorm({ headDim: shape[0]!, kind: options.kind, dtype: options.dtype, ...(options.eps === null ? {} : { eps: options.eps }) });
  },
});

export const adaLNPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'ada-ln',
  family: FAMILY,
  description: 'AdaLN: LayerNorm without affine, modulated by x * (1 + scale(c)) + shift(c) from a condition (DiT).',
  options: {
    eps: positiveEps(1e-6, 'Added to the variance (DiT 1e-6).'),
    zeroInit: { type: 'boolean', default: false, description: 'Start the modulation Linear at zero (the layer starts as plain LayerNorm).' },
    dtype: dtypeOption,
  },
  traits: () => rowwiseTraits({ needsCondition: true }),
  create: (slot, options) => new AdaLN({ normalizedShape: normalizedShapeOf(slot), conditionDim: conditionDimOf('ada-ln', slot), ...options }),
});

export const adaLNZeroPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'ada-ln-zero',
  family: FAMILY,
  description: 'adaLN-Zero: AdaLN whose zero-initialised predictor also gives the residual gate; blocks start as the identity (DiT).',
  options: {
    eps: positiveEps(1e-6, 'Added to the variance (DiT 1e-6).'),
    dtype: dtypeOption,
  },
  traits: () => rowwiseTraits({ needsCondition: true }),
  create: (slot, options) => new AdaLNZero({ normalizedShape: normalizedShapeOf(slot), conditionDim: conditionDimOf('ada-ln-zero', slot), ...options }),
});

/** `l2-norm`: every token (the slot's normalizedShape dims) scaled to unit Lp length, as F.normalize. */
export const l2NormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'l2-norm',
  family: FAMILY,
  description: 'L2 / unit normalization: x / max(||x||_p, eps) over the trailing dims, as torch F.normalize and Keras UnitNormalization.',
  options: l2NormOptionsSchema,
  traits: () => rowwiseTraits({ acceptsMask: false }),
  create: (slot, options) => {
    const k = normalizedShapeOf(slot).length;
    return new L2Norm({ axes: Array.from({ length: k }, (_, i) => i - k), ...options });
  },
});

export const scaleNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'scale-norm',
  family: FAMILY,
  description: 'ScaleNorm: g * x / max(||x||, eps), one learned scalar g initialised to sqrt(d) (Nguyen and Salazar, 2019).',
  options: scaleNormOptionsSchema,
  traits: () => rowwiseTraits({ acceptsMask: false }),
  create: (slot, options) => new ScaleNorm({ normalizedShape: normalizedShapeOf(slot), ...options }),
});

/** `layer-scale`: not a normalizer but a per-channel residual scale, in the registry so menus and blocks can pick it. */
export const layerScalePlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'layer-scale',
  family: FAMILY,
  description: 'LayerScale: gamma * x with a per-channel gamma initialised small, for residual branches (Touvron et al., 2021; timm).',
  options: layerScaleOptionsSchema,
  traits: () => rowwiseTraits({ acceptsMask: false }),
  create: (slot, options) => new LayerScale({ dim: normalizedShapeOf(slot), ...options }),
});

/** `dyt`: Dynamic Tanh, the first-party version (examples/plugin-dyt is the third-party authoring guide). */
export const dynamicTanhPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'dyt',
  family: FAMILY,
  description: 'Dynamic Tanh: weight * tanh(alpha * x) + bias, an element-wise LayerNorm replacement with no statistics (Zhu et al., 2025).',
  options: dynamicTanhOptionsSchema,
  traits: () => rowwiseTraits({ acceptsMask: false }),
  create: (slot, options) => new DynamicTanh({ normalizedShape: normalizedShapeOf(slot), ...options }),
});

/** Every plugin of the package, for `registerAll(layerPlugins)`. */
export const layerPlugins: readonly NormalizerPlugin[] = [
  layerNormPlugin, rmsNormPlugin, qkNormPlugin, adaLNPlugin, adaLNZeroPlugin, l2NormPlugin, scaleNormPlugin, layerScalePlugin, dynamicTanhPlugin,
];

// The names above, known to the type system wherever this package is imported, so
// `create('layer-norm', slot, options)` is typed by name (registration is still explicit).
declare module '@normkit/tensor' {
  interface NormalizerRegistry {
    'layer-norm': typeof layerNormPlugin;
    'rms-norm': typeof rmsNormPlugin;
    'qk-norm': typeof qkNormPlugin;
    'ada-ln': typeof adaLNPlugin;
    'ada-ln-zero': typeof adaLNZeroPlugin;
    'l2-norm': typeof l2NormPlugin;
    'scale-norm': typeof scaleNormPlugin;
    'layer-scale': typeof layerScalePlugin;
    dyt: typeof dynamicTanhPlugin;
  }
}
