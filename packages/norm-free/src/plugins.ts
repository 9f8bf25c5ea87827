import {
  SPECIFICATION_VERSION, defineGradientTransform, defineWeightParametrization, type AnyPlugin,
} from '@normkit/tensor';
import { adaptiveGradientClip } from './adaptive-gradient-clip';
import { clipGradNorm } from './clip-grad-norm';
import { clipGradValue } from './clip-grad-value';
import { NONLINEARITY_NAMES, createScaledWeightStandardization } from './scaled-weight-standardization';
import { NON_FINITE_POLICIES } from './shared';

const nonFiniteOption = {
  type: 'enum',
  values: NON_FINITE_POLICIES,
  default: 'error',
  description: "Non-finite gradients: 'error' throws before changing anything; 'skip' changes nothing and reports them",
} as const;

/**
 * `adaptive-gradient-clip`: unit-wise AGC (NFNets). A config cannot name modules, so the final
 * classifier is left unclipped with `excludeFinalLayer`; `adaptiveGradientClip({ exclude })`
 * takes names and modules in code.
 */
export const adaptiveGradientClipPlugin = defineGradientTransform({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'gradient-transform',
  name: 'adaptive-gradient-clip',
  family: 'norm-free',
  description: 'Adaptive Gradient Clipping (Brock et al. 2021): clips each unit\'s gradient to clipping * max(||W||, eps), unit-wise',
  options: {
    clipping: { type: 'number', default: 0.01, min: 0, minExclusive: true, description: 'lambda: the largest ratio ||G|| / max(||W||, eps) per unit' },
    eps: { type: 'number', default: 1e-3, min: 0, minExclusive: true, description: 'Floor of the weight norm, so zero-initialised units can move' },
    excludeFinalLayer: {
      type: 'boolean', default: false,
      description: 'Leave unclipped the layer owning the last parameter (the classifier head), as the NFNets paper does',
    },
    nonFinite: nonFiniteOption,
  },
  create: (options) => adaptiveGradientClip({
    clipping: options.clipping, eps: options.eps, excludeFinalLayer: options.excludeFinalLayer, nonFinite: options.nonFinite,
  }),
});

/** `clip-grad-norm`: torch's clip_grad_norm_ as a transform; `normType: null` is the max norm (JSON has no Infinity). */
export const clipGradNormPlugin = defineGradientTransform({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'gradient-transform',
  name: 'clip-grad-norm',
  family: 'norm-free',
  description: 'Clips the global gradient norm to maxNorm (torch.nn.utils.clip_grad_norm_), keeping the update direction',
  options: {
    maxNorm: { type: 'number', default: 1, min: 0, minExclusive: true, description: 'Largest total norm allowed' },
    normType: {
      type: 'number', default: 2, min: 0, minExclusive: true, nullable: true,
      description: 'p of the total p-norm; null: the infinity norm (largest |g|)',
    },
    nonFinite: nonFiniteOption,
  },
  create: (options) => clipGradNorm({ maxNorm: options.maxNorm, normType: options.normType, nonFinite: options.nonFinite }),
});

/** `clip-grad-value`: torch's clip_grad_value_ as a transform. */
export const clipGradValuePlugin = defineGradientTransform({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'gradient-transform',
  name: 'clip-grad-value',
  family: 'norm-free',
  description: 'Clamps every gradient element to [-value, value] (torch.nn.utils.clip_grad_value_)',
  options: {
    value: { type: 'number', default: 1, min: 0, minExclusive: true, description: 'Largest |g| allowed per element' },
    nonFinite: nonFiniteOption,
  },
  create: (options) => clipGradValue({ value: options.value, nonFinite: options.nonFinite }),
});

/**
 * `scaled-weight-standardization`: NFNets' scaled WS on any layer's weight, as a parametrization
 * (@normkit/weight's weight standardization with a learnable gain and `scale = gamma / sqrt(fanIn)`).
 */
export const scaledWeightStandardizationPlugin = defineWeightParametrization({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'weight-parametrization',
  name: 'scaled-weight-standardization',
  family: 'norm-free',
  description: 'Scaled Weight Standardization (NFNets): gain * gamma * (w - mean) / (std * sqrt(fanIn)) per output unit',
  options: {
    nonlinearity: {
      type: 'enum', values: NONLINEARITY_NAMES, default: 'identity',
      description: 'The nonlinearity feeding the layer, for its gamma (identity: gamma 1)',
    },
    eps: { type: 'number', default: 1e-6, min: 0, minExclusive: true, description: 'Keeps the standard deviation away from 0' },
    epsMode: { type: 'enum', values: ['add', 'max'] as const, default: 'add', description: "'add': sqrt(var + eps); 'max': sqrt(max(var, eps))" },
    dim: { type: 'number', default: 0, integer: true, min: 0, description: 'Dim of the output units (0 for Linear/Conv2d); fanIn is the size of the rest' },
  },
  create: (module, tensorName, options) =>
    createScaledWeightStandardization(module, tensorName, { nonlinearity: options.nonlinearity, eps: options.eps, epsMode: options.epsMode, dim: options.dim }),
});

/** The family's plugins, for `registerAll(normFreePlugins)`. */
export const normFreePlugins: readonly AnyPlugin[] = [
  adaptiveGradientClipPlugin, clipGradNormPlugin, clipGradValuePlugin, scaledWeightStandardizationPlugin,
];

// The names above, known to the type system wherever this package is imported, so
// `createGradientTransform('adaptive-gradient-clip', options)` is typed by name (registration is still explicit).
declare module '@normkit/tensor' {
  interface GradientTransformRegistry {
    'adaptive-gradient-clip': typeof adaptiveGradientClipPlugin;
    'clip-grad-norm': typeof clipGradNormPlugin;
    'clip-grad-value': typeof clipGradValuePlugin;
  }
  interface WeightParametrizationRegistry {
    'scaled-weight-standardization': typeof scaledWeightStandardizationPlugin;
  }
}
