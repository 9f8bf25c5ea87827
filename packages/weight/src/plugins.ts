import { SPECIFICATION_VERSION, defineWeightParametrization, type WeightParametrizationPlugin } from '@normkit/tensor';
import { createSpectralNorm } from './spectral-norm';
import { createWeightNorm } from './weight-norm';
import { createWeightStandardization } from './weight-standardization';

/**
 * `weight-norm`: w = g * v / ||v||, originals g and v, value unchanged at registration.
 * `plugin.create(module, 'weight', options)` builds the parametrization; `registerParametrization`
 * registers it (which `weightNorm(module, options)` does in one call).
 */
export const weightNormPlugin = defineWeightParametrization({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'weight-parametrization',
  name: 'weight-norm',
  family: 'weight',
  description: 'Weight Normalization (Salimans & Kingma 2016): w = g * v / ||v||, magnitude and direction learned apart',
  options: {
    dim: {
      type: 'number', default: 0, integer: true, min: 0, nullable: true,
      description: "Dim of the output units, one norm per index along it (0 for Linear/Conv2d/Embedding, 1 for ConvTranspose2d); null: one norm over the whole tensor (PyTorch's dim=-1 quirk; negative dims are refused)",
    },
  },
  create: (module, tensorName, options) => createWeightNorm(module, tensorName, { dim: options.dim }),
});

/** `spectral-norm`: W / sigma(W) by power iteration with persistent u and v, warmed up at registration. */
export const spectralNormPlugin = defineWeightParametrization({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'weight-parametrization',
  name: 'spectral-norm',
  family: 'weight',
  description: 'Spectral Normalization (Miyato et al. 2018): W / sigma(W), sigma by power iteration, gradients through sigma',
  options: {
    nPowerIterations: { type: 'number', default: 1, integer: true, min: 1, description: 'Power iterations per training read' },
    eps: { type: 'number', default: 1e-12, min: 0, minExclusive: true, description: 'Floor of the norms when u and v are normalised' },
    dim: {
      type: 'number', default: null, integer: true, min: 0, nullable: true,
      description: 'Dim moved first when the weight is seen as a matrix; null: 1 for ConvTranspose2d, else 0',
    },
    warmUpIterations: {
      type: 'number', default: 100, integer: true, min: 0,
      description: 'Most power iterations at registration (stopping once sigma settles), so that eval before any training already divides by a converged sigma',
    },
  },
  create: (module, tensorName, options) =>
    createSpectralNorm(module, tensorName, {
      nPowerIterations: options.nPowerIterations, eps: options.eps, dim: options.dim, warmUpIterations: options.warmUpIterations,
    }),
});

/** `weight-standardization`: (w - mean) / sqrt(var + eps) per output unit, with an optional gain and fixed scale (scaled WS). */
export const weightStandardizationPlugin = defineWeightParametrization({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'weight-parametrization',
  name: 'weight-standardization',
  family: 'weight',
  description: 'Weight Standardization (Qiao et al. 2019): zero mean, unit variance per output unit, recomputed each forward; pairs with GroupNorm',
  options: {
    eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'Keeps the standard deviation away from 0' },
    epsMode: { type: 'enum', values: ['add', 'max'] as const, default: 'add', description: "'add': sqrt(var + eps); 'max': sqrt(max(var, eps)) (DeepMind's NFNets)" },
    dim: { type: 'number', default: 0, integer: true, min: 0, description: 'Dim of the output units (0 for Linear/Conv2d/Embedding)' },
    gain: { type: 'boolean', default: false, description: 'Learn a per-unit gain (init 1), as scaled WS does' },
    scale: { type: 'number', default: 1, min: 0, minExclusive: true, description: "Fixed factor, e.g. NFNets' gamma / sqrt(fanIn)" },
  },
  create: (module, tensorName, options) =>
    createWeightStandardization(module, tensorName, {
      eps: options.eps, epsMode: options.epsMode, dim: options.dim, gain: options.gain, scale: options.scale,
    }),
});

/** The family's plugins, for `registerAll(weightPlugins)`. */
export const weightPlugins: readonly WeightParametrizationPlugin[] = [weightNormPlugin, spectralNormPlugin, weightStandardizationPlugin];

// The names above, known to the type system wherever this package is imported, so
// `create('weight-norm', slot, options)` is typed by name (registration is still explicit).
declare module '@normkit/tensor' {
  interface WeightParametrizationRegistry {
    'weight-norm': typeof weightNormPlugin;
    'spectral-norm': typeof spectralNormPlugin;
    'weight-standardization': typeof weightStandardizationPlugin;
  }
}
